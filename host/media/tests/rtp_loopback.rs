//! End-to-end media tests against a "phone" made of plain UDP sockets on 127.0.0.1:
//! offer/answer, pacing, prompt playback, RFC 4733 send and receive, symmetric RTP.
//!
//! Timing assertions are one-sided or generous: packets can never leave ahead of the clock,
//! so lower bounds on elapsed time are safe; upper bounds allow for a loaded machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callhost_media::g711;
use callhost_media::rtp::{self, RtpHeader};
use callhost_media::telephone_event::receiver::TelephoneEventReceiver;
use callhost_media::telephone_event::{EventReport, event_blocks};
use callhost_media::{MediaConfig, MediaEngine, MediaEvent, MediaSession, Prompt};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);
const TELEPHONE_EVENT_PT: u8 = 101;

fn engine() -> MediaEngine {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    MediaEngine::new(config).expect("valid config")
}

fn offer(port: u16, formats: &str) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\n\
         a=fmtp:{TELEPHONE_EVENT_PT} 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

async fn phone() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind phone socket")
}

/// Accept an offer pointing at `phone`'s port.
async fn call(engine: &MediaEngine, phone: &UdpSocket) -> (MediaSession, String) {
    let port = phone.local_addr().unwrap().port();
    engine
        .accept_offer(&offer(port, "0 8 101"))
        .await
        .expect("offer accepted")
}

struct Received {
    at: Instant,
    header: RtpHeader,
    payload: Vec<u8>,
}

async fn receive(socket: &UdpSocket) -> Received {
    let mut buffer = [0u8; 2048];
    let (length, _) = timeout(WAIT, socket.recv_from(&mut buffer))
        .await
        .expect("RTP within 5 s")
        .unwrap();
    let packet = rtp::parse(&buffer[..length]).expect("valid RTP from the session");
    Received {
        at: Instant::now(),
        header: packet.header,
        payload: packet.payload.to_vec(),
    }
}

async fn receive_many(socket: &UdpSocket, count: usize) -> Vec<Received> {
    let mut packets = Vec::with_capacity(count);
    for _ in 0..count {
        packets.push(receive(socket).await);
    }
    packets
}

async fn next_event(session: &mut MediaSession) -> MediaEvent {
    timeout(WAIT, session.next_event())
        .await
        .expect("event within 5 s")
        .expect("session alive")
}

fn assert_continuous(packets: &[Received]) {
    for pair in packets.windows(2) {
        let (previous, next) = (&pair[0].header, &pair[1].header);
        assert_eq!(next.ssrc, previous.ssrc, "one SSRC");
        assert_eq!(
            next.sequence_number,
            previous.sequence_number.wrapping_add(1),
            "sequence continuous"
        );
        // Event packets repeat their start timestamp; audio advances 160 per 20 ms.
        if previous.payload_type == 0 && next.payload_type == 0 {
            assert_eq!(
                next.timestamp,
                previous.timestamp.wrapping_add(160),
                "timestamp continuous"
            );
        }
    }
}

#[tokio::test]
async fn answer_points_at_our_socket_and_silence_is_paced_at_20_ms() {
    let engine = engine();
    let phone = phone().await;
    let (session, answer) = call(&engine, &phone).await;
    assert!(
        answer.contains(&format!(
            "m=audio {} RTP/AVP 0 101\r\n",
            session.local_port()
        )),
        "{answer}"
    );
    assert!(answer.contains("c=IN IP4 127.0.0.1\r\n"));
    assert_eq!(session.local_port() % 2, 0);
    assert_eq!(
        session.stats().packets_sent,
        0,
        "nothing before start_sending"
    );

    session.start_sending();
    let packets = receive_many(&phone, 51).await;
    let elapsed = packets[50].at - packets[0].at;
    // 50 intervals of 20 ms: never faster than the clock, and not absurdly slow.
    assert!(
        elapsed >= Duration::from_millis(900),
        "50 frames in {elapsed:?}"
    );
    assert!(
        elapsed <= Duration::from_millis(3000),
        "50 frames in {elapsed:?}"
    );
    assert!(packets[0].header.marker && packets.iter().skip(1).all(|p| !p.header.marker));
    assert!(
        packets
            .iter()
            .all(|p| p.header.payload_type == 0 && p.payload == [g711::ULAW_SILENCE; 160])
    );
    assert_continuous(&packets);
    let stats = session.stats();
    assert!(
        stats.audio_packets_sent >= 51 && stats.bytes_sent >= 51 * 172,
        "{stats:?}"
    );
}

