//! SDP (RFC 4566) parsing of the parts an audio endpoint needs; the offer/answer rules of
//! RFC 3264 live in [`answer`] (we answer) and [`offer`] (we offer).
//!
//! Pure text processing, no I/O. Parsed: `v=`, `o=`, `c=` (session and media level), `m=`,
//! and the attributes `rtpmap`, `fmtp`, `ptime` and the direction attributes (RFC 4566 §6).
//! Other lines and attributes are skipped, as §5 asks of parsers. Lines may end in CRLF or LF.

pub mod answer;
pub mod offer;

pub use answer::{AnswerOrigin, Negotiated, NegotiationError, build_answer, negotiate};
pub use offer::{LocalOffer, build_offer, negotiate_answer};

use std::net::IpAddr;

/// Media direction (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendReceive,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    ReceiveOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction an answerer uses for an offered one (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Direction::SendReceive => Direction::SendReceive,
            Direction::SendOnly => Direction::ReceiveOnly,
            Direction::ReceiveOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// The attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendReceive => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::ReceiveOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// True if the side with this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendReceive | Direction::SendOnly)
    }

    /// True if the side with this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendReceive | Direction::ReceiveOnly)
    }

    /// The direction that sends and receives as given.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendReceive,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::ReceiveOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// What both directions allow: sends only if both send, receives only if both receive.
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    fn from_attribute(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendReceive,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::ReceiveOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// A `c=` connection address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionAddress {
    /// A literal IPv4 or IPv6 address (multicast TTL / count suffixes removed).
    Ip(IpAddr),
    /// A name callhost does not resolve (RFC 4566 allows an FQDN).
    Name(String),
}

