//! RFC 3264 offer/answer for one audio stream: choose the stream and codec, build the answer.
//!
//! Rules applied (RFC 3264 §6): the answer has exactly as many `m=` lines as the offer, in the
//! same order; streams we do not serve are rejected with port 0; the accepted stream uses the
//! offerer's payload type numbers; the direction mirrors the offered one (§6.1). Codec choice:
//! our preference list intersected with the offer, first in *our* order; a dynamic type (Opus)
//! keeps the offerer's number and gets our `a=fmtp` (RFC 7587 §7). telephone-event at the
//! chosen codec's clock rate (RFC 4733 §2.1: 8000, or 48000 with Opus) is accepted with the
//! offerer's payload type and answered `0-15`.
//! Pure functions, no I/O.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::{ConnectionAddress, Direction, MediaDescription, SessionDescription};
use crate::codec::Codec;

/// Packetisation interval callhost sends and asks for, in milliseconds.
pub const PTIME_MILLISECONDS: u32 = 20;

/// What was agreed for the accepted audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the accepted `m=` line (in the offer we answered, or in our own offer).
    pub media_index: usize,
    /// Where the peer wants RTP; an unspecified IP (`0.0.0.0`, RFC 3264 §8.4 hold) means "do not send".
    pub remote: SocketAddr,
    /// The chosen codec.
    pub codec: Codec,
    /// The peer's payload type for [`Self::codec`] (we send with it).
    pub codec_payload_type: u8,
    /// The payload type we send telephone-event (at the codec's clock rate) with (the peer's number for it), if both
    /// sides support it.
    pub telephone_event_payload_type: Option<u8>,
    /// The payload type *our* SDP gave telephone-event. When we answer it equals
    /// [`Self::telephone_event_payload_type`]; when we offered, the peer should send events with
    /// this number (RFC 3264 §6.1) but some use their own, so received events are accepted
    /// with either.
    pub local_telephone_event_payload_type: Option<u8>,
    /// Our direction (the answer's direction attribute).
    pub direction: Direction,
    /// The peer's `a=ptime`, if any (we still send 20 ms).
    pub remote_ptime: Option<u32>,
    /// Where the peer wants RTCP when its SDP says (`a=rtcp`, RFC 3605); otherwise RTCP goes
    /// to [`Self::remote`]'s port + 1 (RFC 3550 §11).
    pub remote_rtcp: Option<SocketAddr>,
}

/// The RTCP address an `a=rtcp` attribute gives, with the stream's address as the default IP.
pub(crate) fn remote_rtcp(
    media: &super::MediaDescription,
    remote_ip: IpAddr,
) -> Option<SocketAddr> {
    let (port, address) = media.rtcp?;
    Some(SocketAddr::new(address.unwrap_or(remote_ip), port))
}

impl Negotiated {
    /// Test fixture: a send-and-receive stream to `remote` with `codec` on `payload_type`,
    /// and telephone-event on the same number both ways if given.
    #[cfg(test)]
    pub(crate) fn for_test(
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
    ) -> Self {
        Negotiated {
            media_index: 0,
            remote,
            codec,
            codec_payload_type: payload_type,
            telephone_event_payload_type: telephone_event,
            local_telephone_event_payload_type: telephone_event,
            direction: Direction::SendReceive,
            remote_ptime: None,
            remote_rtcp: None,
        }
    }

    /// True if we may send RTP: the answer allows it and the peer gave a real address.
    pub fn may_send(&self) -> bool {
        self.direction.sends() && !self.remote.ip().is_unspecified()
    }
}

/// Why an offer cannot be accepted (the server answers 488 Not Acceptable Here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No enabled `m=audio` line with an RTP/AVP or RTP/AVPF transport.
    #[error("the offer has no usable RTP audio stream")]
    NoAudioStream,
    /// Audio was offered, but none of our codecs.
    #[error("no common codec (offered formats: {offered:?})")]
    NoCommonCodec {
        /// The offered format lists of the audio streams, joined.
        offered: Vec<String>,
    },
    /// The only streams with a common codec have an address we cannot send to.
    #[error("unusable connection address {address}")]
    UnusableAddress {
        /// The address as written (a name, or an IP of the other family than our socket).
        address: String,
    },
    /// The answer to our offer rejected our audio stream (port 0 or a missing `m=` line).
    #[error("the answer rejected our audio stream")]
    StreamRejected,
    /// The answer to our offer names no codec we offered (RFC 3264 §6.1 forbids that).
    #[error("the answer chose no codec we offered (answered formats: {answered:?})")]
    AnswerCodecNotOffered {
        /// The answer's format list.
        answered: Vec<String>,
    },
}

