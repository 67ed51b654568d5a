//! Hot reload with calls up: call 1 stays on v1 to its end, call 2 gets v2; a
//! corrupt .wasm dropped in leaves v2 serving; deleting the file → 404.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    Host, HostOptions, build_versioned, field, invite, raw_request, scratch, sipp, sipp_dir,
    sipp_workdir,
};

/// Install like an operator should: write a temp file, then rename into place.
fn install(source: &Path, plugins: &Path) {
    let temp = plugins.join(".versioned.wasm.tmp");
    std::fs::copy(source, &temp).unwrap();
    std::fs::rename(&temp, plugins.join("versioned.wasm")).unwrap();
}

#[test]
fn calls_in_progress_finish_on_the_old_version() {
    let v1 = build_versioned("1.0.0");
    let v2 = build_versioned("2.0.0");
    let dir = scratch("reload");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &[],
            config: None,
        },
    );
    install(&v1, &host.plugins);
    host.wait_for_log(
        r#"plugin loaded service="versioned" name="versioned" version="1.0.0""#,
        Duration::from_secs(30),
    );

    let work = sipp_workdir(&dir);
    let scenario = sipp_dir().join("host-wait-bye.xml");
    let scenario = scenario.to_str().unwrap().to_owned();
    let sip = host.sip;
    let first = {
        let (work, scenario) = (work.join("first"), scenario.clone());
        std::fs::create_dir_all(&work).unwrap();
        std::thread::spawn(move || sipp(&work, sip, &["-sf", &scenario, "-m", "1"], "versioned"))
    };
    host.wait_for_log("versioned: running version 1.0.0", Duration::from_secs(20));

    install(&v2, &host.plugins);
    host.wait_for_log(
        r#"plugin reloaded service="versioned" name="versioned" version="2.0.0""#,
        Duration::from_secs(30),
    );
    let second = sipp(&work, sip, &["-sf", &scenario, "-m", "1"], "versioned");
    assert_eq!(second.code, 0, "{}", second.output);
    let first = first.join().unwrap();
    assert_eq!(first.code, 0, "{}", first.output);

    host.wait_for_log_count("exit record", 2, Duration::from_secs(20));
    let records = host.exit_records();
    assert_eq!(
        field(&records[0], "version"),
        Some("1.0.0"),
        "call 1 must stay on v1: {records:?}"
    );
    assert_eq!(
        field(&records[1], "version"),
        Some("2.0.0"),
        "call 2 must get v2: {records:?}"
    );

    // A corrupt file keeps v2 serving.
    let temp = host.plugins.join(".broken.tmp");
    std::fs::write(&temp, b"\0asm\x0d\0\x01\0 definitely not a component").unwrap();
    std::fs::rename(&temp, host.plugins.join("versioned.wasm")).unwrap();
    host.wait_for_log(
        "plugin not loaded, the previous version (if any) keeps serving",
        Duration::from_secs(30),
    );
    let third = sipp(&work, sip, &["-sf", &scenario, "-m", "1"], "versioned");
    assert_eq!(third.code, 0, "{}", third.output);
    host.wait_for_log_count("exit record", 3, Duration::from_secs(20));
    assert_eq!(field(&host.exit_records()[2], "version"), Some("2.0.0"));

    // Deleting the file stops new calls.
    std::fs::remove_file(host.plugins.join("versioned.wasm")).unwrap();
    host.wait_for_log(
        r#"plugin removed service="versioned""#,
        Duration::from_secs(30),
    );
    assert_eq!(
        raw_request(sip, &invite("versioned", "after-delete", "0")),
        Some(404)
    );
}
