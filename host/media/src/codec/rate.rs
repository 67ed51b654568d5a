//! Streaming fixed-ratio sample-rate conversion for the codec edge (8 kHz ↔ 16 kHz for G.722),
//! on rubato's synchronous FFT resampler.
//!
//! Why rubato's `Fft` with both sides fixed: the ratio is exact and constant, and with one
//! 20 ms block per call (160 samples at 8 kHz, 320 at 16 kHz) its delay is half an output
//! block — 10 ms — which 20 ms frames absorb. Input that is not a whole block (a peer's odd
//! packet size) waits in a small queue for the rest. No I/O; allocation only at creation.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// One direction of conversion between two fixed rates, fed and drained in 20 ms blocks.
pub struct RateConverter {
    resampler: Fft<f32>,
    /// Input samples waiting for a whole block.
    pending: Vec<f32>,
    block_in: usize,
    output: Vec<f32>,
}

impl std::fmt::Debug for RateConverter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RateConverter")
            .field("block_in", &self.block_in)
            .field("block_out", &self.output.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl RateConverter {
    /// A converter from `input_rate` to `output_rate` Hz working on 20 ms blocks.
    ///
    /// Panics if a rate is not a multiple of 50 Hz; callers pass the codec constants
    /// 8000 and 16000 only.
    pub fn new(input_rate: u32, output_rate: u32) -> Self {
        assert!(
            input_rate.is_multiple_of(50)
                && output_rate.is_multiple_of(50)
                && input_rate > 0
                && output_rate > 0,
            "20 ms blocks need rates that are multiples of 50 Hz"
        );
        let block = (input_rate / 50) as usize;
        // Rates that are multiples of 50 Hz always give a valid FFT size for a 20 ms block,
        // the only case the constructor can refuse.
        let resampler = Fft::<f32>::new(
            input_rate as usize,
            output_rate as usize,
            block,
            1,
            FixedSync::Both,
        )
        .expect("fixed-ratio resampler for 20 ms blocks");
        let block_in = resampler.input_frames_next();
        let block_out = resampler.output_frames_next();
        Self {
            resampler,
            pending: Vec::with_capacity(2 * block_in),
            block_in,
            output: vec![0.0; block_out],
        }
    }

    /// Input samples per block.
    pub fn input_block(&self) -> usize {
        self.block_in
    }

    /// Output samples per block.
    pub fn output_block(&self) -> usize {
        self.output.len()
    }

    /// How far the output trails the input, in output samples.
    pub fn delay(&self) -> usize {
        self.resampler.output_delay()
    }

    /// Convert `input`, appending the output of every whole block now available to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.pending
            .extend(input.iter().map(|&sample| f32::from(sample)));
        let mut consumed = 0;
        while self.pending.len() - consumed >= self.block_in {
            let block = &self.pending[consumed..consumed + self.block_in];
            consumed += self.block_in;
            let block_out = self.output.len();
            // Buffers sized from the resampler's own block lengths: the adapters and the
            // conversion cannot fail; if they ever did, the block is silence, not a crash.
            let converted = InterleavedSlice::new(block, 1, self.block_in)
                .ok()
                .zip(InterleavedSlice::new_mut(&mut self.output, 1, block_out).ok())
                .and_then(|(input, mut output)| {
                    self.resampler
                        .process_into_buffer(&input, &mut output, None)
                        .ok()
                });
            match converted {
                Some((_, written)) => out.extend(self.output[..written].iter().map(|&sample| {
                    sample
                        .round()
                        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
                })),
                None => out.extend(std::iter::repeat_n(0, block_out)),
            }
        }
        self.pending.drain(..consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f64, rate: u32, count: usize, amplitude: f64) -> Vec<i16> {
        (0..count)
            .map(|n| {
                (amplitude
                    * (2.0 * std::f64::consts::PI * frequency * n as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    /// Amplitude of `frequency` in `signal` (single-bin DFT).
    fn amplitude_at(signal: &[i16], frequency: f64, rate: u32) -> f64 {
        let (mut real, mut imaginary) = (0.0, 0.0);
        for (n, &sample) in signal.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * frequency * n as f64 / f64::from(rate);
            real += f64::from(sample) * phase.cos();
            imaginary += f64::from(sample) * phase.sin();
        }
        2.0 * (real * real + imaginary * imaginary).sqrt() / signal.len() as f64
    }

    #[test]
    fn blocks_are_20_ms_with_a_delay_below_one_frame() {
        let up = RateConverter::new(8000, 16_000);
        assert_eq!((up.input_block(), up.output_block()), (160, 320));
        assert!(up.delay() <= 320, "delay {}", up.delay());
        let down = RateConverter::new(16_000, 8000);
        assert_eq!((down.input_block(), down.output_block()), (320, 160));
        assert!(down.delay() <= 160, "delay {}", down.delay());
    }

    #[test]
    fn odd_sized_input_waits_for_whole_blocks_and_counts_agree() {
        let mut down = RateConverter::new(16_000, 8000);
        let input = tone(1000.0, 16_000, 16_000, 8000.0);
        let mut out = Vec::new();
        // 30 ms packets (480 samples): 1.5 blocks each.
        for chunk in input.chunks(480) {
            down.process(chunk, &mut out);
        }
        assert_eq!(out.len(), 8000, "one second in, one second out");
    }

    #[test]
    fn a_speech_band_tone_survives_up_and_down_conversion() {
        let mut up = RateConverter::new(8000, 16_000);
        let mut down = RateConverter::new(16_000, 8000);
        let input = tone(1000.0, 8000, 8000, 10_000.0);
        let (mut wide, mut back) = (Vec::new(), Vec::new());
        for frame in input.chunks(160) {
            up.process(frame, &mut wide);
        }
        assert_eq!(wide.len(), 16_000);
        assert!(
            (amplitude_at(&wide[4000..12_000], 1000.0, 16_000) - 10_000.0).abs() < 200.0,
            "upsampled level"
        );
        for block in wide.chunks(320) {
            down.process(block, &mut back);
        }
        let level = amplitude_at(&back[2000..6000], 1000.0, 8000);
        assert!((level - 10_000.0).abs() < 200.0, "round trip level {level}");
    }
}
