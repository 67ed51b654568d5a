//! outbound-retry: the UAS tutorial's outbound call in a loop (version 0.0.4b).
//!
//! The destination is the outbound parameters, the origin the application
//! parameters. While the destination is busy the call is retried every 10 seconds
//! for up to one minute; any other failure ends the app. Once answered it waits for
//! the far end to hang up.

use std::time::{Duration, Instant};

use callhost_sdk::{AppContext, CallCause, CallError, CallOptions, CallState, Channel, Result, log};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let end_time = Instant::now() + Duration::from_secs(60);
    let destination = context.outbound_parameters.unwrap_or_default();
    let options = CallOptions::new().call_from(context.application_parameters);
    let outcome = (|| -> Result<()> {
        while channel.call(&destination, &options)? != CallState::Answered {
            let cause = channel.cause();
            if cause != Some(CallCause::Busy) {
                let cause = cause.map(|cause| cause.to_string()).unwrap_or_default();
                return Err(CallError::hangup(format!("Call destination returned cause {cause}")));
            }
            if Instant::now() > end_time {
                return Err(CallError::hangup("Call destination is busy."));
            }
            std::thread::sleep(Duration::from_secs(10));
        }
        log::info("outbound call connected");
        // do some interesting call stuff here and then ...
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
    outcome.map(|()| 0).or_else(|error| match error {
        CallError::Hangup(_) => Ok(0),
        error => Err(error),
    })
}

callhost_sdk::export_app!(version: "0.0.4b", main: run);
