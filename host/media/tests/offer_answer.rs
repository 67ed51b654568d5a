//! Engine-level tests: offer errors, re-offers, port lifetime, prompt loading, configuration.
//! Real sockets on 127.0.0.1 only; every wait is bounded.

use std::net::UdpSocket as StdUdpSocket;
use std::time::Duration;

use callhost_media::rtp;
use callhost_media::sdp::SessionDescription;
use callhost_media::{Codec, MediaConfig, MediaEngine, MediaError, MediaEvent};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn config() -> MediaConfig {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    config
}

fn offer(port: u16, formats: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=phone 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\na=rtpmap:96 telephone-event/8000\r\n{extra}"
    )
}

fn origin_version(answer: &str) -> u64 {
    let origin = answer
        .lines()
        .find(|line| line.starts_with("o="))
        .expect("o= line");
    origin.split_whitespace().nth(2).unwrap().parse().unwrap()
}

async fn receive_rtp(socket: &UdpSocket) -> rtp::RtpHeader {
    let mut buffer = [0u8; 2048];
    let (length, _) = timeout(WAIT, socket.recv_from(&mut buffer))
        .await
        .expect("RTP within 5 s")
        .unwrap();
    rtp::parse(&buffer[..length]).expect("valid RTP").header
}

#[tokio::test]
async fn unacceptable_and_malformed_offers_are_distinguished() {
    let engine = MediaEngine::new(config()).unwrap();
    let g729 = engine
        .accept_offer(&offer(5004, "18", ""))
        .await
        .unwrap_err();
    assert!(g729.is_not_acceptable(), "{g729}");
    let video = engine
        .accept_offer("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 31\r\n")
        .await
        .unwrap_err();
    assert!(video.is_not_acceptable());
    let garbage = engine.accept_offer("this is not SDP").await.unwrap_err();
    assert!(matches!(garbage, MediaError::InvalidSdp(_)) && !garbage.is_not_acceptable());
}

#[tokio::test]
async fn the_answer_keeps_the_offer_m_line_count_and_echoes_the_event_type() {
    let engine = MediaEngine::new(config()).unwrap();
    let sdp = format!("{}m=video 5006 RTP/AVP 31\r\n", offer(5004, "8 0 96", ""));
    let (session, answer) = engine.accept_offer(&sdp).await.unwrap();
    let parsed = SessionDescription::parse(&answer).unwrap();
    assert_eq!(parsed.media.len(), 2);
    assert_eq!(
        parsed.media[0].formats,
        vec!["0", "96"],
        "PCMU first in our order, PT 96 echoed"
    );
    assert_eq!(
        parsed.media[0].fmtps,
        vec![("96".to_owned(), "0-15".to_owned())]
    );
    assert_eq!(parsed.media[1].port, 0);
    assert_eq!(session.codec(), Codec::Pcmu);
    assert!(answer.contains("\r\ns=-\r\n") && answer.contains("\r\nt=0 0\r\n"));
}

#[tokio::test]
async fn reoffers_bump_the_version_and_move_media_without_breaking_the_stream() {
    let engine = MediaEngine::new(config()).unwrap();
    let first_phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let second_phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, answer) = engine
        .accept_offer(&offer(first_phone.local_addr().unwrap().port(), "0 96", ""))
        .await
        .unwrap();
    let version = origin_version(&answer);
    session.start_sending();
    let before = receive_rtp(&first_phone).await;
    assert_eq!(before.payload_type, 0);

    // Re-INVITE: new address, PCMA only.
    let reoffer = offer(second_phone.local_addr().unwrap().port(), "8", "");
    let reanswer = session.update_offer(&reoffer).unwrap();
    assert_eq!(origin_version(&reanswer), version + 1);
    assert!(
        reanswer.contains(&format!("m=audio {} RTP/AVP 8\r\n", session.local_port())),
        "{reanswer}"
    );
    assert_eq!(session.codec(), Codec::Pcma);
    assert!(!session.telephone_event_negotiated());
    let after = receive_rtp(&second_phone).await;
    assert_eq!(after.payload_type, 8);
    assert_eq!(after.ssrc, before.ssrc);
    assert!(
        after.sequence_number.wrapping_sub(before.sequence_number) < 500,
        "sequence continues"
    );

    // A failed re-offer changes nothing and does not consume a version.
    assert!(
        session
            .update_offer(&offer(5004, "18", ""))
            .unwrap_err()
            .is_not_acceptable()
    );
    let hold = session
        .update_offer(&offer(
            second_phone.local_addr().unwrap().port(),
            "8",
            "a=sendonly\r\n",
        ))
        .unwrap();
    assert_eq!(origin_version(&hold), version + 2);
    assert!(hold.contains("a=recvonly\r\n"));
    assert_eq!(session.codec(), Codec::Pcma);
    // Drain, then check nothing more arrives while on hold.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buffer = [0u8; 2048];
    while second_phone.try_recv_from(&mut buffer).is_ok() {}
    assert!(
        timeout(
            Duration::from_millis(200),
            second_phone.recv_from(&mut buffer)
        )
        .await
        .is_err(),
        "no RTP while held"
    );
}

