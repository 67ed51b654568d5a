//! basic-inbound: the UAS tutorial's "very basic inbound application".
//!
//! An inbound app starts when a call arrives. This one rings, answers and then
//! simply waits for the caller to hang up.

use callhost_sdk::{AppContext, Channel, Result};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    // Let the caller hear ringing for a couple of seconds, then pick up.
    channel.ring(2)?;
    channel.answer()?;

    // The call is up; nothing more to do than wait for the other end to hang up.
    channel.wait_for_idle(None)?;
    Ok(0)
}

// The version plays the role of the tutorial's `__uas_version__`.
callhost_sdk::export_app!(version: "0.0.1b", main: run);
