//! Hostile apps beside a healthy call: an infinite loop, unbounded allocation and
//! a panic each end their own call (with a clear exit record); the healthy pjsua2
//! call to `ivr` completes with its prompt and digits intact.

mod common;

use std::time::Duration;

use common::{Host, HostOptions, field, pjsua_call, scratch, sipp, sipp_dir, sipp_workdir};

#[test]
fn hostile_apps_end_only_their_own_calls() {
    let dir = scratch("hostile");
    let config = "[limits]\ncpu_seconds = 1.0\nmemory_mib = 32\n";
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["ivr", "hostile-loop", "hostile-alloc", "hostile-panic"],
            config: Some(config),
        },
    );
    let uri = format!("sip:ivr@{}", host.sip);
    let healthy = std::thread::spawn(move || {
        pjsua_call(&[
            "--uri",
            &uri,
            "--send-dtmf",
            "4711#",
            "--dtmf-after",
            "6.0",
            "--timeout",
            "45",
        ])
    });

    let work = sipp_workdir(&dir);
    let scenario = sipp_dir().join("host-wait-bye.xml");
    let mut hostile = Vec::new();
    for app in ["hostile-loop", "hostile-alloc", "hostile-panic"] {
        let work = work.join(app);
        std::fs::create_dir_all(&work).unwrap();
        let (scenario, sip) = (scenario.to_str().unwrap().to_owned(), host.sip);
        hostile.push((
            app,
            std::thread::spawn(move || sipp(&work, sip, &["-sf", &scenario, "-m", "1"], app)),
        ));
    }
    for (app, run) in hostile {
        let run = run.join().unwrap();
        assert_eq!(
            run.code, 0,
            "{app}: the host must hang the call up:\n{}",
            run.output
        );
    }
    let healthy = healthy.join().unwrap();
    assert_eq!(
        healthy["dtmf_received"],
        "4711",
        "healthy call: {healthy}\n{}",
        host.log_text()
    );
    assert_eq!(healthy["remote_hangup"], true, "{healthy}");

    host.wait_for_log_count("exit record", 4, Duration::from_secs(20));
    let records = host.exit_records();
    let record = |app: &str| {
        records
            .iter()
            .find(|line| field(line, "app") == Some(app))
            .unwrap_or_else(|| panic!("no exit record for {app}: {records:?}"))
            .clone()
    };
    let looping = record("hostile-loop");
    assert!(looping.contains("CPU budget of 1s exceeded"), "{looping}");
    let allocating = record("hostile-alloc");
    assert!(allocating.contains("trapped"), "{allocating}");
    let panicking = record("hostile-panic");
    assert!(
        panicking.contains("deliberate panic for testing"),
        "{panicking}"
    );
    assert_eq!(field(&record("ivr"), "exit_code"), Some("0"));
    // The host hung each hostile call up itself, with cause ERROR.
    let log = host.log_text();
    assert_eq!(
        log.matches("call idle: the app ended cause=Error").count(),
        3,
        "{log}"
    );
}
