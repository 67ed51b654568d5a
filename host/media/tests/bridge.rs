//! Two sessions bridged with `MediaSession::connect`, with plain UDP sockets on 127.0.0.1 as
//! the two phones: leg A is an inbound PCMU (or G.722) call, leg B an outbound PCMA (or PCMU)
//! call. Audio is checked by frequency and energy, not bytes, since it is transcoded (through
//! the 8 kHz frames) and re-timed.
//!
//! Every wait is bounded (per packet and in packet count); nothing asserts exact timing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callhost_media::codec::{Decoder, Encoder, MAX_PAYLOAD_LENGTH};
use callhost_media::rtp::{self, RtpHeader};
use callhost_media::telephone_event::EventReport;
use callhost_media::{Codec, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaSession};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);
/// Most packets a phone reads while waiting for something (10 s of 20 ms packets).
const MAX_PACKETS: usize = 500;
const SAMPLE_RATE: f64 = 8000.0;
/// Whole cycles per 160-sample frame, so a single frame's DFT bin is exact.
const TONE_A_HZ: f64 = 1000.0;
const TONE_B_HZ: f64 = 500.0;
const TONE_AMPLITUDE: f64 = 8000.0;

fn engine() -> MediaEngine {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    MediaEngine::new(config).expect("valid config")
}

async fn phone() -> Arc<UdpSocket> {
    Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind phone"))
}

fn port(socket: &UdpSocket) -> u16 {
    socket.local_addr().unwrap().port()
}

fn target(session: &MediaSession) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], session.local_port()))
}

/// Leg A: phone A calls in offering PCMU and telephone-event 101.
async fn inbound_pcmu_leg(engine: &MediaEngine, phone: &UdpSocket) -> MediaSession {
    let offer = format!(
        "v=0\r\no=phoneA 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        port(phone)
    );
    let (session, _) = engine.accept_offer(&offer).await.expect("offer accepted");
    assert_eq!(session.codec(), Codec::Pcmu);
    session
}

/// Leg B: we call phone B offering PCMA only; it answers with telephone-event as 96.
async fn outbound_pcma_leg(engine: &MediaEngine, phone: &UdpSocket) -> MediaSession {
    let (pending, offer) = engine
        .create_offer(Some(&[Codec::Pcma]))
        .await
        .expect("offer built");
    assert!(offer.contains(&format!(
        "m=audio {} RTP/AVP 8 101\r\n",
        pending.local_port()
    )));
    let answer = format!(
        "v=0\r\no=phoneB 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=sendrecv\r\n",
        port(phone)
    );
    let session = pending.accept_answer(&answer).expect("answer accepted");
    assert_eq!(session.codec(), Codec::Pcma);
    session
}

/// A phone sending a continuous sine in `codec`, paced at 20 ms, for at most 30 s.
fn send_tone(
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    codec: Codec,
    frequency: f64,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut encoder = Encoder::new(codec);
        let mut ticks = tokio::time::interval(Duration::from_millis(20));
        for packet in 0..1500u32 {
            ticks.tick().await;
            let samples: [i16; 160] = std::array::from_fn(|index| {
                let n = f64::from(packet * 160 + index as u32);
                (TONE_AMPLITUDE * (std::f64::consts::TAU * frequency * n / SAMPLE_RATE).sin())
                    as i16
            });
            let header = RtpHeader {
                marker: packet == 0,
                payload_type: codec.default_payload_type(),
                sequence_number: packet as u16,
                timestamp: packet * 160,
                ssrc: 0xAB00 + u32::from(codec.default_payload_type()),
            };
            let mut datagram = header.to_bytes().to_vec();
            let mut payload = [0u8; MAX_PAYLOAD_LENGTH];
            let length = encoder.encode(&samples, &mut payload).expect("encodes");
            datagram.extend_from_slice(&payload[..length]);
            // Loopback sends only fail if the session is gone; the test notices that itself.
            let _ = socket.send_to(&datagram, to).await;
        }
    })
}

