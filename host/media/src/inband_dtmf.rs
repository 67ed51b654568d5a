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
/// 12 dB: how much more power a tone within [`FREQUENCY_TOLERANCE`] may show at its
/// measured frequency than in its nominal bin (the Hann window's loss one bin off is 6 dB).
const NOMINAL_BIN_MARGIN: f32 = 16.0;
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

/// The tables every detector shares: Hann weights and each DTMF frequency's Goertzel
/// constants, computed once per process (they cost more than a window's analysis).
struct Tables {
    /// Hann weights of the analysis window and of the phase sub-windows.
    window: [f32; WINDOW],
    sub_window: [f32; WINDOW - PHASE_LAG],
    /// Σ w² of the analysis window (the mean-square normaliser).
    window_energy: f32,
    /// The eight nominal frequencies, low group first, laid out for [`nominal_powers`].
    lanes: Lanes,
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let window: [f32; WINDOW] = hann(WINDOW).try_into().expect("WINDOW weights");
        let sub_window = hann(WINDOW - PHASE_LAG)
            .try_into()
            .expect("sub-window weights");
        let window_energy = window.iter().map(|w| w * w).sum();
        let frequencies: Vec<Frequency> = LOW_GROUP
            .iter()
            .chain(&HIGH_GROUP)
            .map(|&frequency| Frequency::new(frequency, &window))
            .collect();
        let nominal: [Frequency; 8] = frequencies.try_into().expect("eight DTMF frequencies");
        Tables {
            window,
            sub_window,
            window_energy,
            lanes: Lanes::new(&nominal),
        }
    })
}

/// Detects DTMF digits in a stream of 8 kHz samples. One per call direction.
#[derive(Debug, Clone)]
pub struct InbandDtmfDetector {
    /// Samples not yet analysed past, oldest first; a window is analysed when it holds
    /// [`WINDOW`] of them, then the oldest [`HOP`] are dropped.
    history: Vec<f32>,
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
            history: Vec::with_capacity(WINDOW),
            threshold: power_at_dbm0(THRESHOLD_DBM0),
            current: None,
        }
    }

    /// Feed samples; returns the digits that began in them, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut digits = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (WINDOW - self.history.len()).min(rest.len());
            self.history
                .extend(rest[..take].iter().map(|&sample| f32::from(sample)));
            rest = &rest[take..];
            if self.history.len() == WINDOW {
                let found = analyse(&self.history, self.threshold);
                self.history.drain(..HOP);
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
}

/// The frequency of the tone near `nominal`, from the phase advance between two
/// sub-windows [`PHASE_LAG`] samples apart (valid within ±fs/(2·lag) = ±100 Hz of
/// `nominal`).
fn measured_frequency(samples: &[f32], nominal: f32) -> f32 {
    let sub_window = &tables().sub_window;
    let constants = Frequency::new(nominal, sub_window);
    let a = constants.bin(goertzel(
        &samples[..WINDOW - PHASE_LAG],
        sub_window,
        &constants,
    ));
    let b = constants.bin(goertzel(&samples[PHASE_LAG..], sub_window, &constants));
    // arg(B · conj(A)) = 2π f lag / fs, up to whole turns; the nominal
    // frequency's own advance is taken out so what is left is the offset.
    let advance = (b.imaginary * a.real - b.real * a.imaginary)
        .atan2(b.real * a.real + b.imaginary * a.imaginary);
    let expected = 2.0 * PI * nominal * PHASE_LAG as f32 / SAMPLE_RATE;
    let mut offset = advance - expected;
    offset -= (offset / (2.0 * PI)).round() * 2.0 * PI;
    nominal + offset * SAMPLE_RATE / (2.0 * PI * PHASE_LAG as f32)
}

