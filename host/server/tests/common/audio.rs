//! Audio checks shared by the end-to-end tests: frame envelopes, envelope
//! correlation, loading WAV files as 8 kHz samples.

use std::path::Path;

/// RMS of each 20 ms frame (160 samples at 8 kHz).
pub fn envelope(samples: &[i16]) -> Vec<f64> {
    samples
        .chunks(160)
        .map(|frame| {
            (frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame.len() as f64).sqrt()
        })
        .collect()
}

/// Best normalized correlation of `needle` against `haystack` over all lags.
pub fn best_correlation(needle: &[f64], haystack: &[f64]) -> (f64, usize) {
    let norm = |values: &[f64]| {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let centered: Vec<f64> = values.iter().map(|v| v - mean).collect();
        let length = centered.iter().map(|v| v * v).sum::<f64>().sqrt();
        (centered, length)
    };
    assert!(
        needle.len() <= haystack.len(),
        "{} frames looked for in {} frames",
        needle.len(),
        haystack.len()
    );
    let (needle, needle_length) = norm(needle);
    let mut best = (f64::MIN, 0);
    for lag in 0..=haystack.len().saturating_sub(needle.len()) {
        let (window, window_length) = norm(&haystack[lag..lag + needle.len()]);
        if window_length == 0.0 {
            continue;
        }
        let dot: f64 = needle.iter().zip(&window).map(|(a, b)| a * b).sum();
        let correlation = dot / (needle_length * window_length);
        if correlation > best.0 {
            best = (correlation, lag);
        }
    }
    best
}

pub fn load(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let prompt = callhost_media::Prompt::from_wav_bytes(&bytes)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    prompt.samples().to_vec()
}

/// Power of `frequency` in `samples` (8 kHz) by the Goertzel recurrence.
pub fn tone_power(samples: &[i16], frequency: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / 8000.0).cos();
    let (mut previous, mut before) = (0.0f64, 0.0f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    previous * previous + before * before - coefficient * previous * before
}

/// The share (0..1) of `samples`' power at `frequency`.
pub fn tone_share(samples: &[i16], frequency: f64) -> f64 {
    let total: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    if total == 0.0 {
        return 0.0;
    }
    2.0 * tone_power(samples, frequency) / (samples.len() as f64 * total)
}

/// A sine WAV at `frequency`, `seconds` long (8 kHz, 16-bit, half scale), made by sox.
pub fn sox_tone(dir: &Path, frequency: u32, seconds: u32) -> std::path::PathBuf {
    let path = dir.join(format!("tone{frequency}-{seconds}s.wav"));
    let status = std::process::Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
        .arg(&path)
        .args([
            "synth",
            &seconds.to_string(),
            "sine",
            &frequency.to_string(),
            "vol",
            "0.5",
        ])
        .status()
        .expect("run sox");
    assert!(status.success(), "sox failed");
    path
}
