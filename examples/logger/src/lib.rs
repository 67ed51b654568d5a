//! logger: the UAS tutorial's "introducing the logger".
//!
//! `callhost_sdk::log` writes lines into the host's log at debug, info, warning and
//! error level, inside the call's span. The tutorial program expects a call that is
//! already answered; on callhost an inbound call arrives CALL_INCOMING, so this port
//! answers it first and then follows the tutorial.

use callhost_sdk::{AppContext, CallError, CallState, Channel, Result, log};

fn handle_call(channel: &Channel) -> Result<()> {
    log::debug(format!("call details: {:?}", channel.details()));
    if channel.state() == CallState::CallIncoming {
        channel.answer()?;
    }

    if channel.state() == CallState::Answered {
        // Interesting call handling would go here.
        log::info("Answered an inbound call");
        channel.wait_for_idle(None)?;
        Ok(())
    } else {
        log::warning("didn't get a call");
        Err(CallError::hangup("No call"))
    }
}

fn run(channel: Channel, _context: AppContext) -> i32 {
    match handle_call(&channel) {
        Ok(()) => {}
        Err(CallError::Hangup(reason)) => log::info(format!("Caught Hangup: {reason}")),
        Err(CallError::Error(reason)) => log::error(format!("Caught Error: {reason}")),
    }
    if channel.state() != CallState::Idle {
        log::info("Hang up the call");
        let _ = channel.hang_up();
    }
    0
}

callhost_sdk::export_app!(version: "0.0.3b", main: run);
