//! Sample-rate conversion for prompts, by band-limited interpolation with a Kaiser-windowed
//! sinc kernel (the classic Smith/Gossett method).
//!
//! Why this design: it handles any input rate (no rational-ratio tables), filters out
//! everything above the output Nyquist frequency before it can alias, and runs once per
//! prompt on load, so a long, high-quality kernel costs nothing at call time. Pure function.

/// Zero crossings of the sinc kernel on each side of the centre: sets the filter length.
const ZERO_CROSSINGS: usize = 24;
/// Kernel table entries per zero crossing (values in between are linearly interpolated).
const TABLE_RESOLUTION: usize = 256;
/// Kaiser window shape: about 70 dB stop-band attenuation.
const KAISER_BETA: f64 = 6.5;
/// The pass band ends here, as a fraction of the lower of the two Nyquist frequencies: with
/// the transition band this keeps 300-3400 Hz flat at 8 kHz and folds no alias below ~3.8 kHz.
const CUTOFF_FRACTION: f64 = 0.95;

/// Zeroth-order modified Bessel function of the first kind, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..64 {
        term *= quarter_square / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The windowed sinc sampled at `TABLE_RESOLUTION` points per zero crossing, plus a zero at the end.
fn kernel_table() -> Vec<f32> {
    let length = ZERO_CROSSINGS * TABLE_RESOLUTION;
    let normaliser = bessel_i0(KAISER_BETA);
    let mut table: Vec<f32> = (0..length)
        .map(|index| {
            let x = index as f64 / TABLE_RESOLUTION as f64;
            let sinc = if index == 0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let position = x / ZERO_CROSSINGS as f64;
            let window =
                bessel_i0(KAISER_BETA * (1.0 - position * position).max(0.0).sqrt()) / normaliser;
            (sinc * window) as f32
        })
        .collect();
    table.push(0.0);
    table
}

/// Convert `input` (any scale) from `input_rate` to `output_rate` Hz.
///
/// The output has `ceil(len * output_rate / input_rate)` samples. Equal rates return a copy.
/// Rates of 0 return an empty vector.
pub fn resample(input: &[f32], input_rate: u32, output_rate: u32) -> Vec<f32> {
    if input_rate == 0 || output_rate == 0 || input.is_empty() {
        return Vec::new();
    }
    if input_rate == output_rate {
        return input.to_vec();
    }
    let table = kernel_table();
    let step = f64::from(input_rate) / f64::from(output_rate);
    // Cut-off in cycles per input sample; the sinc's zero crossings are 1/(2·cutoff) apart.
    let cutoff =
        CUTOFF_FRACTION * 0.5 * (1.0f64).min(f64::from(output_rate) / f64::from(input_rate));
    let crossings_per_sample = (2.0 * cutoff) as f32;
    let half_width = ZERO_CROSSINGS as f64 / (2.0 * cutoff);
    let table_scale = crossings_per_sample * TABLE_RESOLUTION as f32;
    let table_end = (ZERO_CROSSINGS * TABLE_RESOLUTION) as f32;
    let last = input.len() as i64 - 1;
    let output_length =
        ((input.len() as u64 * u64::from(output_rate)).div_ceil(u64::from(input_rate))) as usize;

    let mut output = Vec::with_capacity(output_length);
    for index in 0..output_length {
        let centre = index as f64 * step;
        let first = ((centre - half_width).ceil() as i64).max(0);
        let end = ((centre + half_width).floor() as i64).min(last);
        if end < first {
            output.push(0.0);
            continue;
        }
        let offset = (centre - first as f64) as f32;
        let mut sum = 0.0f32;
        for (distance_index, &sample) in input[first as usize..=end as usize].iter().enumerate() {
            let position = (offset - distance_index as f32).abs() * table_scale;
            if position >= table_end {
                continue;
            }
            let slot = position as usize;
            let fraction = position - slot as f32;
            let weight = table[slot] + fraction * (table[slot + 1] - table[slot]);
            sum += sample * weight;
        }
        // 2·cutoff is the sinc's area: unity gain at DC.
        output.push(sum * crossings_per_sample);
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(frequency: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
        let count = (f64::from(rate) * seconds) as usize;
        (0..count)
            .map(|n| {
                (amplitude
                    * (2.0 * std::f64::consts::PI * frequency * n as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// Amplitude of the `frequency` component (single-bin DFT) over the middle of the signal,
    /// away from the zero-padded edges.
    fn amplitude_at(signal: &[f32], frequency: f64, rate: u32) -> f64 {
        let margin = signal.len() / 5;
        let middle = &signal[margin..signal.len() - margin];
        let (mut real, mut imaginary) = (0.0, 0.0);
        for (n, &sample) in middle.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * frequency * n as f64 / f64::from(rate);
            real += f64::from(sample) * phase.cos();
            imaginary += f64::from(sample) * phase.sin();
        }
        2.0 * (real * real + imaginary * imaginary).sqrt() / middle.len() as f64
    }

    fn rms_middle(signal: &[f32]) -> f64 {
        let margin = signal.len() / 5;
        let middle = &signal[margin..signal.len() - margin];
        (middle
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / middle.len() as f64)
            .sqrt()
    }

    #[test]
    fn in_band_tones_keep_their_level_for_common_rates() {
        for rate in [11_025, 16_000, 22_050, 44_100, 48_000, 6_000] {
            // The pass band ends below the lower Nyquist frequency (3 kHz for a 6 kHz source).
            let pass_band_end = 0.8 * f64::from(rate.min(8000)) / 2.0;
            for frequency in [400.0, 1000.0, 2300.0, 3100.0]
                .into_iter()
                .filter(|&f| f < pass_band_end)
            {
                let output = resample(&sine(frequency, rate, 0.5, 10_000.0), rate, 8000);
                assert_eq!(
                    output.len(),
                    (rate as usize / 2 * 8000).div_ceil(rate as usize)
                );
                let amplitude = amplitude_at(&output, frequency, 8000);
                assert!(
                    (amplitude - 10_000.0).abs() < 150.0,
                    "{frequency} Hz from {rate} Hz: amplitude {amplitude}"
                );
            }
        }
    }

    #[test]
    fn tones_above_the_output_nyquist_do_not_alias() {
        for (rate, frequency) in [
            (48_000, 6000.0),
            (44_100, 5000.0),
            (16_000, 4500.0),
            (22_050, 7000.0),
        ] {
            let output = resample(&sine(frequency, rate, 0.5, 10_000.0), rate, 8000);
            // 10 000 amplitude is ~7 071 RMS; demand at least 50 dB of rejection.
            let rms = rms_middle(&output);
            assert!(
                rms < 7071.0 / 316.0,
                "{frequency} Hz from {rate} Hz leaked {rms} RMS"
            );
        }
    }

    #[test]
    fn dc_and_identity_and_degenerate_inputs() {
        let dc = resample(&vec![1000.0; 4410], 44_100, 8000);
        assert!(
            dc[200..600].iter().all(|&s| (s - 1000.0).abs() < 5.0),
            "DC gain is unity"
        );
        let same = vec![1.0, 2.0, 3.0];
        assert_eq!(resample(&same, 8000, 8000), same);
        assert!(resample(&[], 16_000, 8000).is_empty());
        assert!(resample(&same, 0, 8000).is_empty());
        assert_eq!(resample(&[5.0], 16_000, 8000).len(), 1);
    }

    #[test]
    fn bessel_matches_known_values() {
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-12);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-12);
        assert!((bessel_i0(6.5) - 106.292_858_244).abs() < 1e-6);
    }
}
