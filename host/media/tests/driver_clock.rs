//! The driver's frame clock under tokio's paused virtual time: exact frame counts prove
//! absolute deadlines (no drift) and the bounded burst after a late wake-up, with no
//! dependence on machine load. Sockets are real (127.0.0.1); the phone never reads.

use std::time::Duration;

use callhost_media::driver::MAX_BURST_FRAMES;
use callhost_media::{MediaConfig, MediaEngine, MediaSession};
use tokio::net::UdpSocket;

async fn answered_call() -> (MediaSession, UdpSocket) {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    let engine = MediaEngine::new(config).unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = phone.local_addr().unwrap().port();
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
    );
    let (session, _) = engine.accept_offer(&offer).await.unwrap();
    session.start_sending();
    (session, phone)
}

#[tokio::test(start_paused = true)]
async fn ten_minutes_of_frames_are_exactly_30001_packets() {
    let (session, _phone) = answered_call().await;
    // Frames are due at 0, 20 ms, …, 600 s: 30 001 of them; the extra 10 ms avoids a tie.
    tokio::time::sleep(Duration::from_secs(600) + Duration::from_millis(10)).await;
    let stats = session.stats();
    assert_eq!(stats.packets_sent, 30_001);
    assert_eq!(stats.frames_skipped, 0);
}

#[tokio::test(start_paused = true)]
async fn a_late_wake_up_sends_a_short_burst_and_skips_the_rest() {
    let (session, _phone) = answered_call().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        session.stats().packets_sent,
        1,
        "the first frame goes out at once"
    );
    // Jump 200 ms in one step, as if the task had been starved: frames 1..=10 are overdue.
    tokio::time::advance(Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    let stats = session.stats();
    assert_eq!(stats.packets_sent, 1 + MAX_BURST_FRAMES);
    assert_eq!(stats.frames_skipped, 10 - MAX_BURST_FRAMES);
    // Back on schedule afterwards: at 410 ms frames 0..=20 are all accounted for.
    tokio::time::sleep(Duration::from_millis(199)).await;
    let stats = session.stats();
    assert_eq!(stats.packets_sent + stats.frames_skipped, 21);
}
