//! The audio codecs callhost negotiates and sends: G.711 µ-law (PCMU) and A-law (PCMA),
//! with their RFC 3551 §6 static payload types. Depends only on [`crate::g711`].

use crate::g711;

/// An audio codec (telephone-event is negotiated separately, see [`crate::sdp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, RTP/AVP static payload type 0.
    Pcmu,
    /// G.711 A-law, RTP/AVP static payload type 8.
    Pcma,
}

impl Codec {
    /// The RFC 3551 static payload type.
    pub const fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The RTP clock rate (both G.711 laws: 8000 Hz).
    pub const fn clock_rate(self) -> u32 {
        8000
    }

    /// The codec for an `a=rtpmap` encoding name and clock rate (case-insensitive, RFC 4855 §3).
    pub fn from_rtpmap(encoding: &str, clock_rate: u32) -> Option<Self> {
        if clock_rate != 8000 {
            return None;
        }
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|codec| codec.encoding_name().eq_ignore_ascii_case(encoding))
    }

    /// The codec an application names: `PCMU`, `PCMA`, `G711U`, `G711A`, `G.711 µ-law`,
    /// `ulaw`, `mulaw`, `alaw`, … Case, spaces, dots, dashes and underscores are ignored.
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
            _ => None,
        }
    }

    /// The codec a static payload type means when no `a=rtpmap` is given (RFC 3551 Table 4).
    pub fn from_static_payload_type(payload_type: u8) -> Option<Self> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The payload octet for digital silence.
    pub const fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => g711::ULAW_SILENCE,
            Codec::Pcma => g711::ALAW_SILENCE,
        }
    }

    /// Encode linear samples into `out` (one octet per sample).
    pub fn encode(self, samples: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => g711::encode_ulaw(samples, out),
            Codec::Pcma => g711::encode_alaw(samples, out),
        }
    }

    /// Decode one payload octet to a linear sample.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => g711::ulaw_to_linear(code),
            Codec::Pcma => g711::alaw_to_linear(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_and_static_lookups_agree() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            assert_eq!(
                Codec::from_static_payload_type(codec.static_payload_type()),
                Some(codec)
            );
            assert_eq!(
                Codec::from_rtpmap(&codec.encoding_name().to_lowercase(), 8000),
                Some(codec)
            );
            assert_eq!(Codec::from_rtpmap(codec.encoding_name(), 16000), None);
            assert_eq!(
                codec.decode(codec.silence()),
                if codec == Codec::Pcmu { 0 } else { 8 }
            );
        }
        assert_eq!(Codec::from_static_payload_type(18), None);
        assert_eq!(Codec::from_rtpmap("G729", 8000), None);
    }

    #[test]
    fn applications_can_name_codecs_loosely() {
        for name in [
            "PCMU",
            "pcmu",
            "G711U",
            "g711u",
            "G.711u",
            "G.711 µ-law",
            "ulaw",
            "MULAW",
        ] {
            assert_eq!(Codec::from_name(name), Some(Codec::Pcmu), "{name}");
        }
        for name in ["PCMA", "Pcma", "G711A", "g.711a", "G711_ALAW", "alaw"] {
            assert_eq!(Codec::from_name(name), Some(Codec::Pcma), "{name}");
        }
        for name in ["", "G729", "opus", "PCM", "G711"] {
            assert_eq!(Codec::from_name(name), None, "{name}");
        }
    }
}
