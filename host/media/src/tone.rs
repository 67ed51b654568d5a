//! Call-progress tone synthesis (ringback and the app's own tones), sans-IO.
//!
//! A [`ToneSequence`] is a list of [`ToneSegment`]s, each made of two
//! [`ToneComponent`]s (frequency in Hz, level in dBm0) that are added
//! ([`ToneMix::Summation`]) or amplitude-modulated ([`ToneMix::Modulation`])
//! for a number of milliseconds. A frequency of 0 is silence. A sequence
//! either plays once or repeats (a cadence) until it is stopped.
//!
//! Levels follow ITU-T G.711: 0 dBm0 is the sine 3.17 dB below the codec's
//! full scale; the conversion is [`crate::inband_dtmf::dbm0_to_amplitude`].
//! The usual ringing tones are predefined after ITU-T E.180 Supplement 2
//! (Various tones used in national networks): [`ringback_eu`] (CEPT 425 Hz,
//! 1 s on / 4 s off), [`ringback_uk`] (400+450 Hz, 0.4/0.2/0.4/2 s) and
//! [`ringback_us`] (440+480 Hz, 2 s on / 4 s off, ANSI T1.401), every
//! component at −19 dBm0.
//!
//! [`ToneGenerator`] renders a sequence sample by sample: each segment's sines
//! are computed from the sample index within the segment (in `f64`), so audio
//! is phase-continuous across 20 ms frames and the cadence is exact to the
//! sample (a segment of `n` ms is exactly `8 n` samples). Depends only on
//! [`crate::inband_dtmf`] (the dBm0 conversion) and [`crate::prompt`].

use std::sync::Arc;

use crate::inband_dtmf::dbm0_to_amplitude;
use crate::prompt::Prompt;

/// Samples per millisecond at the media sample rate (8 kHz).
pub const SAMPLES_PER_MILLISECOND: u64 = 8;
/// Highest frequency a segment may use: below the 4 kHz Nyquist limit of 8 kHz audio.
pub const MAX_FREQUENCY_HZ: u32 = 3999;
/// Loudest level accepted: the G.711 full-scale sine.
pub const MAX_LEVEL_DBM0: f32 = 3.17;
/// Quietest level accepted (anything quieter is silence in G.711 anyway).
pub const MIN_LEVEL_DBM0: f32 = -60.0;
/// Longest segment: one hour.
pub const MAX_SEGMENT_MILLISECONDS: u32 = 3_600_000;
/// Most segments in one sequence.
pub const MAX_SEGMENTS: usize = 64;
/// Level of each component of the predefined ringing tones.
pub const RINGBACK_LEVEL_DBM0: f32 = -19.0;

/// One sine of a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneComponent {
    /// Hz; 0 is silence.
    pub frequency: u32,
    /// Level in dBm0 (see [`ToneMix`] for its meaning under modulation).
    pub level: f32,
}

impl ToneComponent {
    /// A component of `frequency` Hz at `level` dBm0.
    pub const fn new(frequency: u32, level: f32) -> Self {
        Self { frequency, level }
    }

    /// No sound.
    pub const SILENCE: ToneComponent = ToneComponent::new(0, 0.0);
}

/// How a segment's two components combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToneMix {
    /// The two sines are added, each at its own level.
    #[default]
    Summation,
    /// The first component is a carrier at its level, amplitude-modulated by
    /// the second's frequency. The second's level is the level of each of the
    /// two sidebands (at carrier ± modulating frequency); at most 6.02 dB
    /// below the carrier (100 % modulation), louder is capped there.
    Modulation,
}

/// One step of a cadence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSegment {
    /// The first sine (the carrier under modulation).
    pub first: ToneComponent,
    /// The second sine (the modulating frequency under modulation).
    pub second: ToneComponent,
    /// How long the segment lasts, in milliseconds (at least 1).
    pub milliseconds: u32,
    /// How the components combine.
    pub mix: ToneMix,
}

impl ToneSegment {
    /// Two summed sines for `milliseconds`.
    pub const fn dual(first: ToneComponent, second: ToneComponent, milliseconds: u32) -> Self {
        Self {
            first,
            second,
            milliseconds,
            mix: ToneMix::Summation,
        }
    }

    /// One sine for `milliseconds`.
    pub const fn single(frequency: u32, level: f32, milliseconds: u32) -> Self {
        Self::dual(
            ToneComponent::new(frequency, level),
            ToneComponent::SILENCE,
            milliseconds,
        )
    }

    /// Silence for `milliseconds`.
    pub const fn silence(milliseconds: u32) -> Self {
        Self::dual(ToneComponent::SILENCE, ToneComponent::SILENCE, milliseconds)
    }

