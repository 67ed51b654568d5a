//! Floods beside calls in progress (run inside the test's network namespace).
//!
//! Healthy calls: one pjsua2 phone calls `ivr`, records the prompt and
//! exchanges DTMF as RFC 4733 events; SIPp places four more calls to `ivr`
//! that wait for the host's BYE. While they run, one socket sends (a) ~20,000
//! malformed datagrams — random bytes, truncated and bit-flipped SIP, huge
//! header sections — as fast as it can, then another sends (b) ~5,000
//! INVITEs to services no app serves, also without pacing, and ACKs every
//! final answer (RFC 3261 §17.1.1.3) so that no 404 is retransmitted. The
//! kernel drops what the host cannot read in time; every INVITE the host
//! does read must get 404 Not Found or, when its call queue is full, 503
//! Service Unavailable (RFC 3261 §21.5.4). The healthy calls must end as
//! they would without the floods, and the host must take a new call.
//!
//! Every loop is bounded in count and in time.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::audio::{best_correlation, envelope, load};
use crate::common::raw_sip::Head;
use crate::common::{
    Host, HostOptions, field, ivr_caller_in_background, prompts, scratch, sipp_in_background,
};

/// Malformed datagrams in flood (a).
const MALFORMED_DATAGRAMS: usize = 20_000;
/// INVITEs to unknown services in flood (b).
const UNKNOWN_SERVICE_INVITES: usize = 5_000;
/// SIPp's calls beside the pjsua2 call.
const SIPP_CALLS: usize = 4;
/// Upper bound for sending one flood (it normally takes well under a second).
const SEND_LIMIT: Duration = Duration::from_secs(30);
/// How long answers to flood (b) may keep coming after the last INVITE.
const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// A small deterministic generator (xorshift64*): reproducible floods.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

fn invite(
    service: &str,
    call_id: &str,
    branch: &str,
    local: SocketAddr,
    host: SocketAddr,
) -> String {
    let sdp = "v=0\r\no=t 1 1 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:{service}@{host} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch={branch}\r\n\
         From: <sip:flood@{local}>;tag=f1\r\nTo: <sip:{service}@{host}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:flood@{local}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Datagram `index` of flood (a).
fn malformed(index: usize, noise: &mut Noise, template: &[u8]) -> Vec<u8> {
    match index % 10 {
        // Random bytes, 1..1400 of them.
        0..=4 => (0..1 + noise.below(1400))
            .map(|_| noise.next() as u8)
            .collect(),
        // A request cut anywhere.
        5..=7 => template[..noise.below(template.len())].to_vec(),
        // A request with a few bytes flipped.
        8 => {
            let mut bytes = template.to_vec();
            for _ in 0..1 + noise.below(8) {
                let at = noise.below(bytes.len());
                bytes[at] ^= 1 << noise.below(8);
            }
            bytes
        }
        // Huge header sections: mostly ~4 KB, every 100th near the 64 KiB limit.
        _ => {
            let size = if index % 100 == 9 { 60_000 } else { 4_000 };
            let mut text = String::from_utf8_lossy(template).into_owned();
            let cut = text.find("\r\n").map_or(0, |at| at + 2);
            text.insert_str(cut, &format!("X-Huge: {}\r\n", "a".repeat(size)));
            text.into_bytes()
        }
    }
}

/// Flood (a): how many datagrams went out.
fn send_malformed(host: SocketAddr) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the flood socket");
    let local = socket.local_addr().unwrap();
    let template = invite("flood", "malformed", "z9hG4bKmalformed", local, host).into_bytes();
    let mut noise = Noise(0x5eed_1234_abcd_0001);
    let start = Instant::now();
    let mut sent = 0;
    for index in 0..MALFORMED_DATAGRAMS {
        if start.elapsed() > SEND_LIMIT {
            break;
        }
        // A full socket buffer (ENOBUFS) just loses that datagram, as a line would.
        if socket
            .send_to(&malformed(index, &mut noise, &template), host)
            .is_ok()
        {
            sent += 1;
        }
    }
    sent
}

/// What flood (b) got back.
#[derive(Default)]
struct InviteAnswers {
    /// Final status per Call-ID (the first one seen).
    finals: HashMap<String, u16>,
    /// Responses whose Call-ID is not one of ours.
    strangers: usize,
}

/// Flood (b): send the INVITEs, ACK what comes back; the answers.
fn send_invites(host: SocketAddr) -> InviteAnswers {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the INVITE socket");
    let local = socket.local_addr().unwrap();
    let answers = Arc::new(Mutex::new(InviteAnswers::default()));
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let socket = socket.try_clone().unwrap();
        let (answers, done) = (answers.clone(), done.clone());
        std::thread::spawn(move || receive_answers(&socket, host, &answers, &done))
    };
    let start = Instant::now();
    for index in 0..UNKNOWN_SERVICE_INVITES {
        if start.elapsed() > SEND_LIMIT {
            break;
        }
        let call_id = format!("flood-{index}");
        let request = invite(
            &format!("nobody-{index}"),
            &call_id,
            &format!("z9hG4bKflood{index}"),
            local,
            host,
        );
        let _ = socket.send_to(request.as_bytes(), host);
    }
    println!("flood (b): INVITEs sent in {:?}", start.elapsed());
    // Answers keep coming while the host works through what it read; stop
    // once none has come for a while, or at the limit.
    let sent_at = Instant::now();
    let mut last_count = 0;
    let mut quiet_since = Instant::now();
    while sent_at.elapsed() < ANSWER_LIMIT {
        std::thread::sleep(Duration::from_millis(250));
        let count = answers.lock().unwrap().finals.len();
        if count != last_count {
            (last_count, quiet_since) = (count, Instant::now());
        } else if quiet_since.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    done.store(true, Ordering::SeqCst);
    receiver.join().expect("the answer reader");
    std::mem::take(&mut *answers.lock().unwrap())
}

