//! outbound-start: the UAS tutorial's non-blocking outbound call (version 0.0.5b).
//!
//! `start_call` returns as soon as the call is on its way; the app could do
//! something else, then rejoins the call with `wait_for_outgoing_call`.

use callhost_sdk::{AppContext, CallError, CallOptions, CallState, Channel, Result, log};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let destination = context.outbound_parameters.unwrap_or_default();
    let origin = context.application_parameters;
    let outcome = (|| -> Result<()> {
        channel.start_call(&destination, &CallOptions::new().call_from(origin))?;
        // This did not block, so now we can do something else.
        log::info(format!("call to {destination} started, state {}", channel.state()));
        // At some point rejoin the outgoing call and wait for ANSWERED or IDLE.
        if channel.wait_for_outgoing_call()? != CallState::Answered {
            return Err(CallError::hangup("Call was not answered"));
        }
        log::info("outbound call connected");
        channel.wait_for_idle(None)?;
        Ok(())
    })();
    if let Err(CallError::Hangup(reason)) = &outcome {
        log::info(format!("Caught Hangup exception: {reason}"));
    }
    if channel.state() != CallState::Idle {
        log::info("Hang up the call");
        channel.hang_up()?;
    }
    match outcome {
        Err(CallError::Error(reason)) => Err(CallError::Error(reason)),
        _ => Ok(0),
    }
}

callhost_sdk::export_app!(version: "0.0.5b", main: run);
