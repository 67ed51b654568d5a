//! The I/O driver: a few media threads, each owning a set of sessions' UDP sockets and one
//! 20 ms cycle, feeding the sans-IO [`SessionCore`]s. This is the only module with sockets
//! and time.
//!
//! Why threads and one cycle, not a task and a timer per session: at a thousand calls a
//! per-session task woke twice per packet (timer, socket readiness), and the scheduler's and
//! the reactor's work per wake-up cost more than the media itself. A media thread's 20 ms
//! cycle has [`PHASES`] sub-ticks of 1 ms, and each session belongs to one of them. At each
//! sub-tick the thread serves that phase's sessions in two passes: first what goes out
//! (commands from the call, the other leg's audio, the frames due, RTCP), then what came in
//! (the datagrams waiting in both sockets). A new session fills up a phase already in use
//! (up to [`PHASE_CAPACITY`] sessions) before it opens another, and the thread sleeps through
//! the sub-ticks of empty phases: a wake-up costs tens of microseconds on a virtual machine,
//! so a lightly loaded thread wakes only as often as it has to. Under load every phase is
//! in use, so the thread's sends and CPU time are spread evenly over the frame; each stream
//! keeps its own 20 ms spacing, and a packet waits only behind its own phase. The media
//! threads keep their pace whatever the async runtime is doing, and ask for a higher
//! priority (nice −11) where the host may have it. [`WORKER_THREADS_MAX`] bounds the threads (one per core below that); a
//! new session joins the thread with the fewest sessions.
//!
//! Timing: one monotonic clock (`std::time::Instant`). A session's frame *k* is due at
//! `start + k × 20 ms` (absolute deadlines, so scheduling delays never accumulate into drift),
//! `start` being its phase's first sub-tick after `start_sending`. A late sub-tick sends the
//! overdue frames back to back, at most [`MAX_BURST_FRAMES`] of them; beyond that the core
//! skips frames (time moves on, nothing is sent) rather than flooding the peer's jitter buffer.
//!
//! Receiving: datagrams are read once per frame, at the session's sub-tick, but each carries
//! the kernel's arrival time (`SO_TIMESTAMPNS`), so jitter, the jitter buffer's playout and
//! RTCP round trips are measured from when the packet arrived, not from when it was read. At
//! most [`MAX_DATAGRAMS_PER_TICK`] per socket per visit: a flooding peer fills its own socket
//! buffer, not the thread's time.
//!
//! RTCP: the session's second socket (RTP port + 1) receives the peer's reports and sends
//! ours; after each tick's frames the core says whether a report is due
//! ([`SessionCore::poll_rtcp`]). The wall clock only stamps sender reports.
//!
//! A session ends when its command channel closes (the `MediaSession` was dropped): it sends
//! an RTCP BYE, and the sockets and the port lease drop with it. A panic while serving one
//! session ends that session only.
//!
//! Bridging: `MediaSession::connect` hands each of the two sessions one `BridgeEnd`, a pair of
//! bounded channels. Each tick a session sends its decoded received frames and received
//! digits to the other and feeds what it receives into its core's playout buffer. Ending the
//! bridge on either side (disconnect, a new connect, the session ending) drops that side's
//! channel ends; the other session sees its receiver close and goes back to its own output.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc as thread_channel};
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::engine::MediaSockets;
use crate::ports::PortLease;
use crate::prompt::Prompt;
use crate::recorder::file::RecordingFile;
use crate::recorder::{
    RecordingCause, RecordingJob, RecordingOutput, RecordingSlot, RecordingSummary,
};
use crate::sdp::Negotiated;
use crate::session::bridge::AudioFrame;
use crate::session::{MediaCounters, MediaEvent, SessionCore};
use crate::source::AudioSource;
use crate::telephone_event::sender::DtmfItem;

/// The packetisation interval, and the media threads' tick.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// Most overdue frames sent in one burst after a late tick (100 ms of audio).
pub const MAX_BURST_FRAMES: u64 = 5;

/// Unread DTMF digits kept for the call; more are dropped (and counted) so a flooding peer
/// cannot grow memory without bound.
pub const MAX_PENDING_DTMF: usize = 128;

/// Datagrams read from one socket in one tick (3,200 a second); more wait, and a peer that
/// keeps sending faster loses them in its own socket buffer.
pub const MAX_DATAGRAMS_PER_TICK: usize = 64;

/// Most media threads, whatever the core count.
pub const WORKER_THREADS_MAX: usize = 8;

/// Receive buffer: larger than any sane RTP packet on a 1500-byte MTU path.
const RECEIVE_BUFFER_BYTES: usize = 2048;

/// The RTCP socket is read every this many ticks (100 ms): reports come every few seconds,
/// and their kernel arrival stamps keep round trips exact however late they are read.
const RTCP_READ_TICKS: u64 = 5;

/// A kernel arrival stamp older than this is not believed (the wall clock stepped).
const MAX_ARRIVAL_AGE: Duration = Duration::from_secs(1);

/// Messages in flight from one bridged driver to the other (320 ms of audio). The receiving
/// core keeps only ~60 ms anyway; a full channel means that driver is stalled, so we drop.
pub const BRIDGE_CHANNEL_CAPACITY: usize = 16;

/// What `MediaSession` asks of its driver.
#[derive(Debug)]
pub(crate) enum Command {
    StartSending,
    Play {
        id: u64,
        prompt: Arc<Prompt>,
    },
    /// Play a generated source (a tone) in place of any prompt. (Boxed, like the recording
    /// below, to keep every command small: the channel's blocks hold 32 of them per call.)
    PlaySource {
        id: u64,
        source: Box<AudioSource>,
    },
    StopPlaying,
    SendDtmf {
        id: u64,
        items: Vec<DtmfItem>,
    },
    StopDtmf,
    Update(Box<Negotiated>),
    Connect(BridgeEnd),
    Disconnect,
    StartRecording(Box<NewRecording>),
    StopRecording {
        slot: RecordingSlot,
        cause: RecordingCause,
    },
}

