//! baresip (Debian `baresip-core`) calls the host over TCP and over TLS and reaches
//! an app. The TLS certificate is made by `openssl` at test time for 127.0.0.1 and
//! baresip trusts it as its CA file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Host, HostOptions, field, free_port, scratch};

fn run_checked(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed certificate for IP 127.0.0.1: (certificate, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run_checked(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// Run baresip once: dial `uri`, quit after `seconds`. Returns its output.
fn baresip_dial(dir: &Path, uri: &str, ca: Option<&Path>, seconds: u32) -> String {
    let home = dir.join(format!("baresip-{}", free_port()));
    std::fs::create_dir_all(&home).unwrap();
    let tone = home.join("tone.wav");
    run_checked(
        Command::new("sox")
            .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
            .arg(&tone)
            .args(["synth", "8", "sine", "440"]),
    );
    let mut config = format!(
        "sip_listen 127.0.0.1:{port}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n\
         module_app account.so\nmodule_app menu.so\naudio_source aufile,{tone}\naudio_player aufile,{out}\n",
        port = free_port(),
        tone = tone.display(),
        out = home.join("heard.wav").display(),
    );
    if let Some(ca) = ca {
        config.push_str(&format!("sip_cafile {}\n", ca.display()));
    }
    std::fs::write(home.join("config"), config).unwrap();
    std::fs::write(home.join("accounts"), "<sip:baresip@127.0.0.1>;regint=0\n").unwrap();
    let output = Command::new("baresip")
        .arg("-f")
        .arg(&home)
        .args(["-e", &format!("/dial {uri}"), "-t", &seconds.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run baresip (scripts/setup --test installs baresip-core)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn baresip_reaches_hello_over_tcp_and_over_tls() {
    let dir = scratch("baresip");
    let (cert, key) = certificate(&dir);
    let tls_port = free_port();
    let config = format!(
        "[sip]\ntls_listen = \"127.0.0.1:{tls_port}\"\ntls_certificate = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["hello"],
            config: Some(&config),
        },
    );
    assert!(
        host.log_text().contains("SIP over TLS is on"),
        "{}",
        host.log_text()
    );

    let tcp = baresip_dial(
        &dir,
        &format!("sip:hello@{};transport=tcp", host.sip),
        None,
        8,
    );
    host.wait_for_log_count("exit record", 1, Duration::from_secs(30));
    let tls = baresip_dial(
        &dir,
        &format!("sip:hello@127.0.0.1:{tls_port};transport=tls"),
        Some(&cert),
        8,
    );
    let log = host.wait_for_log_count("exit record", 2, Duration::from_secs(30));

    assert!(
        log.contains("transport=TCP"),
        "no TCP call:\n{log}\n--- baresip\n{tcp}"
    );
    assert!(
        log.contains("transport=TLS"),
        "no TLS call:\n{log}\n--- baresip\n{tls}"
    );
    assert_eq!(
        log.matches("callhost::call::leg: answered").count(),
        2,
        "{log}"
    );
    for record in host.exit_records() {
        assert_eq!(field(&record, "app"), Some("hello"), "{record}");
        assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
    }
}
