//! The run: one UDP socket carries every call's SIP; calls start at a paced rate, are held,
//! then torn down with BYE; the media shards are started and stopped from here, and the
//! process figures are sampled at the edges of the steady window.
//!
//! Incoming messages are handled in `signalling/messages.rs`. Depends on [`crate::sip`],
//! [`crate::sdp`], [`crate::media`], [`crate::process`] and tokio (one task, one socket).
//! UAC behaviour per RFC 3261: INVITE client transaction
//! section 17.1.1 (Timer A retransmission from T1 doubling, Timer B give-up, a provisional
//! response stops retransmission, ACK of a failure response in the same transaction),
//! ACK of 2xx section 13.2.2.4 (re-sent for every retransmitted 2xx), non-INVITE client
//! transaction section 17.1.2 (Timer E capped at T2, Timer F), UAS answer to BYE section
//! 15.1.2.

mod messages;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::error::LoadgenError;
use crate::histogram::Histogram;
use crate::media::{self, Command, MediaTotals, Shard, mix};
use crate::process::Process;
use crate::sdp;
use crate::sip::{BRANCH_COOKIE, Leg};

/// RFC 3261 T1: round-trip estimate, first retransmission interval.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2: cap of the non-INVITE retransmission interval.
pub const T2: Duration = Duration::from_secs(4);
/// RFC 3261 Timer B (64*T1): an INVITE without a final response has failed.
pub const TIMER_B: Duration = Duration::from_secs(32);
/// RFC 3261 Timer F (64*T1): a BYE without a final response has failed.
pub const TIMER_F: Duration = Duration::from_secs(32);
/// Wait after the last call is set up before measuring, so setup does not pollute pacing.
pub const SETTLE: Duration = Duration::from_secs(2);
/// How often the loop starts due calls, fires retransmissions and checks the phase.
const TICK: Duration = Duration::from_millis(5);
/// Datagrams read per wakeup before timers get a turn.
const READS_PER_WAKEUP: usize = 256;

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The hosts' SIP addresses (at least one); calls go to them round-robin.
    pub targets: Vec<SocketAddr>,
    /// Request-URI user part (the service).
    pub service: String,
    /// Calls to place.
    pub calls: usize,
    /// Call attempts per second.
    pub rate: f64,
    /// How long to hold all calls, from when the last one was set up.
    pub hold: Duration,
    /// Local address for SIP and RTP sockets.
    pub bind: IpAddr,
    /// Host processes to sample (none, one, or several whose figures are summed).
    pub host_pids: Vec<u32>,
    /// Media shard threads.
    pub threads: usize,
    /// Timer B: how long an INVITE may go without a final response.
    pub invite_timeout: Duration,
}

impl Settings {
    /// The SIP address call `index` goes to: the targets in turn (round-robin).
    pub fn target_for(&self, index: usize) -> SocketAddr {
        self.targets[index % self.targets.len()]
    }

    /// Seconds needed to start (or tear down) every call at the configured rate.
    pub fn ramp(&self) -> Duration {
        Duration::from_secs_f64(self.calls as f64 / self.rate)
    }

    /// Hard end of the run: setup ramp + hold + BYE ramp + 60 s (BYEs are paced at the same
    /// rate as INVITEs, so the teardown needs its own ramp).
    pub fn overall_limit(&self) -> Duration {
        self.ramp() * 2 + self.hold + Duration::from_secs(60)
    }
}

