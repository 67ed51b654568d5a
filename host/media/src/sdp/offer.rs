//! RFC 3264 from the offerer's side for one audio stream: build the offer (§5) and apply the
//! answer to it (§7), for initial offers and for re-offers such as hold (§8, §8.4).
//!
//! An offer has one `m=audio` line (so the answer's first `m=` line is ours, §6), lists our
//! codecs in preference order with their static payload types (Opus: 111 with its `a=fmtp`,
//! RFC 7587 §7), telephone-event (RFC 4733 §2.4.1) at each offered clock rate (8000, and 48000
//! when Opus is offered, §2.1) and `a=ptime:20`. From the answer we send with the first format it lists that we
//! offered (§7 "SHOULD use the first"), using the answer's payload type numbers; our direction
//! is the mirror of the answer's, never more than we offered. Pure functions, no I/O.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::answer::{
    PTIME_MILLISECONDS, codec_of, is_rtp_transport, remote_ip, telephone_event_of,
    write_codec_attributes,
};
use super::{AnswerOrigin, Direction, Negotiated, NegotiationError, SessionDescription};
use crate::codec::Codec;

/// The payload type callhost's initial offers give telephone-event/8000.
pub const OFFER_TELEPHONE_EVENT_PAYLOAD_TYPE: u8 = 101;

/// The payload type callhost's initial offers give telephone-event/48000 (offered with Opus).
pub const OFFER_TELEPHONE_EVENT_48000_PAYLOAD_TYPE: u8 = 110;

/// The events we offer to receive: DTMF 0-15 and flash (RFC 4733 §3.2, Table 3).
const OFFERED_EVENTS: &str = "0-16";

/// What we put in (or will put in) an offer: enough to build it and to check the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOffer {
    /// Codecs with the payload type we give each, best first; never empty.
    pub codecs: Vec<(Codec, u8)>,
    /// The telephone-event formats we offer: `(clock rate, payload type)`, one per clock
    /// rate of the offered codecs.
    pub telephone_events: Vec<(u32, u8)>,
    /// The direction we offer.
    pub direction: Direction,
}

impl LocalOffer {
    /// An initial offer: `codecs` (duplicates dropped) with their default payload types,
    /// telephone-event at [`OFFER_TELEPHONE_EVENT_PAYLOAD_TYPE`] (8000) and, with Opus,
    /// [`OFFER_TELEPHONE_EVENT_48000_PAYLOAD_TYPE`] (48000); sendrecv. `None` if `codecs` is
    /// empty.
    pub fn initial(codecs: &[Codec]) -> Option<Self> {
        let mut unique: Vec<(Codec, u8)> = Vec::with_capacity(codecs.len());
        for &codec in codecs {
            if !unique.iter().any(|(known, _)| *known == codec) {
                unique.push((codec, codec.default_payload_type()));
            }
        }
        let mut telephone_events: Vec<(u32, u8)> = Vec::new();
        for (codec, _) in &unique {
            let clock_rate = codec.clock_rate();
            if !telephone_events
                .iter()
                .any(|(known, _)| *known == clock_rate)
            {
                let payload_type = if clock_rate == 8000 {
                    OFFER_TELEPHONE_EVENT_PAYLOAD_TYPE
                } else {
                    OFFER_TELEPHONE_EVENT_48000_PAYLOAD_TYPE
                };
                telephone_events.push((clock_rate, payload_type));
            }
        }
        (!unique.is_empty()).then_some(Self {
            codecs: unique,
            telephone_events,
            direction: Direction::SendReceive,
        })
    }

    /// The payload type we offered telephone-event with at `clock_rate`, if any.
    pub fn telephone_event_payload_type(&self, clock_rate: u32) -> Option<u8> {
        self.telephone_events
            .iter()
            .find(|(rate, _)| *rate == clock_rate)
            .map(|(_, payload_type)| *payload_type)
    }