    /// The segment's length in samples.
    pub fn samples(&self) -> u64 {
        u64::from(self.milliseconds) * SAMPLES_PER_MILLISECOND
    }
}

/// Why a tone sequence was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToneError {
    /// No segments.
    #[error("a tone needs at least one segment")]
    Empty,
    /// More than [`MAX_SEGMENTS`] segments.
    #[error("a tone has at most {MAX_SEGMENTS} segments, not {count}")]
    TooManySegments {
        /// How many were given.
        count: usize,
    },
    /// A frequency above [`MAX_FREQUENCY_HZ`].
    #[error(
        "segment {segment}: {frequency} Hz cannot be carried by 8 kHz audio (at most {MAX_FREQUENCY_HZ} Hz)"
    )]
    Frequency {
        /// Index of the segment.
        segment: usize,
        /// The frequency given.
        frequency: u32,
    },
    /// A level outside [`MIN_LEVEL_DBM0`]..=[`MAX_LEVEL_DBM0`] (or not a number).
    #[error("segment {segment}: level {level} dBm0 is outside {MIN_LEVEL_DBM0}..={MAX_LEVEL_DBM0}")]
    Level {
        /// Index of the segment.
        segment: usize,
        /// The level given.
        level: f32,
    },
    /// A duration of 0 or above [`MAX_SEGMENT_MILLISECONDS`].
    #[error(
        "segment {segment}: duration {milliseconds} ms is outside 1..={MAX_SEGMENT_MILLISECONDS}"
    )]
    Duration {
        /// Index of the segment.
        segment: usize,
        /// The duration given.
        milliseconds: u32,
    },
}

/// A validated tone: its segments and whether it repeats. Immutable; share it with `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSequence {
    segments: Vec<ToneSegment>,
    repeat: bool,
}

impl ToneSequence {
    /// Check every segment (frequency, level of sounding components, duration).
    pub fn new(segments: Vec<ToneSegment>, repeat: bool) -> Result<Self, ToneError> {
        if segments.is_empty() {
            return Err(ToneError::Empty);
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(ToneError::TooManySegments {
                count: segments.len(),
            });
        }
        for (index, segment) in segments.iter().enumerate() {
            if !(1..=MAX_SEGMENT_MILLISECONDS).contains(&segment.milliseconds) {
                return Err(ToneError::Duration {
                    segment: index,
                    milliseconds: segment.milliseconds,
                });
            }
            for component in [segment.first, segment.second] {
                if component.frequency > MAX_FREQUENCY_HZ {
                    return Err(ToneError::Frequency {
                        segment: index,
                        frequency: component.frequency,
                    });
                }
                // A silent component's level does not matter (the seed writes 0).
                if component.frequency != 0
                    && !(MIN_LEVEL_DBM0..=MAX_LEVEL_DBM0).contains(&component.level)
                {
                    return Err(ToneError::Level {
                        segment: index,
                        level: component.level,
                    });
                }
            }
        }
        Ok(Self { segments, repeat })
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[ToneSegment] {
        &self.segments
    }

    /// True if the cadence repeats until stopped.
    pub fn repeats(&self) -> bool {
        self.repeat
    }

    /// One pass through every segment, in samples.
    pub fn cycle_samples(&self) -> u64 {
        self.segments.iter().map(ToneSegment::samples).sum()
    }

    /// Render `limit_samples` (or, for a sequence that plays once and no limit,
    /// the whole sequence) into a prompt. A repeating sequence with no limit is
    /// rendered as one cycle.
    pub fn render(self: &Arc<Self>, limit_samples: Option<u64>) -> Prompt {
        let total = limit_samples.unwrap_or_else(|| self.cycle_samples());
        let mut generator = ToneGenerator::new(Arc::clone(self), Some(total));
        let mut samples = vec![0; usize::try_from(total).unwrap_or(usize::MAX)];
        let written = generator.fill(&mut samples);
        samples.truncate(written);
        Prompt::from_samples(samples)
    }
}

/// 425 Hz, 1 s on, 4 s off, repeating (CEPT / ETSI TR 101 041).
pub fn ringback_eu() -> ToneSequence {
    let segments = vec![
        ToneSegment::single(425, RINGBACK_LEVEL_DBM0, 1000),
        ToneSegment::silence(4000),
    ];
    ToneSequence {
        segments,
        repeat: true,
    }
}

/// 400+450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off, repeating (UK).
pub fn ringback_uk() -> ToneSequence {
    let on = ToneSegment::dual(
        ToneComponent::new(400, RINGBACK_LEVEL_DBM0),
        ToneComponent::new(450, RINGBACK_LEVEL_DBM0),
        400,
    );
    ToneSequence {
        segments: vec![
            on,
            ToneSegment::silence(200),
            on,
            ToneSegment::silence(2000),
        ],
        repeat: true,
    }
}

/// 440+480 Hz, 2 s on, 4 s off, repeating (North America, ANSI T1.401).
pub fn ringback_us() -> ToneSequence {
    let on = ToneSegment::dual(
        ToneComponent::new(440, RINGBACK_LEVEL_DBM0),
        ToneComponent::new(480, RINGBACK_LEVEL_DBM0),
        2000,
    );
    ToneSequence {
        segments: vec![on, ToneSegment::silence(4000)],
        repeat: true,
    }
}

/// The predefined tones by name: `RINGBACK_EU`, `RINGBACK_UK`, `RINGBACK` (US).
pub fn predefined(name: &str) -> Option<ToneSequence> {
    match name {
        "RINGBACK_EU" => Some(ringback_eu()),
        "RINGBACK_UK" => Some(ringback_uk()),
        "RINGBACK" => Some(ringback_us()),
        _ => None,
    }
}

/// The names [`predefined`] knows.
pub const PREDEFINED_NAMES: [&str; 3] = ["RINGBACK_EU", "RINGBACK_UK", "RINGBACK"];

/// Renders a sequence as a stream of samples, with no buffer: a repeating
/// ringback plays until stopped. Cheap to create; one per play job.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    sequence: Arc<ToneSequence>,
    segment: usize,
    /// Samples already produced of the current segment.
    offset: u64,
    /// Samples still allowed (none: until the sequence ends or forever).
    remaining: Option<u64>,
    finished: bool,
}

