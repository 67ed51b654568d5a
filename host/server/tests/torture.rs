//! RFC 4475 and RFC 5118 torture messages, and floods, against the real
//! `callhost` binary — each test inside its own network namespace with only
//! loopback (see `common::netns`), so nothing the host sends after reading a
//! bad Via, Contact or SDP can leave 127.0.0.0/8.
//!
//! - `rfc4475_and_rfc5118_over_udp` / `…_over_tcp`: every message of
//!   shared/corpora/rfc4475/*.dat and shared/corpora/rfc5118/wire/* goes to
//!   the host once; the answer must be the one in [`EXPECTED`] (derived from
//!   the corpora's manifest.tsv), 405 and 501 must carry Allow, 420 must carry
//!   Unsupported; afterwards the host is alive and serves a normal call.
//! - `rfc2543_client_completes_a_call`: RFC 4475 §3.4.1's old-style client
//!   places a whole call with an app, and sees its own headers back.
//! - `floods_do_not_disturb_calls_in_progress`: while a pjsua2 call and SIPp
//!   calls run, ~20,000 malformed datagrams and ~5,000 INVITEs to unknown
//!   services arrive as fast as one socket sends them.
//!
//! UDP answers (RFC 3261 §18.2.2) go to the source address at the top Via's
//! sent-by port, or to the source port when the host adds `rport`: each
//! message is sent from a socket bound to 0.0.0.0:<its Via port>, so both land
//! on it. Inside the namespace every address is local, so even an answer
//! sent to the Via host itself (192.0.2.x) would arrive there.
//!
//! Routing choice: the corpora's valid INVITEs call services no app serves
//! (`user`, `UserB`, …), so the host answers them 404 Not Found after
//! routing (RFC 3261 §21.4.5); nothing in the corpora reaches an app.
//!
//! Manifest mismatches that stay, on purpose: REGISTER gets 405 with Allow
//! everywhere (this host is no registrar; RFC 4475 §3.3.7 names 405 for a
//! non-registrar endpoint), so cparam01/cparam02/regescrt do not "succeed".

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::raw_sip::{Head, next_stream_message, via_port};
use common::{Host, HostOptions, netns, scratch};

#[path = "torture/flood.rs"]
mod flood;

/// How long a test may run inside its namespace.
const INNER_LIMIT: Duration = Duration::from_secs(300);
/// How long to wait for an answer that is due (generous: a loaded 2-core box).
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How long to listen for an answer that must not come.
const SILENCE_WAIT: Duration = Duration::from_millis(1500);