/// Signalling counters.
#[derive(Debug, Clone, Default)]
pub struct SignallingCounts {
    /// INVITEs sent (first transmissions).
    pub attempted: u64,
    /// Calls answered with a 2xx.
    pub established: u64,
    /// Calls that got a final failure response or timed out.
    pub failed: u64,
    /// Failed calls by final status code.
    pub failed_by_status: BTreeMap<u16, u64>,
    /// Failed calls that never got a final response (Timer B).
    pub failed_timeout: u64,
    /// Established calls the host hung up (BYE) before our teardown.
    pub dropped: u64,
    /// INVITE retransmissions (Timer A).
    pub invite_retransmissions: u64,
    /// 2xx retransmissions from the host (each re-ACKed).
    pub answer_retransmissions: u64,
    /// Answers with no usable audio stream (no RTP for that call).
    pub answers_without_audio: u64,
    /// 2xx arriving after we gave up on the INVITE (ACKed and hung up).
    pub late_answers: u64,
    /// BYEs sent by us (first transmissions).
    pub byes_sent: u64,
    /// BYE retransmissions (Timer E).
    pub bye_retransmissions: u64,
    /// BYEs answered 2xx.
    pub byes_answered: u64,
    /// BYEs answered with a failure status.
    pub byes_rejected: u64,
    /// BYEs without a final response (Timer F or the run deadline).
    pub bye_timeouts: u64,
    /// Requests from the host other than BYE and ACK (answered, not acted on).
    pub unexpected_requests: u64,
    /// Datagrams on the SIP socket that did not parse or matched no call.
    pub stray_messages: u64,
    /// Calls not attempted because a local socket could not be opened.
    pub local_errors: u64,
    /// Socket send errors on the SIP socket.
    pub send_errors: u64,
}

/// One sample of a process's memory and CPU.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessSample {
    /// VmRSS in KiB.
    pub resident_kib: Option<u64>,
    /// utime + stime in clock ticks.
    pub cpu_ticks: Option<u64>,
}

impl ProcessSample {
    fn take(process: Process) -> Self {
        Self {
            resident_kib: process.resident_kib(),
            cpu_ticks: process.cpu_ticks(),
        }
    }

    /// The host's figures: the sum over all its processes, each figure `None` when any
    /// process could not be read (a partial sum would be no figure of the host).
    fn take_all(pids: &[u32]) -> Self {
        Self::sum(pids.iter().map(|&pid| Self::take(Process::Id(pid))))
    }

    /// Sums samples figure by figure; a figure is `None` if it is missing from any sample
    /// (or if there are no samples).
    pub fn sum(samples: impl IntoIterator<Item = ProcessSample>) -> Self {
        let mut total = Self::default();
        let mut first = true;
        for sample in samples {
            if first {
                total = sample;
                first = false;
                continue;
            }
            total.resident_kib = total
                .resident_kib
                .zip(sample.resident_kib)
                .map(|(a, b)| a + b);
            total.cpu_ticks = total.cpu_ticks.zip(sample.cpu_ticks).map(|(a, b)| a + b);
        }
        total
    }
}

/// Process samples at the start of the run and at both edges of the steady window.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Host before the first INVITE.
    pub host_before: ProcessSample,
    /// Host when the steady window opened.
    pub host_window_start: ProcessSample,
    /// Host when the steady window closed (all calls still up).
    pub host_window_end: ProcessSample,
    /// Generator at the start of the run.
    pub own_before: ProcessSample,
    /// Generator when the steady window opened.
    pub own_window_start: ProcessSample,
    /// Generator when the steady window closed.
    pub own_window_end: ProcessSample,
    /// Generator at the end of the run.
    pub own_after: ProcessSample,
}

/// Everything a run measured; [`crate::report`] turns it into the JSON and the summary.
#[derive(Debug)]
pub struct Outcome {
    /// Signalling counters.
    pub counts: SignallingCounts,
    /// INVITE sent to 2xx received, microseconds.
    pub setup_times: Histogram,
    /// Media totals of all shards.
    pub media: MediaTotals,
    /// Process samples.
    pub samples: Samples,
    /// Length of the steady window (zero if hold <= settle or nothing was established).
    pub steady_window: Duration,
    /// Calls up when the hold ended (the N of the per-call figures).
    pub held_at_window_end: u64,
    /// From the first INVITE to the last call's setup completing.
    pub setup_phase: Duration,
    /// Whole run.
    pub elapsed: Duration,
    /// The hard deadline ended the run.
    pub deadline_hit: bool,
    /// Media shard threads that panicked (their figures are missing).
    pub media_shard_failures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Inviting,
    Established,
    Failed,
    Byeing,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invite,
    Bye,
}

