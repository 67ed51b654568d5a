//! callhost-loadgen: holds N concurrent SIP calls against callhost, each sending and receiving
//! PCMU RTP, and reports loss, lateness, host pacing, RSS and CPU figures (issue 5: P2, P4, P5).
//!
//! Hand-written SIP because SIPp's pcap play spawns a thread per call and cannot read the
//! host's RTP, and a full SIP stack would cost more CPU per call than the host under test.
//!
//! Module map: `sip` and `sdp` (message text), `rtp` and `histogram` (packet statistics),
//! `media` (shard threads that send and receive RTP), `signalling` (the run's state machine
//! on one tokio task), `process` (procfs samples), `report` (JSON and summary), `error`.
//! This file owns the command line, the runtime and the output only. Linux only (procfs,
//! SO_TIMESTAMPNS).

mod error;
mod histogram;
mod media;
mod process;
mod report;
mod rtp;
mod sdp;
mod signalling;
mod sip;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::error::LoadgenError;
use crate::signalling::{Settings, TIMER_B};

/// At most this many --target or --host-pid options.
const MAX_TARGETS: usize = 10_000;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "callhost-loadgen",
    version,
    about = "SIP+RTP load generator for callhost's media benchmarks"
)]
struct Arguments {
    /// The host's SIP address (UDP). Repeat it to spread the calls round-robin over several
    /// hosts: call i goes to target i mod (number of targets).
    #[arg(long = "target", required = true)]
    targets: Vec<SocketAddr>,
    /// Service to call: the Request-URI user part.
    #[arg(long, default_value = "prompt-loop")]
    service: String,
    /// Number of calls to hold.
    #[arg(long)]
    calls: usize,
    /// Call attempts per second (paced evenly; BYEs use the same pace).
    #[arg(long)]
    rate: f64,
    /// Seconds to hold every call, counted from when the last call was set up.
    #[arg(long)]
    hold: f64,
    /// Local address for the SIP socket and every RTP socket.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Host process id to sample for RSS and CPU (Linux /proc). Repeat it for a host made of
    /// several processes: their RSS and CPU time are summed.
    #[arg(long = "host-pid")]
    host_pids: Vec<u32>,
    /// Write the JSON report here instead of stdout.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Media shard threads (each walks its calls every millisecond).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds an INVITE may wait for a final response (RFC 3261 Timer B, at most 32).
    #[arg(long, default_value_t = TIMER_B.as_secs_f64())]
    invite_timeout: f64,
}

fn settings_from(arguments: &Arguments) -> Result<Settings, LoadgenError> {
    let usage = |option: &'static str, reason: &str| LoadgenError::Usage {
        option,
        reason: reason.to_string(),
    };
    if arguments.calls == 0 || arguments.calls > 100_000 {
        return Err(usage("calls", "must be between 1 and 100000"));
    }
    if !(arguments.rate.is_finite() && arguments.rate > 0.0 && arguments.rate <= 100_000.0) {
        return Err(usage(
            "rate",
            "must be a positive number of calls per second",
        ));
    }
    if !(arguments.hold.is_finite() && (0.0..=86_400.0).contains(&arguments.hold)) {
        return Err(usage("hold", "must be between 0 and 86400 seconds"));
    }
    if arguments.threads == 0 || arguments.threads > 64 {
        return Err(usage("threads", "must be between 1 and 64"));
    }
    let timeout_limit = TIMER_B.as_secs_f64();
    if !(arguments.invite_timeout.is_finite()
        && arguments.invite_timeout > 0.0
        && arguments.invite_timeout <= timeout_limit)
    {
        return Err(usage(
            "invite-timeout",
            "must be above 0 and at most 32 seconds",
        ));
    }
    if arguments.targets.is_empty() || arguments.targets.len() > MAX_TARGETS {
        return Err(usage("target", "must be given 1 to 10000 times"));
    }
    if arguments
        .targets
        .iter()
        .any(|target| target.is_ipv4() != arguments.bind.is_ipv4())
    {
        return Err(usage("bind", "must be the same address family as --target"));
    }
    if arguments.host_pids.len() > MAX_TARGETS {
        return Err(usage("host-pid", "may be given at most 10000 times"));
    }
    Ok(Settings {
        targets: arguments.targets.clone(),
        service: arguments.service.clone(),
        calls: arguments.calls,
        rate: arguments.rate,
        hold: Duration::from_secs_f64(arguments.hold),
        bind: arguments.bind,
        host_pids: arguments.host_pids.clone(),
        threads: arguments.threads,
        invite_timeout: Duration::from_secs_f64(arguments.invite_timeout),
    })
}

// Every call needs its own RTP socket: lift the soft descriptor limit to the hard one.
fn raise_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn run(arguments: Arguments) -> Result<(), LoadgenError> {
    let settings = settings_from(&arguments)?;
    raise_descriptor_limit();
    let clock_ticks = process::clock_ticks_per_second();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| LoadgenError::Start {
            what: "the async runtime".to_string(),
            source,
        })?;
    let outcome = runtime.block_on(signalling::run(settings.clone()))?;
    let report = report::Report::new(&settings, &outcome, clock_ticks);
    eprint!("{}", report.summary());
    let json = serde_json::to_string_pretty(&report).expect("report types always serialise");
    match &arguments.json {
        Some(path) => {
            std::fs::write(path, json + "\n").map_err(|source| LoadgenError::WriteReport {
                path: path.clone(),
                source,
            })?
        }
        None => println!("{json}"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match run(arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ LoadgenError::Usage { .. }) => {
            eprintln!("callhost-loadgen: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("callhost-loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