/// (corpus file, status over UDP, status over TCP): the final status the host
/// must answer, `None` where no answer is due — responses are never answered
/// (RFC 4475 §3.1.2.19, §3.3.10), `test` has no Via to answer to, and over
/// TCP `baddn` and `clerr` are incomplete messages the host waits on.
const EXPECTED: &[(&str, Option<u16>, Option<u16>)] = &[
    // RFC 4475 §3.1.1: valid messages.
    // In-dialog (To has a tag) for a dialog we do not have (§12.2.2).
    ("wsinv", Some(481), Some(481)),
    // Extension method: 501 with Allow (§8.2.1).
    ("intmeth", Some(501), Some(501)),
    ("esc01", Some(404), Some(404)),
    ("escnull", Some(405), Some(405)),
    ("esc02", Some(501), Some(501)),
    ("lwsdisp", Some(200), Some(200)),
    ("longreq", Some(404), Some(404)),
    ("dblreq", Some(405), Some(405)),
    ("semiuri", Some(200), Some(200)),
    ("transports", Some(200), Some(200)),
    // MESSAGE outside a dialog is not offered: 405 with Allow.
    ("mpart01", Some(405), Some(405)),
    ("unreason", None, None),
    ("noreason", None, None),
    // §3.1.2: invalid messages.
    ("badinv01", Some(400), Some(400)),
    ("clerr", Some(400), None),
    ("ncl", Some(400), Some(400)),
    ("scalar02", Some(400), Some(400)),
    ("scalarlg", None, None),
    ("quotbal", Some(400), Some(400)),
    ("ltgtruri", Some(400), Some(400)),
    ("lwsruri", Some(400), Some(400)),
    ("lwsstart", Some(400), Some(400)),
    ("trws", Some(400), Some(400)),
    ("escruri", Some(400), Some(400)),
    // The Date header does not matter to us: the INVITE is served.
    ("baddate", Some(404), Some(404)),
    ("regbadct", Some(405), Some(405)),
    ("badaspec", Some(400), Some(400)),
    ("baddn", Some(400), None),
    ("badvers", Some(505), Some(505)),
    ("mismatch01", Some(400), Some(400)),
    ("mismatch02", Some(501), Some(501)),
    ("bigcode", None, None),
    // §3.2.1: a bare branch falls back to RFC 2543 matching.
    ("badbranch", Some(200), Some(200)),
    // §3.3: semantics.
    ("insuf", Some(400), Some(400)),
    ("unkscm", Some(416), Some(416)),
    ("novelsc", Some(416), Some(416)),
    ("unksm2", Some(405), Some(405)),
    ("bext01", Some(420), Some(420)),
    ("invut", Some(415), Some(415)),
    ("regaut01", Some(405), Some(405)),
    ("multi01", Some(400), Some(400)),
    ("mcl01", Some(400), Some(400)),
    ("bcast", None, None),
    // An endpoint answers OPTIONS with Max-Forwards 0 normally.
    ("zeromf", Some(200), Some(200)),
    ("cparam01", Some(405), Some(405)),
    ("cparam02", Some(405), Some(405)),
    ("regescrt", Some(405), Some(405)),
    ("sdp01", Some(406), Some(406)),
    // §3.4.1: RFC 2543 INVITE, served over UDP like the other INVITEs (with
    // a stand-in From tag the client never sees). On a stream no
    // Content-Length makes it unframeable (§18.3): 400.
    ("inv2543", Some(404), Some(400)),
    ("test", None, None),
    // RFC 5118.
    ("ipv6-good", Some(405), Some(405)),
    ("ipv6-bad", Some(400), Some(400)),
    ("port-ambiguous", Some(405), Some(405)),
    ("port-unambiguous", Some(405), Some(405)),
    ("via-received-param-with-delim", Some(481), Some(481)),
    ("via-received-param-no-delim", Some(200), Some(200)),
    ("ipv6-in-sdp", Some(404), Some(404)),
    ("mult-ip-in-header", Some(481), Some(481)),
    ("mult-ip-in-sdp", Some(404), Some(404)),
    ("ipv4-mapped-ipv6", Some(404), Some(404)),
    // §4.10: tolerated, read as [2001:db8::192.0.2.1] (answered like the next one).
    ("ipv6-bug-abnf-3-colons", Some(200), Some(200)),
    ("ipv6-correct-abnf-2-colons", Some(200), Some(200)),
];

/// One corpus message.
struct CorpusMessage {
    name: String,
    bytes: Vec<u8>,
    head: Head,
}

fn read_corpus(dir: PathBuf, keep: impl Fn(&std::path::Path) -> bool) -> Vec<CorpusMessage> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("corpus missing at {}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| keep(path))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read a corpus file");
            CorpusMessage {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                head: Head::parse(&bytes),
                bytes,
            }
        })
        .collect()
}

/// RFC 4475's .dat files, then RFC 5118's wire forms (CRLF line ends).
fn corpus() -> Vec<CorpusMessage> {
    let mut messages = read_corpus(common::corpora().join("rfc4475"), |path| {
        path.extension().is_some_and(|ext| ext == "dat")
    });
    messages.extend(read_corpus(
        common::corpora().join("rfc5118/wire"),
        |path| path.is_file(),
    ));
    assert_eq!(
        messages.len(),
        EXPECTED.len(),
        "every corpus file needs an expectation"
    );
    own_transactions(&mut messages);
    messages
}

