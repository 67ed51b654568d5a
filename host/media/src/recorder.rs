//! Recording, the sans-IO half: what one recording job keeps, frame by frame — the file
//! recorder (the caller's audio, ended by silence, size, time or a digit) and the whole-call
//! recorder (both directions, as two channels of one file or mixed into one).
//!
//! The session core ([`crate::session::SessionCore`]) hands every 20 ms frame — what was
//! received and what was sent — to each running [`RecordingJob`]; the job encodes it, decides
//! whether the recording ends, and hands encoded bytes out in chunks of about a second
//! ([`RecordingOutput`]). The driver passes the chunks to [`file::RecordingFile`], the only
//! part that touches the disk. Chunks are a second long so that the file on disk — data and
//! header together — is never more than a second behind the call.
//!
//! Silence: a frame is voiced when its RMS level is above [`SILENCE_THRESHOLD_DBM0`]. A
//! recording has "audio" once [`AUDIO_DETECTED_FRAMES`] voiced frames were recorded.
//! Depends on [`crate::g711`] only.

pub mod file;

use std::time::Duration;

use crate::g711;
use crate::session::FRAME_SAMPLES;
use crate::session::bridge::AudioFrame;

/// Below this RMS level (dBm0) a frame counts as silence. −40 dBm0 sits well above the noise
/// floor of a quiet line (−60…−70 dBm0) and below soft speech (−30…−20 dBm0).
pub const SILENCE_THRESHOLD_DBM0: f32 = -40.0;

/// Voiced frames (100 ms) a recording needs before it is said to contain audio.
pub const AUDIO_DETECTED_FRAMES: u64 = 5;

/// Frames per chunk handed to the writer: one second.
pub const CHUNK_FRAMES: u32 = 50;

/// The recording beep: 1 kHz for 300 ms at −10 dBm0, sent before the recording starts.
pub const BEEP_FREQUENCY: f32 = 1000.0;
/// See [`BEEP_FREQUENCY`].
pub const BEEP_DURATION: Duration = Duration::from_millis(300);
const BEEP_DBM0: f32 = -10.0;

/// RMS of a sine at 0 dBm0 in 16-bit linear units (G.711 full scale is +3.17 dBm0).
const ZERO_DBM0_RMS: f32 = 32767.0 * 0.694_2 / std::f32::consts::SQRT_2;

/// How samples are stored in the WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordFormat {
    /// 16-bit linear PCM (WAVE_FORMAT_PCM).
    #[default]
    Pcm16,
    /// G.711 µ-law (WAVE_FORMAT_MULAW), 8 bits a sample.
    Mulaw,
    /// G.711 A-law (WAVE_FORMAT_ALAW), 8 bits a sample.
    Alaw,
}

impl RecordFormat {
    /// Bytes per sample of one channel.
    pub const fn bytes_per_sample(self) -> u16 {
        match self {
            RecordFormat::Pcm16 => 2,
            RecordFormat::Mulaw | RecordFormat::Alaw => 1,
        }
    }

    fn encode_into(self, sample: i16, out: &mut Vec<u8>) {
        match self {
            RecordFormat::Pcm16 => out.extend_from_slice(&sample.to_le_bytes()),
            RecordFormat::Mulaw => out.push(g711::linear_to_ulaw(sample)),
            RecordFormat::Alaw => out.push(g711::linear_to_alaw(sample)),
        }
    }
}

/// Which audio a recording takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedAudio {
    /// What the far end sends (the file recorder).
    Received,
    /// Both directions, received left and sent right (the whole-call recorder).
    Stereo,
    /// Both directions mixed into one channel.
    Mixed,
}

impl RecordedAudio {
    /// Channels in the file.
    pub const fn channels(self) -> u16 {
        match self {
            RecordedAudio::Stereo => 2,
            RecordedAudio::Received | RecordedAudio::Mixed => 1,
        }
    }
}

/// The two recordings a call can run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingSlot {
    /// `file-recorder`.
    File,
    /// `whole-call-recorder`.
    WholeCall,
}

/// What ends a recording besides a stop or the call's end. `None` means no limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordingLimits {
    /// Longest recording.
    pub max_duration: Option<Duration>,
    /// Silence after the caller has spoken that ends the recording (cause SILENCE).
    pub max_silence: Option<Duration>,
    /// Silence before the caller first speaks that ends it (none: `max_silence` applies).
    pub initial_silence: Option<Duration>,
    /// Largest audio data size in bytes (the header is not counted).
    pub max_bytes: Option<u64>,
    /// End the recording when a DTMF digit arrives (cause BARGEIN).
    pub barge_in: bool,
    /// Send a beep before recording starts.
    pub beep: bool,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCause {
    /// The silence limit was reached.
    Silence,
    /// The size limit was reached.
    Size,
    /// The time limit was reached.
    Timeout,
    /// A DTMF digit arrived during a barge-in recording.
    BargeIn,
    /// It was stopped.
    Aborted,
    /// The call ended.
    Hangup,
    /// The file could not be written.
    Error,
}

/// How a finished recording turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Why it ended.
    pub cause: RecordingCause,
    /// Audio recorded (per channel).
    pub duration: Duration,
    /// Audio data bytes in the file (the header not counted).
    pub data_bytes: u64,
    /// True if the recording holds more than silence.
    pub audio_detected: bool,
}

/// Encoded audio for the writer, and the end of the recording with the last chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingOutput {
    /// The recording's id.
    pub id: u64,
    /// Encoded sample bytes to append.
    pub bytes: Vec<u8>,
    /// Set on the last chunk.
    pub end: Option<RecordingSummary>,
}

