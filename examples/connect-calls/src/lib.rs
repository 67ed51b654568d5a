//! connect-calls: the UAS tutorial's "connecting calls" (version 0.0.8b).
//!
//! An inbound app: answers, places an outbound call on its extra channel (the
//! application parameters are "destination origin", space-separated) and connects
//! the two calls so the parties talk to each other, until either hangs up.
//! (The tutorial disconnects at once to show the call; it says the parties talk
//! "after some time we may want to disconnect", so this port waits for a hang-up
//! first.) Exit codes as in the tutorial: 0, 100 after a Hangup, -100 after an Error.

use callhost_sdk::{AppContext, CallError, CallOptions, CallState, Channel, Result, log};

fn run(channel: Channel, context: AppContext) -> i32 {
    let mut out_channel = None;
    let outcome = (|| -> Result<()> {
        let out = out_channel.insert(channel.extra_channel(0).map_err(|_| CallError::error("could not get extra channel"))?);
        if channel.state() == CallState::CallIncoming {
            channel.ring(0)?;
            channel.answer()?;
        } else {
            return Err(CallError::hangup("No inbound call"));
        }
        log::info("Answered an inbound call");
        let mut words = context.application_parameters.split_whitespace();
        let (Some(destination), origin) = (words.next(), words.next()) else {
            return Err(CallError::error("application parameters must be `destination [origin]`"));
        };
        let options = origin.map(|origin| CallOptions::new().call_from(origin)).unwrap_or_default();
        if out.call(destination, &options)? != CallState::Answered {
            return Err(CallError::hangup("No Outbound"));
        }
        // We have an outbound call, let the two parties talk to each other.
        channel.connect(out)?;
        log::info("calls connected");
        // Whichever side hangs up first ends the conversation.
        while channel.state() != CallState::Idle && out.state() != CallState::Idle {
            channel.wait_for_idle(Some(1))?;
        }
        channel.disconnect()?;
        Ok(())
    })();
    let code = match outcome {
        Ok(()) => 0,
        Err(CallError::Hangup(reason)) => {
            log::info(format!("Hangup exception reports {reason}"));
            100
        }
        Err(CallError::Error(reason)) => {
            log::error(format!("Error exception reports {reason}"));
            -100
        }
    };
    if channel.state() != CallState::Idle {
        let _ = channel.hang_up();
    }
    if let Some(out) = &out_channel
        && out.state() != CallState::Idle
    {
        let _ = out.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "0.0.8b", main: run);
