//! The audio codecs callhost negotiates and sends — G.711 µ-law (PCMU) and A-law (PCMA),
//! G.722 and Opus — and the stateful per-session [`Encoder`] / [`Decoder`] that turn the
//! internal 8 kHz mono 20 ms frames into RTP payloads and back.
//!
//! The media path stays 8 kHz mono whatever the codec (prompts, bridging, DTMF detection and
//! recording all work on it); codecs with another sampling rate convert at this edge:
//! G.722 resamples 8 ↔ 16 kHz ([`rate`], rubato), Opus lets libopus take and give 8 kHz PCM
//! directly (its API accepts 8 kHz; its RTP clock is still 48 kHz, RFC 7587 §4.1).
//!
//! Payload types and clocks: RFC 3551 §6 Table 4 (PCMU 0, PCMA 8, G722 9 — whose RTP clock is
//! 8000 although it samples at 16 kHz, §4.5.2); Opus has a dynamic type and is always
//! `opus/48000/2` (RFC 7587 §7). Depends on [`crate::g711`], `ezk-g722`, `opus` (system
//! libopus) and `rubato`.

pub mod g722;
pub mod opus;
pub mod rate;

use crate::g711;
use crate::session::FRAME_SAMPLES;

/// The payload type callhost gives Opus in its offers (dynamic range, RFC 3551 §3).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// The largest payload an [`Encoder`] writes: one Opus frame is at most 1275 bytes
/// (RFC 6716 §3.4 R2); G.711 and G.722 write 160 bytes per 20 ms.
pub const MAX_PAYLOAD_LENGTH: usize = 1275;

/// The Opus `a=fmtp` parameters we send (RFC 7587 §6.1): mono both ways, no in-band FEC,
/// and since the media path is 8 kHz, nothing above narrowband is worth sending us.
const OPUS_FORMAT_PARAMETERS: &str =
    "maxplaybackrate=8000;sprop-maxcapturerate=8000;stereo=0;sprop-stereo=0;useinbandfec=0";

/// An audio codec (telephone-event is negotiated separately, see [`crate::sdp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, RTP/AVP static payload type 0.
    Pcmu,
    /// G.711 A-law, RTP/AVP static payload type 8.
    Pcma,
    /// G.722 at 64 kbit/s, static payload type 9, 16 kHz audio on an 8000 Hz RTP clock.
    G722,
    /// Opus, dynamic payload type, 48000 Hz RTP clock, mono 20 ms frames (VOIP mode).
    Opus,
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// libopus refused to encode or decode (a corrupt packet, for instance).
    #[error("opus {operation} failed: {reason}")]
    Opus {
        /// `encode` or `decode`.
        operation: &'static str,
        /// libopus's description of the error.
        reason: String,
    },
    /// The output buffer cannot hold the payload.
    #[error("payload of {needed} bytes does not fit in {available}")]
    BufferTooSmall {
        /// Bytes the payload needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl Codec {
    /// Every codec this host implements.
    pub const ALL: [Codec; 4] = [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus];

    /// The RFC 3551 static payload type, if the codec has one.
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::Opus => None,
        }
    }

    /// The payload type our offers use: the static one, or [`OPUS_PAYLOAD_TYPE`].
    pub const fn default_payload_type(self) -> u8 {
        match self.static_payload_type() {
            Some(payload_type) => payload_type,
            None => OPUS_PAYLOAD_TYPE,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
        }
    }

    /// The RTP clock rate (8000, or 48000 for Opus). Telephone-event uses the same clock.
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8000,
            Codec::Opus => 48_000,
        }
    }

    /// RTP timestamp units per 20 ms frame: 160, or 960 for Opus.
    pub const fn timestamp_increment(self) -> u32 {
        self.clock_rate() / 50
    }

    /// The channel count written in `a=rtpmap` (`opus/48000/2`, RFC 7587 §7), if any.
    pub const fn rtpmap_channels(self) -> Option<u16> {
        match self {
            Codec::Opus => Some(2),
            _ => None,
        }
    }

    /// The `a=fmtp` parameters we give this codec, if any.
    pub const fn format_parameters(self) -> Option<&'static str> {
        match self {
            Codec::Opus => Some(OPUS_FORMAT_PARAMETERS),
            _ => None,
        }
    }

    /// The codec for an `a=rtpmap` encoding name, clock rate and channel count
    /// (case-insensitive, RFC 4855 §3). Opus must be `opus/48000/2` (a missing channel count
    /// is tolerated); the others are mono at 8000.
    pub fn from_rtpmap(encoding: &str, clock_rate: u32, channels: Option<u16>) -> Option<Self> {
        let codec = Codec::ALL
            .into_iter()
            .find(|codec| codec.encoding_name().eq_ignore_ascii_case(encoding))?;
        let channels_fit = match codec.rtpmap_channels() {
            Some(expected) => channels.is_none_or(|channels| channels == expected),
            None => channels.is_none_or(|channels| channels == 1),
        };
        (clock_rate == codec.clock_rate() && channels_fit).then_some(codec)
    }

    /// The codec an application names: `PCMU`, `PCMA`, `G711U`, `G711A`, `G.711 µ-law`,
    /// `ulaw`, `alaw`, `G722`, `G.722`, `OPUS`, … Case, spaces, dots, dashes and underscores
    /// are ignored.
    pub fn from_name(name: &str) -> Option<Self> {
        let normalised: String = name
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '_'))
            .map(|c| if matches!(c, 'µ' | 'μ') { 'u' } else { c })
            .collect::<String>()
            .to_ascii_lowercase();
        match normalised.as_str() {
            "pcmu" | "g711u" | "g711ulaw" | "g711mulaw" | "ulaw" | "mulaw" => Some(Codec::Pcmu),
            "pcma" | "g711a" | "g711alaw" | "alaw" => Some(Codec::Pcma),
            "g722" => Some(Codec::G722),
            "opus" => Some(Codec::Opus),
            _ => None,
        }
    }

    /// The codec a static payload type means when no `a=rtpmap` is given (RFC 3551 Table 4).
    pub fn from_static_payload_type(payload_type: u8) -> Option<Self> {
        Codec::ALL
            .into_iter()
            .find(|codec| codec.static_payload_type() == Some(payload_type))
    }
}

