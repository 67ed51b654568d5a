//! The admin HTTP API over real loopback TCP, with a fake host answering on the
//! originate channel, and the `callhost originate` binary against it.
//!
//! Requests are written as raw HTTP/1.1 text so the server is checked independently
//! of the hyper client the binary uses.

use std::net::SocketAddr;
use std::time::Duration;

use callhost::admin::{self, Originate, OriginateError, OriginateRequest};
use callhost::status_callback::StatusEvent;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous: the machine may be busy compiling.
const DEADLINE: Duration = Duration::from_secs(30);

/// A running admin API with a fake host behind it.
struct Harness {
    address: SocketAddr,
    /// Requests the fake host accepted (app `dialer`), in order.
    started: mpsc::UnboundedReceiver<OriginateRequest>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    host: JoinHandle<()>,
}

/// The fake host: `dialer` starts (`inst-1`, `inst-2`, …), `nosuch` is unknown,
/// `full` finds the pool full, `picky` refuses the parameters, `mute` never answers.
async fn start(token: Option<&str>) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (originate, mut requests) = mpsc::channel::<Originate>(4);
    let (started_sender, started) = mpsc::unbounded_channel();
    let host = tokio::spawn(async move {
        let mut count = 0;
        while let Some(Originate { request, reply }) = requests.recv().await {
            let answer = match request.app.as_str() {
                "dialer" => {
                    count += 1;
                    let _ = started_sender.send(request);
                    Ok(format!("inst-{count}"))
                }
                "full" => Err(OriginateError::Unavailable(
                    "the instance pool is full".into(),
                )),
                "picky" => Err(OriginateError::Invalid(
                    "outbound_parameters must be a SIP URI".into(),
                )),
                "mute" => {
                    drop(reply);
                    continue;
                }
                other => Err(OriginateError::UnknownApp(other.to_owned())),
            };
            let _ = reply.send(answer);
        }
    });
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(admin::serve(
        listener,
        token.map(str::to_owned),
        originate,
        Vec::new(),
        shutdown.clone(),
    ));
    Harness {
        address,
        started,
        shutdown,
        server,
        host,
    }
}

impl Harness {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.server)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        self.host.abort();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn error(&self) -> &str {
        self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {:?}", self.body))
    }
}

