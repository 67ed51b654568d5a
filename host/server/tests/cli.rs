//! The `callhost` command line: config validated before anything binds (exit 64),
//! and `callhost check` on a good and a bad component.

mod common;

use std::process::Command;

use common::{built_apps, scratch};

fn callhost(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_callhost"))
        .args(args)
        .output()
        .expect("run callhost");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_config_exits_64_with_a_clear_message() {
    let dir = scratch("cli-config");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let plugins = plugins.to_str().unwrap();

    let bad_toml = dir.join("bad.toml");
    std::fs::write(&bad_toml, "[sip]\nlisten = 5060\n").unwrap();
    let (code, _, stderr) = callhost(&[
        "run",
        "--plugins",
        plugins,
        "--config",
        bad_toml.to_str().unwrap(),
    ]);
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains("invalid config file") && stderr.contains("listen"),
        "{stderr}"
    );

    let unknown_key = dir.join("unknown.toml");
    std::fs::write(&unknown_key, "[sip]\nlisten_on = \"127.0.0.1:5060\"\n").unwrap();
    let (code, _, stderr) = callhost(&[
        "run",
        "--plugins",
        plugins,
        "--config",
        unknown_key.to_str().unwrap(),
    ]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("listen_on"), "{stderr}");

    let (code, _, stderr) = callhost(&["run", "--plugins", plugins, "--rtp-ports", "30000-20000"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("media.rtp_ports"), "{stderr}");

    let (code, _, stderr) = callhost(&["run", "--plugins", plugins, "--sip-listen", "localhost"]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("sip.listen"), "{stderr}");

    let (code, _, stderr) = callhost(&["run", "--plugins", dir.join("missing").to_str().unwrap()]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("plugins.dir"), "{stderr}");

    let (code, _, stderr) = callhost(&[
        "run",
        "--plugins",
        plugins,
        "--config",
        dir.join("nofile.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[test]
fn check_describes_a_valid_app() {
    let hello = built_apps().join("hello.wasm");
    let (code, stdout, stderr) = callhost(&["check", hello.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("name:    hello"), "{stdout}");
    assert!(stdout.contains("version: "), "{stdout}");
    assert!(stdout.contains("main"), "{stdout}");
}

#[test]
fn check_explains_an_invalid_file() {
    let dir = scratch("cli-check");
    let garbage = dir.join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm this is not a component").unwrap();
    let (code, _, stderr) = callhost(&["check", garbage.to_str().unwrap()]);
    assert_eq!(code, 65, "{stderr}");
    assert!(stderr.contains("is not a valid callhost app"), "{stderr}");

    let (code, _, stderr) = callhost(&["check", dir.join("missing.wasm").to_str().unwrap()]);
    assert_eq!(code, 65, "{stderr}");
    assert!(stderr.contains("missing.wasm"), "{stderr}");
}
