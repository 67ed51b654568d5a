//! `callhost:call/file-recorder`: record the far end to a WAV file in the app's
//! media directory. Options get their defaults here (120 s, 3 s of silence);
//! the server resolves the file name, creates the file and runs the job. The
//! conversions for the types `whole-call-recorder` shares live here too.

use std::time::Duration;

use wasmtime::component::Resource;

use crate::arguments::{MAX_FILE_NAME_BYTES, check_size};
use crate::bindings::callhost::call::file_recorder as wit;
use crate::bindings::callhost::call::types::CallError;
use crate::host::channel::ChannelHandle;
use crate::port::{self, CallCommand, CallPort, Recorder};
use crate::store::CallView;

/// Longest recording when the app sets no limit (the seed: "approximately two minutes").
pub const DEFAULT_MAX_SECONDS: u32 = 120;
/// Silence that ends a recording when the app sets no limit.
pub const DEFAULT_MAX_SILENCE_MILLISECONDS: u32 = 3000;

impl From<port::RecorderState> for wit::RecorderState {
    fn from(state: port::RecorderState) -> Self {
        match state {
            port::RecorderState::Idle => wit::RecorderState::Idle,
            port::RecorderState::Recording => wit::RecorderState::Recording,
        }
    }
}

impl From<port::RecorderCause> for wit::RecorderCause {
    fn from(cause: port::RecorderCause) -> Self {
        match cause {
            port::RecorderCause::None => wit::RecorderCause::None,
            port::RecorderCause::Silence => wit::RecorderCause::Silence,
            port::RecorderCause::Size => wit::RecorderCause::Size,
            port::RecorderCause::Timeout => wit::RecorderCause::Timeout,
            port::RecorderCause::BargeIn => wit::RecorderCause::Bargein,
            port::RecorderCause::Aborted => wit::RecorderCause::Aborted,
            port::RecorderCause::Hangup => wit::RecorderCause::Hangup,
            port::RecorderCause::Error => wit::RecorderCause::Error,
        }
    }
}

impl From<wit::RecordFormat> for port::RecordFormat {
    fn from(format: wit::RecordFormat) -> Self {
        match format {
            wit::RecordFormat::Pcm16 => port::RecordFormat::Pcm16,
            wit::RecordFormat::Mulaw => port::RecordFormat::Mulaw,
            wit::RecordFormat::Alaw => port::RecordFormat::Alaw,
        }
    }
}

impl From<port::RecordingSummary> for wit::RecordingSummary {
    fn from(summary: port::RecordingSummary) -> Self {
        wit::RecordingSummary {
            cause: summary.cause.into(),
            milliseconds: summary.duration.as_millis() as u64,
            data_bytes: summary.data_bytes,
            audio_detected: summary.audio_detected,
        }
    }
}

/// Milliseconds as a limit, where zero means none.
fn milliseconds(value: u32) -> Option<Duration> {
    (value > 0).then(|| Duration::from_millis(u64::from(value)))
}

fn options(options: wit::RecordOptions) -> port::RecordOptions {
    let max_silence = milliseconds(
        options
            .milliseconds_max_silence
            .unwrap_or(DEFAULT_MAX_SILENCE_MILLISECONDS),
    );
    port::RecordOptions {
        max_duration: Some(Duration::from_secs(u64::from(
            options.seconds_max.unwrap_or(DEFAULT_MAX_SECONDS),
        )))
        .filter(|limit| !limit.is_zero()),
        max_silence,
        initial_silence: options.milliseconds_initial_silence.and_then(milliseconds),
        max_bytes: options.max_bytes.filter(|&bytes| bytes > 0),
        barge_in: options.barge_in,
        beep: options.beep,
        format: options.format.into(),
        layout: port::RecordLayout::Received,
        cipher: options.cipher.map(Into::into),
    }
}

/// Start a recording job on `recorder`.
pub(crate) async fn start(
    port: &CallPort,
    recorder: Recorder,
    filename: String,
    options: port::RecordOptions,
) -> Result<(), CallError> {
    check_size("file name", &filename, MAX_FILE_NAME_BYTES)?;
    port.request(|reply| CallCommand::RecordStart {
        recorder,
        filename,
        options,
        reply,
    })
    .await
    .map_err(Into::into)
}

/// Stop `recorder`'s job.
pub(crate) async fn stop(port: &CallPort, recorder: Recorder) -> Result<(), CallError> {
    port.request(|reply| CallCommand::RecordStop { recorder, reply })
        .await
        .map_err(Into::into)
}

/// Wait for `recorder`'s job to end.
pub(crate) async fn wait(
    port: &CallPort,
    recorder: Recorder,
) -> Result<wit::RecorderCause, CallError> {
    port.request(|reply| CallCommand::RecordWait { recorder, reply })
        .await
        .map(Into::into)
        .map_err(Into::into)
}

impl wit::Host for CallView<'_> {
    async fn record(
        &mut self,
        channel: Resource<ChannelHandle>,
        filename: String,
        record_options: wit::RecordOptions,
    ) -> wasmtime::Result<Result<wit::RecorderCause, CallError>> {
        let port = self.port(&channel)?;
        if let Err(error) = start(port, Recorder::File, filename, options(record_options)).await {
            return Ok(Err(error));
        }
        Ok(wait(port, Recorder::File).await)
    }

    async fn start(
        &mut self,
        channel: Resource<ChannelHandle>,
        filename: String,
        record_options: wit::RecordOptions,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(start(port, Recorder::File, filename, options(record_options)).await)
    }

    async fn stop(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        Ok(stop(self.port(&channel)?, Recorder::File).await)
    }

    async fn wait_until_finished(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<wit::RecorderCause, CallError>> {
        Ok(wait(self.port(&channel)?, Recorder::File).await)
    }

    async fn state(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::RecorderState> {
        Ok(self
            .port(&channel)?
            .snapshot
            .borrow()
            .file_recorder
            .state
            .into())
    }

    async fn cause(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::RecorderCause> {
        Ok(self
            .port(&channel)?
            .snapshot
            .borrow()
            .file_recorder
            .cause
            .into())
    }

    async fn audio_detected_in_recording(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<bool>> {
        let snapshot = self.port(&channel)?.snapshot.borrow().file_recorder;
        Ok(snapshot.last.map(|summary| summary.audio_detected))
    }

    async fn last_recording(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<wit::RecordingSummary>> {
        let snapshot = self.port(&channel)?.snapshot.borrow().file_recorder;
        Ok(snapshot.last.map(Into::into))
    }
}
