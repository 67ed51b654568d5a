//! hostile-loop: a test app that answers and then burns CPU forever.
//!
//! The host's integration tests use it to check that a spinning guest is preempted
//! (other calls stay healthy) and that its CPU budget ends the call. Not for
//! production plugin directories.

use callhost_sdk::{AppContext, Channel, Result, log};
use std::hint::black_box;

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info("hostile-loop: spinning");
    let mut counter: u64 = 0;
    loop {
        // black_box keeps the optimiser from proving the loop does nothing.
        counter = black_box(counter.wrapping_add(1));
    }
}

callhost_sdk::export_app!(main: run);