/// Read answers to flood (b) until `done`; ACK each final one.
fn receive_answers(
    socket: &UdpSocket,
    host: SocketAddr,
    answers: &Mutex<InviteAnswers>,
    done: &AtomicBool,
) {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let mut buffer = vec![0u8; 65_536];
    // Bounded by the caller's ANSWER_LIMIT through `done`; this is a backstop.
    let backstop = Instant::now() + SEND_LIMIT + ANSWER_LIMIT + Duration::from_secs(10);
    while !done.load(Ordering::SeqCst) && Instant::now() < backstop {
        let Ok((length, _)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let head = Head::parse(&buffer[..length]);
        let (Some(status), Some(call_id)) = (head.status(), head.get("call-id")) else {
            continue;
        };
        let Some(index) = call_id.strip_prefix("flood-") else {
            answers.lock().unwrap().strangers += 1;
            continue;
        };
        if status < 200 {
            continue;
        }
        answers
            .lock()
            .unwrap()
            .finals
            .entry(call_id.to_owned())
            .or_insert(status);
        // The ACK of a non-2xx final answer: same branch, the answer's To.
        let ack = format!(
            "ACK sip:nobody-{index}@{host} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKflood{index}\r\n\
             From: <sip:flood@{local}>;tag=f1\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            head.get("to").unwrap_or_default()
        );
        let _ = socket.send_to(ack.as_bytes(), host);
    }
}

/// The whole flood scenario; panics on any failure.
pub fn run() {
    let dir = scratch("torture-flood");
    let mut host = Host::start(
        &dir,
        HostOptions {
            apps: &["ivr", "hello"],
            config: None,
        },
    );
    let welcome = load(&prompts().join("ivr/welcome.wav"));
    let recording = dir.join("pjsua-heard.wav");
    let phone = ivr_caller_in_background(&host, &recording);
    // SIPp's default rate, 10 calls a second.
    let sipp_calls = sipp_in_background(
        &host,
        "host-wait-bye.xml",
        "ivr",
        SIPP_CALLS,
        10,
        SIPP_CALLS,
    );
    // Flood once every healthy call is answered (media flowing).
    host.wait_for_log_count(
        "callhost::call::leg: answered",
        1 + SIPP_CALLS,
        Duration::from_secs(60),
    );

    let start = Instant::now();
    let malformed = send_malformed(host.sip);
    println!(
        "flood (a): {malformed} malformed datagrams sent in {:?}",
        start.elapsed()
    );
    let answers = send_invites(host.sip);
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for status in answers.finals.values() {
        *counts.entry(*status).or_default() += 1;
    }
    println!(
        "flood (b): final answers by status {counts:?}, {} answers to nobody's INVITEs",
        answers.strangers
    );
    assert!(host.is_running(), "the host died:\n{}", host.log_text());
    let unexpected: Vec<_> = counts
        .iter()
        .filter(|(status, _)| !matches!(status, 404 | 503))
        .collect();
    assert!(
        unexpected.is_empty(),
        "INVITEs to unknown services must get 404 (or 503 when overloaded): {counts:?}"
    );
    assert!(
        !answers.finals.is_empty(),
        "the host answered none of the {UNKNOWN_SERVICE_INVITES} INVITEs"
    );
    assert_eq!(answers.strangers, 0, "answers to requests we never sent");

    let sipp_calls = sipp_calls.join().expect("the SIPp thread");
    assert_eq!(
        sipp_calls.code, 0,
        "SIPp's calls beside the floods failed:\n{}",
        sipp_calls.output
    );
    let result = phone.join().expect("the pjsua2 thread");
    assert_eq!(result["connected"], true, "{result}");
    assert_eq!(
        result["dtmf_received"], "4711",
        "the digits did not survive the floods: {result}"
    );
    assert_eq!(result["remote_hangup"], true, "{result}");
    assert_eq!(result["timed_out"], false, "{result}");
    let heard = envelope(&load(&recording));
    let (correlation, lag) = best_correlation(&envelope(&welcome), &heard);
    assert!(
        correlation > 0.8,
        "the prompt heard during the floods does not match welcome.wav: correlation {correlation:.3} at {} ms",
        lag * 20
    );
    println!("pjsua2 heard the prompt: envelope correlation {correlation:.3}");

    // Every ivr call ended normally: the phone's with its digits.
    let log = host.wait_for_log_count("exit record", 1 + SIPP_CALLS, Duration::from_secs(30));
    assert!(log.contains("ivr: collected digits 4711"), "{log}");
    let records = host.exit_records();
    assert!(
        records
            .iter()
            .all(|record| field(record, "exit_code") == Some("0")),
        "{records:#?}"
    );

    assert!(host.is_running(), "the host died:\n{}", host.log_text());
    host.expect_scenario("host-wait-bye.xml", "hello", 1);
    assert!(host.is_running(), "the host died:\n{}", host.log_text());
}
