//! The detector against synthesised DTMF (shared/corpora/dtmf/NOTES.md §3:
//! levels in dBm0 per tone, G.711 round trip, ±1.5 % must detect, ±3.5 % must
//! not, twist limits, 40 ms tones, noise at 15 dB S/N).

use super::*;
use crate::g711;

const DIGITS: &str = "123A456B789C*0#D";

/// The row and column frequencies of `digit`.
fn frequencies(digit: char) -> (f32, f32) {
    for (row, keys) in KEYS.iter().enumerate() {
        if let Some(column) = keys.iter().position(|&key| key == digit) {
            return (LOW_GROUP[row], HIGH_GROUP[column]);
        }
    }
    panic!("{digit} is not a DTMF key");
}

/// One tone burst: the low tone at `low_dbm0` moved by `low_offset` (a
/// fraction), the high tone likewise, for `ms` milliseconds.
struct Burst {
    digit: char,
    low_dbm0: f32,
    high_dbm0: f32,
    low_offset: f32,
    high_offset: f32,
    ms: u32,
}

impl Burst {
    fn new(digit: char, dbm0: f32, ms: u32) -> Self {
        Burst {
            digit,
            low_dbm0: dbm0,
            high_dbm0: dbm0,
            low_offset: 0.0,
            high_offset: 0.0,
            ms,
        }
    }

    fn samples(&self) -> Vec<f32> {
        let (low, high) = frequencies(self.digit);
        let (low, high) = (
            low * (1.0 + self.low_offset),
            high * (1.0 + self.high_offset),
        );
        let amplitude = |dbm0: f32| ZERO_DBM0_AMPLITUDE * 10f32.powf(dbm0 / 20.0);
        let (a_low, a_high) = (amplitude(self.low_dbm0), amplitude(self.high_dbm0));
        (0..self.ms * 8)
            .map(|n| {
                let t = n as f32 / SAMPLE_RATE;
                a_low * (2.0 * PI * low * t).sin() + a_high * (2.0 * PI * high * t + 1.0).sin()
            })
            .collect()
    }
}

fn silence(ms: u32) -> Vec<f32> {
    vec![0.0; (ms * 8) as usize]
}

/// Deterministic white noise at `dbm0` (sum of uniforms, roughly Gaussian).
fn noise(length: usize, dbm0: f32, seed: &mut u64) -> Vec<f32> {
    let rms = ZERO_DBM0_AMPLITUDE / 2f32.sqrt() * 10f32.powf(dbm0 / 20.0);
    (0..length)
        .map(|_| {
            let mut sum = 0.0;
            for _ in 0..12 {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sum += (*seed >> 40) as f32 / (1u64 << 24) as f32;
            }
            (sum - 6.0) * rms
        })
        .collect()
}

/// Through µ-law and back, as audio arrives in a PCMU call.
fn through_ulaw(signal: &[f32]) -> Vec<i16> {
    let linear: Vec<i16> = signal
        .iter()
        .map(|&x| x.clamp(-32768.0, 32767.0) as i16)
        .collect();
    let mut coded = vec![0u8; linear.len()];
    g711::encode_ulaw(&linear, &mut coded);
    coded.into_iter().map(g711::ulaw_to_linear).collect()
}

/// What the detector reports for `signal`, fed in 20 ms frames.
fn detect(signal: &[f32]) -> String {
    let mut detector = InbandDtmfDetector::new();
    through_ulaw(signal)
        .chunks(160)
        .flat_map(|frame| detector.push(frame))
        .collect()
}

/// `burst` framed by silence: what the detector makes of it.
fn detect_burst(burst: &Burst) -> String {
    let mut signal = silence(60);
    signal.extend(burst.samples());
    signal.extend(silence(60));
    detect(&signal)
}

#[test]
fn every_digit_is_decoded_once_per_burst() {
    for dbm0 in [-4.0, -10.0, -25.0] {
        let mut signal = silence(30);
        for digit in DIGITS.chars() {
            for _ in 0..3 {
                signal.extend(Burst::new(digit, dbm0, 50).samples());
                signal.extend(silence(50));
            }
        }
        let expected: String = DIGITS.chars().flat_map(|d| [d, d, d]).collect();
        assert_eq!(detect(&signal), expected, "at {dbm0} dBm0");
    }
}

#[test]
fn frequency_tolerance_is_between_one_and_a_half_and_three_and_a_half_percent() {
    for digit in DIGITS.chars() {
        for sign in [1.0, -1.0] {
            let accepted = |low_offset: f32, high_offset: f32| {
                let burst = Burst {
                    low_offset: low_offset * sign,
                    high_offset: high_offset * sign,
                    ..Burst::new(digit, -10.0, 60)
                };
                detect_burst(&burst) == digit.to_string()
            };
            assert!(accepted(0.015, 0.0), "{digit} low tone {sign}1.5 %");
            assert!(accepted(0.0, 0.015), "{digit} high tone {sign}1.5 %");
            assert!(!accepted(0.035, 0.0), "{digit} low tone {sign}3.5 %");
            assert!(!accepted(0.0, 0.035), "{digit} high tone {sign}3.5 %");
        }
    }
}