struct Received {
    header: RtpHeader,
    payload: Vec<u8>,
}

async fn receive(socket: &UdpSocket) -> Received {
    let mut buffer = [0u8; 2048];
    let (length, _) = timeout(WAIT, socket.recv_from(&mut buffer))
        .await
        .expect("RTP within 5 s")
        .unwrap();
    let packet = rtp::parse(&buffer[..length]).expect("valid RTP");
    Received {
        header: packet.header,
        payload: packet.payload.to_vec(),
    }
}

fn decode(decoder: &mut Decoder, payload: &[u8]) -> Vec<i16> {
    let mut samples = Vec::new();
    decoder.decode(payload, &mut samples).expect("decodes");
    samples
}

/// Share of the frame's energy at `frequency` (1.0 for a pure, bin-aligned tone).
fn tone_share(samples: &[i16], frequency: f64) -> f64 {
    let (mut real, mut imaginary, mut energy) = (0.0, 0.0, 0.0);
    for (n, &sample) in samples.iter().enumerate() {
        let x = f64::from(sample);
        let phase = std::f64::consts::TAU * frequency * n as f64 / SAMPLE_RATE;
        real += x * phase.cos();
        imaginary += x * phase.sin();
        energy += x * x;
    }
    if energy == 0.0 {
        return 0.0;
    }
    2.0 * (real * real + imaginary * imaginary) / (samples.len() as f64 * energy)
}

fn rms(samples: &[i16]) -> f64 {
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (energy / samples.len() as f64).sqrt()
}

fn is_tone(samples: &[i16], frequency: f64) -> bool {
    rms(samples) > 1000.0 && tone_share(samples, frequency) > 0.9
}

fn is_silent(samples: &[i16]) -> bool {
    // A-law's silence code decodes to ±8; G.722's coded silence is a little noisier.
    samples.iter().all(|sample| sample.abs() <= 32)
}

/// Read audio packets until `wanted` frames carry the tone; returns the audio headers seen.
/// Frames with the other leg's own tone would be an echo and fail the test.
async fn expect_tone(
    socket: &UdpSocket,
    codec: Codec,
    frequency: f64,
    echo_frequency: f64,
    wanted: usize,
) -> Vec<RtpHeader> {
    let mut found = 0;
    let mut headers = Vec::new();
    let mut decoder = Decoder::new(codec);
    for _ in 0..MAX_PACKETS {
        let packet = receive(socket).await;
        if packet.header.payload_type != codec.default_payload_type() {
            continue;
        }
        let samples = decode(&mut decoder, &packet.payload);
        assert!(
            !is_tone(&samples, echo_frequency),
            "the phone hears its own tone"
        );
        headers.push(packet.header);
        if is_tone(&samples, frequency) {
            found += 1;
            if found == wanted {
                return headers;
            }
        }
    }
    panic!("only {found} of {wanted} frames carried the {frequency} Hz tone");
}

/// Read until 10 consecutive silent frames, then check the next 25 hold no tone either.
async fn expect_silence(socket: &UdpSocket, codec: Codec, frequency: f64) {
    let mut run = 0;
    let mut decoder = Decoder::new(codec);
    for _ in 0..MAX_PACKETS {
        let packet = receive(socket).await;
        if is_silent(&decode(&mut decoder, &packet.payload)) {
            run += 1;
            if run == 10 {
                for _ in 0..25 {
                    let later = receive(socket).await;
                    assert!(
                        !is_tone(&decode(&mut decoder, &later.payload), frequency),
                        "the tone came back after disconnecting"
                    );
                }
                return;
            }
        } else {
            run = 0;
        }
    }
    panic!("no steady silence after disconnecting");
}

