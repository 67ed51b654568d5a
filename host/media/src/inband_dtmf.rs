//! In-band DTMF detection (Goertzel) on 8 kHz linear PCM: the digits a caller
//! keys as audio tones rather than RFC 4733 events or SIP INFO.
//!
//! Sans-IO: [`InbandDtmfDetector::push`] takes samples and returns the digits
//! whose tones began in them; [`synthesize`] makes the tones for peers without
//! telephone-event. Written here rather than taken from a crate:
//! the crates that exist offer no frequency-tolerance or talk-off guards.
//!
//! How a digit is recognised (acceptance criteria: shared/corpora/dtmf/NOTES.md,
//! after ITU-T Q.24 and the spandsp test procedure):
//! - Analysis windows of [`WINDOW`] samples (25.6 ms), Hann-weighted, every
//!   [`HOP`] samples (12.75 ms), so any 40 ms tone fills at least one window.
//! - In each window, the power at the eight DTMF frequencies (Goertzel). The
//!   strongest low-group and high-group tones must each reach −42 dBm0, beat
//!   every other tone of their group by 8 dB, keep the twist within 8 dB (low
//!   tone stronger) or 4 dB (high tone stronger), together carry at least 80 %
//!   of the window's power, and have no strong second harmonic (speech has
//!   them, DTMF does not).
//! - Each tone's frequency is measured from the phase advance between two
//!   sub-windows [`PHASE_LAG`] samples apart; more than 2.5 % from nominal is
//!   refused, so ±1.5 % is detected and ±3.5 % is not. Levels, twist and
//!   share are taken at the measured frequencies.
//! - A digit is reported once, on its first valid window; it must then drop
//!   out for a window (a pause of 40 ms or more) before the same digit counts
//!   again.

use std::collections::VecDeque;
use std::f32::consts::PI;

/// Sample rate the detector works at.
pub const SAMPLE_RATE: f32 = 8000.0;
/// Analysis window (samples).
pub const WINDOW: usize = 205;
/// Distance between window starts (samples).
pub const HOP: usize = 102;
/// Lag between the two sub-windows that measure a tone's frequency (samples).
pub const PHASE_LAG: usize = 40;

const LOW_GROUP: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH_GROUP: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Amplitude (16-bit linear) of a sine at 0 dBm0: G.711's full scale is
/// +3.17 dBm0 (ITU-T G.711 Table 1/2 reference).
const ZERO_DBM0_AMPLITUDE: f32 = 32767.0 * 0.694_2;
/// −42 dBm0 per tone.
const THRESHOLD_DBM0: f32 = -42.0;
/// 8 dB: the low tone may be this much stronger than the high one.
const LOW_STRONGER_TWIST: f32 = 6.31;
/// 4 dB: the high tone may be this much stronger than the low one.
const HIGH_STRONGER_TWIST: f32 = 2.51;
/// 8 dB: the winning tone over the others of its group.
const RELATIVE_PEAK: f32 = 6.31;
/// Share of the window's power the two tones must carry.
const TONE_SHARE: f32 = 0.8;
/// A tone's second harmonic must stay this far below it (20 dB).
const HARMONIC_LIMIT: f32 = 0.01;
/// Largest accepted frequency deviation (between Q.24's 1.5 % and 3.5 %).
const FREQUENCY_TOLERANCE: f32 = 0.025;

/// Peak amplitude (16-bit linear PCM) of a sine at `dbm0` (G.711: 0 dBm0 is
/// 3.17 dB below the full-scale sine). The one dBm0 conversion of the crate:
/// the tone generator uses it too.
pub fn dbm0_to_amplitude(dbm0: f32) -> f32 {
    ZERO_DBM0_AMPLITUDE * 10f32.powf(dbm0 / 20.0)
}

/// Power of a sine at `dbm0` (mean square, linear PCM units).
fn power_at_dbm0(dbm0: f32) -> f32 {
    let amplitude = dbm0_to_amplitude(dbm0);
    amplitude * amplitude / 2.0
}

