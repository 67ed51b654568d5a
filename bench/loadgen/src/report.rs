//! The run's figures as one JSON object (for the bench script) and a human summary (stderr).
//!
//! Pure: turns a [`crate::signalling::Outcome`] plus the settings into serialisable structs;
//! the derived figures (RSS per call, cores used, calls per core, generator cost per 1,000
//! calls) are computed here so their formulas live in one place. Depends on serde.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::histogram::Summary;
use crate::rtp::LATE_THRESHOLD_MICROS;
use crate::signalling::{Outcome, ProcessSample, SETTLE, Settings};

/// The JSON document.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What was asked for.
    pub settings: SettingsReport,
    /// Call outcomes.
    pub calls: CallsReport,
    /// SIP transaction figures.
    pub signalling: SignallingReport,
    /// INVITE sent to 2xx received.
    pub setup_time: Summary,
    /// Caller to host RTP (what the generator sent).
    pub to_host: ToHostReport,
    /// Host to caller RTP (what the generator received).
    pub from_host: FromHostReport,
    /// Arrival deviation of the host's packets from their ideal 20 ms grid, re-anchored per
    /// stream, steady window only.
    pub host_pacing: Summary,
    /// Host process figures (summed over every --host-pid); null without --host-pid.
    pub host: Option<HostReport>,
    /// The generator's own cost.
    pub generator: GeneratorReport,
    /// Phase lengths.
    pub timing: TimingReport,
}

/// Echo of the command line.
#[derive(Debug, Serialize)]
pub struct SettingsReport {
    /// Host SIP address (the first --target).
    pub target: String,
    /// Every --target, in the order calls go round-robin to them.
    pub targets: Vec<String>,
    /// Service (Request-URI user).
    pub service: String,
    /// Calls requested.
    pub calls: usize,
    /// Calls per second.
    pub rate: f64,
    /// Hold seconds.
    pub hold_s: f64,
    /// Media shard threads.
    pub threads: usize,
    /// Timer B in seconds.
    pub invite_timeout_s: f64,
}

/// Call outcomes.
#[derive(Debug, Serialize)]
pub struct CallsReport {
    /// Calls requested on the command line.
    pub requested: usize,
    /// INVITEs sent.
    pub attempted: u64,
    /// Answered with 2xx.
    pub established: u64,
    /// Final failure response or timeout.
    pub failed: u64,
    /// Failures by status code ("timeout" for Timer B).
    pub failed_by_status: BTreeMap<String, u64>,
    /// Hung up by the host while held.
    pub dropped: u64,
    /// Up when the hold ended (N of the per-call figures).
    pub held_at_window_end: u64,
    /// Answers without usable audio.
    pub answers_without_audio: u64,
    /// Answers after the generator gave up.
    pub late_answers: u64,
    /// Not attempted: local socket failure.
    pub local_errors: u64,
}

/// SIP transaction figures.
#[derive(Debug, Serialize)]
pub struct SignallingReport {
    /// Timer A retransmissions.
    pub invite_retransmissions: u64,
    /// 2xx retransmissions received (each re-ACKed).
    pub answer_retransmissions: u64,
    /// BYEs sent.
    pub byes_sent: u64,
    /// Timer E retransmissions.
    pub bye_retransmissions: u64,
    /// BYEs answered 2xx.
    pub byes_answered: u64,
    /// BYEs answered with a failure.
    pub byes_rejected: u64,
    /// BYEs never answered.
    pub bye_timeouts: u64,
    /// Host requests other than BYE/ACK.
    pub unexpected_requests: u64,
    /// Unparseable or unmatched datagrams.
    pub stray_messages: u64,
    /// SIP socket send errors.
    pub send_errors: u64,
}

/// What the generator sent.
#[derive(Debug, Serialize)]
pub struct ToHostReport {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Failed sends.
    pub send_errors: u64,
    /// Frames skipped because the generator fell a whole frame behind.
    pub frames_skipped: u64,
    /// How late packets left against their 20 ms grid slot (steady window).
    pub send_lateness: Summary,
}