/// The corpora reuse transaction ids: RFC 5118's 3-colon and 2-colon OPTIONS, for one,
/// are one message with two Request-URIs, with the same branch and CSeq. Sent one after
/// the other, a repeat is a retransmission of the earlier request to the host (RFC 3261
/// §17.2.3), not a request of its own. So every repeat of a (branch, CSeq) pair gets its
/// own branch (the name of its file appended), and each message is judged on its own.
fn own_transactions(messages: &mut [CorpusMessage]) {
    let mut seen = std::collections::HashSet::new();
    for message in messages {
        let Some(via) = message.head.get("via") else {
            continue;
        };
        let Some(branch) = via
            .split([';', ','])
            .find_map(|param| param.trim().strip_prefix("branch="))
            .map(str::to_string)
        else {
            continue;
        };
        if seen.insert((branch.clone(), message.head.cseq())) {
            continue;
        }
        // Bytes, not text: some corpus messages are not UTF-8.
        let old = format!("branch={branch}");
        let Some(at) = message
            .bytes
            .windows(old.len())
            .position(|window| window == old.as_bytes())
        else {
            continue;
        };
        let suffix = format!("-{}", message.name);
        let end = at + old.len();
        message.bytes.splice(end..end, suffix.bytes());
        message.head = Head::parse(&message.bytes);
    }
}

fn expected(name: &str) -> (Option<u16>, Option<u16>) {
    let (_, udp, tcp) = EXPECTED
        .iter()
        .find(|(file, _, _)| *file == name)
        .unwrap_or_else(|| panic!("no expectation for {name}"));
    (*udp, *tcp)
}

/// The first final answer to `message` (response text), or `None`.
type Answer = Option<String>;

/// Check one answer; a description of what is wrong, if anything.
fn judge(message: &CorpusMessage, expected: Option<u16>, answer: &Answer) -> Option<String> {
    let head = answer.as_deref().map(|text| Head::parse(text.as_bytes()));
    let got = head.as_ref().and_then(Head::status);
    if got != expected {
        return Some(format!(
            "{}: expected {expected:?}, got {got:?}\n{}",
            message.name,
            answer.as_deref().unwrap_or("")
        ));
    }
    let head = head?;
    let problem = match got {
        // RFC 3261 §8.2.1, §21.4.6: 405 and 501 say what is allowed.
        Some(405 | 501) if !head.all("allow").contains("INVITE") => "no Allow header",
        // §8.2.2.3: 420 lists the option tags it does not support.
        Some(420) if !head.all("unsupported").contains("nothingSupportsThis") => {
            "no Unsupported header"
        }
        _ => return None,
    };
    Some(format!(
        "{}: {problem} in\n{}",
        message.name,
        answer.as_deref().unwrap_or("")
    ))
}

/// Receive datagrams on `socket` until one satisfies `wanted`, within
/// `limit`: that one, or every datagram that did arrive.
fn receive_matching(
    socket: &UdpSocket,
    limit: Duration,
    wanted: impl Fn(&Head) -> bool,
) -> Result<(Head, String), Vec<String>> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let Ok((length, _)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
        let head = Head::parse(text.as_bytes());
        if wanted(&head) {
            return Ok((head, text));
        }
        seen.push(text);
    }
    Err(seen)
}

/// Wait on `socket` for a final response to `message`, within `limit`.
fn udp_answer(socket: &UdpSocket, message: &CorpusMessage, limit: Duration) -> Answer {
    // Other datagrams (retransmitted answers to earlier messages) are skipped.
    let answer = receive_matching(socket, limit, |head| {
        head.status().is_some_and(|status| status >= 200) && message.head.is_answered_by(head)
    });
    answer.ok().map(|(_, text)| text)
}