/// A recording to start: its job in the core, and the file its writer fills.
#[derive(Debug)]
pub(crate) struct NewRecording {
    pub(crate) slot: RecordingSlot,
    pub(crate) job: RecordingJob,
    pub(crate) file: RecordingFile,
}

/// What one leg of a bridge sends the other.
#[derive(Debug)]
pub(crate) enum BridgeMessage {
    /// 20 ms of decoded received audio.
    Audio(Box<AudioFrame>),
    /// A digit the peer sent as an RFC 4733 event.
    Digit(char),
}

/// One driver's end of a bridge.
#[derive(Debug)]
pub(crate) struct BridgeEnd {
    to_peer: mpsc::Sender<BridgeMessage>,
    from_peer: mpsc::Receiver<BridgeMessage>,
}

/// The two ends of a new bridge.
pub(crate) fn bridge_pair() -> (BridgeEnd, BridgeEnd) {
    let (first_sender, first_receiver) = mpsc::channel(BRIDGE_CHANNEL_CAPACITY);
    let (second_sender, second_receiver) = mpsc::channel(BRIDGE_CHANNEL_CAPACITY);
    (
        BridgeEnd {
            to_peer: first_sender,
            from_peer: second_receiver,
        },
        BridgeEnd {
            to_peer: second_sender,
            from_peer: first_receiver,
        },
    )
}

/// State the session handle and the driver both see.
#[derive(Debug, Default)]
pub(crate) struct SessionShared {
    pub(crate) counters: Arc<MediaCounters>,
    /// DTMF events sent to the handle and not yet read.
    pub(crate) pending_dtmf: AtomicUsize,
    /// True while bridged to another session.
    pub(crate) connected: AtomicBool,
    /// Set after each command is queued and when the handle closes the channel: the
    /// driver reads the channel only then. The driver reads this struct every tick
    /// anyway; the channel lives elsewhere in memory, and with hundreds of sessions per
    /// thread, looking into it every tick cost a cache miss per session for nothing.
    commands_waiting: AtomicBool,
}

/// The handle's end of a session's command channel (see [`SessionShared`]).
#[derive(Debug)]
pub(crate) struct CommandSender {
    /// `None` once closed (on drop).
    sender: Option<mpsc::UnboundedSender<Command>>,
    shared: Arc<SessionShared>,
}

/// A session's command channel, flagged through `shared`.
pub(crate) fn command_channel(
    shared: &Arc<SessionShared>,
) -> (CommandSender, mpsc::UnboundedReceiver<Command>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let sender = CommandSender {
        sender: Some(sender),
        shared: Arc::clone(shared),
    };
    (sender, receiver)
}

impl CommandSender {
    /// Queue `command`; false when the driver has stopped.
    pub(crate) fn send(&self, command: Command) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        if sender.send(command).is_err() {
            return false;
        }
        // Release: the driver that sees the flag also sees the command.
        self.shared.commands_waiting.store(true, Ordering::Release);
        true
    }
}

impl Drop for CommandSender {
    fn drop(&mut self) {
        // Closed first, then flagged, so the driver finds it closed.
        self.sender = None;
        self.shared.commands_waiting.store(true, Ordering::Release);
    }
}

/// Absolute-deadline frame schedule.
#[derive(Debug, Clone, Copy)]
struct FrameClock {
    start: Instant,
    /// Index of the next frame to produce.
    next_frame: u64,
}

impl FrameClock {
    #[cfg(test)]
    fn deadline(&self) -> Instant {
        self.start + Duration::from_micros(FRAME_DURATION.as_micros() as u64 * self.next_frame)
    }

    /// Frames whose deadline is at or before `now`, counted from the start.
    fn frames_due(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_micros() / FRAME_DURATION.as_micros()) as u64
            + 1
    }
}

/// The media threads of one engine, started with its first session. They end when the engine
/// is gone and their last session has ended.
#[derive(Debug, Default)]
pub(crate) struct Workers {
    threads: Mutex<Vec<WorkerHandle>>,
}

#[derive(Debug)]
struct WorkerHandle {
    sessions: thread_channel::Sender<Driver>,
    /// Sessions the thread serves (it updates this every tick).
    load: Arc<AtomicUsize>,
}

impl Workers {
    /// Hand a new session to the media thread with the fewest sessions.
    pub(crate) fn add(&self, driver: Driver) -> std::io::Result<()> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if threads.is_empty() {
            let count = std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(WORKER_THREADS_MAX);
            for index in 0..count {
                let (sender, receiver) = thread_channel::channel();
                let load = Arc::new(AtomicUsize::new(0));
                let thread_load = Arc::clone(&load);
                std::thread::Builder::new()
                    .name(format!("callhost-media-{index}"))
                    .spawn(move || run_worker(receiver, thread_load))?;
                threads.push(WorkerHandle {
                    sessions: sender,
                    load,
                });
            }
        }
        let worker = threads
            .iter()
            .min_by_key(|worker| worker.load.load(Ordering::Relaxed))
            .expect("at least one media thread");
        // Counted at once, so a burst of new sessions spreads over the threads.
        worker.load.fetch_add(1, Ordering::Relaxed);
        worker
            .sessions
            .send(driver)
            .map_err(|_| std::io::Error::other("media thread ended"))
    }
}

/// Phases of a media thread's 20 ms cycle: each session belongs to one and is served at
/// that phase's sub-tick, so a thread's sends (and its CPU time) are spread over the whole
/// frame instead of leaving in one burst per tick, and a packet waits at most for the other
/// sessions of its own phase.
pub const PHASES: u32 = 20;

/// One phase: a sub-tick of the thread's cycle (1 ms).
const PHASE_DURATION: Duration =
    Duration::from_micros(FRAME_DURATION.as_micros() as u64 / PHASES as u64);

/// Sessions a phase takes while another phase in use has room: serving 32 sessions takes
/// well under a millisecond, and each phase in use costs the thread a wake-up every 20 ms.
/// Once every phase holds this many, new sessions go to the emptiest.
pub const PHASE_CAPACITY: usize = 32;

