//! Tones and speech end to end against the real `callhost` binary:
//! - the speaking clock (an outbound app) calls a pjsua2 phone, which records
//!   several seconds of speech;
//! - a raw SIP caller in this test calls `ringback-tone`: it gets 183 Session
//!   Progress with SDP, and RTP during ringing whose spectrum holds 400 and
//!   600 Hz (the app's MY_RING_TONE); the 200 OK repeats the SDP; then an
//!   RFC 4733 digit barges into the spoken greeting.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::audio::tone_power;
use common::{Host, HostOptions, field, pjsua_python, repo, scratch};

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

#[test]
fn the_speaking_clock_calls_a_pjsua_phone_and_speaks() {
    let dir = scratch("speaking-clock");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["speaking-clock"],
            config: None,
        },
    );
    let port = common::free_port();
    let (recording, ready) = (dir.join("heard.wav"), dir.join("phone.ready"));
    let phone = Command::new(pjsua_python())
        .arg(repo().join("tests/peers/pjsua_call.py"))
        .args(["--listen", &port.to_string()])
        .args(["--ready-file", ready.to_str().unwrap()])
        .args(["--record", recording.to_str().unwrap()])
        // The app waits for idle after the time: the phone hangs up.
        .args(["--hangup-after", "14", "--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the pjsua2 phone");
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the pjsua2 phone did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = Command::new(env!("CARGO_BIN_EXE_callhost"))
        .arg("originate")
        .arg("--admin")
        .arg(format!("http://{}", host.admin))
        .args(["--app", "speaking-clock", "--params", "sip:clock@127.0.0.1"])
        .args(["--outbound-params", &format!("sip:pjsua@127.0.0.1:{port}")])
        .output()
        .expect("run callhost originate");
    assert!(
        output.status.success(),
        "originate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let phone = phone.wait_with_output().expect("phone result");
    let text = String::from_utf8_lossy(&phone.stdout);
    let result: serde_json::Value = serde_json::from_str(
        text.lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("JSON"),
    )
    .expect("JSON");
    assert_eq!(result["connected"], true, "{result}");

    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(log.contains("the time has been told"), "{log}");
    let exit = host.exit_records().pop().unwrap();
    assert_eq!(field(&exit, "exit_code"), Some("0"), "{exit}");

    let bytes = std::fs::read(&recording).expect("recording");
    let heard = callhost_media::Prompt::from_wav_bytes(&bytes).expect("WAV");
    let samples = heard.samples();
    // Three sentences take several seconds; count the 100 ms blocks with speech.
    let spoken = samples
        .chunks(800)
        .filter(|block| rms(block) > 300.0)
        .count();
    assert!(
        spoken >= 30,
        "expected several seconds of speech, heard {spoken} loud 100 ms blocks in {:.1} s",
        samples.len() as f64 / 8000.0
    );
}

/// A minimal SIP UAC over UDP for one call.
struct RawCaller {
    socket: UdpSocket,
    host: SocketAddr,
    call_id: String,
    to_tag: Option<String>,
}

impl RawCaller {
    fn new(host: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind SIP");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        RawCaller {
            socket,
            host,
            call_id: format!("tones-{}", std::process::id()),
            to_tag: None,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn send(&self, method: &str, cseq: u32, branch: &str, body: &str, content_type: bool) {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|tag| format!(";tag={tag}"))
            .unwrap_or_default();
        let local = self.local();
        let host = self.host;
        let content = if content_type {
            "Content-Type: application/sdp\r\n"
        } else {
            ""
        };
        let message = format!(
            "{method} sip:ringback-tone@{host} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{branch}\r\n\
             From: <sip:test@{local}>;tag=caller\r\nTo: <sip:ringback-tone@{host}>{to_tag}\r\n\
             Call-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:test@{local}>\r\nMax-Forwards: 70\r\n\
             {content}Content-Length: {}\r\n\r\n{body}",
            self.call_id,
            body.len()
        );
        self.socket.send_to(message.as_bytes(), host).unwrap();
    }

    /// The next SIP message, or None after `limit`.
    fn receive(&self, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        let mut buffer = [0u8; 65535];
        while Instant::now() < deadline {
            if let Ok((length, _)) = self.socket.recv_from(&mut buffer) {
                return Some(String::from_utf8_lossy(&buffer[..length]).into_owned());
            }
        }
        None
    }
}

fn status(message: &str) -> Option<u16> {
    message
        .strip_prefix("SIP/2.0 ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// The RTP address in an SDP body.
fn rtp_address(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|line| line.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = sdp
        .lines()
        .find_map(|line| line.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("m= line");
    format!("{ip}:{port}").parse().expect("RTP address")
}

/// One RFC 4733 packet for digit 5 (event 5), volume 10, `duration` units.
fn telephone_event(sequence: u16, timestamp: u32, duration: u16, end: bool) -> Vec<u8> {
    let mut packet = vec![0x80, 101, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    packet[1] |= if sequence == 0 { 0x80 } else { 0 };
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(&[5, if end { 0x80 | 10 } else { 10 }]);
    packet.extend_from_slice(&duration.to_be_bytes());
    packet
}

#[test]
fn ringback_tone_is_early_media_and_a_digit_barges_into_the_greeting() {
    let dir = scratch("ringback-tone");
    let config = "[services.ringback-tone]\napp = \"ringback-tone\"\nparameters = \"4\"\n";
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["ringback-tone"],
            config: Some(config),
        },
    );
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind RTP");
    // Drained between SIP reads; this side only sends RTP afterwards.
    rtp.set_nonblocking(true).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let offer = format!(
        "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    );
    let mut caller = RawCaller::new(host.sip);
    caller.send("INVITE", 1, "invite1", &offer, true);

    // 183 with SDP, then RTP until the 200 OK.
    let mut progress = None;
    let mut ok = None;
    let mut early_audio = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut datagram = [0u8; 2048];
    while ok.is_none() {
        assert!(
            Instant::now() < deadline,
            "no 200 OK; log:\n{}",
            host.log_text()
        );
        if let Some(message) = caller.receive(Duration::from_millis(20)) {
            match status(&message) {
                Some(183) => progress = Some(message),
                Some(200) => ok = Some(message),
                Some(code) if code >= 300 => panic!("call refused: {message}"),
                _ => {}
            }
        }
        while let Ok((length, _)) = rtp.recv_from(&mut datagram) {
            if length > 12 && datagram[1] & 0x7f == 0 && ok.is_none() {
                early_audio.extend(
                    datagram[12..length]
                        .iter()
                        .map(|&code| callhost_media::g711::ulaw_to_linear(code)),
                );
            }
        }
    }
    let (progress, ok) = (progress.expect("183 Session Progress"), ok.unwrap());
    let early_sdp = body(&progress);
    assert!(
        early_sdp.contains("m=audio"),
        "183 without SDP:\n{progress}"
    );
    assert_eq!(early_sdp, body(&ok), "the 200 OK repeats the 183's SDP");
    // About 4 s of ringing: the first 3 s are 400+600 Hz.
    assert!(
        early_audio.len() >= 8000 * 2,
        "only {} early samples",
        early_audio.len()
    );
    let ringing = &early_audio[800..16_000];
    let (low, high, off) = (
        tone_power(ringing, 400.0),
        tone_power(ringing, 600.0),
        tone_power(ringing, 1000.0),
    );
    assert!(
        low > 100.0 * off && high > 100.0 * off,
        "400 Hz {low:e}, 600 Hz {high:e}, 1000 Hz {off:e}"
    );
    let level = rms(ringing);
    // Two sines at -19 dBm0 (peak 0.6942·32767·10^(-19/20) ≈ 2552 each): RMS ≈ 2552.
    assert!((1500.0..3200.0).contains(&level), "ringback RMS {level}");

    caller.to_tag = header(&ok, "To")
        .and_then(|to| to.split(";tag=").nth(1))
        .map(|tag| tag.trim().to_owned());
    caller.send("ACK", 1, "ack1", "", false);

    // Barge in on the greeting once it plays: digit 5 as RFC 4733 events.
    let host_rtp = rtp_address(body(&ok));
    std::thread::sleep(Duration::from_millis(1500));
    for (index, duration) in [160u16, 320, 480, 640, 800].into_iter().enumerate() {
        let packet = telephone_event(index as u16, 1000, duration, index == 4);
        rtp.send_to(&packet, host_rtp).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    for index in 5..8u16 {
        rtp.send_to(&telephone_event(index, 1000, 800, true), host_rtp)
            .unwrap();
    }

    // The host hangs up after the greeting: answer its BYE.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "no BYE; log:\n{}",
            host.log_text()
        );
        let Some(message) = caller.receive(Duration::from_millis(200)) else {
            continue;
        };
        if message.starts_with("BYE ") {
            let reply = message
                .lines()
                .filter(|line| {
                    ["Via", "From", "To", "Call-ID", "CSeq"]
                        .iter()
                        .any(|name| line.starts_with(&format!("{name}:")))
                })
                .collect::<Vec<_>>()
                .join("\r\n");
            caller
                .socket
                .send_to(
                    format!("SIP/2.0 200 OK\r\n{reply}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                    host.sip,
                )
                .unwrap();
            break;
        }
    }
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(log.contains("ringing with early media"), "{log}");
    assert!(log.contains("greeting ended: BARGEIN"), "{log}");
    let exit = host.exit_records().pop().unwrap();
    assert_eq!(field(&exit, "exit_code"), Some("0"), "{exit}");
}
