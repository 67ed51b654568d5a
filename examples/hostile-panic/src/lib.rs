//! hostile-panic: a test app that answers and then panics.
//!
//! The host's integration tests use it to check that the panic message reaches the
//! call's log (through captured stderr), that the trap ends this call only and that
//! the call is hung up with cause ERROR. Not for production plugin directories.

use callhost_sdk::{AppContext, Channel, Result};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    panic!("deliberate panic for testing");
}

callhost_sdk::export_app!(main: run);