/// Detects DTMF digits in a stream of 8 kHz samples. One per call direction.
#[derive(Debug, Clone)]
pub struct InbandDtmfDetector {
    /// The last [`WINDOW`] samples, oldest first.
    history: VecDeque<f32>,
    /// Samples since the last analysis.
    since_analysis: usize,
    /// Hann weights of the analysis window and of the phase sub-windows.
    window: Vec<f32>,
    sub_window: Vec<f32>,
    /// Per-tone power threshold (linear PCM mean square).
    threshold: f32,
    /// The digit whose tone is sounding, if any.
    current: Option<char>,
}

impl Default for InbandDtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDtmfDetector {
    /// A detector with no digit in progress.
    pub fn new() -> Self {
        InbandDtmfDetector {
            history: VecDeque::with_capacity(WINDOW),
            since_analysis: 0,
            window: hann(WINDOW),
            sub_window: hann(WINDOW - PHASE_LAG),
            threshold: power_at_dbm0(THRESHOLD_DBM0),
            current: None,
        }
    }

    /// Feed samples; returns the digits that began in them, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut digits = Vec::new();
        for &sample in samples {
            if self.history.len() == WINDOW {
                self.history.pop_front();
            }
            self.history.push_back(f32::from(sample));
            self.since_analysis += 1;
            if self.history.len() == WINDOW && self.since_analysis >= HOP {
                self.since_analysis = 0;
                self.history.make_contiguous();
                let found = self.analyse(self.history.as_slices().0);
                if let Some(digit) = self.track(found) {
                    digits.push(digit);
                }
            }
        }
        digits
    }

    /// Forget any digit in progress (e.g. after a gap in the audio).
    pub fn reset(&mut self) {
        self.history.clear();
        self.since_analysis = 0;
        self.current = None;
    }

    /// Report a digit on its first window; a window without it ends it (so
    /// the same digit counts again after a pause).
    fn track(&mut self, found: Option<char>) -> Option<char> {
        if found == self.current {
            return None;
        }
        self.current = found;
        found
    }

    /// The frequency of the tone near `nominal`, from the phase advance
    /// between two sub-windows [`PHASE_LAG`] samples apart (valid within
    /// ±fs/(2·lag) = ±100 Hz of `nominal`).
    fn measured_frequency(&self, samples: &[f32], nominal: f32) -> f32 {
        let length = WINDOW - PHASE_LAG;
        let a = goertzel(&samples[..length], &self.sub_window, nominal);
        let b = goertzel(&samples[PHASE_LAG..], &self.sub_window, nominal);
        // arg(B · conj(A)) = 2π f lag / fs, up to whole turns; the nominal
        // frequency's own advance is taken out so what is left is the offset.
        let advance = (b.imaginary * a.real - b.real * a.imaginary)
            .atan2(b.real * a.real + b.imaginary * a.imaginary);
        let expected = 2.0 * PI * nominal * PHASE_LAG as f32 / SAMPLE_RATE;
        let mut offset = advance - expected;
        offset -= (offset / (2.0 * PI)).round() * 2.0 * PI;
        nominal + offset * SAMPLE_RATE / (2.0 * PI * PHASE_LAG as f32)
    }

    /// The digit present in `samples` (one window), if every test passes.
    fn analyse(&self, samples: &[f32]) -> Option<char> {
        let total = samples
            .iter()
            .zip(&self.window)
            .map(|(x, w)| (x * w) * (x * w))
            .sum::<f32>()
            / self.window.iter().map(|w| w * w).sum::<f32>();
        if total < self.threshold {
            return None;
        }
        let power = |frequency: f32| goertzel(samples, &self.window, frequency).power;
        let low: Vec<f32> = LOW_GROUP.iter().map(|&f| power(f)).collect();
        let high: Vec<f32> = HIGH_GROUP.iter().map(|&f| power(f)).collect();
        let (row, _) = strongest(&low)?;
        let (column, _) = strongest(&high)?;
        let (low_nominal, high_nominal) = (LOW_GROUP[row], HIGH_GROUP[column]);
        let low_frequency = self.measured_frequency(samples, low_nominal);
        let high_frequency = self.measured_frequency(samples, high_nominal);
        let off_nominal = |measured: f32, nominal: f32| (measured - nominal).abs() / nominal;
        if off_nominal(low_frequency, low_nominal) > FREQUENCY_TOLERANCE
            || off_nominal(high_frequency, high_nominal) > FREQUENCY_TOLERANCE
        {
            return None;
        }
        // Levels at the measured frequencies, so an offset tone is not
        // mistaken for a weak one.
        let low_power = power(low_frequency);
        let high_power = power(high_frequency);
        let accepted = low_power >= self.threshold
            && high_power >= self.threshold
            && high_power <= low_power * HIGH_STRONGER_TWIST
            && low_power <= high_power * LOW_STRONGER_TWIST
            && (low_power + high_power) >= TONE_SHARE * total
            // (The low tones' harmonics fall next to high-group tones, so
            // only the high tone's is checked.)
            && power(2.0 * high_frequency) <= HARMONIC_LIMIT * high_power;
        accepted.then_some(KEYS[row][column])
    }
}

