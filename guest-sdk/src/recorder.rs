//! [`FileRecorder`] and [`WholeCallRecorder`]: record the call to WAV files in the
//! app's media directory.
//!
//! Mirrors the UAS `channel.FileRecorder` (the far end's audio; ends on silence,
//! size, time or a digit) and `channel.WholeCallRecorder` (both directions, stereo
//! or mixed). `record` blocks until the recording ends; `start` returns at once and
//! `wait_until_finished`/`state`/`cause` follow the job. The file is a valid WAV
//! while it grows. Depends on the generated bindings and [`Channel`](crate::Channel).

use std::time::Duration;

use crate::bindings::callhost::call::file_recorder as raw;
use crate::bindings::callhost::call::file_recorder::{
    RecordFormat as RawRecordFormat, RecorderCause as RawRecorderCause,
    RecorderState as RawRecorderState,
};
use crate::bindings::callhost::call::whole_call_recorder as raw_whole;
use crate::channel::Channel;
use crate::cipher::AesCbcCipher;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// Whether a recorder is busy (the UAS `FileRecorder.State`).
    pub enum RecorderState mirrors RawRecorderState {
        /// No recording is running.
        Idle = Idle => "IDLE",
        /// A recording is running.
        Recording = Recording => "RECORDING",
    }
}

mirror_enum! {
    /// Why the last recording ended (the UAS `FileRecorder.Cause`).
    pub enum RecorderCause mirrors RawRecorderCause {
        /// No recording has ended yet, or one is still running.
        None = None => "NONE",
        /// The silence limit was reached.
        Silence = Silence => "SILENCE",
        /// The size limit was reached.
        Size = Size => "SIZE",
        /// The time limit was reached.
        Timeout = Timeout => "TIMEOUT",
        /// A DTMF digit ended a barge-in recording (the digit stays buffered).
        BargeIn = Bargein => "BARGEIN",
        /// The recording was stopped.
        Aborted = Aborted => "ABORTED",
        /// The call went idle.
        Hangup = Hangup => "HANGUP",
        /// The file could not be written.
        Error = Error => "ERROR",
    }
}

mirror_enum! {
    /// How samples are stored (8 kHz WAV).
    pub enum RecordFormat mirrors RawRecordFormat {
        /// 16-bit linear PCM.
        Pcm16 = Pcm16 => "PCM16",
        /// G.711 µ-law.
        Mulaw = Mulaw => "MULAW",
        /// G.711 A-law.
        Alaw = Alaw => "ALAW",
    }
}

/// Options for a file recording; build with [`RecordOptions::new`] and the setters.
/// Unset limits take the host's defaults: 120 s, 3 s of silence.
///
/// ```
/// use std::time::Duration;
/// use callhost_sdk::{RecordFormat, RecordOptions};
/// let options = RecordOptions::new()
///     .max_silence(Duration::from_secs(2))
///     .max_duration(Duration::from_secs(30))
///     .beep(true)
///     .format(RecordFormat::Mulaw);
/// assert_eq!(options.to_raw().milliseconds_max_silence, Some(2000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct RecordOptions {
    max_duration: Option<Duration>,
    max_silence: Option<Duration>,
    initial_silence: Option<Duration>,
    max_bytes: Option<u64>,
    barge_in: bool,
    beep: bool,
    format: Option<RecordFormat>,
    cipher: Option<AesCbcCipher>,
}

fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

fn seconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}

impl RecordOptions {
    /// The host's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Longest recording (whole seconds).
    pub fn max_duration(mut self, limit: Duration) -> Self {
        self.max_duration = Some(limit);
        self
    }

    /// Silence after the caller has spoken that ends the recording; zero: none.
    pub fn max_silence(mut self, limit: Duration) -> Self {
        self.max_silence = Some(limit);
        self
    }

    /// Silence before the caller first speaks that ends the recording.
    pub fn initial_silence(mut self, limit: Duration) -> Self {
        self.initial_silence = Some(limit);
        self
    }

    /// Largest audio data size in bytes.
    pub fn max_bytes(mut self, limit: u64) -> Self {
        self.max_bytes = Some(limit);
        self
    }

    /// End the recording when the caller presses a key.
    pub fn barge_in(mut self, barge_in: bool) -> Self {
        self.barge_in = barge_in;
        self
    }

    /// Beep before recording starts.
    pub fn beep(mut self, beep: bool) -> Self {
        self.beep = beep;
        self
    }

