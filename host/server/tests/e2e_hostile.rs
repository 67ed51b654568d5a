//! Hostile apps beside 100 healthy calls (issue 5).
//!
//! While SIPp runs 100 concurrent calls to `ivr` (each sends 1479# as RFC 4733 and
//! waits for the host's BYE) and a pjsua2 phone records its own `ivr` call, every
//! hostile test app is called three times: a busy loop, a memory bomb, a panic,
//! unbounded recursion, a flood of host calls, huge arguments, and a stale and a
//! forged resource handle. Each hostile call must end with an exit record naming
//! its reason (or, for huge arguments, with every argument refused); the healthy
//! calls keep their audio and digits; the host log stays bounded; and the host
//! still serves a call afterwards.

mod common;

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::audio::{best_correlation, envelope, load};
use common::{
    Host, HostOptions, SippRun, field, ivr_caller_in_background, prompts, rtp_blocks, scratch,
    sipp_in_background,
};

/// Healthy SIPp calls, all up at once.
const HEALTHY_CALLS: usize = 100;
/// Calls to each hostile service.
const CALLS_PER_HOSTILE_SERVICE: usize = 3;

/// Each hostile service and what its exit records must say.
const HOSTILE: [(&str, &str); 8] = [
    ("hostile-loop", "CPU budget of 1s exceeded"),
    ("hostile-alloc", "memory"),
    ("hostile-panic", "deliberate panic for testing"),
    ("hostile-recursion", "call stack exhausted"),
    ("hostile-flood", "CPU budget of 1s exceeded"),
    ("hostile-args", "returned 0"),
    (
        "hostile-handles",
        "invalid resource handle (stale or forged)",
    ),
    (
        "hostile-handles-forged",
        "invalid resource handle (stale or forged)",
    ),
];

/// The config: small CPU budget so the spinners end quickly; memory room for the
/// 50 MiB argument of hostile-args; the forged-handle variant as its own service.
const CONFIG: &str = "[limits]\ncpu_seconds = 1.0\nmemory_mib = 96\n\n\
     [services.hostile-handles-forged]\napp = \"hostile-handles\"\nparameters = \"forged\"\n";

/// The exit records of one app (its `app=` field).
fn records_of<'a>(records: &'a [String], app: &str) -> Vec<&'a String> {
    records
        .iter()
        .filter(|line| field(line, "app") == Some(app))
        .collect()
}