/// A media thread's sub-tick schedule (absolute deadlines, like [`FrameClock`]).
#[derive(Debug, Clone, Copy)]
struct SubTicks {
    start: Instant,
    /// Index of the next sub-tick to serve.
    next: u64,
}

impl SubTicks {
    fn starting_now() -> Self {
        SubTicks {
            start: Instant::now(),
            next: 0,
        }
    }

    fn deadline(&self) -> Instant {
        self.start + PHASE_DURATION * (self.next as u32)
    }

    fn phase(&self) -> usize {
        (self.next % u64::from(PHASES)) as usize
    }

    /// Move on to the first sub-tick, from the next one, whose phase `is_empty` does not
    /// call empty (the next one itself when all are).
    fn skip_empty(&mut self, is_empty: impl Fn(usize) -> bool) {
        for _ in 1..PHASES {
            if !is_empty(self.phase()) {
                return;
            }
            self.next += 1;
        }
    }

    /// Move to the next sub-tick. After an overrun the thread catches up sub-tick by
    /// sub-tick (each serves only its phase, so that is quick), but never from further back
    /// than one cycle: each phase is then served once more, at its own late time, and its
    /// sessions send the overdue frames as one short burst.
    fn advance(&mut self, now: Instant) {
        self.next += 1;
        let elapsed = now.saturating_duration_since(self.start).as_micros() as u64;
        let latest_due = elapsed / PHASE_DURATION.as_micros() as u64;
        self.next = self
            .next
            .max((latest_due + 1).saturating_sub(u64::from(PHASES)));
    }
}

/// The sessions of one media thread, by phase.
struct Phases {
    sessions: Vec<Vec<Driver>>,
}

impl Phases {
    fn new() -> Self {
        Phases {
            sessions: (0..PHASES).map(|_| Vec::new()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.sessions.iter().map(Vec::len).sum()
    }

    /// A new session joins the phase [`phase_for_newcomer`] picks.
    fn add(&mut self, driver: Driver) {
        let phase = phase_for_newcomer(self.sessions.iter().map(Vec::len));
        self.sessions[phase].push(driver);
    }

    fn is_empty(&self, phase: usize) -> bool {
        self.sessions[phase].is_empty()
    }
}

/// The phase a new session joins, given each phase's session count: the fullest with room
/// (below [`PHASE_CAPACITY`]; the first of equals), so that a lightly loaded thread uses few
/// phases; when every phase is full, the emptiest.
fn phase_for_newcomer(lengths: impl Iterator<Item = usize> + Clone) -> usize {
    let indexed = lengths.enumerate();
    let fullest_with_room = indexed
        .clone()
        .filter(|&(_, length)| length < PHASE_CAPACITY)
        .max_by_key(|&(index, length)| (length, std::cmp::Reverse(index)));
    fullest_with_room
        .or_else(|| indexed.min_by_key(|&(_, length)| length))
        .map_or(0, |(phase, _)| phase)
}

/// One media thread: sleep to the next sub-tick whose phase has sessions, serve them,
/// repeat. Blocks while it has no session.
fn run_worker(new_sessions: thread_channel::Receiver<Driver>, load: Arc<AtomicUsize>) {
    raise_priority();
    let mut phases = Phases::new();
    let mut scratch = Scratch::new();
    let mut grid = SubTicks::starting_now();
    loop {
        if phases.len() == 0 {
            // Idle: wait for a session rather than ticking for nobody.
            let Ok(driver) = new_sessions.recv() else {
                return;
            };
            phases.add(driver);
            grid = SubTicks::starting_now();
        }
        while let Ok(driver) = new_sessions.try_recv() {
            phases.add(driver);
        }
        // A plain sleep, not a wait on the channel with a timeout: that wait spins and
        // yields the CPU before it blocks, and a yield can hand the core to another thread
        // for a whole time slice. New sessions join at the next wake-up (within 20 ms, and
        // before their first frame is due: their frame clock starts on their phase).
        grid.skip_empty(|phase| phases.is_empty(phase));
        if let Some(wait) = grid.deadline().checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // The tick's time is its place on the grid, not when the thread woke: sessions count
        // their frames from it, so wake-up jitter never moves a frame to the next tick.
        let tick = grid.deadline();
        let sessions = &mut phases.sessions[grid.phase()];
        // Two passes: first the phase's frames go out, then what came in is read, so a
        // thread preempted while reading delays no packet; datagrams keep their kernel
        // arrival times either way.
        sessions.retain_mut(|driver| serve(driver, |driver| driver.send_pass(tick)));
        sessions.retain_mut(|driver| serve(driver, |driver| driver.receive_pass(&mut scratch)));
        load.store(phases.len(), Ordering::Relaxed);
        grid.advance(Instant::now());
    }
}

/// Media threads' priority on the crate's 0–99 scale (Linux: nice −11), where the host may
/// raise it (root or `CAP_SYS_NICE`): their work per tick is small and bounded, and a frame
/// sent late is heard, while SIP and the apps can wait a few milliseconds.
const MEDIA_THREAD_PRIORITY: u8 = 75;

/// Best effort: give this thread [`MEDIA_THREAD_PRIORITY`]; without the right, it keeps the
/// process's priority (and says so once per thread in the debug log).
fn raise_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    let priority = ThreadPriorityValue::try_from(MEDIA_THREAD_PRIORITY)
        .map_err(|error| format!("{error:?}"))
        .and_then(|value| {
            set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|error| format!("{error:?}"))
        });
    if let Err(error) = priority {
        tracing::debug!(%error, "media thread keeps the default priority");
    }
}

/// Run one pass of a session in its span; false when it is over. A session whose handle
/// was dropped is finished; one that panicked is ended with an error line (its sockets and
/// port go with it) and the thread carries on with the others.
fn serve(driver: &mut Driver, pass: impl FnOnce(&mut Driver) -> bool) -> bool {
    // Lent out rather than cloned: a clone and its drop are two more atomic updates of
    // the subscriber's record of the span, per session and pass.
    let span = std::mem::replace(&mut driver.span, tracing::Span::none());
    let carry_on =
        span.in_scope(
            || match std::panic::catch_unwind(AssertUnwindSafe(|| pass(driver))) {
                Ok(true) => true,
                Ok(false) => {
                    driver.finish();
                    false
                }
                Err(_) => {
                    tracing::error!("media session panicked; it is ended");
                    false
                }
            },
        );
    driver.span = span;
    carry_on
}