#[tokio::test]
async fn ports_are_freed_when_the_session_drops() {
    // A range with exactly one even port that is free right now.
    let port = (0..100)
        .find_map(|_| {
            let probe = StdUdpSocket::bind("127.0.0.1:0").ok()?;
            let even = probe.local_addr().ok()?.port() & !1;
            drop(probe);
            StdUdpSocket::bind(("127.0.0.1", even)).ok().map(|_| even)
        })
        .expect("a free even port");
    let mut config = config();
    config.rtp_ports = port..=port + 1;
    let engine = MediaEngine::new(config).unwrap();
    let (session, _) = engine.accept_offer(&offer(5004, "0", "")).await.unwrap();
    assert_eq!(session.local_port(), port);
    let busy = engine
        .accept_offer(&offer(5004, "0", ""))
        .await
        .unwrap_err();
    assert!(matches!(busy, MediaError::NoFreePort { .. }), "{busy}");
    drop(session);
    // The driver task releases the port as it ends; give it a bounded moment.
    let mut reopened = None;
    for _ in 0..100 {
        if let Ok((session, _)) = engine.accept_offer(&offer(5004, "0", "")).await {
            reopened = Some(session);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reopened.expect("port freed after drop").local_port(), port);
}

#[tokio::test]
async fn engine_prompts_are_loaded_once_and_play_to_completion() {
    let engine = MediaEngine::new(config()).unwrap();
    let dir = std::env::temp_dir().join(format!("callhost-media-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("beep.wav");
    // 16 kHz mono 16-bit, 0.1 s: becomes 800 samples at 8 kHz.
    let data: Vec<u8> = (0..1600)
        .flat_map(|n: i32| (((n % 32) - 16) as i16 * 500).to_le_bytes())
        .collect();
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(&path, wav).unwrap();
    let prompt = engine.load_prompt(&path).unwrap();
    assert_eq!(prompt.samples().len(), 800);
    assert!(
        std::sync::Arc::ptr_eq(&prompt, &engine.clone().load_prompt(&path).unwrap()),
        "clones share the cache"
    );
    assert!(matches!(
        engine.load_prompt(&dir.join("nope.wav")),
        Err(MediaError::Prompt(_))
    ));

    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (mut session, _) = engine
        .accept_offer(&offer(phone.local_addr().unwrap().port(), "0", ""))
        .await
        .unwrap();
    session.start_sending();
    let id = session.play(prompt);
    let event = timeout(WAIT, session.next_event()).await.unwrap();
    assert_eq!(
        event,
        Some(MediaEvent::PlayFinished {
            id,
            completed: true
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_errors_are_reported() {
    let mut no_codecs = config();
    no_codecs.codecs.clear();
    assert!(matches!(
        MediaEngine::new(no_codecs),
        Err(MediaError::NoCodecs)
    ));
    let wildcard = MediaConfig::new("0.0.0.0".parse().unwrap());
    assert!(matches!(
        MediaEngine::new(wildcard.clone()),
        Err(MediaError::NoAdvertisedAddress { .. })
    ));
    assert!(
        MediaEngine::new(MediaConfig {
            advertised_ip: Some("192.0.2.1".parse().unwrap()),
            ..wildcard
        })
        .is_ok()
    );
    let odd = MediaConfig {
        rtp_ports: 7..=7,
        ..config()
    };
    assert!(matches!(
        MediaEngine::new(odd),
        Err(MediaError::InvalidPortRange { start: 7, end: 7 })
    ));
}
