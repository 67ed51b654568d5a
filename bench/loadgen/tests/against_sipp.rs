//! End-to-end runs of the callhost-loadgen binary against real peers on 127.0.0.1: SIPp as
//! an echoing UAS (every RTP packet comes back), SIPp hanging up on its own, and a port
//! where nothing listens. Each test checks the JSON report the binary writes.
//!
//! Needs `sipp` on PATH (installed on the project machines). Every peer binds 127.0.0.1;
//! every child is bounded by its own timeout and killed by PID on drop.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LOADGEN: &str = env!("CARGO_BIN_EXE_callhost-loadgen");

fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a probe socket");
    socket.local_addr().expect("probe address").port()
}

fn scratch(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("loadgen-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

/// A SIPp UAS child, killed (by its own PID) when dropped.
struct Sipp {
    child: Child,
    port: u16,
    directory: PathBuf,
}

impl Sipp {
    fn start(directory: &Path, scenario: &[&str], calls: usize) -> Sipp {
        let port = free_udp_port();
        let media_port = free_udp_port();
        let child = Command::new("sipp")
            .current_dir(directory)
            .args(scenario)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
            .args([
                "-m",
                &calls.to_string(),
                "-timeout",
                "60s",
                "-nostdin",
                "-trace_err",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(directory.join("sipp-stderr.txt")).expect("stderr file"))
            .spawn()
            .expect("sipp is installed");
        // SIPp needs a moment to bind before the first INVITE.
        std::thread::sleep(Duration::from_millis(500));
        Sipp {
            child,
            port,
            directory: directory.to_path_buf(),
        }
    }

    /// Waits (bounded) for SIPp to exit by itself; its exit code (0: every call went as
    /// the scenario says), or `None` if it had to be killed.
    fn finish(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("sipp status") {
                return status.code();
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn diagnostics(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.directory)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") || name.ends_with(".txt") {
                let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
                text.push_str(&format!(
                    "--- {name}\n{}\n",
                    content.chars().take(4000).collect::<String>()
                ));
            }
        }
        text
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the generator (bounded: it has its own hard deadline, and we kill it after
/// `limit`) and returns its process output and parsed report.
fn run_loadgen(directory: &Path, arguments: &[&str], limit: Duration) -> (Output, Option<Value>) {
    let report_path = directory.join("report.json");
    let _ = std::fs::remove_file(&report_path);
    let mut child = Command::new(LOADGEN)
        .args(arguments)
        .arg("--json")
        .arg(&report_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start callhost-loadgen");
    let started = Instant::now();
    while child.try_wait().expect("loadgen status").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("loadgen output");
    let report = std::fs::read_to_string(&report_path)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the report is JSON"));
    (output, report)
}

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("report has no number at {pointer}: {report:#}"))
}

#[test]
fn twenty_calls_against_an_echoing_sipp_all_establish_and_lose_nothing() {
    let directory = scratch("echo");
    let sipp = Sipp::start(&directory, &["-sn", "uas", "-rtp_echo"], 20);
    let target = format!("127.0.0.1:{}", sipp.port);
    let (output, report) = run_loadgen(
        &directory,
        &[
            "--target",
            &target,
            "--service",
            "echo",
            "--calls",
            "20",
            "--rate",
            "10",
            "--hold",
            "4",
        ],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "loadgen failed: {stderr}\n{}",
        sipp.diagnostics()
    );
    let report = report.expect("report written");
    let context = format!("{report:#}\n{stderr}\n{}", sipp.diagnostics());
    assert_eq!(number(&report, "/calls/established"), 20.0, "{context}");
    assert_eq!(number(&report, "/calls/failed"), 0.0, "{context}");
    assert_eq!(number(&report, "/calls/dropped"), 0.0, "{context}");
    assert_eq!(
        number(&report, "/calls/held_at_window_end"),
        20.0,
        "{context}"
    );
    assert_eq!(
        number(&report, "/signalling/byes_answered"),
        20.0,
        "{context}"
    );
    assert_eq!(
        number(&report, "/signalling/bye_timeouts"),
        0.0,
        "{context}"
    );

    // Every call is held at least 4 s at 50 packets/s.
    let sent = number(&report, "/to_host/packets_sent");
    assert!(
        sent >= 20.0 * 50.0 * 4.0 * 0.9,
        "too few packets sent: {context}"
    );
    assert_eq!(number(&report, "/to_host/send_errors"), 0.0, "{context}");
    // SIPp echoes each packet back to its sender: what comes back is what went out.
    let received = number(&report, "/from_host/packets_received");
    assert!(received <= sent, "{context}");
    assert!(received >= sent * 0.98, "echo missing packets: {context}");
    assert_eq!(number(&report, "/from_host/lost"), 0.0, "{context}");
    assert_eq!(number(&report, "/from_host/duplicates"), 0.0, "{context}");
    assert_eq!(number(&report, "/from_host/malformed"), 0.0, "{context}");

    // The steady window (hold 4 s minus the 2 s settle) was measured.
    assert!(
        number(&report, "/timing/steady_window_s") >= 1.5,
        "{context}"
    );
    let window_packets = number(&report, "/from_host/packets_received_in_window");
    assert!(window_packets > 0.0, "{context}");
    assert_eq!(
        number(&report, "/host_pacing/count"),
        window_packets,
        "{context}"
    );
    assert!(number(&report, "/setup_time/count") == 20.0, "{context}");
    assert!(
        number(&report, "/generator/cpu_seconds_total") >= 0.0,
        "{context}"
    );
    assert_eq!(
        report.pointer("/host"),
        Some(&Value::Null),
        "no --host-pid given: {context}"
    );
}

#[test]
fn calls_are_spread_round_robin_over_several_targets_and_their_pids_summed() {
    let directory = scratch("targets");
    let first_directory = directory.join("first");
    let second_directory = directory.join("second");
    std::fs::create_dir_all(&first_directory).expect("scratch directory");
    std::fs::create_dir_all(&second_directory).expect("scratch directory");
    // Each SIPp takes exactly 3 calls, then exits 0 once they are over.
    let mut first = Sipp::start(&first_directory, &["-sn", "uas", "-rtp_echo"], 3);
    let mut second = Sipp::start(&second_directory, &["-sn", "uas", "-rtp_echo"], 3);
    let (first_target, second_target) = (
        format!("127.0.0.1:{}", first.port),
        format!("127.0.0.1:{}", second.port),
    );
    let (first_pid, second_pid) = (first.child.id().to_string(), second.child.id().to_string());
    let (output, report) = run_loadgen(
        &directory,
        &[
            "--target",
            &first_target,
            "--target",
            &second_target,
            "--host-pid",
            &first_pid,
            "--host-pid",
            &second_pid,
            "--calls",
            "6",
            "--rate",
            "10",
            "--hold",
            "3",
        ],
        Duration::from_secs(90),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loadgen failed: {stderr}");
    let report = report.expect("report written");
    let context = format!(
        "{report:#}\n{stderr}\n{}\n{}",
        first.diagnostics(),
        second.diagnostics()
    );
    assert_eq!(number(&report, "/calls/established"), 6.0, "{context}");
    assert_eq!(number(&report, "/calls/failed"), 0.0, "{context}");
    assert_eq!(
        number(&report, "/signalling/byes_answered"),
        6.0,
        "{context}"
    );
    assert_eq!(number(&report, "/from_host/lost"), 0.0, "{context}");
    assert_eq!(
        report.pointer("/settings/target").and_then(Value::as_str),
        Some(first_target.as_str()),
        "{context}"
    );
    assert_eq!(
        report.pointer("/settings/targets"),
        Some(&serde_json::json!([first_target, second_target])),
        "{context}"
    );
    assert_eq!(
        report.pointer("/host/pids"),
        Some(&serde_json::json!([first.child.id(), second.child.id()])),
        "{context}"
    );
    assert_eq!(
        number(&report, "/host/pid"),
        f64::from(first.child.id()),
        "{context}"
    );
    assert!(number(&report, "/host/rss_before_kib") > 0.0, "{context}");
    assert!(number(&report, "/host/cores_used") >= 0.0, "{context}");
    // Both ended with 0: each got its 3 calls, neither more nor fewer.
    assert_eq!(first.finish(Duration::from_secs(30)), Some(0), "{context}");
    assert_eq!(second.finish(Duration::from_secs(30)), Some(0), "{context}");
}

#[test]
fn host_hangups_count_as_dropped_calls() {
    let directory = scratch("dropped");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../sipp/uas-answer-hangup.xml");
    let sipp = Sipp::start(&directory, &["-sf", scenario], 3);
    let target = format!("127.0.0.1:{}", sipp.port);
    let own_pid = std::process::id().to_string();
    let (output, report) = run_loadgen(
        &directory,
        // Any live process will do for the procfs sampling: use the test itself.
        &[
            "--target",
            &target,
            "--calls",
            "3",
            "--rate",
            "10",
            "--hold",
            "3",
            "--host-pid",
            &own_pid,
        ],
        Duration::from_secs(90),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loadgen failed: {stderr}");
    let report = report.expect("report written");
    let context = format!("{report:#}\n{stderr}\n{}", sipp.diagnostics());
    assert_eq!(number(&report, "/calls/established"), 3.0, "{context}");
    assert_eq!(number(&report, "/calls/dropped"), 3.0, "{context}");
    assert_eq!(
        number(&report, "/calls/held_at_window_end"),
        0.0,
        "{context}"
    );
    assert_eq!(
        number(&report, "/signalling/byes_sent"),
        0.0,
        "nothing left to hang up: {context}"
    );
    assert!(number(&report, "/host/rss_before_kib") > 0.0, "{context}");
}

#[test]
fn busy_callee_fails_calls_and_gets_its_ack() {
    let directory = scratch("busy");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/uas-busy.xml");
    let mut sipp = Sipp::start(&directory, &["-sf", scenario], 3);
    let target = format!("127.0.0.1:{}", sipp.port);
    let (output, report) = run_loadgen(
        &directory,
        &[
            "--target", &target, "--calls", "3", "--rate", "10", "--hold", "1",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loadgen failed: {stderr}");
    let report = report.expect("report written");
    let context = format!("{report:#}\n{stderr}\n{}", sipp.diagnostics());
    assert_eq!(number(&report, "/calls/failed"), 3.0, "{context}");
    assert_eq!(
        number(&report, "/calls/failed_by_status/486"),
        3.0,
        "{context}"
    );
    assert_eq!(number(&report, "/calls/established"), 0.0, "{context}");
    // SIPp ends with 0 only if every 486 was ACKed (RFC 3261 17.1.1.3).
    assert_eq!(sipp.finish(Duration::from_secs(30)), Some(0), "{context}");
}

#[test]
fn unreachable_target_fails_every_call_after_retransmitting() {
    let directory = scratch("unreachable");
    // Nothing listens on this port once the probe socket is closed.
    let target = format!("127.0.0.1:{}", free_udp_port());
    let started = Instant::now();
    let (output, report) = run_loadgen(
        &directory,
        &[
            "--target",
            &target,
            "--calls",
            "2",
            "--rate",
            "10",
            "--hold",
            "1",
            "--invite-timeout",
            "2.5",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bad figures are not an error: {stderr}"
    );
    let report = report.expect("report written");
    let context = format!("{report:#}\n{stderr}");
    assert_eq!(number(&report, "/calls/attempted"), 2.0, "{context}");
    assert_eq!(number(&report, "/calls/established"), 0.0, "{context}");
    assert_eq!(number(&report, "/calls/failed"), 2.0, "{context}");
    assert_eq!(
        number(&report, "/calls/failed_by_status/timeout"),
        2.0,
        "{context}"
    );
    // Timer A: retransmissions at 0.5 s and 1.5 s before the 2.5 s timeout, per call.
    let retransmissions = number(&report, "/signalling/invite_retransmissions");
    assert!((2.0..=4.0).contains(&retransmissions), "{context}");
    assert_eq!(number(&report, "/to_host/packets_sent"), 0.0, "{context}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the INVITE timeout caps the run"
    );
}

#[test]
fn out_of_range_options_exit_with_a_usage_error() {
    let directory = scratch("usage");
    for arguments in [
        &[
            "--target",
            "127.0.0.1:5060",
            "--calls",
            "0",
            "--rate",
            "1",
            "--hold",
            "1",
        ][..],
        &[
            "--target",
            "127.0.0.1:5060",
            "--calls",
            "1",
            "--rate",
            "1",
            "--hold",
            "1",
            "--invite-timeout",
            "40",
        ],
        &[
            "--target",
            "127.0.0.1:5060",
            "--calls",
            "1",
            "--rate",
            "0",
            "--hold",
            "1",
        ],
    ] {
        let (output, report) = run_loadgen(&directory, arguments, Duration::from_secs(30));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(report.is_none(), "no report on a usage error");
    }
}