#[test]
fn hostile_apps_beside_a_hundred_healthy_calls() {
    let started = Instant::now();
    let dir = scratch("hostile");
    // 100 healthy calls, the phone and the hostile calls at once: more than one
    // block of RTP ports.
    let host = Host::start_with_rtp_ports(
        &dir,
        HostOptions {
            apps: &[
                "ivr",
                "hostile-loop",
                "hostile-alloc",
                "hostile-panic",
                "hostile-recursion",
                "hostile-flood",
                "hostile-args",
                "hostile-handles",
            ],
            config: Some(CONFIG),
        },
        &rtp_blocks(3),
    );

    let recording = dir.join("pjsua-heard.wav");
    let healthy = sipp_in_background(
        &host,
        "host-dtmf.xml",
        "ivr",
        HEALTHY_CALLS,
        50,
        HEALTHY_CALLS,
    );
    let phone = ivr_caller_in_background(&host, &recording);
    // The hostile calls arrive while the healthy ones are up.
    std::thread::sleep(Duration::from_secs(1));
    let hostile: Vec<(&str, JoinHandle<SippRun>)> = HOSTILE
        .iter()
        .map(|(service, _)| {
            let run = sipp_in_background(
                &host,
                "host-wait-bye.xml",
                service,
                CALLS_PER_HOSTILE_SERVICE,
                10,
                CALLS_PER_HOSTILE_SERVICE,
            );
            (*service, run)
        })
        .collect();

    for (service, run) in hostile {
        let run = run.join().unwrap();
        assert_eq!(
            run.code, 0,
            "{service}: the host must hang every call up:\n{}",
            run.output
        );
    }
    let healthy = healthy.join().unwrap();
    assert_eq!(
        healthy.code, 0,
        "all {HEALTHY_CALLS} healthy SIPp calls must succeed:\n{}",
        healthy.output
    );
    let phone = phone.join().unwrap();
    assert_eq!(phone["connected"], true, "{phone}");
    assert_eq!(
        phone["dtmf_received"], "4711",
        "healthy pjsua2 call: {phone}"
    );
    assert_eq!(phone["remote_hangup"], true, "{phone}");
    assert_eq!(phone["timed_out"], false, "{phone}");

    // Every call has its exit record: the healthy ones, the phone, the hostile ones.
    let hostile_calls = HOSTILE.len() * CALLS_PER_HOSTILE_SERVICE;
    host.wait_for_log_count(
        "exit record",
        HEALTHY_CALLS + 1 + hostile_calls,
        Duration::from_secs(60),
    );
    let log = host.log_text();
    let records = host.exit_records();

    // The healthy calls: every one collected its digits and ended normally.
    assert_eq!(
        log.matches("ivr: collected digits 1479").count(),
        HEALTHY_CALLS,
        "every SIPp call's digits reach the app"
    );
    assert!(log.contains("ivr: collected digits 4711"));
    let ivr = records_of(&records, "ivr");
    assert_eq!(ivr.len(), HEALTHY_CALLS + 1);
    for record in &ivr {
        assert_eq!(field(record, "exit_code"), Some("0"), "{record}");
    }

    // The phone heard the welcome prompt, intact.
    let welcome = load(&prompts().join("ivr/welcome.wav"));
    let heard = envelope(&load(&recording));
    let loudest = heard.iter().cloned().fold(0.0, f64::max);
    assert!(
        loudest > 500.0,
        "the recording is silent (peak {loudest:.0})"
    );
    let (correlation, lag) = best_correlation(&envelope(&welcome), &heard);
    assert!(
        correlation > 0.8,
        "the pjsua2 call's prompt is damaged: envelope correlation {correlation:.3} at {} ms",
        lag * 20
    );

    // Each hostile call ended with its reason. Exit records name the app (the
    // plugin), so both hostile-handles services count under hostile-handles.
    for (service, reason) in HOSTILE {
        let app = service.trim_end_matches("-forged");
        let calls = HOSTILE
            .iter()
            .filter(|(other, _)| other.starts_with(app))
            .count()
            * CALLS_PER_HOSTILE_SERVICE;
        let ended = records_of(&records, app);
        assert_eq!(ended.len(), calls, "{app}: {records:#?}");
        for record in ended {
            assert!(record.contains(reason), "{service}: {record}");
        }
    }
    // The forged handle (0x0BAD_F00D) is named in its calls' records.
    assert_eq!(
        records
            .iter()
            .filter(|record| record.contains("unknown handle index 195948557"))
            .count(),
        CALLS_PER_HOSTILE_SERVICE
    );
    // hostile-args: every oversized argument came back as a short error.
    assert_eq!(
        log.matches("hostile-args: all 10 oversized arguments were refused")
            .count(),
        CALLS_PER_HOSTILE_SERVICE,
        "{}",
        app_lines(&log, "hostile-args")
    );
    assert!(log.contains("argument too large: the file name has 10485760 bytes"));
    assert!(log.contains("[line of 52428800 bytes cut to 4096]"));
    // hostile-flood: its lines were rate-limited, and the drop was noted.
    let flood_lines = log.matches("hostile-flood: round").count();
    assert!(
        flood_lines > 0 && flood_lines < 2_000 * CALLS_PER_HOSTILE_SERVICE,
        "{flood_lines} flood lines reached the log"
    );
    assert!(
        log.contains("app log rate limit:"),
        "no note of dropped lines"
    );
    // No line anywhere near the sizes the apps passed in.
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 64 * 1024, "a {longest}-byte log line");
    // The host hung up each call it ended, with cause ERROR (hostile-args hangs up itself).
    assert_eq!(
        log.matches("call idle: the app ended cause=Error").count(),
        hostile_calls - CALLS_PER_HOSTILE_SERVICE,
    );

    // And it still serves.
    host.expect_scenario("host-dtmf.xml", "ivr", 1);
    println!(
        "hostile apps beside {HEALTHY_CALLS} healthy calls: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// The log lines an app wrote, for failure messages.
fn app_lines(log: &str, app: &str) -> String {
    log.lines()
        .filter(|line| line.contains(app))
        .take(50)
        .collect::<Vec<_>>()
        .join("\n")
}
