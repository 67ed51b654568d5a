//! check-state: the UAS tutorial's "checking the call state".
//!
//! A channel that is not connected is IDLE and a connected one is ANSWERED; an
//! inbound app should find its call in CALL_INCOMING. This app only handles the call
//! when that is so, and otherwise reports failure with exit code -101 (for example
//! when the caller gave up before the app started).

use callhost_sdk::{AppContext, CallState, Channel, Result};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    // Look at the call state before touching the call.
    if channel.state() == CallState::CallIncoming {
        channel.ring(2)?;
        channel.answer()?;
        channel.wait_for_idle(None)?;
        return Ok(0);
    }
    // The call was not in the state this app expects.
    Ok(-101)
}

callhost_sdk::export_app!(version: "0.0.2b", main: run);
