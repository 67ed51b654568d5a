//! What a media session can play: a finished [`Prompt`] (a file, speech) or an
//! endless generated source ([`ToneGenerator`]: a ringback that repeats until
//! stopped, with no buffer the length of the wait).
//!
//! Sans-IO; depends on [`crate::prompt`] and [`crate::tone`].

use std::sync::Arc;

use crate::prompt::Prompt;
use crate::tone::{ToneGenerator, ToneSequence};

/// Audio for [`crate::session::SessionCore::play_source`], read 20 ms at a time.
#[derive(Debug, Clone)]
pub enum AudioSource {
    /// A prompt, from its first sample.
    Prompt {
        /// The audio.
        prompt: Arc<Prompt>,
        /// Samples already read.
        position: usize,
    },
    /// A tone rendered as it plays.
    Tone(ToneGenerator),
}

impl AudioSource {
    /// `prompt` from its start.
    pub fn prompt(prompt: Arc<Prompt>) -> Self {
        AudioSource::Prompt {
            prompt,
            position: 0,
        }
    }

    /// `sequence` from its start, for `limit_samples` at most (none: until it
    /// ends, or until stopped if it repeats).
    pub fn tone(sequence: Arc<ToneSequence>, limit_samples: Option<u64>) -> Self {
        AudioSource::Tone(ToneGenerator::new(sequence, limit_samples))
    }

    /// Write the next samples into `out`; returns how many (fewer only at the end).
    pub fn read(&mut self, out: &mut [i16]) -> usize {
        match self {
            AudioSource::Prompt { prompt, position } => {
                let remaining = &prompt.samples()[*position..];
                let count = remaining.len().min(out.len());
                out[..count].copy_from_slice(&remaining[..count]);
                *position += count;
                count
            }
            AudioSource::Tone(generator) => generator.fill(out),
        }
    }

    /// True once every sample has been read.
    pub fn is_finished(&self) -> bool {
        match self {
            AudioSource::Prompt { prompt, position } => *position >= prompt.samples().len(),
            AudioSource::Tone(generator) => generator.is_finished(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::ringback_eu;

    #[test]
    fn a_prompt_reads_out_then_finishes() {
        let mut source = AudioSource::prompt(Arc::new(Prompt::from_samples(vec![7i16; 250])));
        let mut frame = [0i16; 160];
        assert_eq!(source.read(&mut frame), 160);
        assert!(!source.is_finished());
        assert_eq!(source.read(&mut frame), 90);
        assert_eq!(frame[89], 7);
        assert!(source.is_finished());
        assert!(AudioSource::prompt(Arc::new(Prompt::from_samples(Vec::new()))).is_finished());
    }

    #[test]
    fn a_repeating_tone_does_not_finish() {
        let mut source = AudioSource::tone(Arc::new(ringback_eu()), None);
        let mut frame = [0i16; 160];
        // Two full 5 s cadences.
        for _ in 0..500 {
            assert_eq!(source.read(&mut frame), 160);
        }
        assert!(!source.is_finished());
    }
}
