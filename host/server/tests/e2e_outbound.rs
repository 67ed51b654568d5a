//! Outbound calls end to end: `callhost originate` and `POST /calls` start outbound
//! apps against the real `callhost` binary; SIPp plays the callee (answer, busy, no
//! answer), a loopback HTTP receiver takes the status callbacks.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Host, HostOptions, PjsuaCallee, SippCallee, field, scratch};

/// Run `callhost originate` against `host`; returns (exit code, stdout, stderr).
fn originate(host: &Host, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_callhost"))
        .arg("originate")
        .arg("--admin")
        .arg(format!("http://{}", host.admin))
        .args(args)
        .output()
        .expect("run callhost originate");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The exit record of instance `id`, waiting for it.
fn exit_record(host: &Host, id: &str) -> String {
    let needle = format!("instance_id={id}");
    let start = Instant::now();
    loop {
        if let Some(record) = host
            .exit_records()
            .into_iter()
            .find(|line| line.contains(&needle))
        {
            return record;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no exit record for {id}:\n{}",
            host.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn originate_dialer_calls_a_sipp_callee_and_plays_hello() {
    let dir = scratch("originate-dialer");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["dialer"],
            config: None,
        },
    );
    let mut callee = SippCallee::start(&dir, "uas-answer.xml");
    let (code, id, stderr) = originate(
        &host,
        &["--app", "dialer", "--outbound-params", &callee.uri("bob")],
    );
    assert_eq!(code, 0, "originate failed: {stderr}");
    assert!(
        id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "instance id {id:?}"
    );
    let record = exit_record(&host, &id);
    assert_eq!(
        field(&record, "exit_code"),
        Some("0"),
        "{record}\n{}",
        host.log_text()
    );
    assert_eq!(field(&record, "app"), Some("dialer"), "{record}");
    let run = callee.finish(Duration::from_secs(30));
    assert_eq!(
        run.code, 0,
        "the SIPp callee did not see answer + BYE:\n{}",
        run.output
    );
    let log = host.log_text();
    assert!(log.contains("outgoing call answered"), "{log}");
    assert!(
        log.contains("dialer: prompt ended with NORMAL"),
        "the whole prompt was played:\n{log}"
    );
}

#[test]
fn dialer_to_a_busy_callee_logs_busy_and_exits_below_minus_100() {
    let dir = scratch("originate-busy");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["dialer"],
            config: None,
        },
    );
    let mut callee = SippCallee::start(&dir, "uas-busy.xml");
    let (code, id, stderr) = originate(
        &host,
        &["--app", "dialer", "--outbound-params", &callee.uri("busy")],
    );
    assert_eq!(code, 0, "{stderr}");
    let record = exit_record(&host, &id);
    assert_eq!(field(&record, "exit_code"), Some("-586"), "{record}");
    let log = host.log_text();
    assert!(log.contains("cause BUSY, SIP status 486"), "{log}");
    assert_eq!(callee.finish(Duration::from_secs(30)).code, 0);
}