/// The digit present in `samples` (one window of [`WINDOW`]), if every test passes.
fn analyse(samples: &[f32], threshold: f32) -> Option<char> {
    let tables = tables();
    let weighted: [f32; WINDOW] = std::array::from_fn(|n| samples[n] * tables.window[n]);
    let total = sum_of_squares(&weighted) / tables.window_energy;
    if total < threshold {
        return None;
    }
    // The eight nominal tones in one pass (the usual case: most windows end here).
    let powers = nominal_powers(&weighted, &tables.lanes);
    let (row, low_nominal_power) = strongest(&powers[..4])?;
    let (column, high_nominal_power) = strongest(&powers[4..])?;
    // Cheap refusal of what cannot pass below (speech, music, single tones): the levels at
    // the measured frequencies exceed the nominal ones by less than 12 dB, as a tone 2.5 %
    // off loses at most ~6.5 dB in the nominal bin of this window.
    let margin = NOMINAL_BIN_MARGIN;
    if low_nominal_power * margin < threshold
        || high_nominal_power * margin < threshold
        || (low_nominal_power + high_nominal_power) * margin < TONE_SHARE * total
    {
        return None;
    }
    let (low_nominal, high_nominal) = (LOW_GROUP[row], HIGH_GROUP[column]);
    let low_frequency = measured_frequency(samples, low_nominal);
    let high_frequency = measured_frequency(samples, high_nominal);
    let off_nominal = |measured: f32, nominal: f32| (measured - nominal).abs() / nominal;
    if off_nominal(low_frequency, low_nominal) > FREQUENCY_TOLERANCE
        || off_nominal(high_frequency, high_nominal) > FREQUENCY_TOLERANCE
    {
        return None;
    }
    // Levels at the measured frequencies, so an offset tone is not
    // mistaken for a weak one.
    let power = |frequency: f32| {
        let constants = Frequency::new(frequency, &tables.window);
        constants
            .bin(goertzel(samples, &tables.window, &constants))
            .power
    };
    let low_power = power(low_frequency);
    let high_power = power(high_frequency);
    let accepted = low_power >= threshold
        && high_power >= threshold
        && high_power <= low_power * HIGH_STRONGER_TWIST
        && low_power <= high_power * LOW_STRONGER_TWIST
        && (low_power + high_power) >= TONE_SHARE * total
        // (The low tones' harmonics fall next to high-group tones, so
        // only the high tone's is checked.)
        && power(2.0 * high_frequency) <= HARMONIC_LIMIT * high_power;
    accepted.then_some(KEYS[row][column])
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

/// A frequency's Goertzel constants for one window shape and length.
#[derive(Debug, Clone, Copy)]
struct Frequency {
    /// ω, radians per sample.
    omega: f32,
    /// 2 cos ω, the recurrence's coefficient.
    coefficient: f32,
    cos: f32,
    sin: f32,
    /// Σ w, the window's gain.
    gain: f32,
    /// sin and cos of −ω (N − 1): turns the result's phase back to the first sample.
    start_sin: f32,
    start_cos: f32,
}

impl Frequency {
    fn new(frequency: f32, window: &[f32]) -> Self {
        let omega = 2.0 * PI * frequency / SAMPLE_RATE;
        let (start_sin, start_cos) = (-omega * (window.len() as f32 - 1.0)).sin_cos();
        Frequency {
            omega,
            coefficient: 2.0 * omega.cos(),
            cos: omega.cos(),
            sin: omega.sin(),
            gain: window.iter().sum(),
            start_sin,
            start_cos,
        }
    }

    /// The bin from the recurrence's last two states `(s1, s2)`.
    fn bin(&self, (s1, s2): (f32, f32)) -> Bin {
        // y = s[N-1] - e^{-jω} s[N-2] = e^{jω(N-1)} X(ω).
        let real = s1 - s2 * self.cos;
        let imaginary = s2 * self.sin;
        let power = 2.0 * (real * real + imaginary * imaginary) / (self.gain * self.gain);
        Bin {
            power,
            real: real * self.start_cos - imaginary * self.start_sin,
            imaginary: real * self.start_sin + imaginary * self.start_cos,
        }
    }
}

/// The Goertzel recurrence over `samples` weighted by `window`: its last two states.
fn goertzel(samples: &[f32], window: &[f32], frequency: &Frequency) -> (f32, f32) {
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for (x, w) in samples.iter().zip(window) {
        let s0 = x * w + frequency.coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1, s2)
}

/// The recurrence runs in this many independent segments of the window. One recurrence is a
/// chain of dependent multiply-adds, so a single pass waits on each step's latency; separate
/// segments, joined afterwards, keep the CPU's arithmetic units busy (≈ 3× faster).
const SEGMENTS: usize = 3;
/// Samples per segment; the last segment also takes the remainder of [`WINDOW`].
const SEGMENT: usize = WINDOW / SEGMENTS;

/// The eight nominal frequencies in lanes (one array element each), so the compiler can do
/// the eight recurrences with vector instructions.
struct Lanes {
    coefficient: [f32; 8],
    cos: [f32; 8],
    sin: [f32; 8],
    /// Per segment, e^{−jω(start + length − 1)} as (real, imaginary): turns a segment's
    /// result into its share of the window's DFT, referred to the window's first sample.
    rotation: [([f32; 8], [f32; 8]); SEGMENTS],
    /// 2 / (Σ w)²: DFT magnitude squared to sine power.
    scale: [f32; 8],
}

impl Lanes {
    fn new(nominal: &[Frequency; 8]) -> Self {
        let rotation = std::array::from_fn(|segment| {
            let length = if segment + 1 == SEGMENTS {
                WINDOW - segment * SEGMENT
            } else {
                SEGMENT
            };
            let last = (segment * SEGMENT + length - 1) as f32;
            let angle = |lane: usize| nominal[lane].omega * last;
            (
                std::array::from_fn(|lane| angle(lane).cos()),
                std::array::from_fn(|lane| -angle(lane).sin()),
            )
        });
        Lanes {
            coefficient: std::array::from_fn(|lane| nominal[lane].coefficient),
            cos: std::array::from_fn(|lane| nominal[lane].cos),
            sin: std::array::from_fn(|lane| nominal[lane].sin),
            rotation,
            scale: std::array::from_fn(|lane| 2.0 / (nominal[lane].gain * nominal[lane].gain)),
        }
    }
}

/// Σ x² of a window, in eight partial sums (a single running sum is a chain of dependent
/// additions, which neither the compiler nor the CPU may reorder).
fn sum_of_squares(weighted: &[f32; WINDOW]) -> f32 {
    let mut partial = [0.0f32; 8];
    let chunks = weighted.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().map(|x| x * x).sum();
    for chunk in chunks {
        for lane in 0..8 {
            partial[lane] += chunk[lane] * chunk[lane];
        }
    }
    partial.iter().sum::<f32>() + rest
}

/// The power ([`Bin::power`]) at the eight nominal frequencies of one window of
/// Hann-weighted samples: the Goertzel recurrence of [`goertzel`], run on [`SEGMENTS`]
/// parts of the window at once, each part's result rotated to the window's start and summed.
fn nominal_powers(weighted: &[f32; WINDOW], lanes: &Lanes) -> [f32; 8] {
    let mut s1 = [[0.0f32; 8]; SEGMENTS];
    let mut s2 = [[0.0f32; 8]; SEGMENTS];
    let step = |input: f32, s1: &mut [f32; 8], s2: &mut [f32; 8]| {
        for lane in 0..8 {
            // (x − s2) first: only the multiply-add by s1 is on the dependency chain.
            let s0 = (input - s2[lane]) + lanes.coefficient[lane] * s1[lane];
            s2[lane] = s1[lane];
            s1[lane] = s0;
        }
    };
    for n in 0..SEGMENT {
        for segment in 0..SEGMENTS {
            step(
                weighted[segment * SEGMENT + n],
                &mut s1[segment],
                &mut s2[segment],
            );
        }
    }
    let last = SEGMENTS - 1;
    for &input in &weighted[SEGMENTS * SEGMENT..] {
        step(input, &mut s1[last], &mut s2[last]);
    }
    std::array::from_fn(|lane| {
        let (mut real, mut imaginary) = (0.0f32, 0.0f32);
        for segment in 0..SEGMENTS {
            // y = s[N−1] − e^{−jω} s[N−2], then y · rotation.
            let y_real = s1[segment][lane] - s2[segment][lane] * lanes.cos[lane];
            let y_imaginary = s2[segment][lane] * lanes.sin[lane];
            let (rotation_real, rotation_imaginary) = (
                lanes.rotation[segment].0[lane],
                lanes.rotation[segment].1[lane],
            );
            real += y_real * rotation_real - y_imaginary * rotation_imaginary;
            imaginary += y_real * rotation_imaginary + y_imaginary * rotation_real;
        }
        (real * real + imaginary * imaginary) * lanes.scale[lane]
    })
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