/// Level of each generated tone: −10 dBm0 (the common generator default).
const GENERATED_DBM0: f32 = -10.0;

/// Write the tone pair of `digit` into `out`, as samples `first_sample..`
/// counted from the start of the digit (so consecutive frames join without
/// a phase jump). Silence for a character that is not a DTMF key. For peers
/// that did not negotiate telephone-event (RFC 4733 §2.1 leaves in-band
/// signalling to them).
pub fn synthesize(digit: char, first_sample: u32, out: &mut [i16]) {
    let Some((row, column)) = KEYS.iter().enumerate().find_map(|(row, keys)| {
        keys.iter()
            .position(|&key| key == digit)
            .map(|column| (row, column))
    }) else {
        out.fill(0);
        return;
    };
    let amplitude = dbm0_to_amplitude(GENERATED_DBM0);
    let (low, high) = (LOW_GROUP[row], HIGH_GROUP[column]);
    for (index, sample) in out.iter_mut().enumerate() {
        // f64 phase: a long digit must not drift.
        let t = f64::from(first_sample + index as u32) / f64::from(SAMPLE_RATE);
        let tau = 2.0 * std::f64::consts::PI;
        let value = f64::from(amplitude)
            * ((tau * f64::from(low) * t).sin() + (tau * f64::from(high) * t).sin());
        *sample = value as i16;
    }
}

/// Hann weights for `length` samples.
fn hann(length: usize) -> Vec<f32> {
    (0..length)
        .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f32 / (length - 1) as f32).cos())
        .collect()
}

/// One frequency of a windowed block: the power of a sine there (mean
/// square) and the DFT value, phase referred to the block's first sample.
struct Bin {
    power: f32,
    real: f32,
    imaginary: f32,
}

/// The Goertzel recurrence over `samples` weighted by `window`.
fn goertzel(samples: &[f32], window: &[f32], frequency: f32) -> Bin {
    let omega = 2.0 * PI * frequency / SAMPLE_RATE;
    let coefficient = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for (x, w) in samples.iter().zip(window) {
        let s0 = x * w + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    // y = s[N-1] - e^{-jω} s[N-2] = e^{jω(N-1)} X(ω).
    let real = s1 - s2 * omega.cos();
    let imaginary = s2 * omega.sin();
    let gain: f32 = window.iter().sum();
    let power = 2.0 * (real * real + imaginary * imaginary) / (gain * gain);
    let (sin, cos) = (-omega * (samples.len() as f32 - 1.0)).sin_cos();
    Bin {
        power,
        real: real * cos - imaginary * sin,
        imaginary: real * sin + imaginary * cos,
    }
}

/// The index and power of the strongest of `powers`, if it beats each of the
/// others by [`RELATIVE_PEAK`].
fn strongest(powers: &[f32]) -> Option<(usize, f32)> {
    let (index, &best) = powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    powers
        .iter()
        .enumerate()
        .all(|(i, &p)| i == index || p * RELATIVE_PEAK <= best)
        .then_some((index, best))
}

/// Test signals: DTMF tones at a level and frequency offset, silence, noise.
#[cfg(test)]
mod tests;
