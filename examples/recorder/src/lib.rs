//! recorder: the recording demo service.
//!
//! Answers, beeps, records the caller to `recording-<instance id>.wav` in the app's
//! media directory until 2 s of silence (or 30 s in all), plays the recording back
//! and hangs up. The recording stays in the media directory. Exit code 0; -101 when
//! the recording or its playback failed. Operators and the host's end-to-end tests
//! rely on exactly this behaviour.

use std::time::Duration;

use callhost_sdk::{
    AppContext, CallError, Channel, PlayerCause, RecordOptions, RecorderCause, Result, log,
};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    channel.answer()?;
    let filename = format!("recording-{}.wav", context.instance_id);
    let options = RecordOptions::new()
        .beep(true)
        .max_silence(Duration::from_secs(2))
        .max_duration(Duration::from_secs(30));
    let cause = channel
        .file_recorder()
        .record_with_options(&filename, options)?;
    let summary = channel.file_recorder().last_recording();
    log::info(format!("recorder: {filename} ended with {cause}: {summary:?}"));
    if cause == RecorderCause::Error {
        return Err(CallError::error(format!("{filename} could not be written")));
    }
    match channel.file_player().play(&filename)? {
        PlayerCause::Error => return Err(CallError::error(format!("{filename} could not be played"))),
        other => log::info(format!("recorder: playback ended with {other}")),
    }
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
