//! A leg's two recorders (WIT `file-recorder` and `whole-call-recorder`): starting a job
//! (name checked inside the app's media directory, file created off the async threads, job
//! handed to the media session), stopping it, waiting for it, and its end reported by the
//! media session once the file is complete.
//!
//! Recording is allowed whenever the call has media: answered, held either way, connected to
//! another leg (the file recorder still hears the far end; the whole-call recorder hears both
//! parties) or transferred.

use callhost_media::recorder::file::RecordingFile;
use callhost_media::recorder::{
    RecordFormat, RecordedAudio, RecordingCause, RecordingLimits, RecordingSlot, RecordingSummary,
};
use callhost_runtime::port::{
    self, CallError, CallState, RecordLayout, RecordOptions, Recorder, RecorderCause,
    RecorderState, Reply,
};
use tracing::{debug, info};

use super::files;
use super::leg::Leg;
use crate::media_path;

/// One recorder's running job.
pub(crate) struct RecordJob {
    /// The media session's id for it.
    id: u64,
    /// `wait-until-finished` (and `record`) replies.
    waiters: Vec<Reply<RecorderCause>>,
}

/// A leg's recorders.
#[derive(Default)]
pub(crate) struct Recorders {
    file: Option<RecordJob>,
    whole_call: Option<RecordJob>,
}

impl Recorders {
    fn job(&mut self, recorder: Recorder) -> &mut Option<RecordJob> {
        match recorder {
            Recorder::File => &mut self.file,
            Recorder::WholeCall => &mut self.whole_call,
        }
    }
}

fn slot(recorder: Recorder) -> RecordingSlot {
    match recorder {
        Recorder::File => RecordingSlot::File,
        Recorder::WholeCall => RecordingSlot::WholeCall,
    }
}

fn cause(cause: RecordingCause) -> RecorderCause {
    match cause {
        RecordingCause::Silence => RecorderCause::Silence,
        RecordingCause::Size => RecorderCause::Size,
        RecordingCause::Timeout => RecorderCause::Timeout,
        RecordingCause::BargeIn => RecorderCause::BargeIn,
        RecordingCause::Aborted => RecorderCause::Aborted,
        RecordingCause::Hangup => RecorderCause::Hangup,
        RecordingCause::Error => RecorderCause::Error,
    }
}

fn format(format: port::RecordFormat) -> RecordFormat {
    match format {
        port::RecordFormat::Pcm16 => RecordFormat::Pcm16,
        port::RecordFormat::Mulaw => RecordFormat::Mulaw,
        port::RecordFormat::Alaw => RecordFormat::Alaw,
    }
}

fn audio(layout: RecordLayout) -> RecordedAudio {
    match layout {
        RecordLayout::Received => RecordedAudio::Received,
        RecordLayout::Stereo => RecordedAudio::Stereo,
        RecordLayout::Mixed => RecordedAudio::Mixed,
    }
}

fn allowed(state: CallState) -> Result<(), CallError> {
    match state {
        CallState::Answered
        | CallState::OnHold
        | CallState::Holding
        | CallState::Transferring
        | CallState::Transferred => Ok(()),
        CallState::Idle => Err(CallError::Hangup("the call is idle".into())),
        other => Err(CallError::Error(format!(
            "recording needs an answered call (state is {other:?})"
        ))),
    }
}