/// A prompt whose every sample is non-zero, so it is easy to find among silence frames.
fn ramp_prompt(frames: usize, offset: i16) -> Arc<Prompt> {
    Arc::new(Prompt::from_samples(
        (0..frames * 160)
            .map(|n| offset + (n % 160) as i16 * 50)
            .collect::<Vec<_>>(),
    ))
}

fn decoded(packets: &[Received]) -> Vec<i16> {
    packets
        .iter()
        .flat_map(|p| p.payload.iter().map(|&code| g711::ulaw_to_linear(code)))
        .collect()
}

#[tokio::test]
async fn two_prompts_decode_back_and_numbering_is_continuous_across_them() {
    let engine = engine();
    let phone = phone().await;
    let (mut session, _) = call(&engine, &phone).await;
    session.start_sending();
    let first = ramp_prompt(5, 1000);
    let second = ramp_prompt(4, -9000);
    let first_id = session.play(Arc::clone(&first));
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::PlayFinished {
            id: first_id,
            completed: true
        }
    );
    let second_id = session.play(Arc::clone(&second));
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::PlayFinished {
            id: second_id,
            completed: true
        }
    );
    assert_ne!(first_id, second_id);

    // Everything sent so far is in the socket buffer: read it all.
    let sent = session.stats().packets_sent as usize;
    let packets = receive_many(&phone, sent).await;
    assert_continuous(&packets);
    let samples = decoded(&packets);
    for prompt in [&first, &second] {
        let expected: Vec<i16> = prompt
            .samples()
            .iter()
            .map(|&s| g711::ulaw_to_linear(g711::linear_to_ulaw(s)))
            .collect();
        let found = samples
            .windows(expected.len())
            .any(|window| window == expected.as_slice());
        assert!(
            found,
            "prompt audio appears intact and in order in the RTP stream"
        );
    }
    // Prompts start on frame boundaries.
    let first_audio = packets
        .iter()
        .position(|p| p.payload[0] != g711::ULAW_SILENCE)
        .unwrap();
    assert_eq!(
        g711::ulaw_to_linear(packets[first_audio].payload[0]),
        g711::ulaw_to_linear(g711::linear_to_ulaw(1000))
    );
}

#[tokio::test]
async fn replacing_a_prompt_reports_the_old_one_incomplete() {
    let engine = engine();
    let phone = phone().await;
    let (mut session, _) = call(&engine, &phone).await;
    session.start_sending();
    let long = session.play(ramp_prompt(500, 100));
    let short = session.play(ramp_prompt(1, 100));
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::PlayFinished {
            id: long,
            completed: false
        }
    );
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::PlayFinished {
            id: short,
            completed: true
        }
    );
    let stopped = session.play(ramp_prompt(500, 100));
    session.stop_playing();
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::PlayFinished {
            id: stopped,
            completed: false
        }
    );
}