async fn wait_until_disconnected(session: &MediaSession) {
    for _ in 0..250 {
        if !session.is_connected() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the session did not notice the end of the bridge");
}

fn assert_one_continuous_stream(headers: &[RtpHeader]) {
    for pair in headers.windows(2) {
        assert_eq!(pair[1].ssrc, pair[0].ssrc, "one SSRC");
        let step = pair[1]
            .sequence_number
            .wrapping_sub(pair[0].sequence_number);
        assert!((1..100).contains(&step), "sequence moves forward: {step}");
        let elapsed = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
        assert_eq!(
            elapsed,
            160 * u32::from(step),
            "timestamps follow the frames"
        );
    }
}

#[tokio::test]
async fn bridged_legs_hear_each_other_transcoded_and_silence_after_disconnect() {
    let engine = engine();
    let (phone_a, phone_b) = (phone().await, phone().await);
    let leg_a = inbound_pcmu_leg(&engine, &phone_a).await;
    let leg_b = outbound_pcma_leg(&engine, &phone_b).await;
    leg_a.start_sending();
    leg_b.start_sending();
    leg_a.connect(&leg_b).expect("connect");
    assert!(leg_a.is_connected() && leg_b.is_connected());
    let tone_a = send_tone(Arc::clone(&phone_a), target(&leg_a), Codec::Pcmu, TONE_A_HZ);
    let tone_b = send_tone(Arc::clone(&phone_b), target(&leg_b), Codec::Pcma, TONE_B_HZ);

    // A's 1 kHz arrives at B as PCMA inside B's own stream; B's 500 Hz at A as PCMU.
    let at_b = expect_tone(&phone_b, Codec::Pcma, TONE_A_HZ, TONE_B_HZ, 15).await;
    assert_one_continuous_stream(&at_b);
    let at_a = expect_tone(&phone_a, Codec::Pcmu, TONE_B_HZ, TONE_A_HZ, 15).await;
    assert_one_continuous_stream(&at_a);
    assert!(leg_b.stats().packets_received > 0 && leg_a.stats().packets_received > 0);

    // Disconnecting one side ends both directions.
    leg_b.disconnect();
    leg_b.disconnect(); // twice is harmless
    wait_until_disconnected(&leg_a).await;
    assert!(!leg_b.is_connected());
    expect_silence(&phone_b, Codec::Pcma, TONE_A_HZ).await;
    expect_silence(&phone_a, Codec::Pcmu, TONE_B_HZ).await;

    // Reconnecting works, and the stream B sends is still the same one.
    leg_a.connect(&leg_b).expect("reconnect");
    let again = expect_tone(&phone_b, Codec::Pcma, TONE_A_HZ, TONE_B_HZ, 5).await;
    assert_eq!(again[0].ssrc, at_b[0].ssrc);
    tone_a.abort();
    tone_b.abort();
}

/// Leg A': phone A calls in offering G.722 only (static payload type 9).
async fn inbound_g722_leg(engine: &MediaEngine, phone: &UdpSocket) -> MediaSession {
    let offer = format!(
        "v=0\r\no=phoneA 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=sendrecv\r\n",
        port(phone)
    );
    let (session, answer) = engine.accept_offer(&offer).await.expect("offer accepted");
    assert_eq!(session.codec(), Codec::G722);
    assert!(answer.contains("a=rtpmap:9 G722/8000\r\n"), "{answer}");
    session
}

#[tokio::test]
async fn bridged_g722_and_pcmu_legs_transcode_both_ways() {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.rtp_ports = 41_000..=48_999;
    config.codecs = vec![Codec::G722, Codec::Pcmu];
    let engine = MediaEngine::new(config).expect("valid config");
    let (phone_a, phone_b) = (phone().await, phone().await);
    let leg_a = inbound_g722_leg(&engine, &phone_a).await;
    let (pending, _) = engine
        .create_offer(Some(&[Codec::Pcmu]))
        .await
        .expect("offer built");
    let answer = format!(
        "v=0\r\no=phoneB 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=sendrecv\r\n",
        port(&phone_b)
    );
    let leg_b = pending.accept_answer(&answer).expect("answer accepted");
    assert_eq!(leg_b.codec(), Codec::Pcmu);
    leg_a.start_sending();
    leg_b.start_sending();
    leg_a.connect(&leg_b).expect("connect");
    let tone_a = send_tone(Arc::clone(&phone_a), target(&leg_a), Codec::G722, TONE_A_HZ);
    let tone_b = send_tone(Arc::clone(&phone_b), target(&leg_b), Codec::Pcmu, TONE_B_HZ);

    // G.722 in, PCMU out (16 kHz -> 8 kHz frames -> G.711) and the reverse.
    let at_b = expect_tone(&phone_b, Codec::Pcmu, TONE_A_HZ, TONE_B_HZ, 15).await;
    assert_one_continuous_stream(&at_b);
    let at_a = expect_tone(&phone_a, Codec::G722, TONE_B_HZ, TONE_A_HZ, 15).await;
    assert_one_continuous_stream(&at_a);
    assert!(at_a.iter().all(|header| header.payload_type == 9));

    leg_a.disconnect();
    wait_until_disconnected(&leg_b).await;
    expect_silence(&phone_a, Codec::G722, TONE_B_HZ).await;
    expect_silence(&phone_b, Codec::Pcmu, TONE_A_HZ).await;
    tone_a.abort();
    tone_b.abort();
}

#[tokio::test]
async fn dropping_one_leg_returns_the_other_to_silence() {
    let engine = engine();
    let (phone_a, phone_b) = (phone().await, phone().await);
    let leg_a = inbound_pcmu_leg(&engine, &phone_a).await;
    let leg_b = outbound_pcma_leg(&engine, &phone_b).await;
    leg_b.start_sending();
    // Leg A never starts sending: bridging does not need it to receive.
    leg_b.connect(&leg_a).expect("connect");
    let tone_a = send_tone(Arc::clone(&phone_a), target(&leg_a), Codec::Pcmu, TONE_A_HZ);
    expect_tone(&phone_b, Codec::Pcma, TONE_A_HZ, TONE_B_HZ, 5).await;
    drop(leg_a);
    wait_until_disconnected(&leg_b).await;
    expect_silence(&phone_b, Codec::Pcma, TONE_A_HZ).await;
    tone_a.abort();
}

fn event_packet(sequence: u16, timestamp: u32, step: u16, end: bool) -> Vec<u8> {
    let header = RtpHeader {
        marker: step == 1,
        payload_type: 101,
        sequence_number: sequence,
        timestamp,
        ssrc: 0x7777,
    };
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(
        &EventReport {
            event: 7,
            end,
            volume: 10,
            duration: 160 * step,
        }
        .to_bytes(),
    );
    datagram
}

#[tokio::test]
async fn digits_are_reported_to_their_leg_and_forwarded_to_the_other() {
    let engine = engine();
    let (phone_a, phone_b) = (phone().await, phone().await);
    let mut leg_a = inbound_pcmu_leg(&engine, &phone_a).await;
    let mut leg_b = outbound_pcma_leg(&engine, &phone_b).await;
    leg_b.start_sending();
    leg_a.connect(&leg_b).expect("connect");
    for step in 1..=6u16 {
        let end = step >= 5;
        let datagram = event_packet(100 + step, 8000, step.min(5), end);
        phone_a.send_to(&datagram, target(&leg_a)).await.unwrap();
    }

    // The owner of A hears the digit; B's owner hears nothing. Polled side by side, as a
    // server's select over several sessions would.
    let event = timeout(
        WAIT,
        std::future::poll_fn(|cx| {
            use std::task::Poll;
            if let Poll::Ready(event) = leg_b.poll_event(cx) {
                return Poll::Ready(("b", event));
            }
            leg_a.poll_event(cx).map(|event| ("a", event))
        }),
    )
    .await
    .expect("an event within 5 s");
    assert_eq!(event, ("a", Some(MediaEvent::Dtmf { digit: '7' })));

    // Phone B receives the digit as RFC 4733 with the payload type its answer chose.
    let mut reports = Vec::new();
    let mut ssrcs = Vec::new();
    for _ in 0..MAX_PACKETS {
        let packet = receive(&phone_b).await;
        ssrcs.push(packet.header.ssrc);
        match packet.header.payload_type {
            8 if !reports.is_empty() => break,
            8 => {}
            96 => reports.push(EventReport::from_bytes(
                packet.payload[..4].try_into().unwrap(),
            )),
            other => panic!("unexpected payload type {other}"),
        }
    }
    assert!(!reports.is_empty(), "no telephone-event reached phone B");
    assert!(
        ssrcs.windows(2).all(|pair| pair[0] == pair[1]),
        "events and audio share one stream"
    );
    assert!(reports.iter().all(|report| report.event == 7));
    assert!(reports.last().unwrap().end);
    // Forwarded digits report no DtmfFinished to B's owner.
    assert!(
        timeout(Duration::from_millis(300), leg_b.next_event())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn connect_errors_and_idempotent_disconnect() {
    let engine = engine();
    let phone = phone().await;
    let leg = inbound_pcmu_leg(&engine, &phone).await;
    assert!(matches!(
        leg.connect(&leg),
        Err(MediaError::ConnectToItself)
    ));
    leg.disconnect();
    assert!(!leg.is_connected());
}

#[tokio::test]
async fn a_whole_call_recording_keeps_both_parties_while_bridged() {
    use callhost_media::recorder::file::RecordingFile;
    use callhost_media::recorder::{
        RecordFormat, RecordedAudio, RecordingCause, RecordingLimits, RecordingSlot,
    };
    let engine = engine();
    let (phone_a, phone_b) = (phone().await, phone().await);
    let leg_a = inbound_pcmu_leg(&engine, &phone_a).await;
    let leg_b = outbound_pcma_leg(&engine, &phone_b).await;
    leg_a.start_sending();
    leg_b.start_sending();
    leg_a.connect(&leg_b).expect("connect");
    let tone_a = send_tone(Arc::clone(&phone_a), target(&leg_a), Codec::Pcmu, TONE_A_HZ);
    let tone_b = send_tone(Arc::clone(&phone_b), target(&leg_b), Codec::Pcma, TONE_B_HZ);
    expect_tone(&phone_a, Codec::Pcmu, TONE_B_HZ, TONE_A_HZ, 15).await;

    let path = std::env::temp_dir().join(format!("callhost-bridge-rec-{}.wav", std::process::id()));
    let file = RecordingFile::create(&path, RecordFormat::Pcm16, 2).expect("create");
    let id = leg_a
        .start_recording(
            RecordingSlot::WholeCall,
            file,
            RecordFormat::Pcm16,
            RecordedAudio::Stereo,
            RecordingLimits::default(),
        )
        .expect("recording");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    leg_a.stop_recording(RecordingSlot::WholeCall, RecordingCause::Aborted);
    let mut leg_a = leg_a;
    let summary = loop {
        match timeout(WAIT, leg_a.next_event())
            .await
            .expect("an event in time")
        {
            Some(MediaEvent::RecordingFinished {
                id: finished,
                summary,
            }) if finished == id => {
                break summary;
            }
            Some(_) => {}
            None => panic!("the session ended"),
        }
    };
    assert_eq!(summary.cause, RecordingCause::Aborted);
    assert!(
        summary.duration >= Duration::from_millis(1000),
        "{summary:?}"
    );
    let bytes = std::fs::read(&path).unwrap();
    let (format, data) = callhost_media::wav::parse(&bytes).unwrap();
    assert_eq!(format.channels, 2);
    assert_eq!(data.len() as u64, summary.data_bytes);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for frame in data.chunks_exact(4) {
        left.push(i16::from_le_bytes([frame[0], frame[1]]));
        right.push(i16::from_le_bytes([frame[2], frame[3]]));
    }
    // Left: what leg A's phone sends (1 kHz); right: what it hears, leg B's 500 Hz.
    let middle = left.len() / 2 / 160 * 160;
    assert!(is_tone(&left[middle..middle + 160], TONE_A_HZ));
    assert!(is_tone(&right[middle..middle + 160], TONE_B_HZ));
    let _ = std::fs::remove_file(&path);
    tone_a.abort();
    tone_b.abort();
}
