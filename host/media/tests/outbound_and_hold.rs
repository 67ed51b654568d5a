//! Outbound offers (`create_offer` / `accept_answer`) and hold in both directions (RFC 3264
//! §8.4), against a "phone" made of a UDP socket on 127.0.0.1. Every wait is bounded; "nothing
//! is sent" is checked as "a quiet spell appears", never with tight timing.

use std::net::UdpSocket as StdUdpSocket;
use std::time::Duration;

use callhost_media::rtp::{self, RtpHeader};
use callhost_media::sdp::{Direction, SessionDescription};
use callhost_media::{Codec, MediaConfig, MediaEngine, MediaError, MediaSession};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);
/// A gap this long in a 20 ms stream means sending stopped.
const QUIET: Duration = Duration::from_millis(300);

fn config() -> MediaConfig {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    config
}

fn sdp(port: u16, connection: &str, formats: &str, direction: &str) -> String {
    format!(
        "v=0\r\no=phone 3 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {connection}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\na=rtpmap:96 telephone-event/8000\r\na={direction}\r\n"
    )
}

fn origin_version(text: &str) -> u64 {
    let parsed = SessionDescription::parse(text).expect("valid SDP");
    parsed
        .origin
        .expect("o= line")
        .session_version
        .parse()
        .unwrap()
}

fn media_direction(text: &str) -> Option<Direction> {
    SessionDescription::parse(text).unwrap().media[0].direction
}

async fn phone() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("bind phone")
}

fn port(socket: &UdpSocket) -> u16 {
    socket.local_addr().unwrap().port()
}

async fn receive(socket: &UdpSocket) -> RtpHeader {
    let mut buffer = [0u8; 2048];
    let (length, _) = timeout(WAIT, socket.recv_from(&mut buffer))
        .await
        .expect("RTP within 5 s")
        .unwrap();
    rtp::parse(&buffer[..length]).expect("valid RTP").header
}

/// Sending has stopped: within 5 s, a 300 ms spell passes with no packet.
async fn expect_quiet(socket: &UdpSocket) {
    let mut buffer = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if timeout(QUIET, socket.recv_from(&mut buffer)).await.is_err() {
            return;
        }
    }
    panic!("RTP kept coming");
}

/// An outbound PCMU/PCMA session answered by `phone`.
async fn outbound(engine: &MediaEngine, phone: &UdpSocket, formats: &str) -> MediaSession {
    let (pending, _) = engine.create_offer(None).await.expect("offer");
    pending
        .accept_answer(&sdp(port(phone), "127.0.0.1", formats, "sendrecv"))
        .expect("answer accepted")
}

/// An even port of a one-port range that is free right now.
fn single_port_config() -> MediaConfig {
    let port = (0..100)
        .find_map(|_| {
            let probe = StdUdpSocket::bind("127.0.0.1:0").ok()?;
            let even = probe.local_addr().ok()?.port() & !1;
            drop(probe);
            StdUdpSocket::bind(("127.0.0.1", even)).ok().map(|_| even)
        })
        .expect("a free even port");
    MediaConfig {
        rtp_ports: port..=port + 1,
        ..config()
    }
}

#[tokio::test]
async fn our_offer_lists_our_codecs_and_telephone_event() {
    let engine = MediaEngine::new(config()).unwrap();
    let (pending, offer) = engine.create_offer(None).await.unwrap();
    let parsed = SessionDescription::parse(&offer).expect("our offer parses");
    let media = &parsed.media[0];
    assert_eq!(parsed.media.len(), 1);
    assert_eq!(
        (media.port, media.protocol.as_str()),
        (pending.local_port(), "RTP/AVP")
    );
    assert_eq!(media.formats, vec!["0", "8", "101"], "configured order");
    assert_eq!(media.fmtps, vec![("101".to_owned(), "0-16".to_owned())]);
    assert_eq!(
        media
            .rtpmap(101)
            .map(|map| (map.encoding.as_str(), map.clock_rate)),
        Some(("telephone-event", 8000))
    );
    assert_eq!(
        (media.ptime, media.direction),
        (Some(20), Some(Direction::SendReceive))
    );
    assert!(offer.contains("c=IN IP4 127.0.0.1\r\n"));
    assert_eq!(pending.local_address().port(), pending.local_port());

    let (_, pcma_first) = engine
        .create_offer(Some(&[Codec::Pcma, Codec::Pcmu]))
        .await
        .unwrap();
    assert!(pcma_first.contains("RTP/AVP 8 0 101\r\n"), "{pcma_first}");
    assert!(matches!(
        engine.create_offer(Some(&[])).await,
        Err(MediaError::NoCodecs)
    ));
    let names: Vec<Codec> = ["pcma", "G711U"]
        .iter()
        .filter_map(|name| Codec::from_name(name))
        .collect();
    let (_, named) = engine.create_offer(Some(&names)).await.unwrap();
    assert!(named.contains("RTP/AVP 8 0 101\r\n"), "{named}");
}

#[tokio::test]
async fn the_answer_decides_codec_event_type_and_destination() {
    let engine = MediaEngine::new(config()).unwrap();
    let phone = phone().await;
    let session = outbound(&engine, &phone, "8 96").await;
    assert_eq!(session.codec(), Codec::Pcma);
    assert!(session.telephone_event_negotiated());
    session.start_sending();
    let first = receive(&phone).await;
    assert_eq!(first.payload_type, 8);
    session.send_dtmf("4").unwrap();
    let mut saw_event = false;
    for _ in 0..100 {
        let header = receive(&phone).await;
        assert_eq!(header.ssrc, first.ssrc);
        if header.payload_type == 96 {
            saw_event = true;
            break;
        }
        assert_eq!(header.payload_type, 8);
    }
    assert!(saw_event, "DTMF goes out with the answer's payload type 96");
}

