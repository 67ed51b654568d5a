//! record-outbound: the UAS tutorial's outbound recording program.
//!
//! Calls the destination in the outbound parameters (from = the application
//! parameters, if any), retrying while it is busy for up to a minute; when
//! answered, records the callee to `recfile_<instance id>.wav` with the default
//! limits (120 s, 3 s of silence), then waits for the call to end. A Hangup ends
//! the app with 0, as in the tutorial.

use std::time::{Duration, Instant};

use callhost_sdk::{AppContext, CallCause, CallError, CallOptions, CallState, Channel, Result, log};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let result = record_the_callee(&channel, &context);
    if channel.state() != CallState::Idle {
        log::info("Hang up the call");
        channel.hang_up()?;
    }
    match result {
        Err(CallError::Hangup(why)) => {
            log::warning(format!("Caught a Hangup exception: {why}"));
            Ok(0)
        }
        other => other,
    }
}

fn record_the_callee(channel: &Channel, context: &AppContext) -> Result<i32> {
    let end_time = Instant::now() + Duration::from_secs(60);
    let destination = context.outbound_parameters.clone().unwrap_or_default();
    let mut options = CallOptions::new();
    if !context.application_parameters.is_empty() {
        options = options.call_from(&context.application_parameters);
    }
    while channel.call(&destination, &options)? != CallState::Answered {
        let cause = channel.cause();
        if cause != Some(CallCause::Busy) {
            return Err(CallError::hangup(format!(
                "Call destination returned cause {cause:?}"
            )));
        }
        if Instant::now() > end_time {
            return Err(CallError::hangup("Call destination is busy."));
        }
        std::thread::sleep(Duration::from_secs(10));
    }
    let filename = format!("recfile_{}.wav", context.instance_id);
    let cause = channel.file_recorder().record(&filename)?;
    log::info(format!(
        "recorded {filename}: {cause}, audio detected: {:?}",
        channel.file_recorder().audio_detected_in_recording()
    ));
    channel.wait_for_idle(None)?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
