//! Run a test's body inside a network namespace that has only loopback.
//!
//! Torture and flood messages name outside hosts in Via, Contact and SDP; a
//! host that follows such a header must not reach anything but 127.0.0.0/8.
//! [`isolate`] re-executes the current test binary under `unshare -n` (needs
//! root, as on the CI machines) with [`INNER`] set, for exactly one test, and
//! asserts the inner run's exit status, showing its output. Inside,
//! [`prepare`] brings `lo` up, makes every IPv4 and IPv6 address local to
//! `lo` (`ip route add local 0.0.0.0/0 dev lo`), so whatever the host sends to
//! 192.0.2.x or 2001:db8::x comes back into the namespace where the test can
//! listen for it, and asserts that `lo` is the only interface.
//!
//! Depends only on std and the `unshare`/`ip` tools (util-linux, iproute2).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to "1") in the environment of the run inside the namespace.
pub const INNER: &str = "CALLHOST_TEST_NETNS_INNER";

/// Whether this process is the run inside the namespace.
pub fn inside() -> bool {
    std::env::var_os(INNER).is_some()
}

/// Re-run the test `name` (its function name, a test at the crate root of the
/// test binary) inside a fresh network namespace, bounded by `limit`, and
/// panic with its output unless it passes. The apps and prompts are built
/// here first, outside, so the inner run only finds them.
pub fn isolate(name: &str, limit: Duration) {
    assert!(
        !inside(),
        "isolate() called inside the namespace (test {name})"
    );
    super::require_tool("unshare");
    super::require_tool("ip");
    super::built_apps();
    super::prompts();
    let dir = super::scratch(&format!("netns-{name}"));
    let stdout_path = dir.join("inner.stdout");
    let stderr_path = dir.join("inner.stderr");
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(&exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        // No network inside: the example build (a no-op by now) must not try.
        .env("CARGO_NET_OFFLINE", "true")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("inner stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("inner stderr file"))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run unshare (root needed): {error}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("inner run status") {
            break Some(status);
        }
        if start.elapsed() > limit {
            // `unshare` without --fork execs the test binary: this PID is it.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "--- inner stdout\n{}\n--- inner stderr\n{}",
        std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    println!("{output}");
    match status {
        Some(status) => assert!(
            status.success(),
            "{name} failed inside the network namespace ({status}):\n{output}"
        ),
        None => {
            panic!("{name} did not finish inside the network namespace within {limit:?}:\n{output}")
        }
    }
    // A libtest filter that matched nothing would pass silently.
    assert!(
        output.contains("1 passed"),
        "{name} did not run inside the namespace:\n{output}"
    );
}

/// Inside the namespace: bring loopback up, route every address to it, and
/// check that loopback is the only interface. Panics outside the namespace.
pub fn prepare() {
    assert!(inside(), "prepare() outside the network namespace");
    ip(&["link", "set", "lo", "up"]);
    ip(&["route", "add", "local", "0.0.0.0/0", "dev", "lo"]);
    // IPv6 may be disabled on a machine; then nothing is sent over it anyway.
    if ipv6_enabled() {
        ip(&["-6", "route", "add", "local", "::/0", "dev", "lo"]);
    }
    let interfaces = interfaces();
    assert_eq!(
        interfaces,
        vec!["lo".to_owned()],
        "the namespace must have loopback only"
    );
}

/// The network interfaces this process sees (its own namespace's, from
/// /proc/self/net/dev; /sys/class/net shows the namespace sysfs was mounted in).
pub fn interfaces() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    let mut names: Vec<String> = text
        .lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect();
    names.sort();
    names
}

fn ipv6_enabled() -> bool {
    PathBuf::from("/proc/self/net/if_inet6").exists()
}

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        output.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}