#[tokio::test]
async fn answers_we_cannot_use_fail_and_free_the_port() {
    let engine = MediaEngine::new(single_port_config()).unwrap();
    let (pending, _) = engine.create_offer(Some(&[Codec::Pcmu])).await.unwrap();
    let busy = engine.create_offer(None).await.unwrap_err();
    assert!(matches!(busy, MediaError::NoFreePort { .. }), "{busy}");
    let error = pending
        .accept_answer(&sdp(5004, "127.0.0.1", "8", "sendrecv"))
        .unwrap_err();
    assert!(error.is_not_acceptable(), "PCMA was not offered: {error}");

    let (pending, _) = engine
        .create_offer(None)
        .await
        .expect("port freed by the failed answer");
    let rejected = pending
        .accept_answer(&sdp(0, "127.0.0.1", "0", "sendrecv"))
        .unwrap_err();
    assert!(rejected.is_not_acceptable(), "{rejected}");
    let (pending, _) = engine.create_offer(None).await.expect("port freed again");
    assert!(matches!(
        pending.accept_answer("not SDP"),
        Err(MediaError::InvalidSdp(_))
    ));
    let (pending, _) = engine.create_offer(None).await.expect("port freed again");
    drop(pending);
    engine
        .create_offer(None)
        .await
        .expect("dropping frees the port");
}

#[tokio::test]
async fn the_peer_holding_us_pauses_and_resumes_our_stream() {
    let engine = MediaEngine::new(config()).unwrap();
    let phone = phone().await;
    let (session, answer) = engine
        .accept_offer(&sdp(port(&phone), "127.0.0.1", "0 96", "sendrecv"))
        .await
        .unwrap();
    session.start_sending();
    let before = receive(&phone).await;
    assert!(!session.is_on_hold());
    let mut version = origin_version(&answer);

    for (connection, offered, answered) in [
        ("127.0.0.1", "sendonly", Direction::ReceiveOnly),
        ("127.0.0.1", "inactive", Direction::Inactive),
        ("0.0.0.0", "sendrecv", Direction::SendReceive),
    ] {
        let hold = session
            .update_offer(&sdp(port(&phone), connection, "0 96", offered))
            .unwrap();
        version += 1;
        assert_eq!(origin_version(&hold), version);
        assert_eq!(
            media_direction(&hold),
            Some(answered),
            "{connection} {offered}"
        );
        assert!(session.is_on_hold(), "{connection} {offered}");
        expect_quiet(&phone).await;

        let resume = session
            .update_offer(&sdp(port(&phone), "127.0.0.1", "0 96", "sendrecv"))
            .unwrap();
        version += 1;
        assert_eq!(media_direction(&resume), Some(Direction::SendReceive));
        assert!(!session.is_on_hold());
        let after = receive(&phone).await;
        assert_eq!(after.ssrc, before.ssrc, "the same stream resumes");
        assert!(after.marker, "a new talkspurt after hold");
        // Drain what queued up so the next round starts clean.
        let mut buffer = [0u8; 2048];
        while phone.try_recv_from(&mut buffer).is_ok() {}
    }
}

#[tokio::test]
async fn holding_the_peer_with_a_reoffer() {
    let engine = MediaEngine::new(config()).unwrap();
    let phone = phone().await;
    let (pending, offer) = engine.create_offer(None).await.unwrap();
    let session = pending
        .accept_answer(&sdp(port(&phone), "127.0.0.1", "0 96", "sendrecv"))
        .unwrap();
    session.start_sending();
    receive(&phone).await;
    assert!(matches!(
        session.accept_reanswer(&sdp(port(&phone), "127.0.0.1", "0", "recvonly")),
        Err(MediaError::NoPendingOffer)
    ));

    let hold = session.hold_offer(true);
    assert_eq!(origin_version(&hold), origin_version(&offer) + 1);
    assert_eq!(media_direction(&hold), Some(Direction::SendOnly));
    assert!(hold.contains(&format!(
        "m=audio {} RTP/AVP 0 101\r\n",
        session.local_port()
    )));
    session
        .accept_reanswer(&sdp(port(&phone), "127.0.0.1", "0 96", "recvonly"))
        .unwrap();
    assert!(session.is_holding() && !session.is_on_hold());
    // sendonly/recvonly: we may still send (music on hold is the application's choice).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut buffer = [0u8; 2048];
    while phone.try_recv_from(&mut buffer).is_ok() {}
    receive(&phone).await;

    // An inactive answer to a hold pauses our sending.
    session.hold_offer(true);
    session
        .accept_reanswer(&sdp(port(&phone), "127.0.0.1", "0 96", "inactive"))
        .unwrap();
    expect_quiet(&phone).await;

    let resume = session.hold_offer(false);
    assert_eq!(origin_version(&resume), origin_version(&offer) + 3);
    assert_eq!(media_direction(&resume), Some(Direction::SendReceive));
    session
        .accept_reanswer(&sdp(port(&phone), "127.0.0.1", "0 96", "sendrecv"))
        .unwrap();
    assert!(!session.is_holding());
    assert!(receive(&phone).await.marker, "sending resumed");
}
