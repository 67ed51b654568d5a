//! End-to-end tests on 127.0.0.1 for RTCP and the jitter buffer: two real sessions report to
//! each other (SR/RR, loss, round trip, BYE), and a plain-UDP "phone" sending jittery,
//! reordered RTP is heard in order in a recording of the session's received audio.
//!
//! Waits are bounded loops with generous deadlines (a loaded 2-core machine); no assertion
//! depends on tight timing.

use std::time::Duration;

use callhost_media::recorder::file::RecordingFile;
use callhost_media::recorder::{
    RecordFormat, RecordedAudio, RecordingCause, RecordingLimits, RecordingSlot,
};
use callhost_media::rtp::{self, RtpHeader};
use callhost_media::{MediaConfig, MediaEngine, MediaEvent, MediaSession, MediaStats};
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep, sleep_until, timeout};

const WAIT: Duration = Duration::from_secs(5);

fn engine() -> MediaEngine {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 21_000..=22_999;
    MediaEngine::new(config).expect("valid config")
}

/// Poll `session`'s stats until `done` holds (at most `limit`).
async fn wait_for_stats(
    session: &MediaSession,
    limit: Duration,
    done: impl Fn(&MediaStats) -> bool,
) -> MediaStats {
    let deadline = Instant::now() + limit;
    loop {
        let stats = session.stats();
        if done(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "not reached in {limit:?}: {stats:?}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_report_no_loss_and_a_round_trip_to_each_other() {
    let engine = engine();
    let (pending, offer) = engine.create_offer(None).await.expect("offer");
    let (answerer, answer) = engine.accept_offer(&offer).await.expect("answer");
    let offerer = pending.accept_answer(&answer).expect("session");
    offerer.start_sending();
    answerer.start_sending();
    // First reports after 0.5-1.5 s, the next 2.5-7.5 s later: the round trip needs the
    // peer's report about one of our SRs, so allow up to 20 s.
    let has_round_trip = |stats: &MediaStats| {
        stats
            .remote
            .is_some_and(|remote| remote.round_trip_micros.is_some())
    };
    for session in [&offerer, &answerer] {
        let stats = wait_for_stats(session, Duration::from_secs(20), has_round_trip).await;
        let remote = stats.remote.expect("a report about our stream");
        assert_eq!(remote.packets_lost, 0, "{stats:?}");
        assert_eq!(remote.fraction_lost, 0, "{stats:?}");
        let round_trip = remote.round_trip_micros.expect("round trip");
        assert!(
            round_trip < 1_000_000,
            "loopback round trip {round_trip} µs"
        );
        assert!(stats.rtcp_packets_sent >= 1, "{stats:?}");
        assert!(stats.rtcp_packets_received >= 1, "{stats:?}");
        assert_eq!(stats.invalid_packets_received, 0, "{stats:?}");
        assert!(stats.packets_received > 10, "{stats:?}");
        assert_eq!(stats.packets_lost, 0, "{stats:?}");
        assert!(stats.playout_delay_micros >= 20_000, "{stats:?}");
    }
    // Ending one session sends a BYE the other receives.
    let before = answerer.stats().rtcp_packets_received;
    drop(offerer);
    wait_for_stats(&answerer, Duration::from_secs(5), |stats| {
        stats.rtcp_packets_received > before
    })
    .await;
}

/// μ-law code carried by every byte of packet `index` (loud, never silence).
fn code(index: u16) -> u8 {
    0x10 + index as u8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jittery_reordered_rtp_is_recorded_in_order() {
    const PACKETS: u16 = 60;
    let engine = engine();
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind phone");
    let phone_port = phone.local_addr().unwrap().port();
    let offer = format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {phone_port} RTP/AVP 0\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    let (mut session, _answer) = engine.accept_offer(&offer).await.expect("answer");
    session.start_sending();
    let path = std::env::temp_dir().join(format!(
        "callhost-jitter-{}-{}.wav",
        std::process::id(),
        session.local_port()
    ));
    let file = RecordingFile::create(&path, RecordFormat::Mulaw, 1).expect("create recording");
    let id = session
        .start_recording(
            RecordingSlot::File,
            file,
            RecordFormat::Mulaw,
            RecordedAudio::Received,
            RecordingLimits::default(),
        )
        .expect("recording");

    // Packet n is due at n × 20 ms plus 0-15 ms of jitter; every fifth pair is swapped
    // (packet n + 1 leaves 1 ms before packet n).
    let mut schedule: Vec<(Duration, u16)> = (0..PACKETS)
        .map(|index| {
            let jitter = u64::from(index) * 7_919 % 15_000;
            (
                Duration::from_micros(u64::from(index) * 20_000 + jitter),
                index,
            )
        })
        .collect();
    for pair in (0..PACKETS as usize - 1).step_by(10) {
        schedule[pair].0 = schedule[pair + 1].0 + Duration::from_millis(1);
    }
    schedule.sort();
    let destination = std::net::SocketAddr::new("127.0.0.1".parse().unwrap(), session.local_port());
    let start = Instant::now() + Duration::from_millis(100);
    for (due, index) in schedule {
        sleep_until(start + due).await;
        let header = RtpHeader {
            marker: index == 0,
            payload_type: 0,
            sequence_number: 1_000 + index,
            timestamp: 80_000 + u32::from(index) * 160,
            ssrc: 0xFACE,
        };
        let mut packet = header.to_bytes().to_vec();
        packet.extend(std::iter::repeat_n(code(index), 160));
        phone.send_to(&packet, destination).await.expect("send");
    }
    // Let playout finish, then end the recording.
    sleep(Duration::from_millis(600)).await;
    session.stop_recording(RecordingSlot::File, RecordingCause::Aborted);
    loop {
        match timeout(WAIT, session.next_event())
            .await
            .expect("event in time")
        {
            Some(MediaEvent::RecordingFinished { id: finished, .. }) if finished == id => break,
            Some(_) => {}
            None => panic!("the session ended"),
        }
    }
    let stats = session.stats();
    let bytes = std::fs::read(&path).expect("recording file");
    let _ = std::fs::remove_file(&path);
    let (_, data) = callhost_media::wav::parse(&bytes).expect("a WAV file");
    // Each 20 ms frame of the recording is one whole packet, silence, or concealment.
    let mut heard = Vec::new();
    for frame in data.chunks(160) {
        let first = frame[0];
        let whole = frame.iter().all(|&byte| byte == first);
        if whole && (code(0)..code(PACKETS)).contains(&first) {
            heard.push(u16::from(first - code(0)));
        }
    }
    assert!(
        heard.windows(2).all(|pair| pair[0] < pair[1]),
        "frames out of order: {heard:?}"
    );
    assert!(
        stats.packets_out_of_order > 0,
        "the swaps arrived: {stats:?}"
    );
    // Only a packet the jitter buffer dropped as late (a stall of this loaded machine) may
    // be missing.
    let missing = u64::from(PACKETS) - heard.len() as u64;
    assert!(
        missing <= stats.late_packets_dropped,
        "{missing} frames missing, {} late: {heard:?}",
        stats.late_packets_dropped
    );
    assert!(stats.jitter_micros > 0, "{stats:?}");
    // The phone receives the session's RTP on its port: drain so nothing lingers.
    let mut buffer = [0u8; 2048];
    let (length, _) = timeout(WAIT, phone.recv_from(&mut buffer))
        .await
        .expect("RTP from the session")
        .unwrap();
    assert!(rtp::parse(&buffer[..length]).is_ok());
}