/// Datagrams read by one `recvmmsg` call: a stream of 20 ms packets has one waiting per
/// visit, so one call both reads it and learns that no more wait.
const RECEIVE_BATCH: usize = 4;

/// Buffers one media thread reuses for every session.
struct Scratch {
    datagrams: Box<[u8]>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            datagrams: vec![0u8; RECEIVE_BUFFER_BYTES * RECEIVE_BATCH].into_boxed_slice(),
        }
    }
}

/// One session's I/O state, owned by a media thread.
#[derive(Debug)]
pub(crate) struct Driver {
    sockets: MediaSockets,
    lease: PortLease,
    core: SessionCore,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    shared: Arc<SessionShared>,
    /// Arrival and report times are measured from here.
    session_start: Instant,
    clock: Option<FrameClock>,
    /// Ticks served so far.
    ticks: u64,
    bridge: Option<BridgeEnd>,
    writers: RecordingWriters,
    /// The call's span: the session's log lines carry it.
    span: tracing::Span,
}

impl Driver {
    /// A session's driver; recordings' writer tasks go to `runtime`.
    pub(crate) fn new(
        sockets: MediaSockets,
        lease: PortLease,
        core: SessionCore,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::UnboundedSender<MediaEvent>,
        shared: Arc<SessionShared>,
        runtime: Handle,
    ) -> Self {
        tracing::debug!(port = lease.port(), remote = %core.destination(), "media session started");
        Driver {
            sockets,
            lease,
            core,
            commands,
            events,
            shared,
            session_start: Instant::now(),
            clock: None,
            ticks: 0,
            bridge: None,
            writers: RecordingWriters::new(runtime),
            span: tracing::Span::current(),
        }
    }

    /// The tick's first pass, scheduled at `tick`: the call's commands, the other leg's
    /// audio, the frames due and RTCP reports. False when the session is over (its handle
    /// was dropped).
    fn send_pass(&mut self, tick: Instant) -> bool {
        // Commands first: a stop must not wait behind traffic.
        if !self.take_commands() {
            return false;
        }
        if self.core.is_sending() && self.clock.is_none() {
            self.clock = Some(FrameClock {
                start: tick,
                next_frame: 0,
            });
        }
        // The other leg's audio, before our frame is made from it.
        while let Some(end) = self.bridge.as_mut() {
            match end.from_peer.try_recv() {
                Ok(BridgeMessage::Audio(frame)) => self.core.push_bridged_frame(*frame),
                Ok(BridgeMessage::Digit(digit)) => self.core.forward_digit(digit),
                Err(mpsc::error::TryRecvError::Empty) => break,
                // The other leg disconnected, was connected elsewhere, or ended.
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    end_bridge(&mut self.core, &mut self.bridge, &self.shared);
                }
            }
        }
        if let Some(clock) = self.clock.as_mut() {
            send_due_frames(
                &mut self.core,
                clock,
                tick,
                &self.sockets.rtp,
                &self.shared.counters,
            );
            // Audio the jitter buffer released on those frames goes to the other leg.
            forward_decoded(&mut self.core, &mut self.bridge, &self.shared);
            let elapsed = self.session_start.elapsed();
            if let Some((destination, report)) = self.core.poll_rtcp(elapsed, SystemTime::now()) {
                send_rtcp(&self.sockets.rtcp, destination, &report);
            }
        }
        self.pass_on_events();
        true
    }

    /// Apply the commands the handle queued, if it flagged any; false when it has closed
    /// the channel (the session is over).
    fn take_commands(&mut self) -> bool {
        // Cleared before reading: a command queued meanwhile is read now or flagged again.
        let waiting = &self.shared.commands_waiting;
        if !(waiting.load(Ordering::Relaxed) && waiting.swap(false, Ordering::Acquire)) {
            return true;
        }
        loop {
            match self.commands.try_recv() {
                Ok(Command::StartRecording(recording)) => {
                    let NewRecording { slot, job, file } = *recording;
                    self.writers.start(job.id(), file, &self.events);
                    self.core.start_recording(slot, job);
                }
                Ok(command) => apply(&mut self.core, &mut self.bridge, &self.shared, command),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// The tick's second pass: what waits in the sockets, and the events it raised.
    fn receive_pass(&mut self, scratch: &mut Scratch) -> bool {
        self.receive(scratch);
        self.ticks += 1;
        self.pass_on_events();
        true
    }

    /// Read what waits in both sockets, each datagram at its kernel arrival time.
    fn receive(&mut self, scratch: &mut Scratch) {
        let core = &mut self.core;
        let since = self.session_start;
        drain(
            &self.sockets.rtp,
            scratch,
            since,
            "RTP",
            |at, source, datagram| {
                core.on_datagram_at(at, source, datagram);
            },
        );
        // Before sending starts, audio is decoded on arrival.
        forward_decoded(&mut self.core, &mut self.bridge, &self.shared);
        if self.ticks.is_multiple_of(RTCP_READ_TICKS) {
            let core = &mut self.core;
            drain(
                &self.sockets.rtcp,
                scratch,
                since,
                "RTCP",
                |at, source, datagram| {
                    core.on_rtcp_at(at, source, datagram);
                },
            );
        }
    }

    /// Hand the core's events to the call (digits to the other leg too) and its recorded
    /// audio to the writers.
    fn pass_on_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            if let MediaEvent::Dtmf { digit } = event {
                let message = BridgeMessage::Digit(digit);
                send_to_bridge(&mut self.core, &mut self.bridge, &self.shared, message);
                if self.shared.pending_dtmf.load(Ordering::Relaxed) >= MAX_PENDING_DTMF {
                    self.shared.counters.count_dropped_dtmf();
                    continue;
                }
                self.shared.pending_dtmf.fetch_add(1, Ordering::Relaxed);
            }
            // A closed receiver means the handle is being dropped; the command channel closes next.
            let _ = self.events.send(event);
        }
        self.writers.pass_on(&mut self.core);
    }

    /// The call is over: recordings still running end HANGUP and their files are finished,
    /// an RTCP BYE goes out; the sockets and the port lease drop with the driver.
    fn finish(&mut self) {
        for slot in [RecordingSlot::File, RecordingSlot::WholeCall] {
            self.core.stop_recording(slot, RecordingCause::Hangup);
        }
        self.writers.pass_on(&mut self.core);
        let elapsed = self.session_start.elapsed();
        if let Some((destination, goodbye)) = self.core.goodbye(elapsed, SystemTime::now()) {
            send_rtcp(&self.sockets.rtcp, destination, &goodbye);
        }
        let stats = self.shared.counters.snapshot();
        tracing::debug!(port = self.lease.port(), ?stats, "media session stopped");
    }
}