struct Transaction {
    kind: Kind,
    request: String,
    destination: SocketAddr,
    next_at: Instant,
    interval: Duration,
    give_up_at: Instant,
    proceeding: bool,
}

struct Call {
    leg: Leg,
    stage: Stage,
    media_socket: Option<std::net::UdpSocket>,
    media_active: bool,
    transaction: Option<Transaction>,
    invite_sent_at: Option<Instant>,
    // The last ACK we sent and where, re-sent when the final response is retransmitted.
    ack: Option<(String, SocketAddr)>,
    // The dialog's remote side once answered: To header (with tag), target URI, address.
    dialog: Option<(String, String, SocketAddr)>,
}

enum Phase {
    Ramp,
    Hold {
        setup_done: Instant,
        steady_started: Option<Instant>,
    },
    Teardown {
        started: Instant,
        queue: Vec<usize>,
        issued: usize,
    },
    Done,
}

struct Run {
    settings: Settings,
    socket: UdpSocket,
    local: SocketAddr,
    nonce: u64,
    calls: Vec<Call>,
    next_call: usize,
    shards: Vec<Shard>,
    phase_flag: Arc<AtomicU8>,
    counts: SignallingCounts,
    setup_times: Histogram,
    samples: Samples,
    pending: Vec<usize>,
    branch_counter: u64,
    started: Instant,
    steady_window: Duration,
    held_at_window_end: u64,
    setup_phase: Duration,
}

/// Runs the whole load: ramp, hold, teardown. Returns the measurements; errors only for
/// local failures (socket, threads).
pub async fn run(settings: Settings) -> Result<Outcome, LoadgenError> {
    let local_request = SocketAddr::new(settings.bind, 0);
    let socket = open_signalling_socket(local_request)?;
    let local = socket
        .local_addr()
        .map_err(|source| LoadgenError::BindSignalling {
            address: local_request,
            source,
        })?;
    let started = Instant::now();
    let deadline = started + settings.overall_limit();
    let phase_flag = Arc::new(AtomicU8::new(media::phase::RAMP));
    let threads = settings.threads.max(1);
    let mut shards = Vec::with_capacity(threads);
    for number in 0..threads {
        // Shards outlive the signalling deadline slightly so they can fold final calls.
        let shard = Shard::spawn(
            number,
            threads,
            phase_flag.clone(),
            deadline + Duration::from_secs(5),
        )
        .map_err(|source| LoadgenError::Start {
            what: format!("media shard {number}"),
            source,
        })?;
        shards.push(shard);
    }
    let nonce =
        mix(u64::from(std::process::id()) ^ started.elapsed().as_nanos() as u64 ^ wall_seed());
    let mut run = Run {
        settings,
        socket,
        local,
        nonce,
        calls: Vec::new(),
        next_call: 0,
        shards,
        phase_flag,
        counts: SignallingCounts::default(),
        setup_times: Histogram::new(100, 400_000),
        samples: Samples::default(),
        pending: Vec::new(),
        branch_counter: 0,
        started,
        steady_window: Duration::ZERO,
        held_at_window_end: 0,
        setup_phase: Duration::ZERO,
    };
    run.samples.own_before = ProcessSample::take(Process::Own);
    if !run.settings.host_pids.is_empty() {
        run.samples.host_before = ProcessSample::take_all(&run.settings.host_pids);
    }
    let deadline_hit = run.drive(deadline).await;
    run.finish_all_media();
    let mut media = MediaTotals::default();
    let mut media_shard_failures = 0;
    for shard in std::mem::take(&mut run.shards) {
        match shard.join() {
            Some(totals) => media.merge(&totals),
            None => media_shard_failures += 1,
        }
    }
    run.samples.own_after = ProcessSample::take(Process::Own);
    if deadline_hit {
        // Whatever was still tearing down never got its answer.
        run.counts.bye_timeouts += run
            .calls
            .iter()
            .filter(|call| call.stage == Stage::Byeing)
            .count() as u64;
    }
    Ok(Outcome {
        counts: run.counts,
        setup_times: run.setup_times,
        media,
        samples: run.samples,
        steady_window: run.steady_window,
        held_at_window_end: run.held_at_window_end,
        setup_phase: run.setup_phase,
        elapsed: started.elapsed(),
        deadline_hit,
        media_shard_failures,
    })
}