    /// A re-offer of the current stream (RFC 3264 §8): the negotiated codec and telephone-event
    /// keep the payload type numbers our earlier SDP gave them (§8.3.2), with a new direction.
    pub fn renewal(negotiated: &Negotiated, direction: Direction) -> Self {
        Self {
            codecs: vec![(negotiated.codec, negotiated.codec_payload_type)],
            telephone_events: negotiated
                .local_telephone_event_payload_type
                .map(|payload_type| (negotiated.codec.clock_rate(), payload_type))
                .into_iter()
                .collect(),
            direction,
        }
    }
}

/// The offer SDP: one `m=audio` stream at `local_ip:local_port`.
pub fn build_offer(
    offer: &LocalOffer,
    origin: AnswerOrigin,
    local_ip: IpAddr,
    local_port: u16,
) -> String {
    let address_type = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut text = String::with_capacity(320);
    // `write!` into a String cannot fail.
    let _ = write!(
        text,
        "v=0\r\no=callhost {} {} IN {address_type} {local_ip}\r\ns=-\r\nc=IN {address_type} {local_ip}\r\nt=0 0\r\nm=audio {local_port} RTP/AVP",
        origin.session_id, origin.session_version
    );
    for (_, payload_type) in &offer.codecs {
        let _ = write!(text, " {payload_type}");
    }
    for (_, event_pt) in &offer.telephone_events {
        let _ = write!(text, " {event_pt}");
    }
    text.push_str("\r\n");
    for &(codec, payload_type) in &offer.codecs {
        write_codec_attributes(&mut text, codec, payload_type);
    }
    for (clock_rate, event_pt) in &offer.telephone_events {
        let _ = write!(
            text,
            "a=rtpmap:{event_pt} telephone-event/{clock_rate}\r\na=fmtp:{event_pt} {OFFERED_EVENTS}\r\n"
        );
    }
    let _ = write!(
        text,
        "a=ptime:{PTIME_MILLISECONDS}\r\na={}\r\n",
        offer.direction.attribute()
    );
    text
}