impl ToneGenerator {
    /// Start at the first sample; stop after `limit_samples` when given.
    pub fn new(sequence: Arc<ToneSequence>, limit_samples: Option<u64>) -> Self {
        Self {
            sequence,
            segment: 0,
            offset: 0,
            finished: limit_samples == Some(0),
            remaining: limit_samples,
        }
    }

    /// True once the sequence (or the limit) has run out.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Write the next samples into `out`; returns how many were written (fewer
    /// than `out.len()` only when the tone ends).
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let mut written = 0;
        while written < out.len() && !self.finished {
            let segment = self.sequence.segments[self.segment];
            let left_in_segment = segment.samples() - self.offset;
            let mut count = (out.len() - written) as u64;
            count = count.min(left_in_segment);
            if let Some(remaining) = self.remaining {
                count = count.min(remaining);
            }
            let chunk = &mut out[written..written + count as usize];
            synthesize_segment(&segment, self.offset, chunk);
            written += chunk.len();
            self.offset += count;
            if let Some(remaining) = &mut self.remaining {
                *remaining -= count;
                if *remaining == 0 {
                    self.finished = true;
                }
            }
            if self.offset == segment.samples() {
                self.offset = 0;
                self.segment += 1;
                if self.segment == self.sequence.segments.len() {
                    self.segment = 0;
                    if !self.sequence.repeat {
                        self.finished = true;
                    }
                }
            }
        }
        written
    }
}

/// Samples `first_sample..` of `segment` into `out`.
fn synthesize_segment(segment: &ToneSegment, first_sample: u64, out: &mut [i16]) {
    let amplitude = |component: ToneComponent| {
        if component.frequency == 0 {
            0.0
        } else {
            f64::from(dbm0_to_amplitude(component.level))
        }
    };
    let (first, second) = (amplitude(segment.first), amplitude(segment.second));
    let tau = 2.0 * std::f64::consts::PI;
    let (f1, f2) = (
        f64::from(segment.first.frequency),
        f64::from(segment.second.frequency),
    );
    // AM: carrier·(1 + m·sin(ω2 t)) puts m/2 of the carrier in each sideband.
    let depth = if first > 0.0 {
        (2.0 * second / first).min(1.0)
    } else {
        0.0
    };
    for (index, sample) in out.iter_mut().enumerate() {
        // f64 time from the segment start: a long segment must not drift.
        let t = (first_sample + index as u64) as f64 / 8000.0;
        let value = match segment.mix {
            ToneMix::Summation => first * (tau * f1 * t).sin() + second * (tau * f2 * t).sin(),
            ToneMix::Modulation => {
                let modulator = if segment.second.frequency == 0 {
                    0.0
                } else {
                    depth * (tau * f2 * t).sin()
                };
                first * (1.0 + modulator) * (tau * f1 * t).sin()
            }
        };
        *sample = value
            .round()
            .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    }
}

#[cfg(test)]
mod tests;