/// Send one raw request (the connection is closed by `Connection: close`) and read
/// the whole answer.
async fn send(address: SocketAddr, head: &str, body: &[u8]) -> Reply {
    tokio::time::timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut request =
            format!("{head}\r\nHost: {address}\r\nConnection: close\r\n").into_bytes();
        if !head.contains("Content-Length") && !head.contains("Transfer-Encoding") {
            request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        // The server may answer (413) and close before reading everything; that is fine.
        let _ = stream.write_all(&request).await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        parse_reply(&raw)
    })
    .await
    .expect("an answer within the deadline")
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let body = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn post_calls(address: SocketAddr, json: &str) -> Reply {
    send(
        address,
        "POST /calls HTTP/1.1\r\nContent-Type: application/json",
        json.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn post_calls_starts_an_instance() {
    let mut harness = start(None).await;
    let reply = post_calls(
        harness.address,
        r#"{"app": "dialer", "application_parameters": "from=alice", "outbound_parameters": "sip:bob@127.0.0.1:5070",
            "status_callback": "http://127.0.0.1:9000/cb",
            "status_callback_event": ["initiated", "ringing", "answered", "completed"]}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body, serde_json::json!({ "instance_id": "inst-1" }));
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let request = harness
        .started
        .try_recv()
        .expect("the host got the request");
    assert_eq!(request.app, "dialer");
    assert_eq!(request.application_parameters, "from=alice");
    assert_eq!(
        request.outbound_parameters.as_deref(),
        Some("sip:bob@127.0.0.1:5070")
    );
    let callback = request.status_callback.unwrap();
    assert_eq!(callback.url, "http://127.0.0.1:9000/cb");
    assert_eq!(callback.events, StatusEvent::ALL.to_vec());

    // Only `app` is required; a URL without events subscribes to `completed`.
    let reply = post_calls(
        harness.address,
        r#"{"app":"dialer","status_callback":"http://127.0.0.1:9/x"}"#,
    )
    .await;
    assert_eq!(
        (reply.status, &reply.body["instance_id"]),
        (201, &serde_json::json!("inst-2"))
    );
    let request = harness.started.try_recv().unwrap();
    assert_eq!(
        (
            request.application_parameters.as_str(),
            request.outbound_parameters
        ),
        ("", None)
    );
    assert_eq!(
        request.status_callback.unwrap().events,
        vec![StatusEvent::Completed]
    );
    harness.stop().await;
}

#[tokio::test]
async fn host_refusals_map_to_http_statuses() {
    let mut harness = start(None).await;
    let reply = post_calls(harness.address, r#"{"app":"nosuch"}"#).await;
    assert_eq!(reply.status, 404);
    assert!(reply.error().contains("nosuch"), "{reply:?}");

    let reply = post_calls(harness.address, r#"{"app":"full"}"#).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(reply.error().contains("pool is full"), "{reply:?}");

    let reply = post_calls(harness.address, r#"{"app":"picky"}"#).await;
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("SIP URI"), "{reply:?}");

    // The host dropped the reply without answering.
    let reply = post_calls(harness.address, r#"{"app":"mute"}"#).await;
    assert_eq!(reply.status, 503);
    assert!(reply.header("retry-after").is_some());

    assert!(harness.started.try_recv().is_err(), "nothing was started");
    harness.stop().await;
}

#[tokio::test]
async fn bad_requests_get_400_and_never_reach_the_host() {
    let mut harness = start(None).await;
    for (json, expect) in [
        ("{not json", "invalid JSON"),
        (r#"{"application_parameters":"x"}"#, "missing field `app`"),
        (
            r#"{"app":"dialer","colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"app":"dialer","status_callback":"http://127.0.0.1:9/cb","status_callback_event":["rung"]}"#,
            "rung",
        ),
        (
            r#"{"app":"dialer","status_callback":"https://example.com/cb"}"#,
            "only http://",
        ),
        (
            r#"{"app":"dialer","status_callback":"not a url"}"#,
            "not a usable URL",
        ),
        (
            r#"{"app":"dialer","status_callback_event":["completed"]}"#,
            "without status_callback",
        ),
        (r#"{"app":"../../etc/passwd"}"#, "may use only"),
        ("", "invalid JSON"),
    ] {
        let reply = post_calls(harness.address, json).await;
        assert_eq!(reply.status, 400, "{json}: {reply:?}");
        assert!(reply.error().contains(expect), "{json}: {reply:?}");
    }
    assert!(
        harness.started.try_recv().is_err(),
        "no bad request reached the host"
    );
    harness.stop().await;
}

#[tokio::test]
async fn bodies_over_64_kib_get_413() {
    let harness = start(None).await;
    let big = format!(
        r#"{{"app":"dialer","application_parameters":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let reply = post_calls(harness.address, &big).await;
    assert_eq!(reply.status, 413, "{reply:?}");

    // Without a Content-Length the limit applies while reading.
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(8192) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let reply = send(
        harness.address,
        "POST /calls HTTP/1.1\r\nTransfer-Encoding: chunked",
        &chunked,
    )
    .await;
    assert_eq!(reply.status, 413, "{reply:?}");

    // Just under the limit is fine.
    let fits = format!(
        r#"{{"app":"dialer","application_parameters":"{}"}}"#,
        "x".repeat(60 * 1024)
    );
    assert_eq!(post_calls(harness.address, &fits).await.status, 201);
    harness.stop().await;
}

#[tokio::test]
async fn other_methods_and_paths_are_refused_and_health_answers() {
    let harness = start(None).await;
    let reply = send(harness.address, "GET /health HTTP/1.1", b"").await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (200, serde_json::json!({ "status": "ok" }))
    );

    let reply = send(harness.address, "GET /calls HTTP/1.1", b"").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = send(harness.address, "DELETE /health HTTP/1.1", b"").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));

    for path in ["/", "/calls/", "/call", "/health/x"] {
        let reply = send(
            harness.address,
            &format!("POST {path} HTTP/1.1"),
            br#"{"app":"dialer"}"#,
        )
        .await;
        assert_eq!(reply.status, 404, "{path}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_host_that_stopped_listening_gets_503() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (originate, requests) = mpsc::channel::<Originate>(1);
    drop(requests);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(admin::serve(
        listener,
        None,
        originate,
        Vec::new(),
        shutdown.clone(),
    ));
    let reply = post_calls(address, r#"{"app":"dialer"}"#).await;
    assert_eq!(reply.status, 503);
    assert!(reply.error().contains("shutting down"), "{reply:?}");
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn loopback_clients_need_no_token_even_when_one_is_set() {
    let harness = start(Some("s3cret")).await;
    let reply = post_calls(harness.address, r#"{"app":"dialer"}"#).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    harness.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections() {
    let harness = start(None).await;
    // A keep-alive client that has had its answer and keeps the connection open.
    let mut stream = TcpStream::connect(harness.address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: admin\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 1024];
    while !raw.ends_with(br#"{"status":"ok"}"#) {
        let read = tokio::time::timeout(DEADLINE, stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(read > 0, "the server closed before answering");
        raw.extend_from_slice(&buffer[..read]);
    }
    assert_eq!(parse_reply(&raw).status, 200);

    // serve() returns (checked in stop) and the idle connection is closed, not left hanging.
    harness.stop().await;
    let read = tokio::time::timeout(DEADLINE, stream.read(&mut buffer))
        .await
        .expect("closed within the deadline");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected end of stream, got {read:?}"
    );
}

/// A loopback port nobody listens on: bound (so no one else gets it) but not listening,
/// so connections to it are refused.
fn refusing_port() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    (socket, address)
}

// ---- the `callhost originate` binary ----

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn originate(args: &[&str]) -> Run {
    let output = tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_callhost"))
            .arg("originate")
            .args(args)
            .env("CALLHOST_LOG", "warn")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("callhost originate finishes")
    .expect("run callhost");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_prints_the_instance_id() {
    let mut harness = start(None).await;
    let admin = format!("http://{}", harness.address);
    let run = originate(&[
        "--admin",
        &admin,
        "--app",
        "dialer",
        "--params",
        "from=alice",
        "--outbound-params",
        "sip:bob@127.0.0.1:5070",
        "--status-callback",
        "http://127.0.0.1:9000/cb",
        "--status-callback-event",
        "ringing",
        "answered",
        "--status-callback-event",
        "completed",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "inst-1\n");
    let request = harness.started.try_recv().unwrap();
    assert_eq!(request.application_parameters, "from=alice");
    assert_eq!(
        request.outbound_parameters.as_deref(),
        Some("sip:bob@127.0.0.1:5070")
    );
    assert_eq!(
        request.status_callback.unwrap().events,
        vec![
            StatusEvent::Ringing,
            StatusEvent::Answered,
            StatusEvent::Completed
        ]
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_finds_the_admin_address_in_the_config_file() {
    let harness = start(None).await;
    let dir = std::env::temp_dir().join(format!("callhost-admin-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("callhost.toml");
    std::fs::write(
        &config,
        format!("[admin]\nlisten = \"{}\"\n", harness.address),
    )
    .unwrap();
    let run = originate(&["--config", config.to_str().unwrap(), "--app", "dialer"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "inst-1\n"),
        "{}",
        run.stderr
    );

    std::fs::write(&config, "[admin]\nenabled = false\n").unwrap();
    let run = originate(&["--config", config.to_str().unwrap(), "--app", "dialer"]).await;
    assert_eq!(run.code, 64, "{}", run.stderr);
    assert!(run.stderr.contains("disabled"), "{}", run.stderr);
    std::fs::remove_dir_all(&dir).ok();
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_exit_codes_follow_sysexits() {
    let harness = start(None).await;
    let admin = format!("http://{}", harness.address);

    let run = originate(&["--admin", &admin, "--app", "nosuch"]).await;
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown app `nosuch`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    let run = originate(&[
        "--admin",
        &admin,
        "--app",
        "dialer",
        "--status-callback",
        "https://example.com/cb",
    ])
    .await;
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stderr.contains("only http://"), "{}", run.stderr);

    let run = originate(&["--admin", &admin, "--app", "full"]).await;
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(run.stderr.contains("pool is full"), "{}", run.stderr);

    // Bad usage: nothing is sent.
    let run = originate(&[
        "--admin",
        &admin,
        "--app",
        "dialer",
        "--status-callback-event",
        "rung",
    ])
    .await;
    assert_eq!(run.code, 64, "{}", run.stderr);
    let run = originate(&["--admin", "https://127.0.0.1:1", "--app", "dialer"]).await;
    assert_eq!(run.code, 64, "{}", run.stderr);
    let run = originate(&["--admin", &admin]).await;
    assert_eq!(run.code, 64, "{}", run.stderr);
    harness.stop().await;

    // Nobody listening: connection refused.
    let (_held, refusing) = refusing_port();
    let run = originate(&["--admin", &format!("http://{refusing}"), "--app", "dialer"]).await;
    assert_eq!(run.code, 69, "{}", run.stderr);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
}
