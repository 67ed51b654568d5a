//! Tones through a real media session to a UDP "phone" on 127.0.0.1: a
//! limited tone ends by itself (`PlayFinished` completed) after exactly its
//! samples, an endless ringback plays until stopped, and what arrives decodes
//! to the tone's frequency.

use std::sync::Arc;
use std::time::Duration;

use callhost_media::tone::{ToneSegment, ToneSequence, ringback_eu};
use callhost_media::{MediaConfig, MediaEngine, MediaEvent, MediaSession, g711, rtp};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn call() -> (MediaSession, UdpSocket) {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 49_000..=49_999;
    let engine = MediaEngine::new(config).expect("valid config");
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind phone");
    let port = phone.local_addr().unwrap().port();
    let offer = format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=sendrecv\r\n"
    );
    let (session, _answer) = engine.accept_offer(&offer).await.expect("offer accepted");
    (session, phone)
}

/// The decoded audio of the next `count` packets.
async fn receive_audio(phone: &UdpSocket, count: usize) -> Vec<i16> {
    let mut audio = Vec::new();
    let mut buffer = [0u8; 2048];
    for _ in 0..count {
        let (length, _) = timeout(WAIT, phone.recv_from(&mut buffer))
            .await
            .expect("RTP within 5 s")
            .unwrap();
        let packet = rtp::parse(&buffer[..length]).expect("valid RTP");
        audio.extend(
            packet
                .payload
                .iter()
                .map(|&code| g711::ulaw_to_linear(code)),
        );
    }
    audio
}

fn power(samples: &[i16], frequency: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / 8000.0).cos();
    let (mut previous, mut before) = (0.0f64, 0.0f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    previous * previous + before * before - coefficient * previous * before
}

#[tokio::test]
async fn a_limited_tone_plays_its_samples_then_finishes() {
    let (mut session, phone) = call().await;
    session.start_sending();
    // 1 kHz once for 100 ms, then silence.
    let tone = ToneSequence::new(vec![ToneSegment::single(1000, -10.0, 100)], false).unwrap();
    let id = session.play_tone(Arc::new(tone), None);
    let audio = receive_audio(&phone, 10).await;
    let event = timeout(WAIT, session.next_event()).await.expect("event");
    assert_eq!(
        event,
        Some(MediaEvent::PlayFinished {
            id,
            completed: true
        })
    );
    // Packets sent before the play command arrived are silence: find the tone.
    let start = audio
        .iter()
        .position(|&s| s != 0)
        .expect("the tone was sent");
    let sounding = &audio[start..];
    assert!(sounding.len() >= 700, "{} samples of tone", sounding.len());
    assert!(power(&sounding[..640], 1000.0) > 1000.0 * power(&sounding[..640], 425.0));
}

#[tokio::test]
async fn a_ringback_plays_until_stopped() {
    let (mut session, phone) = call().await;
    session.start_sending();
    let id = session.play_tone(Arc::new(ringback_eu()), None);
    // 1.5 s: the 1 s burst and part of the gap; it does not end by itself.
    let audio = receive_audio(&phone, 75).await;
    assert!(
        timeout(Duration::from_millis(100), session.next_event())
            .await
            .is_err(),
        "no event while the ringback repeats"
    );
    let start = audio
        .iter()
        .position(|&s| s != 0)
        .expect("the tone was sent");
    let burst = &audio[start..start + 6400];
    assert!(power(burst, 425.0) > 1000.0 * power(burst, 1000.0));
    // The gap after 1 s of tone is silent.
    assert!(
        audio[start + 8100..start + 9600]
            .iter()
            .all(|&s| s.unsigned_abs() <= 8)
    );
    session.stop_playing();
    let event = timeout(WAIT, session.next_event()).await.expect("event");
    assert_eq!(
        event,
        Some(MediaEvent::PlayFinished {
            id,
            completed: false
        })
    );
}
