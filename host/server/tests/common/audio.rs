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