#[test]
fn an_unanswered_call_is_cancelled_at_the_apps_timeout() {
    let dir = scratch("originate-timeout");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["call-probe"],
            config: None,
        },
    );
    let mut callee = SippCallee::start(&dir, "uas-no-answer.xml");
    let started = Instant::now();
    let (code, id, stderr) = originate(
        &host,
        &[
            "--app",
            "call-probe",
            "--params",
            "timeout=2 start=1",
            "--outbound-params",
            &callee.uri("nobody"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let record = exit_record(&host, &id);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout was not honoured"
    );
    assert_eq!(field(&record, "exit_code"), Some("1"), "{record}");
    let log = host.log_text();
    assert!(
        log.contains("call-probe: started, state=CALL_OUTGOING"),
        "{log}"
    );
    assert!(
        log.contains("call-probe: state=IDLE cause=TIMEOUT"),
        "{log}"
    );
    let run = callee.finish(Duration::from_secs(30));
    assert_eq!(
        run.code, 0,
        "the callee did not get CANCEL:\n{}",
        run.output
    );
}

#[test]
fn originate_refuses_unknown_apps_and_an_unreachable_admin_listener() {
    let host = Host::start(
        &scratch("originate-refusals"),
        HostOptions {
            apps: &["dialer"],
            config: None,
        },
    );
    let (code, _, stderr) = originate(
        &host,
        &[
            "--app",
            "no-such-app",
            "--outbound-params",
            "sip:x@127.0.0.1:9",
        ],
    );
    assert_eq!(code, 65, "{stderr}");
    assert!(stderr.contains("no-such-app"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_callhost"))
        .args([
            "originate",
            "--admin",
            &format!("http://127.0.0.1:{}", common::free_port()),
            "--app",
            "dialer",
        ])
        .output()
        .expect("run callhost originate");
    assert_eq!(
        output.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A loopback HTTP server that answers 200 to every request and keeps the bodies.
fn callback_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let url = format!("http://{}/status", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        // Bounded: a test run never sends more than a few dozen callbacks.
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            let body = loop {
                let Ok(read) = stream.read(&mut buffer) else {
                    break None;
                };
                if read == 0 {
                    break None;
                }
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break Some(
                            String::from_utf8_lossy(&request[end + 4..end + 4 + length])
                                .into_owned(),
                        );
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(body) = body {
                kept.lock().unwrap().push(body);
            }
        }
    });
    (url, bodies)
}

/// One form field of an urlencoded body, decoded.
fn form_field(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (decode(name) == key).then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap_or(b'?'));
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn post_calls_starts_the_dialer_and_status_callbacks_arrive_in_order() {
    let dir = scratch("post-calls");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["dialer"],
            config: None,
        },
    );
    let mut callee = SippCallee::start(&dir, "uas-answer.xml");
    let (url, bodies) = callback_receiver();
    let request = serde_json::json!({
        "app": "dialer",
        "outbound_parameters": callee.uri("bob"),
        "status_callback": url,
        "status_callback_event": ["initiated", "ringing", "answered", "completed"],
    });
    let (status, response) = common::http_post(host.admin, "/calls", &request.to_string());
    assert_eq!(status, 201, "{response}");
    let response: serde_json::Value = serde_json::from_str(&response).expect("JSON response");
    let id = response["instance_id"]
        .as_str()
        .expect("instance_id")
        .to_owned();
    exit_record(&host, &id);
    assert_eq!(callee.finish(Duration::from_secs(30)).code, 0);

    let start = Instant::now();
    while bodies.lock().unwrap().len() < 4 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let bodies = bodies.lock().unwrap().clone();
    let events: Vec<String> = bodies
        .iter()
        .filter_map(|body| form_field(body, "StatusCallbackEvent"))
        .collect();
    assert_eq!(
        events,
        ["initiated", "ringing", "answered", "completed"],
        "{bodies:#?}"
    );
    let call_id = form_field(&bodies[0], "SipCallId").expect("SipCallId");
    for body in &bodies {
        assert_eq!(
            form_field(body, "CallSid").as_deref(),
            Some(id.as_str()),
            "{body}"
        );
        assert_eq!(
            form_field(body, "SipCallId").as_deref(),
            Some(call_id.as_str()),
            "{body}"
        );
        let timestamp = form_field(body, "Timestamp").expect("Timestamp");
        assert!(
            timestamp.ends_with("+0000") && timestamp.contains(", "),
            "RFC 2822: {timestamp}"
        );
    }
    assert_eq!(
        form_field(&bodies[1], "SipResponseCode").as_deref(),
        Some("180"),
        "{}",
        bodies[1]
    );
    assert_eq!(
        form_field(&bodies[2], "SipResponseCode").as_deref(),
        Some("200"),
        "{}",
        bodies[2]
    );
    assert_eq!(
        form_field(&bodies[2], "SipHeader_X-Callee").as_deref(),
        Some("sipp"),
        "{}",
        bodies[2]
    );
    let duration: u64 = form_field(&bodies[3], "CallDuration")
        .expect("CallDuration")
        .parse()
        .expect("whole seconds");
    assert!(
        duration >= 1,
        "the dialer's prompt lasts seconds: {}",
        bodies[3]
    );
}

#[test]
fn the_apps_from_picks_an_account_whose_credentials_answer_a_digest_challenge() {
    let dir = scratch("originate-auth");
    // The callee challenges with 401 and checks user alice / password secret (RFC 2617).
    let mut callee = SippCallee::start_file(
        &dir,
        &common::repo().join("host/sip/tests/sipp/uas-auth-401.xml"),
    );
    let config = "[accounts.alice]\naor = \"sip:alice@callhost.test\"\npassword = \"secret\"\n";
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["dialer"],
            config: Some(config),
        },
    );
    let (code, id, stderr) = originate(
        &host,
        &[
            "--app",
            "dialer",
            "--params",
            "alice",
            "--outbound-params",
            &callee.uri("bob"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let record = exit_record(&host, &id);
    assert_eq!(
        field(&record, "exit_code"),
        Some("0"),
        "{record}\n{}",
        host.log_text()
    );
    let run = callee.finish(Duration::from_secs(30));
    assert_eq!(
        run.code, 0,
        "SIPp did not accept the credentials:\n{}",
        run.output
    );
}

#[test]
fn a_proxy_challenge_and_a_stale_nonce_are_answered_with_the_accounts_credentials() {
    let dir = scratch("originate-auth-407");
    // 407, then 407 stale=true with a new nonce, then 200; SIPp checks Proxy-Authorization's parts.
    let mut callee = SippCallee::start_file(
        &dir,
        &common::repo().join("host/sip/tests/sipp/uas-auth-407.xml"),
    );
    let config = "[accounts.alice]\naor = \"sip:alice@callhost.test\"\npassword = \"secret\"\n";
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["dialer"],
            config: Some(config),
        },
    );
    let (code, id, stderr) = originate(
        &host,
        &[
            "--app",
            "dialer",
            "--params",
            "sip:alice@callhost.test",
            "--outbound-params",
            &callee.uri("bob"),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let record = exit_record(&host, &id);
    // The callee hangs up while the prompt plays: a normal end for the dialer.
    assert_eq!(
        field(&record, "exit_code"),
        Some("0"),
        "{record}\n{}",
        host.log_text()
    );
    assert!(
        host.log_text().contains("outgoing call answered"),
        "{}",
        host.log_text()
    );
    let run = callee.finish(Duration::from_secs(30));
    assert_eq!(run.code, 0, "{}", run.output);
}

#[test]
fn record_outbound_records_a_pjsua_callee_until_it_falls_silent() {
    let dir = scratch("record-outbound");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["record-outbound"],
            config: None,
        },
    );
    // 3 s of tone, then silence: the recording ends 3 s (the default) into the silence.
    let played = dir.join("tone-then-silence.wav");
    let status = Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
        .arg(&played)
        .args(["synth", "3", "sine", "500", "vol", "0.5", "pad", "0", "20"])
        .status()
        .expect("run sox");
    assert!(status.success());
    let port = common::free_port();
    let callee = PjsuaCallee::start(
        &dir,
        port,
        &[
            "--play",
            played.to_str().unwrap(),
            "--hangup-after",
            "10",
            "--timeout",
            "30",
        ],
    );
    let (code, id, stderr) = originate(
        &host,
        &[
            "--app",
            "record-outbound",
            "--outbound-params",
            &format!("sip:callee@127.0.0.1:{port}"),
        ],
    );
    assert_eq!(code, 0, "originate failed: {stderr}");
    let result = callee.finish();
    assert_eq!(result["connected"], true, "{result}");
    let record = exit_record(&host, &id);
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
    let log = host.log_text();
    let name = format!("recfile_{id}.wav");
    assert!(
        log.contains(&format!(
            "recorded {name}: SILENCE, audio detected: Some(true)"
        )),
        "{log}"
    );
    let recorded = common::audio::load(&common::prompts().join("record-outbound").join(&name));
    let seconds = recorded.len() as f64 / 8000.0;
    assert!(
        (5.0..7.5).contains(&seconds),
        "{seconds:.2} s: the tone, then 3 s of silence"
    );
    assert!(common::audio::tone_share(&recorded[4000..12_000], 500.0) > 0.8);
}