/// What the generator received.
#[derive(Debug, Serialize)]
pub struct FromHostReport {
    /// RTP packets received over the whole run.
    pub packets_received: u64,
    /// Of those, received in the steady window.
    pub packets_received_in_window: u64,
    /// Sequence gaps (RFC 3550 A.3 expected - received).
    pub lost: u64,
    /// Repeated sequence numbers.
    pub duplicates: u64,
    /// Arrived after a higher sequence number.
    pub out_of_order: u64,
    /// Deviation above the late threshold (steady window).
    pub late: u64,
    /// The late threshold in milliseconds.
    pub late_threshold_ms: f64,
    /// SSRC switches mid-call.
    pub ssrc_changes: u64,
    /// RTCP packets on the RTP port (rtcp-mux), not counted as RTP.
    pub rtcp: u64,
    /// Datagrams on media sockets that were neither RTP nor RTCP.
    pub malformed: u64,
    /// Packets timed by the generator's clock because the kernel gave no timestamp.
    pub untimestamped: u64,
}

/// Host process figures.
#[derive(Debug, Serialize)]
pub struct HostReport {
    /// The sampled pid (the first --host-pid).
    pub pid: u32,
    /// Every sampled pid; the figures below are sums over all of them.
    pub pids: Vec<u32>,
    /// VmRSS before the first INVITE.
    pub rss_before_kib: Option<u64>,
    /// VmRSS when the steady window opened.
    pub rss_window_start_kib: Option<u64>,
    /// VmRSS when the steady window closed, all calls up.
    pub rss_steady_kib: Option<u64>,
    /// (steady - before) / held calls.
    pub rss_per_call_kib: Option<f64>,
    /// Host CPU seconds (user + system) in the steady window.
    pub cpu_seconds_in_window: Option<f64>,
    /// CPU seconds / window seconds.
    pub cores_used: Option<f64>,
    /// Held calls / cores used.
    pub calls_per_core: Option<f64>,
}

/// The generator's own cost.
#[derive(Debug, Serialize)]
pub struct GeneratorReport {
    /// CPU seconds over the whole run.
    pub cpu_seconds_total: Option<f64>,
    /// CPU seconds in the steady window.
    pub cpu_seconds_in_window: Option<f64>,
    /// Cores used in the steady window.
    pub cores_used_in_window: Option<f64>,
    /// Cores used per 1,000 held calls in the steady window.
    pub cores_per_1000_calls: Option<f64>,
    /// VmRSS at the end of the run.
    pub rss_kib: Option<u64>,
    /// Clock ticks per second used for the CPU figures.
    pub clock_ticks_per_second: u64,
    /// False when CLK_TCK could not be read and 100 was assumed.
    pub clock_ticks_measured: bool,
    /// Media shard threads that failed (their packet figures are missing).
    pub media_shard_failures: u64,
}

/// Phase lengths in seconds.
#[derive(Debug, Serialize)]
pub struct TimingReport {
    /// First INVITE to last call set up.
    pub setup_phase_s: f64,
    /// Settle time before measuring.
    pub settle_s: f64,
    /// Length of the measured steady window.
    pub steady_window_s: f64,
    /// Whole run.
    pub elapsed_s: f64,
    /// The hard deadline cut the run short.
    pub deadline_hit: bool,
}

fn cpu_seconds(start: &ProcessSample, end: &ProcessSample, ticks_per_second: u64) -> Option<f64> {
    let ticks = end.cpu_ticks?.checked_sub(start.cpu_ticks?)?;
    Some(ticks as f64 / ticks_per_second as f64)
}

fn per_window(seconds: Option<f64>, window: Duration) -> Option<f64> {
    let window = window.as_secs_f64();
    (window > 0.0).then_some(seconds? / window)
}

