//! connect-while-playing: the UAS tutorial's combined example (version 0.0.9b).
//!
//! An inbound app: answers, starts an outbound call on its extra channel without
//! blocking (application parameters "destination origin"), plays `playfile.wav` to
//! the caller while the far end rings, stops the prompt once the outbound call is
//! answered, connects the calls and waits for the caller to hang up.
//! Exit codes as in the tutorial: 0, 100 after a Hangup, -100 after an Error.

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
        out.start_call(destination, &options).map_err(|_| CallError::error("Outbound not started"))?;
        log::info("Outbound call was started");
        // Play to the inbound call while waiting for the outbound call to connect.
        channel.file_player().start("playfile.wav").map_err(|_| CallError::error("channel failed to start playing a file"))?;
        log::info("File play started");
        let state = out.wait_for_outgoing_call()?;
        channel.file_player().stop()?;
        if state != CallState::Answered {
            return Err(CallError::hangup("Outbound call was not answered"));
        }
        channel.connect(out)?;
        log::info("calls connected");
        // Wait for the primary channel to go idle.
        channel.wait_for_idle(None)?;
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

callhost_sdk::export_app!(version: "0.0.9b", main: run);
