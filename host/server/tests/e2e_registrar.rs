//! Registration end to end: the host registers an account at a real Kamailio
//! (Debian `kamailio`, started here with tests/kamailio/registrar.cfg: digest auth,
//! in-memory location), refreshes it, and a SIPp call to the account's address of
//! record is routed by Kamailio to the host and answered by the account's app.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Host, HostOptions, field, free_port, repo, scratch};

/// A Kamailio process bound to 127.0.0.1; stopped on drop.
struct Kamailio {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Kamailio {
    fn start(dir: &std::path::Path, password: &str) -> Kamailio {
        let binary = ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .expect("kamailio is not installed: run scripts/setup --test");
        let port = free_port();
        let template = std::fs::read_to_string(repo().join("tests/kamailio/registrar.cfg"))
            .expect("registrar.cfg");
        let config = dir.join("kamailio.cfg");
        std::fs::write(
            &config,
            template
                .replace("LISTEN_PORT", &port.to_string())
                .replace("AUTH_PASSWORD", password),
        )
        .unwrap();
        let runtime = dir.join("kamailio-run");
        std::fs::create_dir_all(&runtime).unwrap();
        let log = dir.join("kamailio.log");
        let child = Command::new(binary)
            .args(["-DD", "-E", "-f"])
            .arg(&config)
            .arg("-Y")
            .arg(&runtime)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start kamailio");
        std::thread::sleep(Duration::from_millis(500));
        Kamailio { child, port, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop its worker children; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_host_registers_at_kamailio_refreshes_and_takes_a_call_routed_by_it() {
    let dir = scratch("kamailio");
    let kamailio = Kamailio::start(&dir, "s3cret");
    let config = format!(
        "[accounts.alice]\nregistrar = \"sip:127.0.0.1:{port}\"\naor = \"sip:alice@127.0.0.1\"\npassword = \"s3cret\"\nexpires = 4\napp = \"hello\"\n",
        port = kamailio.port
    );
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["hello"],
            config: Some(&config),
        },
    );
    // Registered (after Kamailio's 401 challenge), then refreshed before the 4 s grant runs out.
    let log = host.wait_for_log_count("state=\"registered\"", 2, Duration::from_secs(30));
    assert!(
        !log.contains("state=\"failed\""),
        "{log}\n--- kamailio\n{}",
        kamailio.log_text()
    );
    assert!(
        kamailio.log_text().contains("REGISTER challenged"),
        "{}",
        kamailio.log_text()
    );
    // The admin API shows the registration with the grant and the contact Kamailio holds.
    let (status, body) = common::http_get(host.admin, "/registrations");
    assert_eq!(status, 200, "{body}");
    let shown: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let alice = &shown["registrations"][0];
    assert_eq!(alice["account"], "alice", "{shown}");
    assert_eq!(alice["aor"], "sip:alice@127.0.0.1", "{shown}");
    assert_eq!(alice["state"], "registered", "{shown}");
    assert_eq!(alice["expires_seconds"], 4, "{shown}");
    assert!(
        alice["contact"]
            .as_str()
            .is_some_and(|contact| contact.contains("127.0.0.1")),
        "{shown}"
    );

    // A caller reaches the account's address of record at Kamailio; Kamailio relays to
    // the host's registered contact and the account's app (hello) answers.
    let proxy = std::net::SocketAddr::from(([127, 0, 0, 1], kamailio.port));
    let scenario = common::sipp_dir().join("proxied-wait-bye.xml");
    let run = common::sipp(
        &common::sipp_workdir(&dir),
        proxy,
        &["-sf", scenario.to_str().unwrap(), "-m", "1", "-l", "1"],
        "alice",
    );
    assert_eq!(
        run.code,
        0,
        "{}\n--- host\n{}\n--- kamailio\n{}",
        run.output,
        host.log_text(),
        kamailio.log_text()
    );
    host.wait_for_log("exit record", Duration::from_secs(30));
    let record = host.exit_records().pop().unwrap();
    assert_eq!(field(&record, "app"), Some("hello"), "{record}");
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
    assert!(
        kamailio
            .log_text()
            .contains("INVITE relayed to sip:alice@127.0.0.1"),
        "{}",
        kamailio.log_text()
    );
}