/// Hand `handle` each datagram waiting in `socket` (at most [`MAX_DATAGRAMS_PER_TICK`]), with
/// its arrival time counted from `since`.
fn drain(
    socket: &UdpSocket,
    scratch: &mut Scratch,
    since: Instant,
    what: &str,
    mut handle: impl FnMut(Duration, SocketAddr, &[u8]),
) {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut read = 0;
    while read < MAX_DATAGRAMS_PER_TICK {
        let batch = receive_batch(socket, scratch, |source, stamp, datagram| {
            let at = arrival(now, wall, stamp).saturating_duration_since(since);
            handle(at, source, datagram);
        });
        match batch {
            Ok(count) => {
                read += count;
                // A short batch: the socket is empty.
                if count < RECEIVE_BATCH {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "{what} receive error");
                read += 1;
            }
        }
    }
}

/// Read up to [`RECEIVE_BATCH`] datagrams from a non-blocking socket with one `recvmmsg`,
/// handing each to `handle` with its source and the kernel's arrival stamp; how many were
/// read (0 when nothing waits). Written on `recvmmsg` because std's sockets neither batch
/// nor return the stamp.
fn receive_batch(
    socket: &UdpSocket,
    scratch: &mut Scratch,
    mut handle: impl FnMut(SocketAddr, Option<SystemTime>, &[u8]),
) -> std::io::Result<usize> {
    use nix::sys::socket::{
        ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage, recvmmsg,
    };
    // Fresh headers each call: the kernel shrinks each header's address and control lengths
    // to what it wrote, and reused headers would keep the shrunken ones.
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(
        RECEIVE_BATCH,
        Some(nix::cmsg_space!(nix::sys::time::TimeSpec)),
    );
    let mut buffers = scratch.datagrams.chunks_exact_mut(RECEIVE_BUFFER_BYTES);
    let mut slices: [[std::io::IoSliceMut<'_>; 1]; RECEIVE_BATCH] = std::array::from_fn(|_| {
        [std::io::IoSliceMut::new(
            buffers.next().expect("RECEIVE_BATCH buffers"),
        )]
    });
    let messages = match recvmmsg(
        socket.as_raw_fd(),
        &mut headers,
        slices.iter_mut(),
        MsgFlags::MSG_DONTWAIT,
        None,
    ) {
        Ok(messages) => messages,
        Err(nix::errno::Errno::EAGAIN) => return Ok(0),
        Err(errno) => return Err(errno.into()),
    };
    let mut count = 0;
    for message in messages {
        count += 1;
        let source = message
            .address
            .as_ref()
            .and_then(|address| match address.family()? {
                nix::sys::socket::AddressFamily::Inet => address
                    .as_sockaddr_in()
                    .map(|v4| SocketAddr::V4(std::net::SocketAddrV4::from(*v4))),
                nix::sys::socket::AddressFamily::Inet6 => address
                    .as_sockaddr_in6()
                    .map(|v6| SocketAddr::V6(std::net::SocketAddrV6::from(*v6))),
                _ => None,
            });
        let stamp = message.cmsgs().ok().and_then(|mut messages| {
            messages.find_map(|control| match control {
                ControlMessageOwned::ScmTimestampns(stamp) => Some(
                    SystemTime::UNIX_EPOCH
                        + Duration::new(stamp.tv_sec() as u64, stamp.tv_nsec() as u32),
                ),
                _ => None,
            })
        });
        let datagram = message.iovs().next().unwrap_or_default();
        match source {
            Some(source) => handle(source, stamp, datagram),
            None => tracing::debug!("datagram without a source address dropped"),
        }
    }
    Ok(count)
}