    /// File format (default 16-bit PCM).
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Encrypt the recording with `cipher` (the UAS `record(filename=..., cipher=...)`):
    /// the file is what `openssl enc -aes-256-cbc -K <key> -iv <vector>` writes, and
    /// plays back with [`crate::PlayOptions::cipher`].
    pub fn cipher(mut self, cipher: AesCbcCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The WIT record these options become.
    pub fn to_raw(self) -> raw::RecordOptions {
        raw::RecordOptions {
            seconds_max: self.max_duration.map(seconds),
            milliseconds_max_silence: self.max_silence.map(millis),
            milliseconds_initial_silence: self.initial_silence.map(millis),
            max_bytes: self.max_bytes,
            barge_in: self.barge_in,
            beep: self.beep,
            format: self.format.unwrap_or(RecordFormat::Pcm16).into(),
            cipher: self.cipher.as_ref().map(AesCbcCipher::to_raw),
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Why it ended.
    pub cause: RecorderCause,
    /// Audio recorded.
    pub duration: Duration,
    /// Audio data bytes in the file (the header not counted).
    pub data_bytes: u64,
    /// Whether it holds more than silence.
    pub audio_detected: bool,
}

impl From<raw::RecordingSummary> for RecordingSummary {
    fn from(summary: raw::RecordingSummary) -> Self {
        RecordingSummary {
            cause: summary.cause.into(),
            duration: Duration::from_millis(summary.milliseconds),
            data_bytes: summary.data_bytes,
            audio_detected: summary.audio_detected,
        }
    }
}

/// The channel's file recorder, borrowed from [`Channel::file_recorder`].
///
/// One recording runs at a time per channel; a new one replaces (aborts) it. A job
/// started with [`FileRecorder::start`] keeps running after this view is dropped.
#[derive(Debug, Clone, Copy)]
pub struct FileRecorder<'channel> {
    channel: &'channel Channel,
}

impl<'channel> FileRecorder<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        FileRecorder { channel }
    }

    /// Records the far end to `filename` with the default limits and waits until the
    /// recording ends; returns why. The call must be answered.
    ///
    /// Errors: `Error` for a name outside the media directory or an unwritable file,
    /// `Hangup` if the call is (or goes) idle.
    pub fn record(&self, filename: &str) -> Result<RecorderCause> {
        self.record_with_options(filename, RecordOptions::new())
    }

    /// Like [`FileRecorder::record`], with options.
    pub fn record_with_options(
        &self,
        filename: &str,
        options: RecordOptions,
    ) -> Result<RecorderCause> {
        Ok(raw::record(self.channel.raw(), filename, &options.to_raw())?.into())
    }

    /// Starts recording and returns at once.
    pub fn start(&self, filename: &str, options: RecordOptions) -> Result<()> {
        Ok(raw::start(self.channel.raw(), filename, &options.to_raw())?)
    }

    /// Stops the recording (cause [`RecorderCause::Aborted`]); no-op when idle.
    pub fn stop(&self) -> Result<()> {
        Ok(raw::stop(self.channel.raw())?)
    }

    /// Waits for the recording to end; the file is complete when this returns.
    pub fn wait_until_finished(&self) -> Result<RecorderCause> {
        Ok(raw::wait_until_finished(self.channel.raw())?.into())
    }

    /// Whether a recording runs. Never blocks.
    pub fn state(&self) -> RecorderState {
        raw::state(self.channel.raw()).into()
    }

    /// Why the last recording ended. Never blocks.
    pub fn cause(&self) -> RecorderCause {
        raw::cause(self.channel.raw()).into()
    }

    /// Whether the last recording holds audio; `None` until a recording has ended.
    pub fn audio_detected_in_recording(&self) -> Option<bool> {
        raw::audio_detected_in_recording(self.channel.raw())
    }

    /// The last finished recording's cause, length and size.
    pub fn last_recording(&self) -> Option<RecordingSummary> {
        raw::last_recording(self.channel.raw()).map(Into::into)
    }
}

/// How a whole-call recording stores the two directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WholeCallLayout {
    /// Two channels: the far end left, what it hears right.
    #[default]
    Stereo,
    /// Both mixed into one channel.
    Mixed,
}

