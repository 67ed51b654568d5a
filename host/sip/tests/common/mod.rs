//! Shared pieces of the integration tests: a tiny server built on the public
//! API (the harness), a SIPp runner with a kill-on-drop guard, and a raw UDP
//! SIP client for the cases SIPp cannot express.
//!
//! Everything binds to 127.0.0.1 only; every wait is bounded.

#![allow(dead_code)]

pub mod callee;
pub mod dns;

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callhost_sip::{CallEvent, IncomingCall, SipConfig, SipEndpoint, SipError};
use tokio::net::UdpSocket;

/// The SDP every harness call answers with.
pub const ANSWER_SDP: &str = "v=0\r\n\
o=callhost 1 1 IN IP4 127.0.0.1\r\n\
s=callhost\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// How the harness treats each call.
#[derive(Debug, Clone, Copy)]
pub enum Policy {
    /// Ring, answer, wait for the caller's BYE (accepting re-INVITEs).
    AnswerWaitBye,
    /// Ring, answer, hang up after this long.
    AnswerHangUpAfter(Duration),
    /// Ring and never answer.
    RingOnly,
    /// Reject at once with this code.
    Reject(u16),
}

/// What the harness saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub calls: usize,
    pub services: Vec<String>,
    pub answered: usize,
    pub answer_errors: Vec<String>,
    pub cancelled: usize,
    pub byes: usize,
    pub hang_ups: usize,
    pub reinvites: usize,
    pub infos: Vec<(String, String)>,
    pub ended: Vec<String>,
    pub offers_seen: usize,
}

/// An endpoint plus a server task applying a [`Policy`].
pub struct Harness {
    pub endpoint: Option<SipEndpoint>,
    pub stats: Arc<Mutex<Stats>>,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// Bind on 127.0.0.1:0 (UDP and TCP) with `config` otherwise, serve with `policy`.
    pub async fn start(config: SipConfig, policy: Policy) -> Harness {
        let config = SipConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            ..config
        };
        let (endpoint, mut calls) = SipEndpoint::bind(config).await.expect("bind endpoint");
        let stats = Arc::new(Mutex::new(Stats::default()));
        let shared = stats.clone();
        let server = tokio::spawn(async move {
            while let Some(call) = calls.recv().await {
                tokio::spawn(serve_call(call, policy, shared.clone()));
            }
        });
        Harness {
            endpoint: Some(endpoint),
            stats,
            server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.endpoint.as_ref().expect("endpoint").local_addr()
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().expect("stats").clone()
    }

    /// Wait (bounded) until `check` holds for the stats; returns them.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let stats = self.stats();
            if check(&stats) {
                return stats;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; stats: {stats:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(endpoint) = self.endpoint.take() {
            endpoint.shutdown().await;
        }
        self.server.abort();
    }
}

fn record(stats: &Arc<Mutex<Stats>>, update: impl FnOnce(&mut Stats)) {
    update(&mut stats.lock().expect("stats"));
}

async fn serve_call(incoming: IncomingCall, policy: Policy, stats: Arc<Mutex<Stats>>) {
    let IncomingCall {
        call,
        mut events,
        service,
        offer_sdp,
        ..
    } = incoming;
    record(&stats, |s| {
        s.calls += 1;
        s.services.push(service);
        s.offers_seen += usize::from(offer_sdp.is_some());
    });
    if let Policy::Reject(code) = policy {
        call.reject(code, None, &[]).await.expect("reject");
        return;
    }
    call.ringing().await.expect("ringing");
    if matches!(policy, Policy::RingOnly) {
        while let Some(event) = events.recv().await {
            if matches!(event, CallEvent::Cancelled) {
                record(&stats, |s| s.cancelled += 1);
            }
        }
        return;
    }
    match call.answer(ANSWER_SDP.to_string()).await {
        Ok(()) => record(&stats, |s| s.answered += 1),
        Err(error) => record(&stats, |s| s.answer_errors.push(error.to_string())),
    }
    let hang_up_after = match policy {
        Policy::AnswerHangUpAfter(delay) => Some(delay),
        _ => None,
    };
    let hang_up = async {
        match hang_up_after {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(hang_up);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None => return,
                Some(CallEvent::Bye) => record(&stats, |s| s.byes += 1),
                Some(CallEvent::Cancelled) => record(&stats, |s| s.cancelled += 1),
                Some(CallEvent::ReInvite { responder, .. }) => {
                    if responder.accept(ANSWER_SDP.to_string()).await.is_ok() {
                        record(&stats, |s| s.reinvites += 1);
                    }
                }
                Some(CallEvent::Info { content_type, body }) => {
                    record(&stats, |s| s.infos.push((content_type, body)));
                }
                Some(CallEvent::Ended { reason }) => record(&stats, |s| s.ended.push(reason)),
                Some(_) => {}
            },
            () = &mut hang_up => {
                let result: Result<(), SipError> = call.hang_up().await;
                result.expect("hang up");
                record(&stats, |s| s.hang_ups += 1);
                return;
            }
        }
    }
}