/// Start a job on `recorder`, replacing (ABORTED) one that runs there.
pub(crate) async fn start(
    leg: &mut Leg,
    recorder: Recorder,
    filename: String,
    options: RecordOptions,
) -> Result<(), CallError> {
    allowed(leg.state())?;
    let fail = |leg: &Leg, message: String| {
        leg.update(|snapshot| snapshot.recorder_mut(recorder).cause = RecorderCause::Error);
        Err(CallError::Error(message))
    };
    let path = match media_path::resolve_for_writing(&leg.media_dir, &filename) {
        Ok(path) => path,
        Err(error) => return fail(leg, error.to_string()),
    };
    let (format, audio) = (format(options.format), audio(options.layout));
    let cipher = match options.cipher.as_ref().map(files::parse_cipher).transpose() {
        Ok(cipher) => cipher,
        Err(CallError::Error(message) | CallError::Hangup(message)) => return fail(leg, message),
    };
    let created = tokio::task::spawn_blocking(move || match cipher {
        Some(cipher) => RecordingFile::create_encrypted(&path, format, audio.channels(), &cipher),
        None => RecordingFile::create(&path, format, audio.channels()),
    })
    .await;
    let file = match created {
        Ok(Ok(file)) => file,
        Ok(Err(error)) => return fail(leg, format!("cannot record to `{filename}`: {error}")),
        Err(join) => return fail(leg, format!("cannot record to `{filename}`: {join}")),
    };
    let limits = RecordingLimits {
        max_duration: options.max_duration,
        max_silence: options.max_silence,
        initial_silence: options.initial_silence,
        max_bytes: options.max_bytes,
        barge_in: options.barge_in,
        beep: options.beep,
    };
    let Some(media) = &leg.media else {
        return fail(leg, "the media session has stopped".into());
    };
    let id = match media.start_recording(slot(recorder), file, format, audio, limits) {
        Ok(id) => id,
        Err(error) => return fail(leg, format!("cannot record: {error}")),
    };
    // The media session ends a job it replaces ABORTED; its end is not waited for.
    if let Some(old) = leg.recorders.job(recorder).replace(RecordJob {
        id,
        waiters: Vec::new(),
    }) {
        for reply in old.waiters {
            let _ = reply.send(Ok(RecorderCause::Aborted));
        }
    }
    leg.update(|snapshot| {
        let status = snapshot.recorder_mut(recorder);
        status.state = RecorderState::Recording;
        status.cause = RecorderCause::None;
    });
    info!(file = %filename, ?recorder, ?options, "recording");
    Ok(())
}

/// Stop `recorder`'s job (ABORTED); its end follows as an event.
pub(crate) fn stop(leg: &mut Leg, recorder: Recorder) {
    if leg.recorders.job(recorder).is_some()
        && let Some(media) = &leg.media
    {
        media.stop_recording(slot(recorder), RecordingCause::Aborted);
    }
}

/// Reply when `recorder`'s job has ended (at once if none runs).
pub(crate) fn wait(leg: &mut Leg, recorder: Recorder, reply: Reply<RecorderCause>) {
    let last_cause = leg.snapshot.borrow().recorder(recorder).cause;
    let idle = leg.state() == CallState::Idle;
    match leg.recorders.job(recorder) {
        Some(job) => job.waiters.push(reply),
        None if idle && last_cause == RecorderCause::Hangup => {
            let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
        }
        None => {
            let _ = reply.send(Ok(last_cause));
        }
    }
}

/// The media session finished recording `id`: its file is complete.
pub(crate) fn finished(leg: &mut Leg, id: u64, summary: RecordingSummary) {
    for recorder in [Recorder::File, Recorder::WholeCall] {
        let job = leg.recorders.job(recorder);
        if job.as_ref().is_none_or(|job| job.id != id) {
            continue;
        }
        let Some(job) = job.take() else { continue };
        let ended = port::RecordingSummary {
            cause: cause(summary.cause),
            duration: summary.duration,
            data_bytes: summary.data_bytes,
            audio_detected: summary.audio_detected,
        };
        info!(?recorder, cause = ?ended.cause, milliseconds = ended.duration.as_millis() as u64,
            bytes = ended.data_bytes, audio = ended.audio_detected, "recording finished");
        leg.update(|snapshot| {
            *snapshot.recorder_mut(recorder) = port::RecorderStatus {
                state: RecorderState::Idle,
                cause: ended.cause,
                last: Some(ended),
            };
        });
        for reply in job.waiters {
            let _ = reply.send(Ok(ended.cause));
        }
        return;
    }
    debug!(id, "end of a replaced recording");
}

/// The call went idle: running jobs end HANGUP (the media session finishes their files).
pub(crate) fn hang_up(leg: &mut Leg, why: &str) {
    for recorder in [Recorder::File, Recorder::WholeCall] {
        let Some(job) = leg.recorders.job(recorder).take() else {
            continue;
        };
        leg.update(|snapshot| {
            let status = snapshot.recorder_mut(recorder);
            status.state = RecorderState::Idle;
            status.cause = RecorderCause::Hangup;
        });
        for reply in job.waiters {
            let _ = reply.send(Err(CallError::Hangup(why.to_owned())));
        }
    }
}
