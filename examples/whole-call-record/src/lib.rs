//! whole-call-record: the UAS tutorial's whole-call recording snippet in an
//! inbound app.
//!
//! Answers, starts the whole-call recorder (`whole_call_<instance id>.wav`, both
//! directions as stereo), plays `hello.wav` and records the caller for up to 3 s
//! meanwhile ("other application jobs, including play and record"), then stops the
//! whole-call recorder and waits for it: the cause must be ABORTED, as in the
//! tutorial. Exit code 0; -101 on any unexpected cause.

use std::time::Duration;

use callhost_sdk::{
    AppContext, CallError, Channel, RecordOptions, RecorderCause, Result, WholeCallOptions, log,
};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    channel.answer()?;
    let whole_call = channel.whole_call_recorder();
    let filename = format!("whole_call_{}.wav", context.instance_id);
    whole_call
        .start(&filename, WholeCallOptions::new())
        .map_err(|error| CallError::error(format!("whole call record start failed: {error}")))?;
    channel.file_player().play("hello.wav")?;
    let caller = format!("caller_{}.wav", context.instance_id);
    let options = RecordOptions::new()
        .max_duration(Duration::from_secs(3))
        .max_silence(Duration::ZERO);
    let recorded = channel.file_recorder().record_with_options(&caller, options)?;
    log::info(format!("caller recording ended with {recorded}"));
    whole_call.stop()?;
    let cause = whole_call.wait_until_finished()?;
    if cause != RecorderCause::Aborted {
        return Err(CallError::error(format!(
            "file record returned {cause}: expected ABORTED"
        )));
    }
    log::info(format!(
        "whole call recording {filename}: {:?}",
        whole_call.last_recording()
    ));
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