fn wall_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

fn open_signalling_socket(address: SocketAddr) -> Result<UdpSocket, LoadgenError> {
    let bind_error = |source| LoadgenError::BindSignalling { address, source };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        None,
    )
    .map_err(bind_error)?;
    // Thousands of calls answer in bursts; a large buffer keeps the kernel from dropping
    // responses while the loop is busy (the OS caps it at net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(4 * 1024 * 1024);
    let _ = socket.set_send_buffer_size(4 * 1024 * 1024);
    socket.set_nonblocking(true).map_err(bind_error)?;
    socket.bind(&address.into()).map_err(bind_error)?;
    UdpSocket::from_std(socket.into()).map_err(bind_error)
}

impl Run {
    // The main loop; returns true when the hard deadline ended it.
    async fn drive(&mut self, deadline: Instant) -> bool {
        let mut phase = Phase::Ramp;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut buffer = vec![0u8; 65_536];
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buffer) => {
                    if let Ok((length, source)) = received {
                        self.on_datagram(&buffer[..length], source).await;
                    }
                    // Drain what else is queued without going back through the reactor.
                    for _ in 0..READS_PER_WAKEUP {
                        match self.socket.try_recv_from(&mut buffer) {
                            Ok((length, source)) => self.on_datagram(&buffer[..length], source).await,
                            Err(_) => break,
                        }
                    }
                }
                _ = ticker.tick() => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            self.start_due_calls(now).await;
            self.fire_timers(now).await;
            phase = self.advance(phase, now).await;
            if matches!(phase, Phase::Done) {
                return false;
            }
        }
    }

    async fn send(&mut self, text: &str, destination: SocketAddr) {
        if self
            .socket
            .send_to(text.as_bytes(), destination)
            .await
            .is_err()
        {
            self.counts.send_errors += 1;
        }
    }

    fn new_branch(&mut self, index: usize) -> String {
        self.branch_counter += 1;
        format!(
            "{BRANCH_COOKIE}-{:x}-{index}-{}",
            self.nonce, self.branch_counter
        )
    }

    async fn start_due_calls(&mut self, now: Instant) {
        while self.next_call < self.settings.calls {
            let due =
                self.started + Duration::from_secs_f64(self.next_call as f64 / self.settings.rate);
            if due > now {
                break;
            }
            let index = self.next_call;
            self.next_call += 1;
            self.start_call(index, now).await;
        }
    }

    async fn start_call(&mut self, index: usize, now: Instant) {
        let branch = self.new_branch(index);
        let target = self.settings.target_for(index);
        let leg = Leg {
            call_id: format!("{index}-{:016x}@loadgen", self.nonce),
            local_tag: format!("{:x}", mix(self.nonce ^ index as u64)),
            invite_branch: branch,
            local: self.local,
            request_uri: format!("sip:{}@{}", self.settings.service, target),
        };
        let mut call = Call {
            leg,
            stage: Stage::Waiting,
            media_socket: None,
            media_active: false,
            transaction: None,
            invite_sent_at: None,
            ack: None,
            dialog: None,
        };
        let media_socket = match media::open_socket(self.settings.bind).and_then(|socket| {
            let address = socket.local_addr()?;
            Ok((socket, address))
        }) {
            Ok(opened) => opened,
            Err(_) => {
                self.counts.local_errors += 1;
                call.stage = Stage::Ended;
                self.calls.push(call);
                return;
            }
        };
        let invite = call.leg.invite(&sdp::offer(
            media_socket.1,
            mix(self.nonce ^ index as u64 ^ 1),
        ));
        call.media_socket = Some(media_socket.0);
        call.stage = Stage::Inviting;
        call.invite_sent_at = Some(now);
        call.transaction = Some(Transaction {
            kind: Kind::Invite,
            request: invite.clone(),
            destination: target,
            next_at: now + T1,
            interval: T1,
            give_up_at: now + self.settings.invite_timeout,
            proceeding: false,
        });
        self.calls.push(call);
        self.pending.push(index);
        self.counts.attempted += 1;
        self.send(&invite, target).await;
    }

    async fn fire_timers(&mut self, now: Instant) {
        let mut resend = Vec::new();
        let mut pending = std::mem::take(&mut self.pending);
        pending.retain(|&index| {
            let call = &mut self.calls[index];
            let Some(transaction) = call.transaction.as_mut() else {
                return false;
            };
            if now >= transaction.give_up_at {
                match transaction.kind {
                    Kind::Invite => {
                        call.stage = Stage::Failed;
                        call.media_socket = None;
                        self.counts.failed += 1;
                        self.counts.failed_timeout += 1;
                    }
                    Kind::Bye => {
                        call.stage = Stage::Ended;
                        self.counts.bye_timeouts += 1;
                        if std::mem::replace(&mut call.media_active, false) {
                            self.shards[index % self.shards.len()].send(Command::Finish(index));
                        }
                    }
                }
                call.transaction = None;
                return false;
            }
            // A provisional response stops INVITE retransmission (RFC 3261 17.1.1.2).
            let silent = transaction.kind == Kind::Invite && transaction.proceeding;
            if now >= transaction.next_at && !silent {
                resend.push((transaction.request.clone(), transaction.destination));
                transaction.interval = match transaction.kind {
                    Kind::Invite => transaction.interval * 2,
                    Kind::Bye => (transaction.interval * 2).min(T2),
                };
                transaction.next_at = now + transaction.interval;
                match transaction.kind {
                    Kind::Invite => self.counts.invite_retransmissions += 1,
                    Kind::Bye => self.counts.bye_retransmissions += 1,
                }
            }
            true
        });
        self.pending.append(&mut pending);
        for (request, destination) in resend {
            self.send(&request, destination).await;
        }
    }

    async fn advance(&mut self, phase: Phase, now: Instant) -> Phase {
        match phase {
            Phase::Ramp => {
                let all_started = self.next_call >= self.settings.calls;
                if !all_started || self.calls.iter().any(|call| call.stage == Stage::Inviting) {
                    return Phase::Ramp;
                }
                self.setup_phase = now - self.started;
                if self.counts.established == 0 {
                    return Phase::Done;
                }
                Phase::Hold {
                    setup_done: now,
                    steady_started: None,
                }
            }
            Phase::Hold {
                setup_done,
                mut steady_started,
            } => {
                let hold_end = setup_done + self.settings.hold;
                if steady_started.is_none() && now >= setup_done + SETTLE && now < hold_end {
                    self.samples.own_window_start = ProcessSample::take(Process::Own);
                    if !self.settings.host_pids.is_empty() {
                        self.samples.host_window_start =
                            ProcessSample::take_all(&self.settings.host_pids);
                    }
                    self.phase_flag
                        .store(media::phase::STEADY, Ordering::Relaxed);
                    steady_started = Some(now);
                }
                if now < hold_end {
                    return Phase::Hold {
                        setup_done,
                        steady_started,
                    };
                }
                self.phase_flag
                    .store(media::phase::ENDING, Ordering::Relaxed);
                if let Some(window_start) = steady_started {
                    self.steady_window = now - window_start;
                    self.samples.own_window_end = ProcessSample::take(Process::Own);
                    if !self.settings.host_pids.is_empty() {
                        self.samples.host_window_end =
                            ProcessSample::take_all(&self.settings.host_pids);
                    }
                }
                let queue: Vec<usize> = (0..self.calls.len())
                    .filter(|&index| self.calls[index].stage == Stage::Established)
                    .collect();
                self.held_at_window_end = queue.len() as u64;
                Phase::Teardown {
                    started: now,
                    queue,
                    issued: 0,
                }
            }
            Phase::Teardown {
                started,
                queue,
                mut issued,
            } => {
                // BYEs are paced at the call rate, like the INVITEs, so teardown is no burst.
                let allowed =
                    ((now - started).as_secs_f64() * self.settings.rate).floor() as usize + 1;
                while issued < queue.len().min(allowed) {
                    self.send_bye(queue[issued], now).await;
                    issued += 1;
                }
                let busy = self
                    .calls
                    .iter()
                    .any(|call| matches!(call.stage, Stage::Byeing));
                if issued >= queue.len() && !busy {
                    Phase::Done
                } else {
                    Phase::Teardown {
                        started,
                        queue,
                        issued,
                    }
                }
            }
            Phase::Done => Phase::Done,
        }
    }

    async fn send_bye(&mut self, index: usize, now: Instant) {
        if self.calls[index].stage != Stage::Established {
            return; // the host hung up first
        }
        let branch = self.new_branch(index);
        let call = &mut self.calls[index];
        let Some((remote_to, remote_target, destination)) = call.dialog.clone() else {
            return;
        };
        let bye = call
            .leg
            .in_dialog("BYE", 2, &branch, &remote_target, &remote_to);
        call.stage = Stage::Byeing;
        call.transaction = Some(Transaction {
            kind: Kind::Bye,
            request: bye.clone(),
            destination,
            next_at: now + T1,
            interval: T1,
            give_up_at: now + TIMER_F,
            proceeding: false,
        });
        if call.media_active {
            self.shard_for(index).send(Command::StopSending(index));
        }
        self.pending.push(index);
        self.counts.byes_sent += 1;
        self.send(&bye, destination).await;
    }

    fn shard_for(&self, index: usize) -> &Shard {
        &self.shards[index % self.shards.len()]
    }

    fn finish_media(&mut self, index: usize) {
        if std::mem::replace(&mut self.calls[index].media_active, false) {
            self.shard_for(index).send(Command::Finish(index));
        }
    }

    fn finish_all_media(&mut self) {
        for index in 0..self.calls.len() {
            self.finish_media(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(targets: &[&str]) -> Settings {
        Settings {
            targets: targets
                .iter()
                .map(|target| target.parse().expect("address"))
                .collect(),
            service: "prompt-loop".to_string(),
            calls: 10,
            rate: 10.0,
            hold: Duration::from_secs(1),
            bind: "127.0.0.1".parse().expect("address"),
            host_pids: Vec::new(),
            threads: 1,
            invite_timeout: TIMER_B,
        }
    }

    #[test]
    fn calls_go_to_the_targets_in_turn() {
        let one = settings(&["127.0.0.1:5060"]);
        assert!((0..5).all(|index| one.target_for(index) == one.targets[0]));
        let three = settings(&["127.0.0.1:6000", "127.0.0.1:6001", "127.0.0.1:6002"]);
        let ports: Vec<u16> = (0..7).map(|index| three.target_for(index).port()).collect();
        assert_eq!(ports, [6000, 6001, 6002, 6000, 6001, 6002, 6000]);
    }

    #[test]
    fn samples_of_several_processes_are_summed() {
        let sample = |resident_kib, cpu_ticks| ProcessSample {
            resident_kib,
            cpu_ticks,
        };
        let total = ProcessSample::sum([sample(Some(100), Some(7)), sample(Some(250), Some(3))]);
        assert_eq!(total.resident_kib, Some(350));
        assert_eq!(total.cpu_ticks, Some(10));
        // One unreadable process (gone) makes that figure unknown, not a partial sum.
        let partial = ProcessSample::sum([sample(Some(100), Some(7)), sample(None, Some(3))]);
        assert_eq!(partial.resident_kib, None);
        assert_eq!(partial.cpu_ticks, Some(10));
        let none = ProcessSample::sum([]);
        assert_eq!((none.resident_kib, none.cpu_ticks), (None, None));
        // Our own process read twice: twice its figures.
        let own = std::process::id();
        let twice = ProcessSample::take_all(&[own, own]);
        assert!(twice.resident_kib.expect("own VmRSS") > 0);
        assert_eq!(ProcessSample::take_all(&[own, u32::MAX]).resident_kib, None);
    }
}