/// The `o=` fields callhost writes into its SDP, offers and answers alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerOrigin {
    /// `<sess-id>`: fixed for the session.
    pub session_id: u64,
    /// `<sess-version>`: incremented on every new offer or answer (RFC 3264 §8).
    pub session_version: u64,
}

pub(super) fn is_rtp_transport(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("RTP/AVP") || protocol.eq_ignore_ascii_case("RTP/AVPF")
}

pub(super) fn codec_of(media: &MediaDescription, format: &str) -> Option<(Codec, u8)> {
    let payload_type: u8 = format.parse().ok()?;
    let codec = match media.rtpmap(payload_type) {
        Some(map) => Codec::from_rtpmap(&map.encoding, map.clock_rate, map.channels),
        None => Codec::from_static_payload_type(payload_type),
    }?;
    Some((codec, payload_type))
}

/// The offered telephone-event payload type at `clock_rate` (the audio codec's, RFC 4733 §2.1).
pub(super) fn telephone_event_of(media: &MediaDescription, clock_rate: u32) -> Option<u8> {
    media
        .formats
        .iter()
        .filter_map(|format| format.parse::<u8>().ok())
        .find(|&payload_type| {
            media.rtpmap(payload_type).is_some_and(|map| {
                map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == clock_rate
            })
        })
}

/// The IP a media section's RTP goes to (media-level `c=` over session-level). It must be of
/// our socket's family, or unspecified (hold); otherwise the address as written is returned.
pub(super) fn remote_ip(
    description: &SessionDescription,
    media: &MediaDescription,
    local_ip: IpAddr,
) -> Result<IpAddr, String> {
    match media
        .connection
        .as_ref()
        .or(description.connection.as_ref())
    {
        Some(ConnectionAddress::Ip(ip))
            if ip.is_unspecified() || ip.is_ipv4() == local_ip.is_ipv4() =>
        {
            Ok(*ip)
        }
        Some(ConnectionAddress::Ip(ip)) => Err(ip.to_string()),
        Some(ConnectionAddress::Name(name)) => Err(name.clone()),
        None => Err("(no c= line)".to_owned()),
    }
}

/// Choose the audio stream and codec. `local_ip` is the address our RTP socket is bound to:
/// the peer's address must be of the same family (or unspecified, meaning hold).
pub fn negotiate(
    offer: &SessionDescription,
    preferences: &[Codec],
    local_ip: IpAddr,
) -> Result<Negotiated, NegotiationError> {
    let mut offered_formats = Vec::new();
    let mut unusable_address = None;
    for (media_index, media) in offer.media.iter().enumerate() {
        if !media.media.eq_ignore_ascii_case("audio")
            || media.port == 0
            || !is_rtp_transport(&media.protocol)
        {
            continue;
        }
        offered_formats.extend(media.formats.iter().cloned());
        let chosen = preferences.iter().find_map(|&preferred| {
            media
                .formats
                .iter()
                .filter_map(|format| codec_of(media, format))
                .find(|(codec, _)| *codec == preferred)
        });
        let Some((codec, codec_payload_type)) = chosen else {
            continue;
        };
        let remote_ip = match remote_ip(offer, media, local_ip) {
            Ok(ip) => ip,
            Err(address) => {
                unusable_address.get_or_insert(address);
                continue;
            }
        };
        let telephone_event_payload_type = telephone_event_of(media, codec.clock_rate());
        return Ok(Negotiated {
            media_index,
            remote: SocketAddr::new(remote_ip, media.port),
            codec,
            codec_payload_type,
            telephone_event_payload_type,
            local_telephone_event_payload_type: telephone_event_payload_type,
            direction: media
                .direction
                .or(offer.direction)
                .unwrap_or_default()
                .answer(),
            remote_ptime: media.ptime,
            remote_rtcp: remote_rtcp(media, remote_ip),
        });
    }
    Err(match unusable_address {
        Some(address) => NegotiationError::UnusableAddress { address },
        None if offered_formats.is_empty() => NegotiationError::NoAudioStream,
        None => NegotiationError::NoCommonCodec {
            offered: offered_formats,
        },
    })
}

