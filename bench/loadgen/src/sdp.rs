//! SDP for the load generator: the caller's offer and the one thing it needs from the
//! answer, the address the host's RTP should be sent to.
//!
//! Sans-IO; uses [`crate::rtp`] for payload-type numbers only. RFC 4566 sections 5.7 (c=), 5.14 (m=); RFC 3264 section 6 (an answer
//! with port 0 rejects the stream); RFC 4733 for the telephone-event line.

use std::net::{IpAddr, SocketAddr};

use crate::rtp::PAYLOAD_TYPE_TELEPHONE_EVENT as EVENT;

/// The offer: PCMU (pt 0) and telephone-event (pt 101), sendrecv, on `rtp_address`.
/// `session_id` only has to be unique per call (RFC 4566 section 5.2).
pub fn offer(rtp_address: SocketAddr, session_id: u64) -> String {
    let family = if rtp_address.is_ipv4() { "IP4" } else { "IP6" };
    let ip = rtp_address.ip();
    format!(
        "v=0\r\no=loadgen {session_id} 1 IN {family} {ip}\r\ns=callhost-loadgen\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 {EVENT}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{EVENT} telephone-event/8000\r\n\
         a=fmtp:{EVENT} 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
        port = rtp_address.port(),
    )
}

/// What the answer says about the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioAnswer {
    /// Send RTP here.
    Address(SocketAddr),
    /// The answerer rejected audio (port 0).
    Rejected,
    /// No usable audio m= line or connection address.
    Missing,
}

/// Reads the first audio m= line's port and its connection address (media-level c= wins
/// over session-level c=).
pub fn audio_answer(sdp: &str) -> AudioAnswer {
    let mut session_address: Option<IpAddr> = None;
    let mut audio_port: Option<u16> = None;
    let mut media_address: Option<IpAddr> = None;
    // Which section the current line belongs to: session, the first audio m=, or another m=.
    let mut in_audio = false;
    let mut seen_media = false;
    for line in sdp.lines() {
        let line = line.trim();
        if let Some(media) = line.strip_prefix("m=") {
            let mut fields = media.split_whitespace();
            let is_audio = fields.next() == Some("audio");
            in_audio = is_audio && audio_port.is_none();
            seen_media = true;
            if in_audio {
                audio_port = fields
                    .next()
                    .and_then(|port| port.split('/').next()?.parse().ok());
                if audio_port.is_none() {
                    return AudioAnswer::Missing;
                }
            }
        } else if let Some(connection) = line.strip_prefix("c=") {
            let address = connection
                .split_whitespace()
                .nth(2)
                .and_then(|address| address.split('/').next()?.parse().ok());
            if !seen_media {
                session_address = address;
            } else if in_audio {
                media_address = address;
            }
        }
    }
    match (audio_port, media_address.or(session_address)) {
        (Some(0), _) => AudioAnswer::Rejected,
        (Some(port), Some(ip)) => AudioAnswer::Address(SocketAddr::new(ip, port)),
        _ => AudioAnswer::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_names_both_payload_types_and_the_port() {
        let offer = offer("127.0.0.1:30000".parse().unwrap(), 7);
        assert!(offer.contains("c=IN IP4 127.0.0.1\r\n"));
        assert!(offer.contains("m=audio 30000 RTP/AVP 0 101\r\n"));
        assert!(offer.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        assert_eq!(
            audio_answer(&offer),
            AudioAnswer::Address("127.0.0.1:30000".parse().unwrap())
        );
    }

    #[test]
    fn media_level_connection_overrides_session_level() {
        let answer = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\n\
                      m=audio 6000 RTP/AVP 0\r\nc=IN IP4 127.0.0.2\r\n";
        assert_eq!(
            audio_answer(answer),
            AudioAnswer::Address("127.0.0.2:6000".parse().unwrap())
        );
        let session_only = "v=0\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\n";
        assert_eq!(
            audio_answer(session_only),
            AudioAnswer::Address("127.0.0.3:6002".parse().unwrap())
        );
    }

    #[test]
    fn rejected_and_missing_audio() {
        assert_eq!(
            audio_answer("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n"),
            AudioAnswer::Rejected
        );
        assert_eq!(
            audio_answer("v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            AudioAnswer::Missing
        );
        assert_eq!(audio_answer(""), AudioAnswer::Missing);
    }
}
