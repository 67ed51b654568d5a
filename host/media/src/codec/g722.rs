//! G.722 (ITU-T G.722, 64 kbit/s mode 1) at the 8 kHz edge: frames are upsampled to 16 kHz
//! before encoding and decoded audio is downsampled back ([`super::rate`]).
//!
//! The sub-band ADPCM itself is the `ezk-g722` crate (a Rust port of the public-domain
//! spandsp/libg722 coder). RFC 3551 §4.5.2: one octet per two 16 kHz samples, so a 20 ms
//! payload is 160 octets and the RTP clock advances 160 per frame (an 8000 Hz clock, by the
//! RFC's historical mistake). Stateful: one encoder and one decoder per stream.

use ezk_g722::libg722::{self, Bitrate};

use super::CodecError;
use super::rate::RateConverter;
use crate::session::FRAME_SAMPLES;

/// G.722's sampling rate.
pub const G722_SAMPLE_RATE: u32 = 16_000;

/// Octets in a 20 ms G.722 payload (one per pair of 16 kHz samples).
pub const G722_FRAME_OCTETS: usize = 160;

/// 8 kHz frames in, G.722 payloads out.
pub struct G722Encoder {
    upsampler: RateConverter,
    coder: libg722::encoder::Encoder,
    wideband: Vec<i16>,
}

impl G722Encoder {
    /// A fresh encoder (64 kbit/s, unpacked octets).
    pub fn new() -> Self {
        Self {
            upsampler: RateConverter::new(8000, G722_SAMPLE_RATE),
            coder: libg722::encoder::Encoder::new(Bitrate::Mode1_64000, false, false),
            wideband: Vec::with_capacity(2 * FRAME_SAMPLES),
        }
    }

    /// Encode one 20 ms frame; returns the payload length (160).
    pub fn encode(
        &mut self,
        frame: &[i16; FRAME_SAMPLES],
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        if out.len() < G722_FRAME_OCTETS {
            return Err(CodecError::BufferTooSmall {
                needed: G722_FRAME_OCTETS,
                available: out.len(),
            });
        }
        self.wideband.clear();
        self.upsampler.process(frame, &mut self.wideband);
        let octets = self.coder.encode(&self.wideband);
        // One 160-sample block in always gives 320 samples out, so 160 octets.
        let length = octets.len().min(out.len());
        out[..length].copy_from_slice(&octets[..length]);
        Ok(length)
    }
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

/// G.722 payloads in, 8 kHz samples out.
pub struct G722Decoder {
    coder: libg722::decoder::Decoder,
    downsampler: RateConverter,
}

impl G722Decoder {
    /// A fresh decoder (64 kbit/s, unpacked octets).
    pub fn new() -> Self {
        Self {
            coder: libg722::decoder::Decoder::new(Bitrate::Mode1_64000, false, false),
            downsampler: RateConverter::new(G722_SAMPLE_RATE, 8000),
        }
    }

    /// Decode one payload of any length, appending the 8 kHz samples now complete to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let wideband = self.coder.decode(payload);
        self.downsampler.process(&wideband, out);
    }
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}
