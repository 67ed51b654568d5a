//! Process figures from Linux procfs: resident memory and consumed CPU time of the host under
//! test and of the generator itself.
//!
//! Reads `/proc/<pid>/status` (VmRSS) and `/proc/<pid>/stat` (fields 14 utime and 15 stime,
//! in clock ticks; see proc(5)). The tick rate comes from `getconf CLK_TCK` once, else 100.
//! Depends on std only.

use std::path::PathBuf;
use std::process::Command;

/// Which process to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The generator itself (`/proc/self`).
    Own,
    /// Another process by id.
    Id(u32),
}

impl Process {
    fn directory(self) -> PathBuf {
        match self {
            Process::Own => PathBuf::from("/proc/self"),
            Process::Id(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }

    /// Resident set size in KiB, or `None` when the process is gone or unreadable.
    pub fn resident_kib(self) -> Option<u64> {
        let status = std::fs::read_to_string(self.directory().join("status")).ok()?;
        parse_resident_kib(&status)
    }

    /// User + system CPU time so far in clock ticks (all threads).
    pub fn cpu_ticks(self) -> Option<u64> {
        let stat = std::fs::read_to_string(self.directory().join("stat")).ok()?;
        parse_cpu_ticks(&stat)
    }
}

/// The kernel's clock ticks per second and whether it was measured (`getconf CLK_TCK`)
/// rather than assumed to be 100.
pub fn clock_ticks_per_second() -> (u64, bool) {
    let measured = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            String::from_utf8(output.stdout)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .filter(|&ticks| ticks > 0);
    match measured {
        Some(ticks) => (ticks, true),
        None => (100, false),
    }
}

/// `VmRSS:   1234 kB` from a status file.
pub fn parse_resident_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime from a stat line. The command name (field 2) is in parentheses and may
/// itself contain spaces or parentheses, so fields are counted after the last ')'.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: field 3 (state) is index 0, so utime (14) is index 11, stime (15) 12.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat_lines() {
        let status = "Name:\tcallhost\nVmPeak:\t 9000 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(parse_resident_kib(status), Some(51_234));
        let stat =
            "4242 (odd) name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1234";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_own_process_figures() {
        let resident = Process::Own.resident_kib().expect("own VmRSS");
        assert!(resident > 0);
        assert!(Process::Own.cpu_ticks().is_some());
        let (ticks, _) = clock_ticks_per_second();
        assert!(ticks > 0);
        assert_eq!(Process::Id(u32::MAX).resident_kib(), None);
    }
}
