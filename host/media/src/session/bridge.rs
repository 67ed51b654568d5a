//! The sans-IO halves of connecting two calls' media: [`DecodedAudio`] holds received audio as
//! linear 20 ms frames for the other leg (frames the jitter buffer released, or before sending
//! starts, packets decoded on arrival and cut into frames), and [`BridgeBuffer`] is the small
//! playout buffer that feeds the other leg's frames into this leg's own paced stream.
//! [`mix_into`] adds a prompt over bridged audio.
//!
//! Why a second buffer: network jitter is absorbed by the sending leg's jitter buffer, but its
//! frames leave on that leg's 20 ms clock and are played on ours, so the phase difference (and
//! any burst after a late wake-up) between the two local clocks must be absorbed. The buffer
//! starts playing once [`BRIDGE_PREFILL_FRAMES`] are waiting, holds at most
//! [`BRIDGE_BUFFER_FRAMES`] (dropping the oldest, so delay never grows past ~60 ms), and yields
//! nothing (the caller sends silence) when it runs dry, refilling before it plays again. Pure
//! state, no I/O or clock.

use std::collections::VecDeque;

use super::FRAME_SAMPLES;

/// One 20 ms frame of 8 kHz linear audio.
pub type AudioFrame = [i16; FRAME_SAMPLES];

/// Decoded frames kept for a slow consumer; older ones are dropped beyond this.
pub const MAX_DECODED_FRAMES: usize = 8;

/// Most bridged frames waiting for playout (60 ms); the oldest is dropped beyond this.
pub const BRIDGE_BUFFER_FRAMES: usize = 3;

/// Frames that must be waiting before playout starts, or restarts after running dry.
pub const BRIDGE_PREFILL_FRAMES: usize = 2;

/// A sequence step this large (backwards, in 16-bit space) marks a late or duplicate packet.
const LATE_SEQUENCE_WINDOW: u16 = 0x8000;

/// Received audio payloads decoded and cut into 20 ms frames, whatever the peer's packet size.
#[derive(Debug, Default)]
pub struct DecodedAudio {
    partial: Vec<i16>,
    frames: VecDeque<AudioFrame>,
    last: Option<(u32, u16)>,
    /// Packets dropped as late or duplicate (playing them now would garble the audio).
    pub late_packets: u64,
    /// Whole frames dropped because nobody took them in time.
    pub dropped_frames: u64,
}

impl DecodedAudio {
    /// A decoder with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one audio packet's decoded 8 kHz samples. A packet that is not newer than the last
    /// one from the same SSRC is dropped; a new SSRC starts afresh (its partial frame continues).
    pub fn push_samples(&mut self, ssrc: u32, sequence_number: u16, samples: &[i16]) {
        if let Some((last_ssrc, last_sequence)) = self.last
            && last_ssrc == ssrc
        {
            let step = sequence_number.wrapping_sub(last_sequence);
            if step == 0 || step >= LATE_SEQUENCE_WINDOW {
                self.late_packets += 1;
                return;
            }
        }
        self.last = Some((ssrc, sequence_number));
        for &sample in samples {
            self.partial.push(sample);
            if self.partial.len() == FRAME_SAMPLES {
                let mut frame = [0; FRAME_SAMPLES];
                frame.copy_from_slice(&self.partial);
                self.partial.clear();
                if self.frames.len() == MAX_DECODED_FRAMES {
                    self.frames.pop_front();
                    self.dropped_frames += 1;
                }
                self.frames.push_back(frame);
            }
        }
    }

    /// Add a whole frame already in playout order (from the jitter buffer), dropping the
    /// oldest waiting frame when full. A partial frame from [`Self::push_samples`] is dropped.
    pub fn push_frame(&mut self, frame: AudioFrame) {
        self.partial.clear();
        if self.frames.len() == MAX_DECODED_FRAMES {
            self.frames.pop_front();
            self.dropped_frames += 1;
        }
        self.frames.push_back(frame);
    }

    /// The oldest complete frame, if any.
    pub fn pop_frame(&mut self) -> Option<AudioFrame> {
        self.frames.pop_front()
    }
}

/// The playout buffer for frames from the other leg of a bridge.
#[derive(Debug, Default)]
pub struct BridgeBuffer {
    frames: VecDeque<AudioFrame>,
    playing: bool,
    /// Frames dropped because the buffer was full (the other leg runs fast or arrived in a burst).
    pub dropped_frames: u64,
    /// Times playout ran dry and silence was sent instead.
    pub underruns: u64,
}

impl BridgeBuffer {
    /// An empty buffer, waiting for its prefill.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True if no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Add a frame from the other leg, dropping the oldest if the buffer is full.
    pub fn push(&mut self, frame: AudioFrame) {
        if self.frames.len() == BRIDGE_BUFFER_FRAMES {
            self.frames.pop_front();
            self.dropped_frames += 1;
        }
        self.frames.push_back(frame);
    }

    /// The frame to play in this 20 ms slot; `None` means play silence.
    pub fn next_frame(&mut self) -> Option<AudioFrame> {
        if !self.playing {
            if self.frames.len() < BRIDGE_PREFILL_FRAMES {
                return None;
            }
            self.playing = true;
        }
        let frame = self.frames.pop_front();
        if frame.is_none() {
            self.playing = false;
            self.underruns += 1;
        }
        frame
    }
}

