//! Entry points for the fuzz targets in `fuzz/` and their replay tests
//! (`tests/fuzz_regressions.rs`). Compiled only with the `fuzzing` feature and
//! hidden from the docs: this is not API for the server.
//!
//! What lives here, one function per fuzz target, each running untrusted
//! bytes through the pure steps the host runs on them:
//! - [`sdp`]: a received offer or answer (RFC 4566 parse, RFC 3264 §6 answer
//!   and §6.1 answer processing);
//! - [`rtp`]: a datagram on the RTP port (RFC 3550 §5.1 header, RFC 4733
//!   event blocks, RFC 3550 §6.1 compound RTCP demultiplexed per RFC 5761 §4);
//! - [`media_session`]: a sequence of datagrams and frame ticks through a
//!   sans-IO [`SessionCore`] (latching, jitter buffer, decoders, digits);
//! - [`wav`]: a prompt file an app supplies, plain and AES-CBC encrypted.
//!
//! Each panics (the fuzzer's crash signal) only where the code breaks a
//! contract of its own: our answer must parse, a compound RTCP packet we
//! re-write must parse again, encryption must round-trip.
//!
//! Depends on this crate's public modules only; nothing depends on it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::cipher::AesCbcCipher;
use crate::codec::Codec;
use crate::prompt::Prompt;
use crate::sdp::{
    AnswerOrigin, Direction, LocalOffer, Negotiated, SessionDescription, build_answer, negotiate,
    negotiate_answer,
};
use crate::session::{MediaCounters, SessionCore, StreamOrigin};
use crate::telephone_event::{TelephoneEventReceiver, event_blocks, event_to_digit};
use crate::{rtcp, wav};

/// Our socket addresses of both families: the peer's SDP must match one.
const LOCAL_IPS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// Most operations [`media_session`] runs for one input, so every input is
/// bounded in time whatever its length.
pub const MOST_SESSION_OPERATIONS: usize = 256;

/// A received SDP body (as the SIP layer hands it over: lossy UTF-8) read as
/// an offer we answer and as the answer to our own offer.
///
/// Panics when the answer we build for a parsed offer does not parse.
pub fn sdp(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let Ok(description) = SessionDescription::parse(&text) else {
        return;
    };
    let preference_orders: [&[Codec]; 3] = [
        &Codec::ALL,
        &[Codec::Opus, Codec::G722, Codec::Pcma, Codec::Pcmu],
        &[Codec::Pcma],
    ];
    let origin = AnswerOrigin {
        session_id: 1,
        session_version: 1,
    };
    for local_ip in LOCAL_IPS {
        for preferences in preference_orders {
            if let Ok(negotiated) = negotiate(&description, preferences, local_ip) {
                let _ = negotiated.may_send();
                let answer = build_answer(&description, &negotiated, origin, local_ip, 30_000);
                if let Err(error) = SessionDescription::parse(&answer) {
                    panic!("our answer does not parse ({error}):\n{answer}");
                }
            }
        }
        // The same body as the answer to an offer of ours (outbound calls, re-offers).
        let offers = [
            LocalOffer::initial(&Codec::ALL),
            LocalOffer::initial(&[Codec::Pcmu]),
        ];
        for offer in offers.into_iter().flatten() {
            let _ = negotiate_answer(&offer, &description, local_ip);
        }
    }
}

/// One datagram received on the RTP port: RTP header, telephone-event
/// blocks, and (the same bytes) as compound RTCP.
///
/// Panics when a parsed compound RTCP packet, written back, does not parse.
pub fn rtp(bytes: &[u8]) {
    if let Ok(packet) = crate::rtp::parse(bytes) {
        for block in event_blocks(packet.payload) {
            let _ = event_to_digit(block.event);
            let _ = block.to_bytes();
        }
        let mut receiver = TelephoneEventReceiver::new();
        // Twice: the second time is a retransmission (RFC 4733 §2.5.1.4).
        for _ in 0..2 {
            receiver.on_packet(&packet.header, packet.payload, &mut |_| {});
        }
        let _ = packet.header.to_bytes();
    }
    let _ = rtcp::is_rtcp(bytes);
    if let Ok(packets) = rtcp::parse_compound(bytes) {
        let mut written = Vec::new();
        rtcp::write_compound(&packets, &mut written);
        if !packets.is_empty() {
            let reparsed = rtcp::parse_compound(&written);
            assert!(
                reparsed.is_ok(),
                "re-written RTCP does not parse: {reparsed:?}\n{packets:?}"
            );
        }
    }
}