/// One session's encoder: 20 ms frames of 8 kHz audio in, RTP payloads out. G.722 and Opus
/// keep state between frames, so a session owns one and feeds it every frame in order.
pub struct Encoder {
    state: EncoderState,
}

enum EncoderState {
    Pcmu,
    Pcma,
    G722(Box<g722::G722Encoder>),
    Opus(opus::OpusEncoder),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Encoder")
            .field("codec", &self.codec())
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// A fresh encoder for `codec`.
    pub fn new(codec: Codec) -> Self {
        let state = match codec {
            Codec::Pcmu => EncoderState::Pcmu,
            Codec::Pcma => EncoderState::Pcma,
            Codec::G722 => EncoderState::G722(Box::default()),
            Codec::Opus => EncoderState::Opus(opus::OpusEncoder::new()),
        };
        Self { state }
    }

    /// The codec this encoder writes.
    pub fn codec(&self) -> Codec {
        match self.state {
            EncoderState::Pcmu => Codec::Pcmu,
            EncoderState::Pcma => Codec::Pcma,
            EncoderState::G722(_) => Codec::G722,
            EncoderState::Opus(_) => Codec::Opus,
        }
    }

    /// Encode the next 20 ms frame into `out`; returns the payload length. `out` should hold
    /// [`MAX_PAYLOAD_LENGTH`] bytes.
    pub fn encode(
        &mut self,
        frame: &[i16; FRAME_SAMPLES],
        out: &mut [u8],
    ) -> Result<usize, CodecError> {
        match &mut self.state {
            EncoderState::Pcmu | EncoderState::Pcma => {
                let available = out.len();
                let out = out
                    .get_mut(..FRAME_SAMPLES)
                    .ok_or(CodecError::BufferTooSmall {
                        needed: FRAME_SAMPLES,
                        available,
                    })?;
                if matches!(self.state, EncoderState::Pcmu) {
                    g711::encode_ulaw(frame, out);
                } else {
                    g711::encode_alaw(frame, out);
                }
                Ok(FRAME_SAMPLES)
            }
            EncoderState::G722(encoder) => encoder.encode(frame, out),
            EncoderState::Opus(encoder) => encoder.encode(frame, out),
        }
    }
}

/// One session's decoder: RTP payloads in, 8 kHz samples out. Feed it every audio payload
/// of the stream in arrival order.
pub struct Decoder {
    state: DecoderState,
}

enum DecoderState {
    Pcmu,
    Pcma,
    G722(Box<g722::G722Decoder>),
    Opus(opus::OpusDecoder),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Decoder")
            .field("codec", &self.codec())
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A fresh decoder for `codec`.
    pub fn new(codec: Codec) -> Self {
        let state = match codec {
            Codec::Pcmu => DecoderState::Pcmu,
            Codec::Pcma => DecoderState::Pcma,
            Codec::G722 => DecoderState::G722(Box::default()),
            Codec::Opus => DecoderState::Opus(opus::OpusDecoder::new()),
        };
        Self { state }
    }

    /// The codec this decoder reads.
    pub fn codec(&self) -> Codec {
        match self.state {
            DecoderState::Pcmu => Codec::Pcmu,
            DecoderState::Pcma => Codec::Pcma,
            DecoderState::G722(_) => Codec::G722,
            DecoderState::Opus(_) => Codec::Opus,
        }
    }

    /// Decode one payload, appending its 8 kHz samples to `out`. G.722 output trails its input
    /// by the resampler's few milliseconds, so a packet may append slightly fewer or more
    /// samples than it carries; over a stream the counts agree.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        match &mut self.state {
            DecoderState::Pcmu => {
                out.extend(payload.iter().map(|&code| g711::ulaw_to_linear(code)))
            }
            DecoderState::Pcma => {
                out.extend(payload.iter().map(|&code| g711::alaw_to_linear(code)))
            }
            DecoderState::G722(decoder) => decoder.decode(payload, out),
            DecoderState::Opus(decoder) => decoder.decode(payload, out)?,
        }
        Ok(())
    }

    /// Conceal `samples` missing 8 kHz samples with the codec's own packet-loss concealment,
    /// appending them to `out`. Returns false (appending nothing) for codecs without one
    /// (G.711, G.722): the caller conceals those itself.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> bool {
        match &mut self.state {
            DecoderState::Opus(decoder) => decoder.conceal(samples, out).is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