/// A local port free for both UDP and TCP on 127.0.0.1 (for SIPp's `-p`).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = StdUdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if StdTcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port for SIPp");
}

/// The SIPp binary; the test fails (it does not skip) when it is missing.
pub fn sipp_binary() -> PathBuf {
    let output = std::process::Command::new("which").arg("sipp").output();
    match output {
        Ok(output) if output.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        }
        _ => panic!(
            "SIPp is not installed (`which sipp` found nothing). These tests need it: \
             install the Debian package `sip-tester` (the project's setup script does)."
        ),
    }
}

/// The repository's SIPp scenario directory.
pub fn scenario(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name);
    assert!(path.exists(), "scenario {} missing", path.display());
    path
}

/// Kills the SIPp process (by its PID) if the test ends before it does.
struct SippGuard(Option<tokio::process::Child>);

impl Drop for SippGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// What a SIPp run reported.
#[derive(Debug)]
pub struct SippRun {
    pub exit_code: Option<i32>,
    pub successful: u64,
    pub failed: u64,
    pub output: String,
}

/// Run SIPp against `target` with `args` (scenario selection, `-m`, `-t` …);
/// adds `-i 127.0.0.1 -p <free> -timeout 30s -timeout_error -nostdin` and a
/// statistics file, waits at most 60 s.
pub async fn run_sipp(target: SocketAddr, args: &[&str]) -> SippRun {
    let binary = sipp_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port().to_string();
    let stats_file = dir.path().join("stats.csv");
    let mut command = tokio::process::Command::new(binary);
    command
        .current_dir(dir.path())
        .arg(target.to_string())
        .args(["-i", "127.0.0.1", "-p", &port])
        .args(["-timeout", "30s", "-timeout_error", "-nostdin"])
        .args(["-trace_stat", "-stf"])
        .arg(&stats_file)
        .args(["-trace_err", "-error_file"])
        .arg(dir.path().join("errors.log"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("start sipp");
    let mut guard = SippGuard(Some(child));
    let child = guard.0.as_mut().expect("child");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let read = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = read(Box::new(stdout));
    let err = read(Box::new(stderr));
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("SIPp did not finish within 60 s")
        .expect("wait for sipp");
    guard.0 = None;
    let mut output = out.await.unwrap_or_default();
    output.push_str(&err.await.unwrap_or_default());
    if let Ok(errors) = std::fs::read_to_string(dir.path().join("errors.log")) {
        output.push_str("\n--- SIPp errors.log ---\n");
        output.push_str(&errors);
    }
    let (successful, failed) = read_stats(&stats_file);
    SippRun {
        exit_code: status.code(),
        successful,
        failed,
        output,
    }
}

/// SuccessfulCall(C) and FailedCall(C) from the last line of SIPp's CSV.
pub fn read_stats(path: &Path) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (0, 0);
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (0, 0);
    };
    let Some(last) = lines.next_back() else {
        return (0, 0);
    };
    let names: Vec<&str> = header.split(';').collect();
    let values: Vec<&str> = last.split(';').collect();
    let get = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("SuccessfulCall(C)"), get("FailedCall(C)"))
}

/// Assert that SIPp ran `calls` calls, all successful.
pub fn assert_all_successful(run: &SippRun, calls: u64) {
    assert_eq!(
        run.exit_code,
        Some(0),
        "SIPp failed (exit {:?}):\n{}",
        run.exit_code,
        run.output
    );
    assert_eq!(
        run.successful, calls,
        "successful calls; output:\n{}",
        run.output
    );
    assert_eq!(run.failed, 0, "failed calls; output:\n{}", run.output);
}