/// One running recording.
#[derive(Debug)]
pub struct RecordingJob {
    id: u64,
    format: RecordFormat,
    audio: RecordedAudio,
    limits: RecordingLimits,
    /// Beep samples still to send before recording starts.
    beep_remaining: usize,
    beep_position: usize,
    frames: u64,
    data_bytes: u64,
    voiced_frames: u64,
    /// Consecutive silent frames up to now.
    silent_run: u64,
    chunk: Vec<u8>,
    chunk_frames: u32,
}

fn frames_in(duration: Duration) -> u64 {
    (duration.as_millis() / 20) as u64
}

/// RMS level of a frame in dBm0 (−∞ for digital silence).
pub fn level_dbm0(frame: &[i16]) -> f32 {
    let mean_square =
        frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
    20.0 * ((mean_square.sqrt() as f32) / ZERO_DBM0_RMS).log10()
}

impl RecordingJob {
    /// A job that has not recorded anything yet.
    pub fn new(
        id: u64,
        format: RecordFormat,
        audio: RecordedAudio,
        limits: RecordingLimits,
    ) -> Self {
        let beep_remaining = if limits.beep {
            (BEEP_DURATION.as_millis() as usize) * 8
        } else {
            0
        };
        Self {
            id,
            format,
            audio,
            limits,
            beep_remaining,
            beep_position: 0,
            frames: 0,
            data_bytes: 0,
            voiced_frames: 0,
            silent_run: 0,
            chunk: Vec::new(),
            chunk_frames: 0,
        }
    }

    /// The job's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bytes of one frame in the file.
    fn frame_bytes(&self) -> u64 {
        FRAME_SAMPLES as u64
            * u64::from(self.format.bytes_per_sample())
            * u64::from(self.audio.channels())
    }

    /// Mix the beep into the frame about to be sent; true while the beep lasts (nothing is
    /// recorded until it has ended).
    pub fn beep_into(&mut self, sent: &mut AudioFrame) -> bool {
        if self.beep_remaining == 0 {
            return false;
        }
        let amplitude = ZERO_DBM0_RMS * std::f32::consts::SQRT_2 * 10f32.powf(BEEP_DBM0 / 20.0);
        let count = self.beep_remaining.min(FRAME_SAMPLES);
        for (index, sample) in sent.iter_mut().take(count).enumerate() {
            let n = (self.beep_position + index) as f32;
            let value = amplitude * (std::f32::consts::TAU * BEEP_FREQUENCY * n / 8000.0).sin();
            *sample = sample.saturating_add(value as i16);
        }
        self.beep_remaining -= count;
        self.beep_position += count;
        true
    }

    /// Record one frame; returns output when a chunk is full or the recording ends here.
    pub fn on_frame(
        &mut self,
        received: &AudioFrame,
        sent: &AudioFrame,
    ) -> Option<RecordingOutput> {
        if let Some(max_bytes) = self.limits.max_bytes
            && self.data_bytes + self.frame_bytes() > max_bytes
        {
            return Some(self.finish(RecordingCause::Size));
        }
        self.chunk.reserve(self.frame_bytes() as usize);
        let heard = match self.audio {
            RecordedAudio::Received => {
                for &sample in received {
                    self.format.encode_into(sample, &mut self.chunk);
                }
                *received
            }
            RecordedAudio::Stereo => {
                for (&left, &right) in received.iter().zip(sent) {
                    self.format.encode_into(left, &mut self.chunk);
                    self.format.encode_into(right, &mut self.chunk);
                }
                let mut mixed = *received;
                crate::session::bridge::mix_into(&mut mixed, sent);
                mixed
            }
            RecordedAudio::Mixed => {
                let mut mixed = *received;
                crate::session::bridge::mix_into(&mut mixed, sent);
                for &sample in &mixed {
                    self.format.encode_into(sample, &mut self.chunk);
                }
                mixed
            }
        };
        self.frames += 1;
        self.data_bytes += self.frame_bytes();
        self.chunk_frames += 1;
        if level_dbm0(&heard) > SILENCE_THRESHOLD_DBM0 {
            self.voiced_frames += 1;
            self.silent_run = 0;
        } else {
            self.silent_run += 1;
        }
        if let Some(cause) = self.limit_reached() {
            return Some(self.finish(cause));
        }
        if self.chunk_frames >= CHUNK_FRAMES {
            self.chunk_frames = 0;
            return Some(RecordingOutput {
                id: self.id,
                bytes: std::mem::take(&mut self.chunk),
                end: None,
            });
        }
        None
    }

    fn limit_reached(&self) -> Option<RecordingCause> {
        if let Some(max) = self.limits.max_duration
            && self.frames >= frames_in(max)
        {
            return Some(RecordingCause::Timeout);
        }
        let silence_limit = if self.voiced_frames == 0 {
            self.limits.initial_silence.or(self.limits.max_silence)
        } else {
            self.limits.max_silence
        };
        if let Some(limit) = silence_limit
            && self.silent_run >= frames_in(limit).max(1)
        {
            return Some(RecordingCause::Silence);
        }
        if let Some(max_bytes) = self.limits.max_bytes
            && self.data_bytes + self.frame_bytes() > max_bytes
        {
            return Some(RecordingCause::Size);
        }
        None
    }

    /// True if a digit ends this recording.
    pub fn ends_on_digit(&self) -> bool {
        self.limits.barge_in
    }

    /// End the recording now: the last chunk with the summary.
    pub fn finish(&mut self, cause: RecordingCause) -> RecordingOutput {
        RecordingOutput {
            id: self.id,
            bytes: std::mem::take(&mut self.chunk),
            end: Some(RecordingSummary {
                cause,
                duration: Duration::from_millis(self.frames * 20),
                data_bytes: self.data_bytes,
                audio_detected: self.voiced_frames >= AUDIO_DETECTED_FRAMES,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
