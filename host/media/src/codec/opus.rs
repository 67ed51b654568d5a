//! Opus (RFC 6716) through the system libopus (`opus` crate): mono, 20 ms frames, VOIP
//! application, no in-band FEC.
//!
//! Why no resampler here: libopus's encoder and decoder take and give 8 kHz PCM natively
//! (RFC 6716 §2: input and output rates of 8, 12, 16, 24 or 48 kHz), so converting our 8 kHz
//! frames to 48 kHz first would only add delay and work. The RTP side is unaffected: the
//! payload is one Opus packet and the RTP clock is 48 kHz whatever the audio rate
//! (RFC 7587 §4.1, §4.2). Stateful: one encoder and one decoder per stream.

use ::opus::{Application, Channels};

use super::CodecError;
use crate::session::FRAME_SAMPLES;

/// The PCM rate we hand libopus: the media path's.
const PCM_RATE: u32 = 8000;

/// Longest Opus packet duration (120 ms, RFC 6716 §3.2.5) in 8 kHz samples.
const MAX_PACKET_SAMPLES: usize = 960;

fn opus_error(operation: &'static str, error: ::opus::Error) -> CodecError {
    CodecError::Opus {
        operation,
        reason: error.to_string(),
    }
}

/// 8 kHz frames in, Opus packets out.
#[derive(Debug)]
pub struct OpusEncoder {
    coder: ::opus::Encoder,
}

impl OpusEncoder {
    /// A fresh mono VOIP encoder with in-band FEC off.
    pub fn new() -> Self {
        // libopus refuses only an invalid rate, channel count or application; ours are the
        // documented constants, so this cannot fail short of running out of memory.
        let mut coder = ::opus::Encoder::new(PCM_RATE, Channels::Mono, Application::Voip)
            .expect("libopus accepts 8 kHz mono VOIP");
        // Off is libopus's default; set it so the choice is explicit (and checked in tests).
        let _ = coder.set_inband_fec(false);
        Self { coder }
    }

    /// Encode one 20 ms frame; returns the packet length.
    pub fn encode(
        &mut self,
        frame: &[i16; FRAME_SAMPLES],
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        self.coder
            .encode(frame, out)
            .map_err(|error| opus_error("encode", error))
    }
}

impl Default for OpusEncoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Opus packets in, 8 kHz samples out.
#[derive(Debug)]
pub struct OpusDecoder {
    coder: ::opus::Decoder,
    scratch: Vec<i16>,
}

impl OpusDecoder {
    /// A fresh mono decoder at 8 kHz.
    pub fn new() -> Self {
        // As for the encoder: only invalid constants could make this fail.
        let coder =
            ::opus::Decoder::new(PCM_RATE, Channels::Mono).expect("libopus decodes 8 kHz mono");
        Self {
            coder,
            scratch: vec![0; MAX_PACKET_SAMPLES],
        }
    }

    /// Decode one packet (any Opus frame duration up to 120 ms), appending its samples to
    /// `out`. An empty payload is ignored (it is not an Opus packet, RFC 7587 §4.2).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.is_empty() {
            return Ok(());
        }
        let count = self
            .coder
            .decode(payload, &mut self.scratch, false)
            .map_err(|error| opus_error("decode", error))?;
        out.extend_from_slice(&self.scratch[..count]);
        Ok(())
    }

    /// Packet-loss concealment (RFC 6716 §4.4): libopus extrapolates `samples` samples (a
    /// multiple of 2.5 ms, at most 120 ms) from its state, given no packet.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<(), CodecError> {
        let samples = samples.min(MAX_PACKET_SAMPLES);
        let count = self
            .coder
            .decode(&[], &mut self.scratch[..samples], false)
            .map_err(|error| opus_error("conceal", error))?;
        out.extend_from_slice(&self.scratch[..count.min(samples)]);
        Ok(())
    }
}

impl Default for OpusDecoder {
    fn default() -> Self {
        Self::new()
    }
}
