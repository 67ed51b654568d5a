//! Tone synthesis checked by measurement: Goertzel levels at the expected
//! frequencies (after G.711 µ-law coding, as the peer hears them), exact
//! cadence boundaries, frame-size independence, modulation sidebands.

use std::sync::Arc;

use super::*;
use crate::inband_dtmf::dbm0_to_amplitude;

/// Level in dBm0 of the sine at `frequency` in `samples` (whole cycles in the
/// block for the test frequencies, so no window is needed).
fn level_dbm0(samples: &[i16], frequency: f64) -> f64 {
    let omega = 2.0 * std::f64::consts::PI * frequency / 8000.0;
    let coefficient = 2.0 * omega.cos();
    let (mut previous, mut before) = (0.0f64, 0.0f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    let real = previous - before * omega.cos();
    let imaginary = before * omega.sin();
    let amplitude = 2.0 * (real * real + imaginary * imaginary).sqrt() / samples.len() as f64;
    20.0 * (amplitude / f64::from(dbm0_to_amplitude(0.0))).log10()
}

/// The samples as a G.711 µ-law peer decodes them.
fn through_ulaw(samples: &[i16]) -> Vec<i16> {
    let mut coded = vec![0u8; samples.len()];
    crate::g711::encode_ulaw(samples, &mut coded);
    coded
        .iter()
        .map(|&code| crate::g711::ulaw_to_linear(code))
        .collect()
}

fn generate(sequence: ToneSequence, samples: usize) -> Vec<i16> {
    let mut generator = ToneGenerator::new(Arc::new(sequence), None);
    let mut out = vec![0; samples];
    assert_eq!(generator.fill(&mut out), samples);
    out
}

fn assert_level(samples: &[i16], frequency: f64, expected: f64) {
    let measured = level_dbm0(samples, frequency);
    assert!(
        (measured - expected).abs() <= 0.5,
        "{frequency} Hz at {measured:.2} dBm0, expected {expected} ±0.5"
    );
}

#[test]
fn us_ringback_has_both_frequencies_at_minus_19_dbm0() {
    let heard = through_ulaw(&generate(ringback_us(), 16_000));
    // First second of the 2 s burst: whole cycles of 440 and 480 Hz.
    assert_level(&heard[..8000], 440.0, -19.0);
    assert_level(&heard[..8000], 480.0, -19.0);
    // Nothing at a frequency that is not in the tone.
    assert!(level_dbm0(&heard[..8000], 1000.0) < -50.0);
}

#[test]
fn eu_and_uk_ringback_levels() {
    let eu = through_ulaw(&generate(ringback_eu(), 8000));
    assert_level(&eu, 425.0, -19.0);
    let uk = through_ulaw(&generate(ringback_uk(), 3200));
    // 0.4 s holds whole cycles of 400 and 450 Hz (with a 10 Hz grid at 800 samples).
    assert_level(&uk, 400.0, -19.0);
    assert_level(&uk, 450.0, -19.0);
}

#[test]
fn levels_follow_the_dbm0_scale() {
    for level in [-30.0f32, -10.0, 0.0, 3.0] {
        let tone = ToneSequence::new(vec![ToneSegment::single(1000, level, 1000)], false)
            .expect("valid tone");
        let heard = through_ulaw(&generate(tone, 8000));
        assert_level(&heard, 1000.0, f64::from(level));
    }
}

/// Indexes of the samples of a segment boundary: the last sample of a burst is
/// sounding and the first of the gap is exactly zero.
#[test]
fn uk_cadence_is_exact_in_samples() {
    let samples = generate(ringback_uk(), 48_000);
    let energy = |range: std::ops::Range<usize>| {
        samples[range]
            .iter()
            .map(|&s| i64::from(s).abs())
            .sum::<i64>()
    };
    // 400 ms on = 3200 samples, 200 off = 1600, 400 on = 3200, 2000 off = 16000.
    assert!(
        energy(3192..3200) > 0,
        "the first burst lasts to sample 3199"
    );
    assert_eq!(energy(3200..4800), 0, "the first gap is silent");
    assert!(
        energy(4800..4810) > 0,
        "the second burst starts at sample 4800"
    );
    assert!(
        energy(7992..8000) > 0,
        "the second burst lasts to sample 7999"
    );
    assert_eq!(energy(8000..24_000), 0, "the long gap is silent");
    assert!(energy(24_000..24_010) > 0, "the cadence restarts at 3 s");
    // Every cycle is the same as the first, to the sample.
    assert_eq!(samples[24_000..48_000], samples[..24_000]);
}

#[test]
fn frames_join_without_a_phase_jump() {
    let whole = generate(ringback_us(), 48_000);
    let mut generator = ToneGenerator::new(Arc::new(ringback_us()), None);
    let mut framed = Vec::new();
    for _ in 0..300 {
        let mut frame = [0i16; 160];
        assert_eq!(generator.fill(&mut frame), 160);
        framed.extend_from_slice(&frame);
    }
    assert_eq!(framed, whole);
}

#[test]
fn a_sequence_that_plays_once_ends_and_a_limit_cuts_it() {
    let tone = Arc::new(
        ToneSequence::new(
            vec![
                ToneSegment::single(600, -10.0, 30),
                ToneSegment::silence(10),
            ],
            false,
        )
        .expect("valid tone"),
    );
    let mut generator = ToneGenerator::new(Arc::clone(&tone), None);
    let mut out = [0i16; 400];
    assert_eq!(generator.fill(&mut out), 320);
    assert!(generator.is_finished());
    assert_eq!(generator.fill(&mut out), 0);
    assert_eq!(tone.render(None).samples().len(), 320);

    let ringback = Arc::new(ringback_eu());
    let mut limited = ToneGenerator::new(Arc::clone(&ringback), Some(1000));
    assert_eq!(limited.fill(&mut out), 400);
    assert_eq!(limited.fill(&mut out), 400);
    assert_eq!(limited.fill(&mut out), 200);
    assert!(limited.is_finished());
    assert_eq!(ringback.render(Some(50_000)).samples().len(), 50_000);
}

#[test]
fn modulation_puts_sidebands_beside_the_carrier() {
    // 400 Hz carrier at -10 dBm0, modulated by 50 Hz with sidebands at -20 dBm0.
    let tone = ToneSequence::new(
        vec![ToneSegment {
            first: ToneComponent::new(400, -10.0),
            second: ToneComponent::new(50, -20.0),
            milliseconds: 1000,
            mix: ToneMix::Modulation,
        }],
        false,
    )
    .expect("valid tone");
    let heard = through_ulaw(&generate(tone, 8000));
    assert_level(&heard, 400.0, -10.0);
    assert_level(&heard, 350.0, -20.0);
    assert_level(&heard, 450.0, -20.0);
    // Modulation creates no energy at the modulating frequency itself.
    assert!(level_dbm0(&heard, 50.0) < -45.0);
}

#[test]
fn summation_is_not_modulation() {
    let tone = ToneSequence::new(
        vec![ToneSegment::dual(
            ToneComponent::new(400, -10.0),
            ToneComponent::new(50, -20.0),
            1000,
        )],
        false,
    )
    .expect("valid tone");
    let heard = through_ulaw(&generate(tone, 8000));
    assert_level(&heard, 50.0, -20.0);
    assert!(level_dbm0(&heard, 450.0) < -45.0);
}

#[test]
fn bad_sequences_are_refused() {
    assert_eq!(ToneSequence::new(vec![], true), Err(ToneError::Empty));
    assert!(matches!(
        ToneSequence::new(vec![ToneSegment::single(4000, -10.0, 100)], true),
        Err(ToneError::Frequency {
            segment: 0,
            frequency: 4000
        })
    ));
    assert!(matches!(
        ToneSequence::new(
            vec![
                ToneSegment::silence(10),
                ToneSegment::single(400, 10.0, 100)
            ],
            true
        ),
        Err(ToneError::Level { segment: 1, .. })
    ));
    assert!(matches!(
        ToneSequence::new(vec![ToneSegment::single(400, f32::NAN, 100)], true),
        Err(ToneError::Level { .. })
    ));
    assert!(matches!(
        ToneSequence::new(vec![ToneSegment::silence(0)], true),
        Err(ToneError::Duration {
            segment: 0,
            milliseconds: 0
        })
    ));
    // A silent component's level is ignored, as the seed writes 0 for it.
    assert!(ToneSequence::new(vec![ToneSegment::silence(3000)], false).is_ok());
    assert!(predefined("RINGBACK_UK").is_some());
    assert!(predefined("NOPE").is_none());
    for name in PREDEFINED_NAMES {
        let tone = predefined(name).expect("predefined");
        assert!(ToneSequence::new(tone.segments().to_vec(), true).is_ok());
    }
}