/// Read a little-endian length-prefixed record: `[operation][length: u16][data]`.
fn next_record(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&operation, rest) = input.split_first()?;
    let length = match rest {
        [low, high, ..] => usize::from(u16::from_le_bytes([*low, *high])),
        _ => return None,
    };
    let rest = &rest[2..];
    let data = &rest[..length.min(rest.len())];
    Some((operation, data, &rest[data.len()..]))
}

/// A call's receive path driven by `bytes`: the first byte picks the codec
/// and options, then records `[operation][length: u16 LE][data]` each
/// deliver a datagram (from the signalled peer or elsewhere, on the RTP or
/// RTCP port), tick the 20 ms frame clock, or switch sending, decoding and
/// bridging on. At most [`MOST_SESSION_OPERATIONS`] records are run.
pub fn media_session(bytes: &[u8]) {
    let Some((&setup, mut input)) = bytes.split_first() else {
        return;
    };
    let codec = Codec::ALL[usize::from(setup & 0x03)];
    let peer = SocketAddr::from(([192, 0, 2, 1], 4000));
    let stranger = SocketAddr::from(([198, 51, 100, 7], 5000));
    let negotiated = Negotiated {
        media_index: 0,
        remote: peer,
        codec,
        codec_payload_type: codec.default_payload_type(),
        telephone_event_payload_type: (setup & 0x04 != 0).then_some(101),
        local_telephone_event_payload_type: (setup & 0x04 != 0).then_some(96),
        direction: Direction::SendReceive,
        remote_ptime: None,
        remote_rtcp: None,
    };
    let origin = StreamOrigin {
        ssrc: 0x1234_5678,
        sequence_number: 1,
        timestamp: 0,
    };
    let mut session = SessionCore::new(
        negotiated,
        setup & 0x08 != 0,
        origin,
        Arc::new(MediaCounters::default()),
    );
    let mut elapsed = Duration::ZERO;
    for _ in 0..MOST_SESSION_OPERATIONS {
        let Some((operation, data, rest)) = next_record(input) else {
            break;
        };
        input = rest;
        match operation % 8 {
            0 => session.on_datagram(peer, data),
            1 => session.on_datagram(stranger, data),
            2 => session.on_datagram_at(elapsed, peer, data),
            3 => session.on_rtcp_at(elapsed, peer, data),
            4 => {
                let ticks = data.first().map_or(1, |&n| usize::from(n % 8) + 1);
                for _ in 0..ticks {
                    elapsed += Duration::from_millis(20);
                    let _ = session.on_frame();
                    while session.poll_decoded_frame().is_some() {}
                }
            }
            5 => session.start_sending(),
            6 => session.set_decoding(data.first().is_none_or(|&b| b & 1 == 1)),
            _ => {
                if session.is_bridged() {
                    session.disconnect_bridge();
                } else {
                    session.connect_bridge();
                }
            }
        }
        while session.poll_event().is_some() {}
        while session.poll_recording_output().is_some() {}
    }
    let _ = session.destination();
}

/// A prompt file an app supplies: the WAV parse and both decoders, then the
/// same bytes through the encrypted-prompt path (AES-CBC as `openssl enc`
/// writes it) — as ciphertext, and encrypted then decrypted.
///
/// Panics when encryption does not round-trip.
pub fn wav(bytes: &[u8]) {
    // `decode_mono` parses first; the prompt path decodes and resamples.
    let _ = wav::decode_mono(bytes);
    let _ = Prompt::from_wav_bytes(bytes).map(|prompt| prompt.duration());
    let cipher = AesCbcCipher::from_hex(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
    )
    .expect("a valid key and vector");
    // Untrusted ciphertext: a wrong key or a cut file.
    if let Ok(plain) = cipher.decrypt(bytes) {
        let _ = Prompt::from_wav_bytes(&plain);
    }
    let _ = wav::parse(&cipher.decrypt_unpadded(bytes));
    // An encrypted prompt whose plaintext is these bytes.
    let encrypted = cipher.encrypt(bytes);
    let decrypted = cipher
        .decrypt(&encrypted)
        .expect("what we encrypted decrypts");
    assert_eq!(decrypted, bytes, "AES-CBC must round-trip");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_cut_at_the_end_of_the_input() {
        assert_eq!(next_record(&[]), None);
        assert_eq!(next_record(&[4, 1]), None);
        assert_eq!(
            next_record(&[4, 2, 0, 9, 8, 7]),
            Some((4, &[9u8, 8][..], &[7u8][..]))
        );
        // A length past the end takes what is there.
        assert_eq!(
            next_record(&[0, 0xFF, 0xFF, 1, 2]),
            Some((0, &[1u8, 2][..], &[][..]))
        );
    }
}