/// The `o=` line (RFC 4566 §5.2), kept as text: ids may exceed 64 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`.
    pub username: String,
    /// `<sess-id>`.
    pub session_id: String,
    /// `<sess-version>`.
    pub session_version: String,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type.
    pub payload_type: u8,
    /// The encoding name, as written.
    pub encoding: String,
    /// The clock rate.
    pub clock_rate: u32,
    /// The channel count, if given.
    pub channels: Option<u16>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaDescription {
    /// `audio`, `video`, …
    pub media: String,
    /// The transport port; 0 means the stream is disabled.
    pub port: u16,
    /// `RTP/AVP`, …
    pub protocol: String,
    /// The format list (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<ConnectionAddress>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<format> <parameters>` lines.
    pub fmtps: Vec<(String, String)>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=rtcp:<port> [IN IP4|IP6 <address>]` (RFC 3605): where the peer wants RTCP.
    pub rtcp: Option<(u16, Option<IpAddr>)>,
}

impl MediaDescription {
    /// The `a=rtpmap` for a payload type, if any.
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps
            .iter()
            .find(|map| map.payload_type == payload_type)
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// The `o=` line, if present and well-formed.
    pub origin: Option<Origin>,
    /// Session-level `c=`.
    pub connection: Option<ConnectionAddress>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
}

/// Why an SDP body could not be parsed (the server answers 400 to such an offer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpParseError {
    /// The body does not start with `v=0`.
    #[error("SDP does not start with v=0")]
    MissingVersion,
    /// A line is not `<type>=<value>`.
    #[error("SDP line {line_number} is not <type>=<value>")]
    MalformedLine {
        /// 1-based line number.
        line_number: usize,
    },
    /// An `m=` line is malformed.
    #[error("SDP line {line_number}: malformed m= line")]
    MalformedMedia {
        /// 1-based line number.
        line_number: usize,
    },
    /// A `c=` line is malformed.
    #[error("SDP line {line_number}: malformed c= line")]
    MalformedConnection {
        /// 1-based line number.
        line_number: usize,
    },
    /// An `a=rtpmap` line is malformed.
    #[error("SDP line {line_number}: malformed a=rtpmap")]
    MalformedRtpMap {
        /// 1-based line number.
        line_number: usize,
    },
}

impl SessionDescription {
    /// Parse an SDP body. Unknown line types and attributes are ignored.
    pub fn parse(text: &str) -> Result<Self, SdpParseError> {
        let mut description = SessionDescription::default();
        let mut seen_version = false;
        for (index, raw_line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = raw_line.trim_end();
            if line.is_empty() {
                continue; // tolerate a trailing blank line
            }
            let Some((kind, value)) = line.split_once('=').filter(|(kind, _)| kind.len() == 1)
            else {
                return Err(SdpParseError::MalformedLine { line_number });
            };
            if !seen_version {
                if kind != "v" || value.trim() != "0" {
                    return Err(SdpParseError::MissingVersion);
                }
                seen_version = true;
                continue;
            }
            let media = description.media.last_mut();
            match (kind, media) {
                ("o", None) => description.origin = parse_origin(value),
                ("c", None) => description.connection = Some(parse_connection(value, line_number)?),
                ("c", Some(media)) => {
                    media.connection = Some(parse_connection(value, line_number)?)
                }
                ("m", _) => description.media.push(parse_media(value, line_number)?),
                ("a", None) => {
                    if let Some(direction) = Direction::from_attribute(value) {
                        description.direction = Some(direction);
                    }
                }
                ("a", Some(media)) => parse_media_attribute(media, value, line_number)?,
                _ => {}
            }
        }
        if !seen_version {
            return Err(SdpParseError::MissingVersion);
        }
        Ok(description)
    }
}

fn parse_origin(value: &str) -> Option<Origin> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [username, session_id, session_version, ..] = fields.as_slice() else {
        return None;
    };
    Some(Origin {
        username: (*username).to_owned(),
        session_id: (*session_id).to_owned(),
        session_version: (*session_version).to_owned(),
    })
}

fn parse_connection(value: &str, line_number: usize) -> Result<ConnectionAddress, SdpParseError> {
    let error = SdpParseError::MalformedConnection { line_number };
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [network_type, address_type, address] = fields.as_slice() else {
        return Err(error);
    };
    if !network_type.eq_ignore_ascii_case("IN") {
        return Err(error);
    }
    // Multicast addresses carry /ttl[/count] (IPv4) or /count (IPv6).
    let host = address.split('/').next().unwrap_or_default();
    let parsed = match address_type.to_ascii_uppercase().as_str() {
        "IP4" => host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => host.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => return Err(error),
    };
    Ok(match parsed {
        Some(ip) => ConnectionAddress::Ip(ip),
        None if !host.is_empty() => ConnectionAddress::Name(host.to_owned()),
        None => return Err(error),
    })
}

fn parse_media(value: &str, line_number: usize) -> Result<MediaDescription, SdpParseError> {
    let error = SdpParseError::MalformedMedia { line_number };
    let mut fields = value.split_whitespace();
    let (Some(media), Some(port), Some(protocol)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(error);
    };
    // `<port>/<number of ports>`: only the base port matters for a single audio stream.
    let port = port
        .split('/')
        .next()
        .and_then(|port| port.parse::<u16>().ok())
        .ok_or(error)?;
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        protocol: protocol.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        ..MediaDescription::default()
    })
}

fn parse_media_attribute(
    media: &mut MediaDescription,
    value: &str,
    line_number: usize,
) -> Result<(), SdpParseError> {
    let (name, argument) = value.split_once(':').unwrap_or((value, ""));
    match name {
        "rtpmap" => media
            .rtpmaps
            .push(parse_rtpmap(argument).ok_or(SdpParseError::MalformedRtpMap { line_number })?),
        "fmtp" => {
            if let Some((format, parameters)) = argument.split_once(' ') {
                media
                    .fmtps
                    .push((format.to_owned(), parameters.trim().to_owned()));
            }
        }
        // A malformed ptime is only a hint we would not follow anyway.
        "ptime" => media.ptime = argument.trim().parse().ok(),
        // RFC 3605; malformed: ignored, RTCP then goes to the RTP port + 1 as by default.
        "rtcp" => media.rtcp = parse_rtcp_attribute(argument),
        _ => {
            if let Some(direction) = Direction::from_attribute(name) {
                media.direction = Some(direction);
            }
        }
    }
    Ok(())
}

/// `<port> [<nettype> <addrtype> <address>]` (RFC 3605 §2.1).
fn parse_rtcp_attribute(argument: &str) -> Option<(u16, Option<IpAddr>)> {
    let mut parts = argument.split_whitespace();
    let port = parts.next()?.parse().ok().filter(|port| *port != 0)?;
    let address = match (parts.next(), parts.next(), parts.next()) {
        (Some("IN"), Some("IP4" | "IP6"), Some(address)) => address.parse().ok(),
        _ => None,
    };
    Some((port, address))
}

fn parse_rtpmap(argument: &str) -> Option<RtpMap> {
    let (payload_type, encoding) = argument.split_once(' ')?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next().filter(|name| !name.is_empty())?;
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = match parts.next() {
        Some(channels) => Some(channels.parse().ok()?),
        None => None,
    };
    Some(RtpMap {
        payload_type: payload_type.parse().ok().filter(|pt| *pt < 128)?,
        encoding: name.to_owned(),
        clock_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4566 §5 example, extended with an rtpmap'd dynamic type and attributes.
    const OFFER: &str = "v=0\r\n\
        o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n\
        s=SDP Seminar\r\n\
        c=IN IP4 224.2.17.12/127\r\n\
        t=2873397496 2873404696\r\n\
        a=recvonly\r\n\
        m=audio 49170 RTP/AVP 0 8 101\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:30\r\n\
        m=video 51372/2 RTP/AVP 99\r\n\
        c=IN IP6 2001:db8::1\r\n\
        a=rtpmap:99 h263-1998/90000\r\n\
        a=sendonly\r\n";

    #[test]
    fn rtcp_attributes_give_the_peers_rtcp_address() {
        let with = |attribute: &str| {
            let sdp = format!(
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                 m=audio 49170 RTP/AVP 0\r\n{attribute}"
            );
            let offer = SessionDescription::parse(&sdp).expect("valid");
            let negotiated = negotiate(
                &offer,
                &[crate::codec::Codec::Pcmu],
                "0.0.0.0".parse().unwrap(),
            )
            .expect("acceptable");
            (offer.media[0].rtcp, negotiated.remote_rtcp)
        };
        assert_eq!(with(""), (None, None));
        assert_eq!(
            with("a=rtcp:53020\r\n"),
            (
                Some((53020, None)),
                Some("192.0.2.1:53020".parse().unwrap())
            )
        );
        assert_eq!(
            with("a=rtcp:53020 IN IP4 198.51.100.7\r\n"),
            (
                Some((53020, Some("198.51.100.7".parse().unwrap()))),
                Some("198.51.100.7:53020".parse().unwrap())
            )
        );
        assert_eq!(with("a=rtcp:nonsense\r\n"), (None, None), "ignored");
        assert_eq!(with("a=rtcp:0\r\n"), (None, None), "ignored");
    }

    #[test]
    fn parses_session_and_media_sections() {
        let sdp = SessionDescription::parse(OFFER).expect("valid");
        assert_eq!(
            sdp.origin.as_ref().map(|o| o.session_version.as_str()),
            Some("2890842807")
        );
        assert_eq!(
            sdp.connection,
            Some(ConnectionAddress::Ip("224.2.17.12".parse().unwrap()))
        );
        assert_eq!(sdp.direction, Some(Direction::ReceiveOnly));
        assert_eq!(sdp.media.len(), 2);
        let audio = &sdp.media[0];
        assert_eq!(
            (audio.media.as_str(), audio.port, audio.protocol.as_str()),
            ("audio", 49170, "RTP/AVP")
        );
        assert_eq!(audio.formats, vec!["0", "8", "101"]);
        assert_eq!(
            audio
                .rtpmap(101)
                .map(|m| (m.encoding.as_str(), m.clock_rate)),
            Some(("telephone-event", 8000))
        );
        assert_eq!(audio.fmtps, vec![("101".to_owned(), "0-16".to_owned())]);
        assert_eq!(audio.ptime, Some(30));
        assert_eq!(audio.direction, None);
        let video = &sdp.media[1];
        assert_eq!(video.port, 51372);
        assert_eq!(
            video.connection,
            Some(ConnectionAddress::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(video.direction, Some(Direction::SendOnly));
        assert_eq!(video.rtpmap(99).and_then(|m| m.channels), None);
    }

    #[test]
    fn accepts_bare_lf_and_names_and_skips_unknown_lines() {
        let sdp = SessionDescription::parse("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 pbx.example.com\nb=AS:64\nt=0 0\nm=audio 4000 RTP/AVP 8\na=rtpmap:8 PCMA/8000/1\na=weird\n\n")
            .expect("valid");
        assert_eq!(
            sdp.connection,
            Some(ConnectionAddress::Name("pbx.example.com".to_owned()))
        );
        assert_eq!(sdp.media[0].rtpmap(8).and_then(|m| m.channels), Some(1));
    }

    #[test]
    fn rejects_malformed_bodies_with_line_numbers() {
        assert_eq!(
            SessionDescription::parse(""),
            Err(SdpParseError::MissingVersion)
        );
        assert_eq!(
            SessionDescription::parse("s=-\r\n"),
            Err(SdpParseError::MissingVersion)
        );
        assert_eq!(
            SessionDescription::parse("v=1\r\n"),
            Err(SdpParseError::MissingVersion)
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nhello\r\n"),
            Err(SdpParseError::MalformedLine { line_number: 2 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nm=audio x RTP/AVP 0\r\n"),
            Err(SdpParseError::MalformedMedia { line_number: 2 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nm=audio\r\n"),
            Err(SdpParseError::MalformedMedia { line_number: 2 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nc=IN IP4\r\n"),
            Err(SdpParseError::MalformedConnection { line_number: 2 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nc=ATM NSAP x\r\n"),
            Err(SdpParseError::MalformedConnection { line_number: 2 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nm=audio 1 RTP/AVP 96\r\na=rtpmap:96 opus\r\n"),
            Err(SdpParseError::MalformedRtpMap { line_number: 3 })
        );
        assert_eq!(
            SessionDescription::parse("v=0\r\nm=audio 1 RTP/AVP 96\r\na=rtpmap:300 opus/48000\r\n"),
            Err(SdpParseError::MalformedRtpMap { line_number: 3 })
        );
    }

    #[test]
    fn direction_answers_mirror_offers() {
        assert_eq!(Direction::SendOnly.answer(), Direction::ReceiveOnly);
        assert_eq!(Direction::ReceiveOnly.answer(), Direction::SendOnly);
        assert_eq!(Direction::SendReceive.answer(), Direction::SendReceive);
        assert_eq!(Direction::Inactive.answer(), Direction::Inactive);
        assert!(Direction::SendOnly.sends() && !Direction::ReceiveOnly.sends());
        assert!(Direction::ReceiveOnly.receives() && !Direction::SendOnly.receives());
        for direction in [
            Direction::SendReceive,
            Direction::SendOnly,
            Direction::ReceiveOnly,
            Direction::Inactive,
        ] {
            assert_eq!(
                Direction::from_flags(direction.sends(), direction.receives()),
                direction
            );
            assert_eq!(direction.intersect(Direction::SendReceive), direction);
            assert_eq!(
                direction.intersect(Direction::Inactive),
                Direction::Inactive
            );
        }
        assert_eq!(
            Direction::SendOnly.intersect(Direction::ReceiveOnly),
            Direction::Inactive
        );
    }
}