impl Report {
    /// Builds the report; `clock_ticks` is (ticks per second, measured).
    pub fn new(settings: &Settings, outcome: &Outcome, clock_ticks: (u64, bool)) -> Report {
        let (ticks_per_second, ticks_measured) = clock_ticks;
        let counts = &outcome.counts;
        let samples = &outcome.samples;
        let held = outcome.held_at_window_end;
        let window = outcome.steady_window;
        let mut failed_by_status: BTreeMap<String, u64> = counts
            .failed_by_status
            .iter()
            .map(|(status, count)| (status.to_string(), *count))
            .collect();
        if counts.failed_timeout > 0 {
            failed_by_status.insert("timeout".to_string(), counts.failed_timeout);
        }
        let host = settings.host_pids.first().map(|&pid| {
            let cpu = cpu_seconds(
                &samples.host_window_start,
                &samples.host_window_end,
                ticks_per_second,
            )
            .filter(|_| !window.is_zero());
            let cores = per_window(cpu, window);
            let rss_per_call = match (
                samples.host_before.resident_kib,
                samples.host_window_end.resident_kib,
            ) {
                (Some(before), Some(steady)) if held > 0 => {
                    Some((steady as f64 - before as f64) / held as f64)
                }
                _ => None,
            };
            HostReport {
                pid,
                pids: settings.host_pids.clone(),
                rss_before_kib: samples.host_before.resident_kib,
                rss_window_start_kib: samples.host_window_start.resident_kib,
                rss_steady_kib: samples.host_window_end.resident_kib,
                rss_per_call_kib: rss_per_call,
                cpu_seconds_in_window: cpu,
                cores_used: cores,
                calls_per_core: cores
                    .filter(|&cores| cores > 0.0)
                    .map(|cores| held as f64 / cores),
            }
        });
        let own_window = cpu_seconds(
            &samples.own_window_start,
            &samples.own_window_end,
            ticks_per_second,
        )
        .filter(|_| !window.is_zero());
        let own_cores = per_window(own_window, window);
        let media = &outcome.media;
        Report {
            settings: SettingsReport {
                target: settings
                    .targets
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                targets: settings.targets.iter().map(ToString::to_string).collect(),
                service: settings.service.clone(),
                calls: settings.calls,
                rate: settings.rate,
                hold_s: settings.hold.as_secs_f64(),
                threads: settings.threads,
                invite_timeout_s: settings.invite_timeout.as_secs_f64(),
            },
            calls: CallsReport {
                requested: settings.calls,
                attempted: counts.attempted,
                established: counts.established,
                failed: counts.failed,
                failed_by_status,
                dropped: counts.dropped,
                held_at_window_end: held,
                answers_without_audio: counts.answers_without_audio,
                late_answers: counts.late_answers,
                local_errors: counts.local_errors,
            },
            signalling: SignallingReport {
                invite_retransmissions: counts.invite_retransmissions,
                answer_retransmissions: counts.answer_retransmissions,
                byes_sent: counts.byes_sent,
                bye_retransmissions: counts.bye_retransmissions,
                byes_answered: counts.byes_answered,
                byes_rejected: counts.byes_rejected,
                bye_timeouts: counts.bye_timeouts,
                unexpected_requests: counts.unexpected_requests,
                stray_messages: counts.stray_messages,
                send_errors: counts.send_errors,
            },
            setup_time: outcome.setup_times.summary(),
            to_host: ToHostReport {
                packets_sent: media.packets_sent,
                send_errors: media.send_errors,
                frames_skipped: media.frames_skipped,
                send_lateness: media.send_lateness.summary(),
            },
            from_host: FromHostReport {
                packets_received: media.received.received,
                packets_received_in_window: media.received_in_window,
                lost: media.received.lost,
                duplicates: media.received.duplicates,
                out_of_order: media.received.out_of_order,
                late: media.pacing.late,
                late_threshold_ms: LATE_THRESHOLD_MICROS as f64 / 1000.0,
                ssrc_changes: media.received.ssrc_changes,
                rtcp: media.received.rtcp,
                malformed: media.received.malformed,
                untimestamped: media.untimestamped,
            },
            host_pacing: media.pacing.histogram.summary(),
            host,
            generator: GeneratorReport {
                cpu_seconds_total: cpu_seconds(
                    &samples.own_before,
                    &samples.own_after,
                    ticks_per_second,
                ),
                cpu_seconds_in_window: own_window,
                cores_used_in_window: own_cores,
                cores_per_1000_calls: own_cores
                    .filter(|_| held > 0)
                    .map(|cores| cores * 1000.0 / held as f64),
                rss_kib: samples.own_after.resident_kib,
                clock_ticks_per_second: ticks_per_second,
                clock_ticks_measured: ticks_measured,
                media_shard_failures: outcome.media_shard_failures,
            },
            timing: TimingReport {
                setup_phase_s: outcome.setup_phase.as_secs_f64(),
                settle_s: SETTLE.as_secs_f64(),
                steady_window_s: window.as_secs_f64(),
                elapsed_s: outcome.elapsed.as_secs_f64(),
                deadline_hit: outcome.deadline_hit,
            },
        }
    }