/// Send `message` on a fresh TCP connection to `host` and wait for a final
/// response to it, within `limit` (or until the host closes the connection).
fn tcp_answer(host: SocketAddr, message: &CorpusMessage, limit: Duration) -> Answer {
    let mut stream = TcpStream::connect(host).expect("connect to the host over TCP");
    stream.write_all(&message.bytes).expect("send over TCP");
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return None,
        }
        while let Some(bytes) = next_stream_message(&mut received) {
            let head = Head::parse(&bytes);
            if head.status().is_some_and(|status| status >= 200)
                && message.head.is_answered_by(&head)
            {
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    None
}

/// After the corpus: the host process still runs and serves a normal call.
fn assert_still_serving(host: &mut Host) {
    assert!(host.is_running(), "the host died:\n{}", host.log_text());
    host.expect_scenario("host-wait-bye.xml", "hello", 1);
    assert!(host.is_running(), "the host died:\n{}", host.log_text());
}

fn report(transport: &str, outcomes: &[(String, Answer)], wrong: &[String]) {
    for (name, answer) in outcomes {
        let status = answer
            .as_deref()
            .and_then(|text| Head::parse(text.as_bytes()).status());
        println!("{transport} {name}: {status:?}");
    }
    assert!(
        wrong.is_empty(),
        "wrong answers over {transport}:\n{}",
        wrong.join("\n\n")
    );
}

#[test]
fn rfc4475_and_rfc5118_over_udp() {
    if !netns::inside() {
        return netns::isolate("rfc4475_and_rfc5118_over_udp", INNER_LIMIT);
    }
    netns::prepare();
    let messages = corpus();
    // Bound before the host picks its ports, so it cannot take one of them.
    let mut sockets = BTreeMap::new();
    for message in &messages {
        let port = message.head.via_port();
        sockets.entry(port).or_insert_with(|| {
            UdpSocket::bind(("0.0.0.0", port))
                .unwrap_or_else(|error| panic!("bind 0.0.0.0:{port}: {error}"))
        });
    }
    let mut host = Host::start(
        &scratch("torture-udp"),
        HostOptions {
            apps: &["hello"],
            config: None,
        },
    );
    let mut outcomes = Vec::new();
    let mut wrong = Vec::new();
    for message in &messages {
        let (expected, _) = expected(&message.name);
        let socket = &sockets[&message.head.via_port()];
        socket
            .send_to(&message.bytes, host.sip)
            .expect("send a datagram");
        let wait = if expected.is_some() {
            ANSWER_WAIT
        } else {
            SILENCE_WAIT
        };
        let answer = udp_answer(socket, message, wait);
        wrong.extend(judge(message, expected, &answer));
        outcomes.push((message.name.clone(), answer));
    }
    report("UDP", &outcomes, &wrong);
    assert_still_serving(&mut host);
}

#[test]
fn rfc4475_and_rfc5118_over_tcp() {
    if !netns::inside() {
        return netns::isolate("rfc4475_and_rfc5118_over_tcp", INNER_LIMIT);
    }
    netns::prepare();
    let messages = corpus();
    let mut host = Host::start(
        &scratch("torture-tcp"),
        HostOptions {
            apps: &["hello"],
            config: None,
        },
    );
    let mut outcomes = Vec::new();
    let mut wrong = Vec::new();
    for message in &messages {
        let (_, expected) = expected(&message.name);
        let wait = if expected.is_some() {
            ANSWER_WAIT
        } else {
            SILENCE_WAIT
        };
        let answer = tcp_answer(host.sip, message, wait);
        wrong.extend(judge(message, expected, &answer));
        outcomes.push((message.name.clone(), answer));
    }
    report("TCP", &outcomes, &wrong);
    assert_still_serving(&mut host);
}

#[test]
fn floods_do_not_disturb_calls_in_progress() {
    if !netns::inside() {
        return netns::isolate("floods_do_not_disturb_calls_in_progress", INNER_LIMIT);
    }
    netns::prepare();
    flood::run();
}

/// The first datagram on `socket` that satisfies `wanted`, within
/// [`ANSWER_WAIT`]; panics with what did arrive otherwise.
fn receive_until(socket: &UdpSocket, what: &str, wanted: impl Fn(&Head) -> bool) -> (Head, String) {
    receive_matching(socket, ANSWER_WAIT, wanted).unwrap_or_else(|seen| {
        panic!(
            "no {what} within {ANSWER_WAIT:?}; received:\n{}",
            seen.join("\n")
        )
    })
}

/// RFC 4475 §3.4.1 end to end: an RFC 2543 client (no Via branch, no From
/// tag, no Contact, no Max-Forwards, no Content-Length) calls an app over
/// UDP. The app answers, plays and hangs up; the client sees its own Via and
/// From in every response, and the host's BYE reaches it at its From
/// address with its own From (no tag) as To.
#[test]
fn rfc2543_client_completes_a_call() {
    if !netns::inside() {
        return netns::isolate("rfc2543_client_completes_a_call", INNER_LIMIT);
    }
    netns::prepare();
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind the client");
    let port = client.local_addr().unwrap().port();
    let media = UdpSocket::bind("127.0.0.1:0").expect("bind the client's RTP port");
    let mut host = Host::start(
        &scratch("torture-rfc2543"),
        HostOptions {
            apps: &["hello"],
            config: None,
        },
    );
    let via = format!("SIP/2.0/UDP 127.0.0.1:{port}");
    let from = format!("<sip:caller@127.0.0.1:{port}>");
    let to = format!("<sip:hello@{}>", host.sip);
    let call_id = "rfc2543-call@127.0.0.1";
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\n",
        media.local_addr().unwrap().port()
    );
    let invite = format!(
        "INVITE sip:hello@{host} SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\r\n{sdp}",
        host = host.sip
    );
    client.send_to(invite.as_bytes(), host.sip).unwrap();
    let (ok, text) = receive_until(&client, "200 to the INVITE", |head| {
        head.status().is_some_and(|status| status >= 200)
    });
    assert_eq!(ok.status(), Some(200), "{text}");
    // RFC 3261 §8.2.6.2: From as sent (the stand-in tag stays inside), Via
    // as sent but for `received`, which §18.2.1 lets the host add.
    assert_eq!(ok.get("from"), Some(from.as_str()), "{text}");
    let top_via = ok.get("via").unwrap_or_default();
    assert!(
        top_via.starts_with(&via) && !top_via.contains("branch"),
        "{text}"
    );
    let host_to = ok.get("to").unwrap_or_default().to_owned();
    assert!(host_to.contains(";tag="), "{text}");
    let target = ok
        .get("contact")
        .and_then(|contact| contact.split(['<', '>']).nth(1))
        .unwrap_or_else(|| panic!("no Contact in\n{text}"))
        .to_owned();
    let ack = format!(
        "ACK {target} SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\nTo: {host_to}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 ACK\r\n\r\n"
    );
    client.send_to(ack.as_bytes(), host.sip).unwrap();
    // hello plays its prompt, then hangs up: the BYE comes to the From URI.
    let (bye, text) = receive_until(&client, "BYE from the host", |head| {
        head.start_line.starts_with("BYE ")
    });
    assert!(
        bye.start_line
            .starts_with(&format!("BYE sip:caller@127.0.0.1:{port} ")),
        "{text}"
    );
    assert_eq!(bye.get("to"), Some(from.as_str()), "{text}");
    assert_eq!(bye.get("from"), Some(host_to.as_str()), "{text}");
    let mut answer = String::from("SIP/2.0 200 OK\r\n");
    for name in ["via", "from", "to", "call-id", "cseq"] {
        for (header, value) in bye.headers.iter().filter(|(header, _)| header == name) {
            answer.push_str(&format!("{header}: {value}\r\n"));
        }
    }
    answer.push_str("Content-Length: 0\r\n\r\n");
    client.send_to(answer.as_bytes(), host.sip).unwrap();
    let log = host.wait_for_log("exit record", ANSWER_WAIT);
    let record = host.exit_records().pop().unwrap_or_default();
    assert!(record.contains("app=hello"), "{log}");
    assert!(record.contains("exit_code=0"), "{log}");
    assert!(host.is_running(), "the host died:\n{}", host.log_text());
}

/// The Via port reader copes with the LWS RFC 3261 allows (and RFC 4475 uses).
#[test]
fn via_ports_with_odd_whitespace() {
    assert_eq!(via_port("SIP/2.0/UDP 192.0.2.1:5070;branch=x"), 5070);
    assert_eq!(via_port("SIP  /   2.0 / UDP  192.0.2.2 ;rport"), 5060);
    assert_eq!(via_port("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;b"), 19823);
    assert_eq!(via_port("SIP/2.0/UDP [2001:db8::9:1];branch=x"), 5060);
    assert_eq!(via_port("SIP/2.0/UDP host.example.com : 6000"), 6000);
}