/// Write `a=rtpmap` (with the channel count where the codec has one) and `a=fmtp` (where we
/// give parameters) for `codec` at `payload_type`.
pub(super) fn write_codec_attributes(text: &mut String, codec: Codec, payload_type: u8) {
    let _ = write!(
        text,
        "a=rtpmap:{payload_type} {}/{}",
        codec.encoding_name(),
        codec.clock_rate()
    );
    if let Some(channels) = codec.rtpmap_channels() {
        let _ = write!(text, "/{channels}");
    }
    text.push_str("\r\n");
    if let Some(parameters) = codec.format_parameters() {
        let _ = write!(text, "a=fmtp:{payload_type} {parameters}\r\n");
    }
}

/// Build the answer SDP for `offer` given the negotiation result and our RTP address.
pub fn build_answer(
    offer: &SessionDescription,
    negotiated: &Negotiated,
    origin: AnswerOrigin,
    local_ip: IpAddr,
    local_port: u16,
) -> String {
    let address_type = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut answer = String::with_capacity(320);
    // `write!` into a String cannot fail.
    let _ = write!(
        answer,
        "v=0\r\no=callhost {} {} IN {address_type} {local_ip}\r\ns=-\r\nc=IN {address_type} {local_ip}\r\nt=0 0\r\n",
        origin.session_id, origin.session_version
    );
    for (index, media) in offer.media.iter().enumerate() {
        if index != negotiated.media_index {
            // RFC 3264 §6: a rejected stream keeps its line, with port 0.
            let formats = if media.formats.is_empty() {
                "0".to_owned()
            } else {
                media.formats.join(" ")
            };
            let _ = write!(
                answer,
                "m={} 0 {} {formats}\r\n",
                media.media, media.protocol
            );
            continue;
        }
        let codec_pt = negotiated.codec_payload_type;
        let _ = write!(answer, "m=audio {local_port} {} {codec_pt}", media.protocol);
        if let Some(event_pt) = negotiated.telephone_event_payload_type {
            let _ = write!(answer, " {event_pt}");
        }
        answer.push_str("\r\n");
        write_codec_attributes(&mut answer, negotiated.codec, codec_pt);
        if let Some(event_pt) = negotiated.telephone_event_payload_type {
            let _ = write!(
                answer,
                "a=rtpmap:{event_pt} telephone-event/{}\r\na=fmtp:{event_pt} 0-15\r\n",
                negotiated.codec.clock_rate()
            );
        }
        let _ = write!(
            answer,
            "a=ptime:{PTIME_MILLISECONDS}\r\na={}\r\n",
            negotiated.direction.attribute()
        );
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const ORIGIN: AnswerOrigin = AnswerOrigin {
        session_id: 42,
        session_version: 7,
    };
    const BOTH: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

    fn offer(body: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\n{body}"
        ))
        .expect("valid offer")
    }

    #[test]
    fn picks_our_first_preference_and_echoes_the_event_payload_type() {
        let offer = offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n",
        );
        let negotiated = negotiate(&offer, BOTH, LOCAL).expect("acceptable");
        assert_eq!(
            negotiated.codec,
            Codec::Pcmu,
            "our order wins over the offerer's"
        );
        assert_eq!(negotiated.codec_payload_type, 0);
        assert_eq!(negotiated.telephone_event_payload_type, Some(96));
        assert_eq!(negotiated.remote, "198.51.100.1:5004".parse().unwrap());
        assert!(negotiated.may_send());
        let answer = build_answer(&offer, &negotiated, ORIGIN, LOCAL, 20_000);
        assert_eq!(
            answer,
            "v=0\r\no=callhost 42 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 20000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
             a=fmtp:96 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // The answer is itself valid SDP that parses back to the same choice.
        let reparsed = SessionDescription::parse(&answer).unwrap();
        assert_eq!(reparsed.media[0].formats, vec!["0", "96"]);
    }

    #[test]
    fn static_types_need_no_rtpmap_and_dynamic_g711_is_understood() {
        let only_pcma = offer("c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 8\r\n");
        let negotiated = negotiate(&only_pcma, BOTH, LOCAL).unwrap();
        assert_eq!(
            (
                negotiated.codec,
                negotiated.codec_payload_type,
                negotiated.telephone_event_payload_type
            ),
            (Codec::Pcma, 8, None)
        );
        let dynamic =
            offer("c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n");
        assert_eq!(
            negotiate(&dynamic, &[Codec::Pcma, Codec::Pcmu], LOCAL)
                .unwrap()
                .codec_payload_type,
            97
        );
        // Preference [Pcma] alone excludes a PCMU-only offer.
        let pcmu = offer("c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 0\r\n");
        assert_eq!(
            negotiate(&pcmu, &[Codec::Pcma], LOCAL),
            Err(NegotiationError::NoCommonCodec {
                offered: vec!["0".to_owned()]
            })
        );
    }

    #[test]
    fn no_common_codec_and_no_audio_are_typed_errors() {
        let g729 = offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 18 96\r\na=rtpmap:96 opus/48000/2\r\n",
        );
        assert!(matches!(
            negotiate(&g729, BOTH, LOCAL),
            Err(NegotiationError::NoCommonCodec { .. })
        ));
        let stereo_pcmu = offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 97\r\na=rtpmap:97 PCMU/8000/2\r\n",
        );
        assert!(matches!(
            negotiate(&stereo_pcmu, BOTH, LOCAL),
            Err(NegotiationError::NoCommonCodec { .. })
        ));
        let video_only = offer("c=IN IP4 198.51.100.1\r\nm=video 5006 RTP/AVP 31\r\n");
        assert_eq!(
            negotiate(&video_only, BOTH, LOCAL),
            Err(NegotiationError::NoAudioStream)
        );
        let secure = offer("c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/SAVP 0\r\n");
        assert_eq!(
            negotiate(&secure, BOTH, LOCAL),
            Err(NegotiationError::NoAudioStream)
        );
        let disabled = offer("c=IN IP4 198.51.100.1\r\nm=audio 0 RTP/AVP 0\r\n");
        assert_eq!(
            negotiate(&disabled, BOTH, LOCAL),
            Err(NegotiationError::NoAudioStream)
        );
        let named = offer("c=IN IP4 pbx.example\r\nm=audio 5004 RTP/AVP 0\r\n");
        assert_eq!(
            negotiate(&named, BOTH, LOCAL),
            Err(NegotiationError::UnusableAddress {
                address: "pbx.example".to_owned()
            })
        );
        let ipv6 = offer("c=IN IP6 2001:db8::5\r\nm=audio 5004 RTP/AVP 0\r\n");
        assert!(matches!(
            negotiate(&ipv6, BOTH, LOCAL),
            Err(NegotiationError::UnusableAddress { .. })
        ));
    }

    #[test]
    fn unserved_streams_are_rejected_with_port_zero_keeping_the_line_count() {
        let offer = offer(
            "c=IN IP4 198.51.100.1\r\n\
             m=video 6000 RTP/AVP 31\r\n\
             m=audio 5004 RTP/SAVP 0\r\n\
             m=audio 5008 RTP/AVP 0\r\nc=IN IP4 203.0.113.9\r\n\
             m=audio 5010 RTP/AVP 8\r\n",
        );
        let negotiated = negotiate(&offer, BOTH, LOCAL).unwrap();
        assert_eq!(negotiated.media_index, 2);
        assert_eq!(
            negotiated.remote,
            "203.0.113.9:5008".parse().unwrap(),
            "media-level c= wins"
        );
        let answer =
            SessionDescription::parse(&build_answer(&offer, &negotiated, ORIGIN, LOCAL, 30_000))
                .unwrap();
        let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
        assert_eq!(ports, vec![0, 0, 30_000, 0]);
        assert_eq!(answer.media[0].formats, vec!["31"]);
        assert_eq!(answer.media[1].protocol, "RTP/SAVP");
    }

    #[test]
    fn directions_and_hold_are_answered_per_rfc3264() {
        let session_level =
            offer("c=IN IP4 198.51.100.1\r\na=sendonly\r\nm=audio 5004 RTP/AVP 0\r\n");
        let negotiated = negotiate(&session_level, BOTH, LOCAL).unwrap();
        assert_eq!(negotiated.direction, Direction::ReceiveOnly);
        assert!(!negotiated.may_send());
        assert!(
            build_answer(&session_level, &negotiated, ORIGIN, LOCAL, 1).contains("a=recvonly\r\n")
        );
        let media_level = offer(
            "c=IN IP4 198.51.100.1\r\na=sendonly\r\nm=audio 5004 RTP/AVP 0\r\na=recvonly\r\n",
        );
        assert_eq!(
            negotiate(&media_level, BOTH, LOCAL).unwrap().direction,
            Direction::SendOnly
        );
        let inactive = offer("c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 0\r\na=inactive\r\n");
        assert_eq!(
            negotiate(&inactive, BOTH, LOCAL).unwrap().direction,
            Direction::Inactive
        );
        // RFC 2543-style hold: c=0.0.0.0 is accepted, and we do not send.
        let old_hold = offer("c=IN IP4 0.0.0.0\r\nm=audio 5004 RTP/AVP 0\r\n");
        let negotiated = negotiate(&old_hold, BOTH, LOCAL).unwrap();
        assert_eq!(negotiated.direction, Direction::SendReceive);
        assert!(!negotiated.may_send());
    }

    #[test]
    fn opus_keeps_the_offerers_payload_type_and_takes_events_at_48000() {
        let offer = offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 96 0 100 101\r\n\
             a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n\
             a=rtpmap:100 telephone-event/8000\r\na=rtpmap:101 telephone-event/48000\r\n",
        );
        let negotiated = negotiate(&offer, &[Codec::Opus, Codec::Pcmu], LOCAL).unwrap();
        assert_eq!(
            (negotiated.codec, negotiated.codec_payload_type),
            (Codec::Opus, 96)
        );
        assert_eq!(
            negotiated.telephone_event_payload_type,
            Some(101),
            "RFC 4733 §2.1: the event clock is the codec's"
        );
        let answer = build_answer(&offer, &negotiated, ORIGIN, LOCAL, 20_000);
        assert_eq!(
            answer,
            "v=0\r\no=callhost 42 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 20000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
             a=fmtp:96 maxplaybackrate=8000;sprop-maxcapturerate=8000;stereo=0;sprop-stereo=0;useinbandfec=0\r\n\
             a=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // Preferring PCMU, the 8000 Hz event type goes with it.
        let pcmu = negotiate(&offer, BOTH, LOCAL).unwrap();
        assert_eq!(
            (pcmu.codec, pcmu.telephone_event_payload_type),
            (Codec::Pcmu, Some(100))
        );
        // Opus with only telephone-event/8000 on offer: no events (the clocks differ).
        let no_wideband_events = offer_with_events_at_8000_only();
        let negotiated = negotiate(&no_wideband_events, &[Codec::Opus], LOCAL).unwrap();
        assert_eq!(negotiated.telephone_event_payload_type, None);
    }

    fn offer_with_events_at_8000_only() -> SessionDescription {
        offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 111 101\r\n\
             a=rtpmap:111 OPUS/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
    }

    #[test]
    fn g722_is_static_type_9_on_an_8000_clock() {
        let offer = offer(
            "c=IN IP4 198.51.100.1\r\nm=audio 5004 RTP/AVP 0 9 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let negotiated = negotiate(&offer, &[Codec::G722, Codec::Pcmu], LOCAL).unwrap();
        assert_eq!(
            (
                negotiated.codec,
                negotiated.codec_payload_type,
                negotiated.telephone_event_payload_type
            ),
            (Codec::G722, 9, Some(101))
        );
        let answer = build_answer(&offer, &negotiated, ORIGIN, LOCAL, 20_000);
        assert!(
            answer.contains("m=audio 20000 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\n"),
            "{answer}"
        );
        // The default preferences (G.711 only) still pick PCMU from the same offer.
        assert_eq!(negotiate(&offer, BOTH, LOCAL).unwrap().codec, Codec::Pcmu);
    }

    #[test]
    fn ipv6_answers_use_ip6() {
        let local: IpAddr = "2001:db8::10".parse().unwrap();
        let offer = offer("c=IN IP6 2001:db8::5\r\nm=audio 5004 RTP/AVP 0\r\n");
        let negotiated = negotiate(&offer, BOTH, local).unwrap();
        let answer = build_answer(&offer, &negotiated, ORIGIN, local, 4000);
        assert!(answer.contains("c=IN IP6 2001:db8::10\r\n"), "{answer}");
    }
}
