//! The generator against a scripted callee on a real 127.0.0.1 socket, for the one UAC rule
//! SIPp cannot exercise: every retransmitted 2xx must be ACKed again (RFC 3261 section
//! 13.2.2.4). SIPp treats the repeated ACK as a retransmission of the first one and answers
//! it with its last message, so the two would loop; a scripted peer does not.
//!
//! Every read has a timeout and every loop a count bound; the generator child is killed by
//! PID if it outlives its limit.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LOADGEN: &str = env!("CARGO_BIN_EXE_callhost-loadgen");

/// Reads datagrams until one starts with `prefix` (bounded by count and the socket's
/// read timeout).
fn receive_starting_with(socket: &UdpSocket, prefix: &str) -> (String, std::net::SocketAddr) {
    let mut buffer = [0u8; 8192];
    for _ in 0..200 {
        let (length, source) = socket
            .recv_from(&mut buffer)
            .unwrap_or_else(|error| panic!("waiting for {prefix}: {error}"));
        let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
        if text.starts_with(prefix) {
            return (text, source);
        }
    }
    panic!("no {prefix} among 200 datagrams");
}

/// The header lines a response copies from its request (RFC 3261 section 8.2.6.2).
fn copied_headers(request: &str) -> String {
    let mut lines = String::new();
    for line in request.lines() {
        let lower = line.to_ascii_lowercase();
        if ["via:", "from:", "to:", "call-id:", "cseq:"]
            .iter()
            .any(|name| lower.starts_with(name))
        {
            lines.push_str(line);
            lines.push_str("\r\n");
        }
    }
    lines
}

#[test]
fn a_retransmitted_answer_is_acked_again() {
    let callee = UdpSocket::bind("127.0.0.1:0").expect("callee socket");
    callee
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    let media = UdpSocket::bind("127.0.0.1:0").expect("callee media socket");
    let callee_address = callee.local_addr().unwrap();
    let report_path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scripted-{}.json", std::process::id()));
    let mut child = Command::new(LOADGEN)
        .args([
            "--target",
            &callee_address.to_string(),
            "--service",
            "scripted",
        ])
        .args(["--calls", "1", "--rate", "10", "--hold", "1", "--json"])
        .arg(&report_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start callhost-loadgen");

    let (invite, caller) = receive_starting_with(&callee, "INVITE ");
    assert!(
        invite.starts_with(&format!("INVITE sip:scripted@{callee_address} SIP/2.0\r\n")),
        "{invite}"
    );
    assert!(
        invite.contains("m=audio ") && invite.contains(" RTP/AVP 0 101\r\n"),
        "{invite}"
    );
    let headers = copied_headers(&invite).replacen("\r\nCall-ID", ";tag=scripted-1\r\nCall-ID", 1);
    assert!(
        headers.contains(";tag=scripted-1"),
        "To is the line before Call-ID: {headers}"
    );
    let sdp = format!(
        "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\n",
        media.local_addr().unwrap().port()
    );
    let answer = format!(
        "SIP/2.0 200 OK\r\n{headers}Contact: <sip:peer@{callee_address}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    callee.send_to(answer.as_bytes(), caller).expect("send 200");
    let (first_ack, _) = receive_starting_with(&callee, "ACK ");
    assert!(
        first_ack.starts_with(&format!("ACK sip:peer@{callee_address} SIP/2.0\r\n")),
        "ACK goes to the Contact"
    );
    assert!(
        first_ack.contains("CSeq: 1 ACK\r\n") && first_ack.contains(";tag=scripted-1"),
        "{first_ack}"
    );

    callee
        .send_to(answer.as_bytes(), caller)
        .expect("retransmit 200");
    let (second_ack, _) = receive_starting_with(&callee, "ACK ");
    assert_eq!(second_ack, first_ack, "the same ACK again");

    // RTP flows to the answered address while the call is held.
    media
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rtp = [0u8; 512];
    let (length, _) = media
        .recv_from(&mut rtp)
        .expect("the caller sends RTP to the answer's address");
    assert_eq!(length, 172);

    let (bye, bye_source) = receive_starting_with(&callee, "BYE ");
    assert!(bye.contains("CSeq: 2 BYE\r\n"), "{bye}");
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}Content-Length: 0\r\n\r\n",
        copied_headers(&bye)
    );
    callee
        .send_to(ok.as_bytes(), bye_source)
        .expect("answer BYE");

    let started = Instant::now();
    while child.try_wait().expect("loadgen status").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("callhost-loadgen did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("loadgen output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report"))
            .expect("JSON");
    let number = |pointer: &str| {
        report
            .pointer(pointer)
            .and_then(Value::as_f64)
            .unwrap_or(-1.0)
    };
    assert_eq!(number("/calls/established"), 1.0, "{report:#}");
    assert_eq!(
        number("/signalling/answer_retransmissions"),
        1.0,
        "{report:#}"
    );
    assert_eq!(number("/signalling/byes_answered"), 1.0, "{report:#}");
    assert!(number("/to_host/packets_sent") > 0.0, "{report:#}");
}