/// A raw SIP-over-UDP client for hand-made messages.
pub struct RawUdp {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl RawUdp {
    pub async fn new(server: SocketAddr) -> RawUdp {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        RawUdp { socket, server }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("addr").port()
    }

    pub async fn send(&self, message: &str) {
        self.socket
            .send_to(message.as_bytes(), self.server)
            .await
            .expect("send");
    }

    /// The next datagram, or `None` after `wait`.
    pub async fn recv(&self, wait: Duration) -> Option<String> {
        let mut buffer = vec![0u8; 65_536];
        match tokio::time::timeout(wait, self.socket.recv_from(&mut buffer)).await {
            Ok(Ok((length, _))) => Some(String::from_utf8_lossy(&buffer[..length]).into_owned()),
            _ => None,
        }
    }

    /// Receive until a message whose first line starts with `prefix`
    /// (e.g. "SIP/2.0 200", "BYE "); panics after `wait`.
    pub async fn expect(&self, prefix: &str, wait: Duration) -> String {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Some(message) if message.starts_with(prefix) => return message,
                Some(_) => continue,
                None => panic!("no message starting with {prefix:?} within {wait:?}"),
            }
        }
    }
}

impl RawUdp {
    /// Like [`RawUdp::expect`], also requiring the CSeq header value `cseq`
    /// (so that a retransmitted 200 to the INVITE is not taken for another).
    pub async fn expect_cseq(&self, prefix: &str, cseq: &str, wait: Duration) -> String {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Some(message)
                    if message.starts_with(prefix) && header(&message, "CSeq") == Some(cseq) =>
                {
                    return message;
                }
                Some(_) => continue,
                None => panic!("no {prefix:?} for CSeq {cseq:?} within {wait:?}"),
            }
        }
    }
}

/// The value of header `name` in a message (first occurrence, case-insensitive).
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A request from the raw client: `method` with the given dialog pieces.
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub branch: &'a str,
    pub from_tag: &'a str,
    pub to_tag: Option<&'a str>,
    pub body: Option<(&'a str, &'a str)>,
}

impl RawRequest<'_> {
    pub fn render(&self, client: &RawUdp) -> String {
        let port = client.port();
        let server = client.server;
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let (content_type, body) = match self.body {
            Some((content_type, body)) => (format!("Content-Type: {content_type}\r\n"), body),
            None => (String::new(), ""),
        };
        format!(
            "{method} sip:svc@{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:raw@127.0.0.1:{port}>;tag={from_tag}\r\n\
             To: <sip:svc@{server}>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:raw@127.0.0.1:{port}>\r\n\
             {content_type}Content-Length: {length}\r\n\r\n{body}",
            method = self.method,
            branch = self.branch,
            from_tag = self.from_tag,
            call_id = self.call_id,
            cseq = self.cseq,
            length = body.len(),
        )
    }
}

/// The To tag of a response.
pub fn to_tag_of(message: &str) -> String {
    let to = header(message, "To")
        .or_else(|| header(message, "t"))
        .expect("To header");
    to.split(';')
        .find_map(|p| p.trim().strip_prefix("tag="))
        .expect("To tag")
        .to_string()
}

/// The next event of a call, waiting at most 20 s (`None`: the call is over).
#[allow(dead_code)] // Not every test binary uses every helper.
pub async fn next_event(events: &mut tokio::sync::mpsc::Receiver<CallEvent>) -> Option<CallEvent> {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("no call event within 20 s")
}

/// Events of an outgoing call until `Answered` (skipping progress); returns the
/// answer's SDP and headers, panics on anything else.
#[allow(dead_code)]
pub async fn wait_answered(
    events: &mut tokio::sync::mpsc::Receiver<CallEvent>,
) -> (Option<String>, Vec<(String, String)>) {
    loop {
        match next_event(events).await {
            Some(CallEvent::Progress { .. }) => continue,
            Some(CallEvent::Answered {
                answer_sdp,
                headers,
            }) => return (answer_sdp, headers),
            other => panic!("expected Answered, got {other:?}"),
        }
    }
}