/// When a datagram stamped `stamp` (wall clock) arrived on the monotonic clock, given both
/// clocks' `now`; without a believable stamp, `now`.
fn arrival(now: Instant, wall: SystemTime, stamp: Option<SystemTime>) -> Instant {
    stamp
        .and_then(|stamp| wall.duration_since(stamp).ok())
        .filter(|age| *age <= MAX_ARRIVAL_AGE)
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Pass the core's decoded received frames to the other leg, if bridged.
fn forward_decoded(core: &mut SessionCore, bridge: &mut Option<BridgeEnd>, shared: &SessionShared) {
    while let Some(frame) = core.poll_decoded_frame() {
        let message = BridgeMessage::Audio(Box::new(frame));
        send_to_bridge(core, bridge, shared, message);
    }
}

/// Send one RTCP compound packet; like RTP, a full socket buffer drops it.
fn send_rtcp(socket: &UdpSocket, destination: SocketAddr, report: &[u8]) {
    if let Err(error) = socket.send_to(report, destination) {
        tracing::trace!(%error, %destination, "RTCP send failed");
    }
}

fn apply(
    core: &mut SessionCore,
    bridge: &mut Option<BridgeEnd>,
    shared: &SessionShared,
    command: Command,
) {
    match command {
        Command::StartSending => core.start_sending(),
        Command::Play { id, prompt } => core.play(id, prompt),
        Command::PlaySource { id, source } => core.play_source(id, *source),
        Command::StopPlaying => core.stop_playing(),
        Command::SendDtmf { id, items } => core.send_dtmf(id, items),
        Command::StopDtmf => core.stop_dtmf(),
        Command::Update(negotiated) => core.update(*negotiated),
        Command::Connect(end) => {
            // Replacing an older bridge drops its ends: that leg notices and unbridges.
            *bridge = Some(end);
            core.connect_bridge();
            shared.connected.store(true, Ordering::Relaxed);
        }
        Command::Disconnect => end_bridge(core, bridge, shared),
        Command::StopRecording { slot, cause } => core.stop_recording(slot, cause),
        // Handled by the loop, which owns the writers.
        Command::StartRecording(_) => {}
    }
}

/// The writer task of each running recording, by recording id.
#[derive(Debug)]
struct RecordingWriters {
    chunks: std::collections::HashMap<u64, mpsc::UnboundedSender<RecordingOutput>>,
    /// Where the writer tasks run.
    runtime: Handle,
}

impl RecordingWriters {
    fn new(runtime: Handle) -> Self {
        RecordingWriters {
            chunks: std::collections::HashMap::new(),
            runtime,
        }
    }

    /// Spawn the task that writes recording `id` into `file`.
    fn start(&mut self, id: u64, file: RecordingFile, events: &mpsc::UnboundedSender<MediaEvent>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.chunks.insert(id, sender);
        let task = write_recording(id, file, receiver, events.clone());
        self.runtime
            .spawn(tracing::Instrument::in_current_span(task));
    }

    /// Hand the core's encoded audio to the writers.
    fn pass_on(&mut self, core: &mut SessionCore) {
        while let Some(output) = core.poll_recording_output() {
            let id = output.id;
            let last = output.end.is_some();
            if let Some(writer) = self.chunks.get(&id) {
                // A writer that failed has reported ERROR and stopped listening.
                let _ = writer.send(output);
            }
            if last {
                self.chunks.remove(&id);
            }
        }
    }
}

/// Append each chunk (off the async threads), then finish the file and report the end. A
/// write error ends the recording ERROR at once; the rest of its audio is dropped.
async fn write_recording(
    id: u64,
    file: RecordingFile,
    mut chunks: mpsc::UnboundedReceiver<RecordingOutput>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let path = file.path().to_owned();
    let mut file = Some(file);
    // What is safely on disk, for the report if a write fails.
    let mut on_disk = (0, Duration::ZERO);
    while let Some(output) = chunks.recv().await {
        let Some(mut open) = file.take() else { break };
        let end = output.end;
        let written = tokio::task::spawn_blocking(move || {
            let appended = open.append(&output.bytes);
            match (appended, end) {
                (Ok(()), None) => Ok(Some(open)),
                (Ok(()), Some(_)) => open.finish().map(|_| None),
                (Err(error), _) => Err(error),
            }
        })
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())));
        let summary = match written {
            Ok(Some(open)) => {
                on_disk = (open.data_bytes(), open.duration());
                file = Some(open);
                continue;
            }
            Ok(None) => end.expect("the file is finished only with the last chunk"),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "recording failed");
                RecordingSummary {
                    cause: RecordingCause::Error,
                    duration: on_disk.1,
                    data_bytes: on_disk.0,
                    audio_detected: end.is_some_and(|end| end.audio_detected),
                }
            }
        };
        tracing::debug!(path = %path.display(), ?summary, "recording finished");
        let _ = events.send(MediaEvent::RecordingFinished { id, summary });
        return;
    }
}

/// Pass a message to the other leg. A full channel drops it (that driver is stalled and would
/// drop stale audio anyway); a closed one means the bridge is over.
fn send_to_bridge(
    core: &mut SessionCore,
    bridge: &mut Option<BridgeEnd>,
    shared: &SessionShared,
    message: BridgeMessage,
) {
    let Some(end) = bridge else { return };
    if let Err(mpsc::error::TrySendError::Closed(_)) = end.to_peer.try_send(message) {
        end_bridge(core, bridge, shared);
    }
}

fn end_bridge(core: &mut SessionCore, bridge: &mut Option<BridgeEnd>, shared: &SessionShared) {
    if bridge.take().is_some() {
        tracing::debug!("media bridge ended");
    }
    core.disconnect_bridge();
    shared.connected.store(false, Ordering::Relaxed);
}