/// Apply the answer to `offer`. `local_ip` is our socket's address (the answer's must be of
/// the same family, or unspecified). Errors: [`NegotiationError::StreamRejected`] (port 0, not
/// audio/RTP, or no `m=` line), [`NegotiationError::AnswerCodecNotOffered`],
/// [`NegotiationError::UnusableAddress`].
pub fn negotiate_answer(
    offer: &LocalOffer,
    answer: &SessionDescription,
    local_ip: IpAddr,
) -> Result<Negotiated, NegotiationError> {
    let Some(media) = answer.media.first() else {
        return Err(NegotiationError::StreamRejected);
    };
    if !media.media.eq_ignore_ascii_case("audio")
        || media.port == 0
        || !is_rtp_transport(&media.protocol)
    {
        return Err(NegotiationError::StreamRejected);
    }
    let chosen = media
        .formats
        .iter()
        .filter_map(|format| codec_of(media, format))
        .find(|(codec, _)| offer.codecs.iter().any(|(offered, _)| offered == codec));
    let Some((codec, codec_payload_type)) = chosen else {
        return Err(NegotiationError::AnswerCodecNotOffered {
            answered: media.formats.clone(),
        });
    };
    let remote_ip = remote_ip(answer, media, local_ip)
        .map_err(|address| NegotiationError::UnusableAddress { address })?;
    let local_telephone_event_payload_type = offer.telephone_event_payload_type(codec.clock_rate());
    let telephone_event_payload_type = local_telephone_event_payload_type
        .and_then(|_| telephone_event_of(media, codec.clock_rate()));
    let answered = media.direction.or(answer.direction).unwrap_or_default();
    Ok(Negotiated {
        media_index: 0,
        remote: SocketAddr::new(remote_ip, media.port),
        codec,
        codec_payload_type,
        telephone_event_payload_type,
        local_telephone_event_payload_type: telephone_event_payload_type
            .and(local_telephone_event_payload_type),
        // The answer's direction seen from our side, and never more than we offered.
        direction: answered.answer().intersect(offer.direction),
        remote_ptime: media.ptime,
        remote_rtcp: super::answer::remote_rtcp(media, remote_ip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const ORIGIN: AnswerOrigin = AnswerOrigin {
        session_id: 42,
        session_version: 1,
    };

    fn answer(body: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=phone 9 9 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n{body}"
        ))
        .expect("valid answer")
    }

    fn initial() -> LocalOffer {
        LocalOffer::initial(&[Codec::Pcma, Codec::Pcmu, Codec::Pcma]).expect("codecs")
    }

    #[test]
    fn the_initial_offer_is_exact_and_parses_back() {
        let offer = initial();
        assert_eq!(offer.codecs, vec![(Codec::Pcma, 8), (Codec::Pcmu, 0)]);
        assert!(LocalOffer::initial(&[]).is_none());
        let text = build_offer(&offer, ORIGIN, LOCAL, 20_000);
        assert_eq!(
            text,
            "v=0\r\no=callhost 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 20000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        let parsed = SessionDescription::parse(&text).unwrap();
        let media = &parsed.media[0];
        assert_eq!(media.formats, vec!["8", "0", "101"]);
        assert_eq!(media.direction, Some(Direction::SendReceive));
        assert_eq!(telephone_event_of(media, 8000), Some(101));
        // Our own offer, read as an answerer would, is acceptable with either codec first.
        let negotiated = super::super::negotiate(&parsed, &[Codec::Pcmu], LOCAL).unwrap();
        assert_eq!(negotiated.codec_payload_type, 0);
    }

    #[test]
    fn the_answer_picks_its_first_offered_codec_and_its_event_payload_type() {
        let negotiated = negotiate_answer(
            &initial(),
            &answer(
                "m=audio 5004 RTP/AVP 18 0 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:30\r\n",
            ),
            LOCAL,
        )
        .expect("acceptable");
        assert_eq!(
            (negotiated.codec, negotiated.codec_payload_type),
            (Codec::Pcmu, 0),
            "the answer's order wins; G.729 was never offered and is skipped"
        );
        assert_eq!(negotiated.telephone_event_payload_type, Some(96));
        assert_eq!(negotiated.local_telephone_event_payload_type, Some(101));
        assert_eq!(negotiated.remote, "198.51.100.1:5004".parse().unwrap());
        assert_eq!(negotiated.direction, Direction::SendReceive);
        assert_eq!(negotiated.remote_ptime, Some(30));

        let pcma = negotiate_answer(&initial(), &answer("m=audio 5004 RTP/AVP 8\r\n"), LOCAL)
            .expect("acceptable");
        assert_eq!(pcma.codec, Codec::Pcma);
        assert_eq!(
            (
                pcma.telephone_event_payload_type,
                pcma.local_telephone_event_payload_type
            ),
            (None, None),
            "no telephone-event in the answer: none either way"
        );
    }

    #[test]
    fn answers_outside_the_offer_are_typed_errors() {
        let pcmu_only = LocalOffer::initial(&[Codec::Pcmu]).unwrap();
        assert_eq!(
            negotiate_answer(&pcmu_only, &answer("m=audio 5004 RTP/AVP 8\r\n"), LOCAL),
            Err(NegotiationError::AnswerCodecNotOffered {
                answered: vec!["8".to_owned()]
            })
        );
        for rejected in [
            "m=audio 0 RTP/AVP 0\r\n",
            "m=video 5004 RTP/AVP 0\r\n",
            "m=audio 5004 RTP/SAVP 0\r\n",
            "",
        ] {
            assert_eq!(
                negotiate_answer(&pcmu_only, &answer(rejected), LOCAL),
                Err(NegotiationError::StreamRejected),
                "{rejected:?}"
            );
        }
        let named = SessionDescription::parse(
            "v=0\r\ns=-\r\nc=IN IP4 pbx.example\r\nm=audio 5004 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert!(matches!(
            negotiate_answer(&pcmu_only, &named, LOCAL),
            Err(NegotiationError::UnusableAddress { .. })
        ));
    }

    #[test]
    fn directions_mirror_the_answer_within_what_we_offered() {
        let check = |offered: Direction, answered: &str, expected: Direction| {
            let offer = LocalOffer {
                direction: offered,
                ..initial()
            };
            let body = format!("m=audio 5004 RTP/AVP 0\r\na={answered}\r\n");
            assert_eq!(
                negotiate_answer(&offer, &answer(&body), LOCAL)
                    .unwrap()
                    .direction,
                expected,
                "offered {offered:?}, answered {answered}"
            );
        };
        check(Direction::SendReceive, "sendrecv", Direction::SendReceive);
        check(Direction::SendReceive, "recvonly", Direction::SendOnly);
        check(Direction::SendOnly, "recvonly", Direction::SendOnly);
        check(Direction::SendOnly, "inactive", Direction::Inactive);
        // A non-conforming sendrecv answer to a hold offer still leaves us sendonly.
        check(Direction::SendOnly, "sendrecv", Direction::SendOnly);
        check(Direction::Inactive, "sendrecv", Direction::Inactive);
        check(Direction::ReceiveOnly, "sendonly", Direction::ReceiveOnly);
    }

    #[test]
    fn opus_and_g722_offers_carry_events_at_each_clock_rate() {
        let offer = LocalOffer::initial(&[Codec::Opus, Codec::G722, Codec::Pcmu]).unwrap();
        assert_eq!(
            offer.codecs,
            vec![(Codec::Opus, 111), (Codec::G722, 9), (Codec::Pcmu, 0)]
        );
        assert_eq!(offer.telephone_events, vec![(48_000, 110), (8000, 101)]);
        let text = build_offer(&offer, ORIGIN, LOCAL, 20_000);
        assert!(
            text.contains(
                "m=audio 20000 RTP/AVP 111 9 0 110 101\r\na=rtpmap:111 opus/48000/2\r\n\
                 a=fmtp:111 maxplaybackrate=8000;sprop-maxcapturerate=8000;stereo=0;sprop-stereo=0;useinbandfec=0\r\n\
                 a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
                 a=rtpmap:110 telephone-event/48000\r\na=fmtp:110 0-16\r\n\
                 a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
            ),
            "{text}"
        );
        // A peer that renumbers Opus: we send with its numbers, events at 48000.
        let negotiated = negotiate_answer(
            &offer,
            &answer(
                "m=audio 5004 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n",
            ),
            LOCAL,
        )
        .unwrap();
        assert_eq!(
            (
                negotiated.codec,
                negotiated.codec_payload_type,
                negotiated.telephone_event_payload_type,
                negotiated.local_telephone_event_payload_type
            ),
            (Codec::Opus, 96, Some(97), Some(110))
        );
        let renewal = LocalOffer::renewal(&negotiated, Direction::SendOnly);
        assert_eq!(renewal.telephone_events, vec![(48_000, 110)]);
        // G.722 chosen: the 8000 Hz event type applies.
        let g722 = negotiate_answer(
            &offer,
            &answer("m=audio 5004 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\n"),
            LOCAL,
        )
        .unwrap();
        assert_eq!(
            (g722.codec, g722.telephone_event_payload_type),
            (Codec::G722, Some(101))
        );
    }

    #[test]
    fn renewals_keep_the_agreed_payload_types() {
        let negotiated = negotiate_answer(
            &initial(),
            &answer("m=audio 5004 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"),
            LOCAL,
        )
        .unwrap();
        let hold = LocalOffer::renewal(&negotiated, Direction::SendOnly);
        let text = build_offer(
            &hold,
            AnswerOrigin {
                session_version: 2,
                ..ORIGIN
            },
            LOCAL,
            20_000,
        );
        assert!(
            text.contains("o=callhost 42 2 IN IP4 192.0.2.10\r\n"),
            "{text}"
        );
        assert!(text.contains("m=audio 20000 RTP/AVP 0 101\r\n"), "{text}");
        assert!(text.ends_with("a=sendonly\r\n"), "{text}");
    }
}
