//! transfer-service: the UAS tutorial's retrievable transfer (version 0.0.9b), to
//! another inbound service of this host (`transfer-to-inbound-service`).
//!
//! An inbound app: answers, hands the caller through its extra channel to the
//! service named in its application parameters (e.g. `hello`); while that service
//! rings, the caller hears the tutorial's custom ringtone MY_RING_TONE (400+600 Hz,
//! 3 s on, 3 s off), made the default with the tone manager. The channel is
//! TRANSFERRED while the caller talks to that service. When the service hangs up,
//! the call comes back (ANSWERED): the app says so in its log and hangs up. When
//! the caller hangs up first, the wait ends IDLE. Exit codes as in the tutorial:
//! 0, 0 after a Hangup, -101 after an Error (a transfer that failed names the
//! extra channel's cause).

use callhost_sdk::{
    AppContext, CallError, CallOptions, CallState, Channel, Result, ToneComponent, ToneManager,
    ToneSegment, log,
};

/// The tutorial's ringback: 400 Hz and 600 Hz summed for 3 s, then 3 s of silence.
fn make_ringtone_default() -> Result<()> {
    let tone_manager = ToneManager::new();
    let sequence = [
        ToneSegment::sum(
            ToneComponent::new(400, -19.0),
            ToneComponent::new(600, -19.0),
            3000,
        ),
        ToneSegment::silence(3000),
    ];
    tone_manager
        .create_tone("MY_RING_TONE", &sequence, true)
        .map_err(|error| CallError::error(format!("Failed to create the ringtone: {error}")))?;
    // During the transfer the caller hears the default ringtone.
    tone_manager.set_default("MY_RING_TONE")
}

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
        make_ringtone_default()?;
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