/// Options for a whole-call recording.
///
/// ```
/// use callhost_sdk::{RecordFormat, WholeCallLayout, WholeCallOptions};
/// let options = WholeCallOptions::new().layout(WholeCallLayout::Mixed).format(RecordFormat::Alaw);
/// assert_eq!(options.to_raw().seconds_max, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct WholeCallOptions {
    layout: WholeCallLayout,
    format: Option<RecordFormat>,
    max_duration: Option<Duration>,
    max_bytes: Option<u64>,
    cipher: Option<AesCbcCipher>,
}

impl WholeCallOptions {
    /// Stereo 16-bit PCM, no limit but the call.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stereo or mixed.
    pub fn layout(mut self, layout: WholeCallLayout) -> Self {
        self.layout = layout;
        self
    }

    /// File format.
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Longest recording (whole seconds).
    pub fn max_duration(mut self, limit: Duration) -> Self {
        self.max_duration = Some(limit);
        self
    }

    /// Largest audio data size in bytes.
    pub fn max_bytes(mut self, limit: u64) -> Self {
        self.max_bytes = Some(limit);
        self
    }

    /// Encrypt the recording with `cipher`, as [`RecordOptions::cipher`] does.
    pub fn cipher(mut self, cipher: AesCbcCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The WIT record these options become.
    pub fn to_raw(self) -> raw_whole::WholeCallOptions {
        raw_whole::WholeCallOptions {
            format: self.format.unwrap_or(RecordFormat::Pcm16).into(),
            layout: match self.layout {
                WholeCallLayout::Stereo => raw_whole::WholeCallLayout::Stereo,
                WholeCallLayout::Mixed => raw_whole::WholeCallLayout::Mixed,
            },
            seconds_max: self.max_duration.map(seconds),
            max_bytes: self.max_bytes,
            cipher: self.cipher.as_ref().map(AesCbcCipher::to_raw),
        }
    }
}

/// The channel's whole-call recorder, borrowed from [`Channel::whole_call_recorder`].
#[derive(Debug, Clone, Copy)]
pub struct WholeCallRecorder<'channel> {
    channel: &'channel Channel,
}

impl<'channel> WholeCallRecorder<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        WholeCallRecorder { channel }
    }

    /// Starts recording both directions to `filename` and returns at once.
    pub fn start(&self, filename: &str, options: WholeCallOptions) -> Result<()> {
        Ok(raw_whole::start(
            self.channel.raw(),
            filename,
            &options.to_raw(),
        )?)
    }

    /// Stops the recording (cause [`RecorderCause::Aborted`]); no-op when idle.
    pub fn stop(&self) -> Result<()> {
        Ok(raw_whole::stop(self.channel.raw())?)
    }

    /// Waits for the recording to end; the file is complete when this returns.
    pub fn wait_until_finished(&self) -> Result<RecorderCause> {
        Ok(raw_whole::wait_until_finished(self.channel.raw())?.into())
    }

    /// Whether a recording runs. Never blocks.
    pub fn state(&self) -> RecorderState {
        raw_whole::state(self.channel.raw()).into()
    }

    /// Why the last recording ended. Never blocks.
    pub fn cause(&self) -> RecorderCause {
        raw_whole::cause(self.channel.raw()).into()
    }

    /// The last finished recording's cause, length and size.
    pub fn last_recording(&self) -> Option<RecordingSummary> {
        raw_whole::last_recording(self.channel.raw()).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_the_wit_records() {
        let raw = RecordOptions::new().to_raw();
        assert_eq!(
            (raw.seconds_max, raw.milliseconds_max_silence, raw.max_bytes),
            (None, None, None),
            "unset limits are the host's defaults"
        );
        let raw = RecordOptions::new()
            .max_duration(Duration::from_secs(30))
            .initial_silence(Duration::from_millis(1500))
            .max_bytes(1000)
            .barge_in(true)
            .to_raw();
        assert_eq!(raw.seconds_max, Some(30));
        assert_eq!(raw.milliseconds_initial_silence, Some(1500));
        assert_eq!(raw.max_bytes, Some(1000));
        assert!(raw.barge_in && !raw.beep);
        let whole = WholeCallOptions::new().to_raw();
        assert_eq!(whole.layout, raw_whole::WholeCallLayout::Stereo);
    }

    #[test]
    fn recorder_enums_round_trip_and_use_uas_names() {
        for &cause in RecorderCause::ALL {
            assert_eq!(RecorderCause::from(RawRecorderCause::from(cause)), cause);
        }
        assert_eq!(RecorderCause::Silence.to_string(), "SILENCE");
        assert_eq!(RecorderState::Recording.to_string(), "RECORDING");
    }
}
