//! transfer-service: the UAS tutorial's retrievable transfer (version 0.0.9b), to
//! another inbound service of this host (`transfer-to-inbound-service`).
//!
//! An inbound app: answers, hands the caller through its extra channel to the
//! service named in its application parameters (e.g. `hello`); the channel is
//! TRANSFERRED while the caller talks to that service. When the service hangs up,
//! the call comes back (ANSWERED): the app says so in its log and hangs up. When
//! the caller hangs up first, the wait ends IDLE. Exit codes as in the tutorial:
//! 0, 0 after a Hangup, -101 after an Error (a transfer that failed names the
//! extra channel's cause).

use callhost_sdk::{AppContext, CallError, CallOptions, CallState, Channel, Result, log};

fn run(channel: Channel, context: AppContext) -> i32 {
    let mut out_channel = None;
    let outcome = (|| -> Result<()> {
        if channel.state() == CallState::CallIncoming {
            channel.ring(0)?;
            channel.answer()?;
        } else {
            return Err(CallError::hangup("No inbound call"));
        }
        log::info("Answered an inbound call");
        // Retrievable transfer requires an extra channel.
        let out = out_channel.insert(channel.extra_channel(0).map_err(|_| CallError::error("Failed to get the extra channels"))?);
        let destination = context.application_parameters.trim();
        let state = channel.transfer_to_inbound_service(out, destination, &CallOptions::new())?;
        if state != CallState::Transferred {
            let cause = out.cause().map(|cause| cause.to_string()).unwrap_or_else(|| "unknown".into());
            return Err(CallError::error(format!("Transfer failed, cause is {cause}")));
        }
        log::info(format!("transferred to service {destination}"));
        // Either end can hang up; when the service does, the call is ours again.
        if channel.wait_for_transferred_call_retrieval()? == CallState::Answered {
            log::info("the call was retrieved");
        }
        Ok(())
    })();
    let code = match outcome {
        Ok(()) => 0,
        Err(CallError::Hangup(_)) => {
            log::info("Got Hangup");
            0
        }
        Err(CallError::Error(reason)) => {
            log::error(format!("Got Error {reason}"));
            -101
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
