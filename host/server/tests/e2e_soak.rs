//! The short soak of issue 5 (the long one is `scripts/bench --only soak`): SIPp calls
//! `answer-hangup` at a steady rate for half a minute, and every call must succeed while
//! the host's open files and UDP sockets come back to where they were and its memory stays
//! flat. Bounded: 1,200 calls, SIPp's own 90 s timeout.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Host, HostOptions, scratch, sipp_in_background};

/// Calls per second and calls in all (30 s).
const RATE: usize = 40;
const CALLS: usize = 1_200;

/// What the soak watches in the host process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    udp_sockets: usize,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    let mut sockets = HashSet::new();
    let mut fds = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        fds += 1;
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                sockets.insert(inode.to_owned());
            }
        }
    }
    let mut udp_sockets = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        udp_sockets += text
            .lines()
            .skip(1)
            .filter(|row| {
                row.split_whitespace()
                    .nth(9)
                    .is_some_and(|inode| sockets.contains(inode))
            })
            .count();
    }
    Sample {
        rss_kib,
        fds,
        udp_sockets,
    }
}

fn mean_rss(samples: &[Sample]) -> u64 {
    samples.iter().map(|s| s.rss_kib).sum::<u64>() / samples.len().max(1) as u64
}

/// Sample until `done` says the load is over (or a bound passes).
fn watch(pid: u32, done: impl Fn() -> bool) -> Vec<Sample> {
    let mut samples = Vec::new();
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(150) {
        samples.push(sample(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    samples
}

#[test]
fn half_a_minute_of_calls_leaks_no_memory_files_or_ports() {
    let dir = scratch("soak");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["answer-hangup"],
            config: None,
        },
    );
    // Warm up: the first calls fill pools and caches that then stay.
    host.expect_scenario("host-wait-bye.xml", "answer-hangup", 100);
    std::thread::sleep(Duration::from_secs(2));
    let before = sample(host.pid());

    let load = sipp_in_background(
        &host,
        "host-wait-bye.xml",
        "answer-hangup",
        CALLS,
        RATE,
        400,
    );
    let samples = watch(host.pid(), || load.is_finished());
    let run = load.join().unwrap();
    assert_eq!(run.code, 0, "SIPp saw failed calls:\n{}", run.output);
    // The last calls' media and transactions wind down.
    std::thread::sleep(Duration::from_secs(3));
    let after = sample(host.pid());

    let log = host.log_text();
    assert_eq!(
        log.matches("exit record").count(),
        100 + CALLS,
        "every call reached its exit record"
    );
    assert!(
        after.fds <= before.fds + 2,
        "open files grew: {before:?} → {after:?}"
    );
    assert!(
        after.udp_sockets <= before.udp_sockets,
        "UDP sockets grew: {before:?} → {after:?}"
    );
    assert!(samples.len() >= 9, "sampled {} times", samples.len());
    let third = samples.len() / 3;
    let (first, last) = (
        mean_rss(&samples[..third]),
        mean_rss(&samples[samples.len() - third..]),
    );
    // 8 MiB over ~800 calls between the thirds: a leak of 10 KiB a call shows.
    assert!(
        last <= first + 8 * 1024,
        "RSS grew from {first} KiB to {last} KiB over the run: {samples:?}"
    );
}