    /// A few lines for a person reading the terminal.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let calls = &self.calls;
        let optional = |value: Option<f64>| {
            value.map_or_else(|| "n/a".to_string(), |value| format!("{value:.3}"))
        };
        let _ = writeln!(
            text,
            "calls: {} requested, {} established, {} failed {:?}, {} dropped, {} held at end of hold",
            calls.requested,
            calls.established,
            calls.failed,
            calls.failed_by_status,
            calls.dropped,
            calls.held_at_window_end
        );
        let signalling = &self.signalling;
        let _ = writeln!(
            text,
            "sip: {} INVITE retransmissions, {} BYEs ({} answered, {} retransmitted, {} timed out); setup p50 {:.1} ms p99 {:.1} ms",
            signalling.invite_retransmissions,
            signalling.byes_sent,
            signalling.byes_answered,
            signalling.bye_retransmissions,
            signalling.bye_timeouts,
            self.setup_time.p50_ms,
            self.setup_time.p99_ms
        );
        let _ = writeln!(
            text,
            "rtp to host: {} sent, {} send errors, {} frames skipped; generator send lateness p99 {:.3} ms",
            self.to_host.packets_sent,
            self.to_host.send_errors,
            self.to_host.frames_skipped,
            self.to_host.send_lateness.p99_ms
        );
        let from = &self.from_host;
        let _ = writeln!(
            text,
            "rtp from host: {} received, {} lost, {} duplicates, {} out of order, {} late (> {} ms)",
            from.packets_received,
            from.lost,
            from.duplicates,
            from.out_of_order,
            from.late,
            from.late_threshold_ms
        );
        let pacing = &self.host_pacing;
        let _ = writeln!(
            text,
            "host pacing over {:.1} s window ({} packets): p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
            self.timing.steady_window_s,
            pacing.count,
            pacing.p50_ms,
            pacing.p99_ms,
            pacing.p999_ms,
            pacing.max_ms
        );
        if let Some(host) = &self.host {
            let _ = writeln!(
                text,
                "host pid {}{}: rss before {:?} KiB, steady {:?} KiB, per call {} KiB; cores used {}, calls per core {}",
                host.pid,
                match host.pids.len() {
                    0 | 1 => String::new(),
                    count => format!(" and {} more (summed)", count - 1),
                },
                host.rss_before_kib,
                host.rss_steady_kib,
                optional(host.rss_per_call_kib),
                optional(host.cores_used),
                optional(host.calls_per_core)
            );
        }
        let generator = &self.generator;
        let _ = writeln!(
            text,
            "generator: {} CPU s total, {} cores in window, {} cores per 1000 calls{}",
            optional(generator.cpu_seconds_total),
            optional(generator.cores_used_in_window),
            optional(generator.cores_per_1000_calls),
            if generator.clock_ticks_measured {
                ""
            } else {
                " (CLK_TCK assumed 100)"
            }
        );
        if generator.media_shard_failures > 0 {
            let _ = writeln!(
                text,
                "WARNING: {} media shard(s) failed; packet figures are partial",
                generator.media_shard_failures
            );
        }
        if self.timing.deadline_hit {
            let _ = writeln!(
                text,
                "WARNING: the run hit its hard deadline; figures are partial"
            );
        }
        text
    }
}