#[tokio::test]
async fn sent_dtmf_is_a_correct_rfc4733_sequence() {
    let engine = engine();
    let phone = phone().await;
    let (mut session, _) = call(&engine, &phone).await;
    session.start_sending();
    let id = session.send_dtmf("1#").expect("valid digits");
    assert_eq!(
        next_event(&mut session).await,
        MediaEvent::DtmfFinished {
            id,
            completed: true
        }
    );
    let packets = receive_many(&phone, session.stats().packets_sent as usize).await;
    assert_continuous(&packets);
    let events: Vec<&Received> = packets
        .iter()
        .filter(|p| p.header.payload_type == TELEPHONE_EVENT_PT)
        .collect();
    assert_eq!(
        events.len(),
        14,
        "two digits of 5 updates + 2 retransmitted ends"
    );
    for digit in events.chunks(7) {
        let reports: Vec<EventReport> = digit
            .iter()
            .map(|p| event_blocks(&p.payload).next().unwrap())
            .collect();
        assert!(
            digit
                .iter()
                .all(|p| p.header.timestamp == digit[0].header.timestamp),
            "one timestamp per event"
        );
        assert!(digit[0].header.marker && digit[1..].iter().all(|p| !p.header.marker));
        let durations: Vec<u16> = reports.iter().map(|r| r.duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = reports.iter().map(|r| r.end).collect();
        assert_eq!(ends, vec![false, false, false, false, true, true, true]);
        assert!(reports.iter().all(|r| r.volume == 10));
    }
    let second_start = events[7]
        .header
        .timestamp
        .wrapping_sub(events[0].header.timestamp);
    assert!(
        (9 * 160..=10 * 160).contains(&second_start),
        "100 ms tone + 80 ms gap between starts, got {second_start}"
    );
    // The phone's own RFC 4733 receiver hears exactly the digits sent.
    let mut receiver = TelephoneEventReceiver::new();
    let mut heard = String::new();
    for packet in &events {
        receiver.on_packet(&packet.header, &packet.payload, &mut |digit| {
            heard.push(digit.digit)
        });
    }
    assert_eq!(heard, "1#");
}

#[tokio::test]
async fn dtmf_errors_are_typed() {
    let engine = engine();
    let phone = phone().await;
    let (session, _) = call(&engine, &phone).await;
    assert!(matches!(
        session.send_dtmf("12x"),
        Err(callhost_media::MediaError::InvalidDtmfDigit {
            digit: 'x',
            position: 2
        })
    ));
    let port = phone.local_addr().unwrap().port();
    let no_events = engine.accept_offer(&offer(port, "0")).await.unwrap().0;
    assert!(!no_events.telephone_event_negotiated());
    // Without telephone-event the digits go as tones in the audio instead.
    assert!(no_events.send_dtmf("1").is_ok());
}

fn event_packet(
    sequence: u16,
    timestamp: u32,
    marker: bool,
    event: u8,
    duration: u16,
    end: bool,
) -> Vec<u8> {
    let header = RtpHeader {
        marker,
        payload_type: TELEPHONE_EVENT_PT,
        sequence_number: sequence,
        timestamp,
        ssrc: 0x5151,
    };
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(
        &EventReport {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes(),
    );
    datagram
}

#[tokio::test]
async fn received_dtmf_is_reported_once_per_digit() {
    let engine = engine();
    let phone = phone().await;
    let (mut session, _) = call(&engine, &phone).await;
    let target = SocketAddr::from(([127, 0, 0, 1], session.local_port()));
    // SIPp style: first packet duration 0, three identical end packets (same sequence number).
    let mut sequence = 500u16;
    for (index, event) in [4u8, 2, 2].into_iter().enumerate() {
        let timestamp = 10_000 + 4000 * index as u32;
        for step in 0..7u16 {
            phone
                .send_to(
                    &event_packet(sequence, timestamp, step == 0, event, 320 * step, false),
                    target,
                )
                .await
                .unwrap();
            sequence += 1;
        }
        for _ in 0..3 {
            phone
                .send_to(
                    &event_packet(sequence, timestamp, false, event, 2240, true),
                    target,
                )
                .await
                .unwrap();
        }
        sequence += 1;
    }
    let mut digits = String::new();
    for _ in 0..3 {
        match next_event(&mut session).await {
            MediaEvent::Dtmf { digit } => digits.push(digit),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(digits, "422");
    // Nothing more: the duplicated end packets were not new digits.
    assert!(
        timeout(Duration::from_millis(300), session.next_event())
            .await
            .is_err()
    );
    let stats = session.stats();
    assert_eq!(
        (
            stats.telephone_event_packets_received,
            stats.dtmf_digits_received
        ),
        (30, 3)
    );
}

#[tokio::test]
async fn symmetric_rtp_follows_the_packet_source() {
    let engine = engine();
    let signalled = phone().await;
    let actual = phone().await; // the "NAT-mapped" address the phone's RTP really comes from
    let (session, _) = call(&engine, &signalled).await;
    session.start_sending();
    receive(&signalled).await; // before any RTP arrives, media goes to the SDP address
    let target = SocketAddr::from(([127, 0, 0, 1], session.local_port()));
    for sequence in 0..5u16 {
        let header = RtpHeader {
            marker: sequence == 0,
            payload_type: 0,
            sequence_number: sequence,
            timestamp: 160 * u32::from(sequence),
            ssrc: 99,
        };
        let mut datagram = header.to_bytes().to_vec();
        datagram.extend_from_slice(&[g711::ULAW_SILENCE; 160]);
        actual.send_to(&datagram, target).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let moved = receive(&actual).await;
    assert_eq!(moved.header.payload_type, 0);
    assert!(session.stats().packets_received >= 5);
}
