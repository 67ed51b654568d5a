//! The RFC 4475 torture messages sent over real sockets (UDP and TCP), and
//! TCP stream framing: keepalives, unframeable streams, one connection per
//! broken stream. The endpoint must answer what it can, never crash or stall,
//! and keep serving afterwards.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use callhost_sip::SipConfig;
use common::{Harness, Policy, RawRequest, RawUdp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rfc4475");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus missing at {}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read"))
        })
        .collect()
}

/// The first status code that comes back on a fresh TCP connection after
/// sending `bytes`, or `None` within `wait`.
async fn first_status_over_tcp(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect(server).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(count)) => received.extend_from_slice(&chunk[..count]),
        }
        let text = String::from_utf8_lossy(&received);
        if let Some(line) = text.lines().find(|l| l.starts_with("SIP/2.0 ")) {
            return line.get(8..11).and_then(|code| code.parse().ok());
        }
    }
}

/// First response over TCP for every corpus file. `None`: no answer is due
/// (responses are dropped, `test` has no Via; `clerr` and `baddn` are
/// incomplete on a stream and wait for more bytes). 100: an INVITE became a
/// call (the harness rejects it afterwards).
const OVER_TCP: &[(&str, Option<u16>)] = &[
    ("badaspec", Some(400)),
    ("badbranch", Some(200)),
    ("baddate", Some(100)),
    ("baddn", None),
    ("badinv01", Some(400)),
    ("badvers", Some(505)),
    ("bcast", None),
    ("bext01", Some(420)),
    ("bigcode", None),
    ("clerr", None),
    ("cparam01", Some(405)),
    ("cparam02", Some(405)),
    ("dblreq", Some(405)),
    ("esc01", Some(100)),
    ("esc02", Some(501)),
    ("escnull", Some(405)),
    ("escruri", Some(400)),
    ("insuf", Some(400)),
    ("intmeth", Some(501)),
    // No Content-Length on a stream: unframeable (RFC 3261 §18.3).
    ("inv2543", Some(400)),
    ("invut", Some(415)),
    ("longreq", Some(100)),
    ("ltgtruri", Some(400)),
    ("lwsdisp", Some(200)),
    ("lwsruri", Some(400)),
    ("lwsstart", Some(400)),
    ("mcl01", Some(400)),
    ("mismatch01", Some(400)),
    ("mismatch02", Some(501)),
    ("mpart01", Some(405)),
    ("multi01", Some(400)),
    ("ncl", Some(400)),
    ("noreason", None),
    ("novelsc", Some(416)),
    ("quotbal", Some(400)),
    ("regaut01", Some(405)),
    ("regbadct", Some(405)),
    ("regescrt", Some(405)),
    ("scalar02", Some(400)),
    ("scalarlg", None),
    ("sdp01", Some(406)),
    ("semiuri", Some(200)),
    ("test", None),
    ("transports", Some(200)),
    ("trws", Some(400)),
    ("unkscm", Some(416)),
    ("unksm2", Some(405)),
    ("unreason", None),
    // Its To carries a tag: an in-dialog request for a dialog we do not have.
    ("wsinv", Some(481)),
    ("zeromf", Some(200)),
];

#[tokio::test]
async fn rfc4475_messages_over_tcp_get_their_answers() {
    let harness = Harness::start(SipConfig::default(), Policy::Reject(404)).await;
    let files = corpus();
    assert_eq!(files.len(), OVER_TCP.len());
    let mut wrong = Vec::new();
    for (name, bytes) in &files {
        let expected = OVER_TCP
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"))
            .1;
        // Silence is only checked for a short while; answers come at once.
        let wait = if expected.is_some() { 5 } else { 1 };
        let got = first_status_over_tcp(harness.addr(), bytes, Duration::from_secs(wait)).await;
        if got != expected {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong answers over TCP:\n{}",
        wrong.join("\n")
    );
    // The INVITEs that became calls: esc01, longreq, baddate.
    let stats = harness.wait_for("3 calls", |s| s.calls == 3).await;
    // esc01's Request-URI user part is percent-decoded once.
    assert!(
        stats.services.iter().any(|s| s == "sips:user@example.com"),
        "{stats:?}"
    );
    harness.shutdown().await;
}

#[tokio::test]
async fn rfc4475_messages_over_udp_do_not_disturb_the_endpoint() {
    let harness = Harness::start(SipConfig::default(), Policy::Reject(404)).await;
    let client = RawUdp::new(harness.addr()).await;
    for (_, bytes) in corpus() {
        client
            .socket
            .send_to(&bytes, harness.addr())
            .await
            .expect("send");
    }
    // Replies go where each message's Via says (port 5060 of the source
    // address for most of them), so here only liveness is checked.
    let options = RawRequest {
        method: "OPTIONS",
        call_id: "alive-1",
        cseq: 1,
        branch: "z9hG4bKalive1",
        from_tag: "a",
        to_tag: None,
        body: None,
    };
    client.send(&options.render(&client)).await;
    client
        .expect_cseq("SIP/2.0 200", "1 OPTIONS", Duration::from_secs(5))
        .await;
    // esc01, longreq, baddate, and over UDP inv2543 (RFC 2543, no From tag).
    let stats = harness.wait_for("4 calls", |s| s.calls == 4).await;
    assert!(stats.services.iter().any(|s| s == "UserB"), "{stats:?}");
    harness.shutdown().await;
}

#[tokio::test]
async fn tcp_keepalive_and_broken_framing() {
    let harness = Harness::start(SipConfig::default(), Policy::Reject(404)).await;
    let mut stream = TcpStream::connect(harness.addr()).await.expect("connect");
    // CRLFCRLF ping → CRLF pong (RFC 5626 §3.5.1), connection stays usable.
    stream.write_all(b"\r\n\r\n").await.expect("ping");
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut pong))
        .await
        .expect("pong in time")
        .expect("pong");
    assert_eq!(&pong, b"\r\n");
    let options = format!(
        "OPTIONS sip:svc@{addr} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKk1\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:svc@{addr}>\r\nCall-ID: ka-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n",
        addr = harness.addr()
    );
    // Two messages in one write, the second split across writes.
    let first = format!("{options}Content-Length: 0\r\n\r\n");
    let second = first
        .replace("ka-1", "ka-2")
        .replace("z9hG4bKk1", "z9hG4bKk2");
    let (head, tail) = second.split_at(40);
    stream
        .write_all(format!("{first}{head}").as_bytes())
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(tail.as_bytes()).await.expect("write");
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    while text.matches("SIP/2.0 200").count() < 2 {
        let count = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("two 200s in time")
            .expect("read");
        assert!(count > 0, "connection closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&chunk[..count]));
    }
    assert!(
        text.contains("Call-ID: ka-1") && text.contains("Call-ID: ka-2"),
        "{text}"
    );

    // An unframeable message: 400, then the server closes the connection.
    stream
        .write_all(format!("{options}Content-Length: -5\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .expect("read");
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("SIP/2.0 400"), "{rest}");
    harness.shutdown().await;
}
