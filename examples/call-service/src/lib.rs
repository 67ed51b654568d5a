//! call-service: the UAS tutorial's `call_inbound_service` example (version 0.0.8b).
//!
//! An inbound app: answers, calls the service named in its application parameters
//! (another app of this host, e.g. `hello`) on its extra channel, and connects the two
//! calls so the caller talks to that app, until either side hangs up. (The tutorial
//! disconnects at once to show the call; this port waits for a hang-up first, as in
//! `connect-calls`.) Exit codes as in the tutorial: 0, 100 after a Hangup, -100 after
//! an Error.

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
        // The destination is another inbound application's service name.
        let destination = context.application_parameters.trim();
        if out.call_inbound_service(destination, &CallOptions::new())? != CallState::Answered {
            return Err(CallError::hangup("No Outbound"));
        }
        channel.connect(out)?;
        log::info(format!("connected to service {destination}"));
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