fn send_due_frames(
    core: &mut SessionCore,
    clock: &mut FrameClock,
    now: Instant,
    socket: &UdpSocket,
    counters: &MediaCounters,
) {
    let due = clock.frames_due(now);
    let behind = due.saturating_sub(clock.next_frame);
    if behind > MAX_BURST_FRAMES {
        let skipped = behind - MAX_BURST_FRAMES;
        tracing::debug!(skipped, "media tick came late: skipping frames");
        core.skip_frames(skipped);
        clock.next_frame += skipped;
    }
    while clock.next_frame < due {
        if let Some((destination, packet)) = core.on_frame() {
            // UDP sends do not block for long; a full buffer drops this packet, as the network would.
            if let Err(error) = socket.send_to(packet, destination) {
                tracing::trace!(%error, %destination, "RTP send failed");
                counters.count_send_error();
            }
        }
        clock.next_frame += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_the_closed_channel_are_flagged() {
        let shared = Arc::new(SessionShared::default());
        let waiting = || shared.commands_waiting.load(Ordering::Acquire);
        let (sender, mut receiver) = command_channel(&shared);
        assert!(!waiting());
        assert!(sender.send(Command::StopPlaying));
        assert!(waiting());
        assert!(matches!(receiver.try_recv(), Ok(Command::StopPlaying)));
        shared.commands_waiting.store(false, Ordering::Release);
        // Closed before flagged: the driver that sees the flag finds the channel closed.
        drop(sender);
        assert!(waiting());
        assert!(matches!(
            receiver.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        // A send to a driver that is gone fails.
        let (sender, receiver) = command_channel(&shared);
        drop(receiver);
        assert!(!sender.send(Command::StopPlaying));
    }

    #[test]
    fn frame_clock_uses_absolute_deadlines() {
        let start = Instant::now();
        let mut clock = FrameClock {
            start,
            next_frame: 0,
        };
        assert_eq!(clock.deadline(), start);
        assert_eq!(clock.frames_due(start), 1);
        assert_eq!(clock.frames_due(start + Duration::from_micros(19_999)), 1);
        assert_eq!(clock.frames_due(start + Duration::from_millis(20)), 2);
        clock.next_frame = 50_000; // 1000 s later: no accumulated rounding
        assert_eq!(clock.deadline(), start + Duration::from_secs(1000));
        assert_eq!(
            clock.frames_due(start + Duration::from_millis(1_000_010)),
            50_001
        );
    }

    /// A sending core on a frame clock started at `start`, aimed at a phone that never reads.
    struct Sending {
        core: SessionCore,
        clock: FrameClock,
        socket: UdpSocket,
        counters: Arc<MediaCounters>,
        _phone: UdpSocket,
    }

    impl Sending {
        fn new(start: Instant) -> Self {
            use crate::codec::Codec;
            use crate::session::StreamOrigin;
            let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
            let negotiated =
                Negotiated::for_test(phone.local_addr().unwrap(), Codec::Pcmu, 0, None);
            let counters = Arc::new(MediaCounters::default());
            let origin = StreamOrigin::random();
            let mut core = SessionCore::new(negotiated, false, origin, Arc::clone(&counters));
            core.start_sending();
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_nonblocking(true).unwrap();
            let clock = FrameClock {
                start,
                next_frame: 0,
            };
            Sending {
                core,
                clock,
                socket,
                counters,
                _phone: phone,
            }
        }

        /// A tick at `now`; the counters after it.
        fn tick(&mut self, now: Instant) -> crate::session::MediaStats {
            let counters = &self.counters;
            send_due_frames(&mut self.core, &mut self.clock, now, &self.socket, counters);
            counters.snapshot()
        }
    }

    #[test]
    fn ten_minutes_of_ticks_are_exactly_30001_packets() {
        let start = Instant::now();
        let mut sending = Sending::new(start);
        // Ticks 20 ms apart, each 7 ms late: frames are due at 0, 20 ms, …, 600 s.
        let mut stats = Default::default();
        for tick in 0..=30_000u64 {
            stats = sending.tick(start + Duration::from_millis(20 * tick + 7));
        }
        assert_eq!(stats.packets_sent, 30_001);
        assert_eq!(stats.frames_skipped, 0);
    }

    #[test]
    fn a_late_tick_sends_a_short_burst_and_skips_the_rest() {
        let start = Instant::now();
        let mut sending = Sending::new(start);
        let stats = sending.tick(start);
        assert_eq!(stats.packets_sent, 1, "the first frame goes out at once");
        // The next tick comes 210 ms late, as if the thread had been starved: frames
        // 1..=10 are overdue.
        let stats = sending.tick(start + Duration::from_millis(210));
        assert_eq!(stats.packets_sent, 1 + MAX_BURST_FRAMES);
        assert_eq!(stats.frames_skipped, 10 - MAX_BURST_FRAMES);
        // Back on schedule afterwards: at 410 ms frames 0..=20 are all accounted for.
        let stats = sending.tick(start + Duration::from_millis(410));
        assert_eq!(stats.packets_sent + stats.frames_skipped, 21);
    }

    #[test]
    fn datagrams_carry_their_kernel_arrival_time() {
        let (socket, peer) = stamped_socket_pair();
        let mut scratch = Scratch::new();
        assert!(
            receive_all(&socket, &mut scratch).is_empty(),
            "nothing waits"
        );
        // The kernel turns receive stamping on for the whole system from a work queue, a
        // moment after the first socket asks; until then a datagram is stamped when it is
        // read. Wait (up to 2 s) until a probe read 20 ms late is dated earlier than its read.
        let live = (0..100).any(|_| {
            peer.send_to(b"probe", socket.local_addr().unwrap())
                .unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let (now, wall) = (Instant::now(), SystemTime::now());
            let (_, stamp, _) = receive_all(&socket, &mut scratch).remove(0);
            now.duration_since(arrival(now, wall, stamp)) >= Duration::from_millis(10)
        });
        assert!(live, "the kernel never stamped a datagram on arrival");
        let before_send = Instant::now();
        peer.send_to(b"early", socket.local_addr().unwrap())
            .unwrap();
        let after_send = Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        // A matched pair of clock readings: a busy machine may preempt us between the two,
        // so take the pair again until both fall within one millisecond.
        let (now, wall) = (0..100)
            .map(|_| (Instant::now(), SystemTime::now(), Instant::now()))
            .find(|(first, _, last)| last.duration_since(*first) < Duration::from_millis(1))
            .map(|(first, wall, _)| (first, wall))
            .expect("no quiet millisecond in 100 tries");
        let received = receive_all(&socket, &mut scratch);
        assert_eq!(received.len(), 1);
        let (source, stamp, datagram) = &received[0];
        assert_eq!(datagram, b"early");
        assert_eq!(*source, peer.local_addr().unwrap());
        assert!(stamp.is_some(), "the kernel gave no arrival stamp");
        let arrived = arrival(now, wall, *stamp);
        // Read 60 ms after it arrived, yet dated to its arrival: while `send_to` ran on
        // loopback, give or take the clocks' slack. Preemption only widens the window.
        let slack = Duration::from_millis(5);
        assert!(
            arrived + slack >= before_send && arrived <= after_send + slack,
            "arrived {:?} after the send began, which took {:?}",
            arrived.checked_duration_since(before_send),
            after_send - before_send
        );
        assert!(now.duration_since(arrived) >= Duration::from_millis(50));
    }

    #[test]
    fn a_visit_reads_waiting_datagrams_in_batches_up_to_its_limit() {
        let (socket, peer) = stamped_socket_pair();
        let mut scratch = Scratch::new();
        let count = MAX_DATAGRAMS_PER_TICK + 10;
        for index in 0..count {
            peer.send_to(&[index as u8; 3], socket.local_addr().unwrap())
                .unwrap();
        }
        let mut read = Vec::new();
        drain(
            &socket,
            &mut scratch,
            Instant::now(),
            "test",
            |_, source, datagram| {
                assert_eq!(source, peer.local_addr().unwrap());
                read.push(datagram.to_vec());
            },
        );
        // In order, whole, every batch stamped (the headers are fresh for each batch), and
        // no more than one visit's worth.
        assert_eq!(read.len(), MAX_DATAGRAMS_PER_TICK);
        for (index, datagram) in read.iter().enumerate() {
            assert_eq!(datagram, &[index as u8; 3]);
        }
        let rest = receive_all(&socket, &mut scratch);
        assert_eq!(rest.len(), 10);
        assert!(rest.iter().all(|(_, stamp, _)| stamp.is_some()));
        assert_eq!(rest[0].2, [MAX_DATAGRAMS_PER_TICK as u8; 3]);
    }

    /// A non-blocking socket that stamps arrivals, and a peer to send to it.
    fn stamped_socket_pair() -> (UdpSocket, UdpSocket) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .unwrap();
        (socket, UdpSocket::bind("127.0.0.1:0").unwrap())
    }

    /// Everything waiting in `socket`, batch by batch.
    fn receive_all(
        socket: &UdpSocket,
        scratch: &mut Scratch,
    ) -> Vec<(SocketAddr, Option<SystemTime>, Vec<u8>)> {
        let mut received = Vec::new();
        loop {
            let count = receive_batch(socket, scratch, |source, stamp, datagram| {
                received.push((source, stamp, datagram.to_vec()));
            })
            .unwrap();
            if count < RECEIVE_BATCH {
                return received;
            }
        }
    }

    #[test]
    fn sub_ticks_cycle_the_phases_and_catch_up_at_most_one_cycle() {
        let mut grid = SubTicks::starting_now();
        let start = grid.start;
        let phases: Vec<usize> = (0..PHASES + 2)
            .map(|_| {
                let phase = grid.phase();
                grid.advance(grid.deadline());
                phase
            })
            .collect();
        assert_eq!(&phases[..3], [0, 1, 2]);
        assert_eq!(&phases[PHASES as usize..], [0, 1]);
        assert_eq!(grid.deadline(), start + PHASE_DURATION * (PHASES + 2));
        // 3 ms late: the next sub-ticks are served in turn, none skipped.
        let late = grid.deadline() + Duration::from_millis(3);
        grid.advance(late);
        assert_eq!(grid.next, u64::from(PHASES) + 3);
        // 100 ms late: only the last cycle is caught up, each phase once.
        let stalled = grid.deadline() + Duration::from_millis(100);
        grid.advance(stalled);
        let latest_due = (stalled - start).as_micros() as u64 / 1000;
        assert_eq!(grid.next, latest_due + 1 - u64::from(PHASES));
        assert!(grid.deadline() <= stalled);
        assert!(grid.deadline() + FRAME_DURATION > stalled);
    }

    #[test]
    fn newcomers_fill_a_phase_before_opening_the_next_and_spread_once_all_are_full() {
        let mut lengths = vec![0; PHASES as usize];
        let join = |lengths: &mut Vec<usize>| {
            let phase = phase_for_newcomer(lengths.iter().copied());
            lengths[phase] += 1;
            phase
        };
        let first: Vec<usize> = (0..PHASE_CAPACITY + 1)
            .map(|_| join(&mut lengths))
            .collect();
        assert!(first[..PHASE_CAPACITY].iter().all(|&phase| phase == 0));
        assert_eq!(first[PHASE_CAPACITY], 1);
        // A session leaves phase 0: the next newcomer fills that gap, not phase 1.
        lengths[0] -= 1;
        assert_eq!(join(&mut lengths), 0);
        // Every phase full: newcomers go to the emptiest, one per phase in turn.
        lengths
            .iter_mut()
            .for_each(|length| *length = PHASE_CAPACITY);
        lengths[7] += 1;
        let spread: Vec<usize> = (1..PHASES).map(|_| join(&mut lengths)).collect();
        assert!(!spread.contains(&7));
        assert!(lengths.iter().all(|&length| length == PHASE_CAPACITY + 1));
    }

    #[test]
    fn a_thread_sleeps_through_the_sub_ticks_of_its_empty_phases() {
        let mut grid = SubTicks::starting_now();
        let start = grid.start;
        let used = [3usize, 15];
        let mut served = Vec::new();
        for _ in 0..4 {
            grid.skip_empty(|phase| !used.contains(&phase));
            served.push((grid.phase(), grid.deadline()));
            grid.advance(grid.deadline());
        }
        let at = |sub_tick: u32| start + PHASE_DURATION * sub_tick;
        assert_eq!(
            served,
            [
                (3, at(3)),
                (15, at(15)),
                (3, at(PHASES + 3)),
                (15, at(PHASES + 15))
            ]
        );
        // With every phase empty (not a state the thread waits in), the next sub-tick.
        grid.skip_empty(|_| true);
        assert_eq!(grid.next, u64::from(PHASES) + 16 + u64::from(PHASES) - 1);
    }

    #[test]
    fn an_unbelievable_stamp_falls_back_to_now() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        assert_eq!(arrival(now, wall, None), now);
        // From the future (the wall clock stepped back) or from long ago (stepped forward).
        assert_eq!(arrival(now, wall, Some(wall + Duration::from_secs(5))), now);
        assert_eq!(arrival(now, wall, Some(wall - Duration::from_secs(5))), now);
        let recent = arrival(now, wall, Some(wall - Duration::from_millis(30)));
        assert_eq!(now.duration_since(recent), Duration::from_millis(30));
    }

    /// This thread's nice value (field 19 of its stat line).
    fn nice_value() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn a_media_thread_asks_for_a_higher_priority() {
        let before = nice_value();
        let after = std::thread::spawn(|| {
            raise_priority();
            nice_value()
        })
        .join()
        .unwrap();
        // CAP_SYS_NICE (capability 23) in the effective set: root in CI has it.
        let may_raise = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("CapEff:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << 23) != 0);
        if may_raise {
            // nice −11 on the crate's scale.
            assert_eq!(after, -11, "nice before {before}");
        } else {
            assert_eq!(
                after, before,
                "without the right the thread keeps its priority"
            );
        }
    }
}