/// Add `source` onto the start of `target`, saturating at full scale.
pub fn mix_into(target: &mut AudioFrame, source: &[i16]) {
    for (sample, &added) in target.iter_mut().zip(source) {
        *sample = sample.saturating_add(added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, Decoder};
    use crate::g711;

    /// Decode a G.711 payload and push it, as the session does.
    fn push_payload(
        decoded: &mut DecodedAudio,
        codec: Codec,
        ssrc: u32,
        sequence_number: u16,
        payload: &[u8],
    ) {
        let mut samples = Vec::new();
        Decoder::new(codec).decode(payload, &mut samples).unwrap();
        decoded.push_samples(ssrc, sequence_number, &samples);
    }

    fn frame_of(value: i16) -> AudioFrame {
        [value; FRAME_SAMPLES]
    }

    #[test]
    fn payloads_of_any_size_become_whole_frames_in_order() {
        let mut decoded = DecodedAudio::new();
        // 30 ms packets (240 samples) of A-law: 1.5 frames each.
        let samples: Vec<i16> = (0..480).map(|n| (n * 50 - 12_000) as i16).collect();
        let mut payload = vec![0u8; 480];
        g711::encode_alaw(&samples, &mut payload);
        push_payload(&mut decoded, Codec::Pcma, 7, 100, &payload[..240]);
        assert!(decoded.pop_frame().is_some());
        assert!(
            decoded.pop_frame().is_none(),
            "80 samples wait for the next packet"
        );
        push_payload(&mut decoded, Codec::Pcma, 7, 101, &payload[240..]);
        let second = decoded.pop_frame().unwrap();
        let third = decoded.pop_frame().unwrap();
        let expected: Vec<i16> = payload.iter().map(|&c| g711::alaw_to_linear(c)).collect();
        assert_eq!(&second[..], &expected[160..320]);
        assert_eq!(&third[..], &expected[320..480]);
        assert!(decoded.pop_frame().is_none());
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped_and_a_new_ssrc_restarts() {
        let mut decoded = DecodedAudio::new();
        let silence = [g711::ULAW_SILENCE; FRAME_SAMPLES];
        for sequence in [65_535u16, 0, 0, 65_535, 2] {
            push_payload(&mut decoded, Codec::Pcmu, 1, sequence, &silence);
        }
        assert_eq!(decoded.late_packets, 2);
        push_payload(&mut decoded, Codec::Pcmu, 2, 9, &silence);
        let frames = std::iter::from_fn(|| decoded.pop_frame()).count();
        assert_eq!(frames, 4, "65535, 0, 2 and the new SSRC's packet");
    }

    #[test]
    fn an_unread_decoder_keeps_only_the_newest_frames() {
        let mut decoded = DecodedAudio::new();
        for sequence in 0..20u16 {
            let code = g711::linear_to_ulaw(sequence as i16 * 100);
            push_payload(
                &mut decoded,
                Codec::Pcmu,
                1,
                sequence,
                &[code; FRAME_SAMPLES],
            );
        }
        assert_eq!(decoded.dropped_frames, 20 - MAX_DECODED_FRAMES as u64);
        let first = decoded.pop_frame().unwrap();
        assert_eq!(
            first[0],
            g711::ulaw_to_linear(g711::linear_to_ulaw(1200)),
            "frames 0-11 were dropped"
        );
    }

    #[test]
    fn playout_waits_for_the_prefill_and_refills_after_running_dry() {
        let mut buffer = BridgeBuffer::new();
        buffer.push(frame_of(1));
        assert_eq!(
            buffer.next_frame(),
            None,
            "one frame is not enough to start"
        );
        buffer.push(frame_of(2));
        assert_eq!(buffer.next_frame(), Some(frame_of(1)));
        assert_eq!(buffer.next_frame(), Some(frame_of(2)));
        assert_eq!(buffer.next_frame(), None);
        assert_eq!(buffer.underruns, 1);
        buffer.push(frame_of(3));
        assert_eq!(buffer.next_frame(), None, "refilling after an underrun");
        buffer.push(frame_of(4));
        assert_eq!(buffer.next_frame(), Some(frame_of(3)));
        // Steady state: one in, one out, no loss.
        for value in 5..50 {
            buffer.push(frame_of(value));
            assert_eq!(buffer.next_frame(), Some(frame_of(value - 1)));
        }
        assert_eq!((buffer.dropped_frames, buffer.underruns), (0, 1));
    }

    #[test]
    fn a_burst_keeps_only_the_newest_60_ms() {
        let mut buffer = BridgeBuffer::new();
        for value in 0..10 {
            buffer.push(frame_of(value));
        }
        assert_eq!(buffer.len(), BRIDGE_BUFFER_FRAMES);
        assert_eq!(buffer.dropped_frames, 7);
        let played: Vec<i16> = std::iter::from_fn(|| buffer.next_frame())
            .map(|frame| frame[0])
            .collect();
        assert_eq!(played, vec![7, 8, 9]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn mixing_adds_and_saturates() {
        let mut target = frame_of(30_000);
        target[100] = -30_000;
        mix_into(&mut target, &[5_000; 120]);
        assert_eq!(target[0], i16::MAX);
        assert_eq!(target[100], -25_000);
        assert_eq!(target[119], i16::MAX);
        assert_eq!(target[120], 30_000, "beyond the source: unchanged");
    }
}