#[test]
fn twist_limits_depend_on_which_tone_is_stronger() {
    for digit in "159D".chars() {
        let twisted = |low: f32, high: f32| {
            detect_burst(&Burst {
                low_dbm0: low,
                high_dbm0: high,
                ..Burst::new(digit, -3.0, 60)
            })
        };
        // The low tone stronger: up to 8 dB.
        assert_eq!(
            twisted(-3.0, -10.0),
            digit.to_string(),
            "{digit}: high tone 7 dB weaker"
        );
        assert_eq!(twisted(-3.0, -13.0), "", "{digit}: high tone 10 dB weaker");
        // The high tone stronger: up to 4 dB.
        assert_eq!(
            twisted(-6.0, -3.0),
            digit.to_string(),
            "{digit}: low tone 3 dB weaker"
        );
        assert_eq!(twisted(-9.0, -3.0), "", "{digit}: low tone 6 dB weaker");
    }
}

#[test]
fn level_range_and_threshold() {
    for dbm0 in [3.0, 0.0, -10.0, -20.0, -30.0, -38.0] {
        assert_eq!(detect_burst(&Burst::new('1', dbm0, 60)), "1", "{dbm0} dBm0");
    }
    assert_eq!(
        detect_burst(&Burst::new('1', -46.0, 60)),
        "",
        "below -42 dBm0"
    );
}

#[test]
fn forty_milliseconds_detect_and_ten_do_not() {
    for digit in DIGITS.chars() {
        assert_eq!(
            detect_burst(&Burst::new(digit, -10.0, 40)),
            digit.to_string(),
            "{digit} 40 ms"
        );
        assert_eq!(
            detect_burst(&Burst::new(digit, -10.0, 10)),
            "",
            "{digit} 10 ms"
        );
    }
}

#[test]
fn a_repeated_digit_with_short_pauses_counts_each_time() {
    let mut signal = Vec::new();
    for _ in 0..5 {
        signal.extend(Burst::new('5', -8.0, 45).samples());
        signal.extend(silence(45));
    }
    assert_eq!(detect(&signal), "55555");
}

#[test]
fn digits_survive_noise_at_fifteen_db_signal_to_noise() {
    let mut seed = 7;
    let mut signal = Vec::new();
    for digit in DIGITS.chars() {
        signal.extend(Burst::new(digit, -4.0, 60).samples());
        signal.extend(silence(60));
    }
    // Both tones at -4 dBm0: -1 dBm0 in all; noise 15 dB below.
    let hiss = noise(signal.len(), -16.0, &mut seed);
    let noisy: Vec<f32> = signal.iter().zip(&hiss).map(|(s, n)| s + n).collect();
    assert_eq!(detect(&noisy), DIGITS);
    // Noise alone (or a single tone) is no digit.
    assert_eq!(detect(&noise(8000 * 5, -10.0, &mut seed)), "");
    let single: Vec<f32> = (0..8000)
        .map(|n| 8000.0 * (2.0 * PI * 697.0 * n as f32 / SAMPLE_RATE).sin())
        .collect();
    assert_eq!(detect(&single), "");
}

#[test]
fn the_segmented_eight_lane_pass_matches_one_recurrence_per_frequency() {
    let mut seed = 7;
    let tables = tables();
    // Noise, and each DTMF tone pair (whose bins hold nearly all the power).
    let mut signals = vec![noise(WINDOW, -20.0, &mut seed)];
    signals.extend(
        "159D"
            .chars()
            .map(|digit| Burst::new(digit, -10.0, 30).samples()),
    );
    for signal in signals {
        let weighted: [f32; WINDOW] = std::array::from_fn(|n| signal[n] * tables.window[n]);
        let lanes = nominal_powers(&weighted, &tables.lanes);
        for (lane, &nominal) in LOW_GROUP.iter().chain(&HIGH_GROUP).enumerate() {
            let frequency = Frequency::new(nominal, &tables.window);
            let single = frequency
                .bin(goertzel(&signal[..WINDOW], &tables.window, &frequency))
                .power;
            let difference = (lanes[lane] - single).abs();
            assert!(
                difference <= 1e-4 * single.max(lanes.iter().fold(0.0, |a: f32, &b| a.max(b))),
                "lane {lane}: {} against {single}",
                lanes[lane]
            );
        }
        let plain: f32 = weighted.iter().map(|x| x * x).sum();
        assert!((sum_of_squares(&weighted) - plain).abs() <= 1e-5 * plain);
    }
}
