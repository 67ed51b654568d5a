//! The I/O driver: one tokio task per session owns its UDP socket and its frame timer and
//! feeds the sans-IO [`SessionCore`]. This is the only module with sockets and time.
//!
//! Timing: one monotonic clock (`tokio::time::Instant`). Frame *k* is due at
//! `start + k × 20 ms` (absolute deadlines, so scheduling delays never accumulate into drift).
//! A late wake-up sends the overdue frames back to back, at most [`MAX_BURST_FRAMES`] of them;
//! beyond that the core skips frames (time moves on, nothing is sent) rather than flooding
//! the peer's jitter buffer. The timer runs only after `start_sending`.
//!
//! RTCP: the session's second socket (RTP port + 1) receives the peer's reports and sends ours;
//! after each frame tick the core says whether a report is due ([`SessionCore::poll_rtcp`]).
//! Arrival and report times are measured from the task's start on the same monotonic clock;
//! the wall clock only stamps sender reports.
//!
//! The task ends when the command channel closes (the `MediaSession` was dropped): it sends an
//! RTCP BYE, and the sockets and the port lease drop with it.
//!
//! Bridging: `MediaSession::connect` hands each of the two drivers one `BridgeEnd`, a pair of
//! bounded channels. A driver sends its decoded received frames and received digits to the
//! other and feeds what it receives into its core's playout buffer. Ending the bridge on
//! either side (disconnect, a new connect, the task ending) drops that side's channel ends; the
//! other driver sees its receiver close and goes back to its own output.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

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

/// The packetisation interval.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// Most overdue frames sent in one burst after a late wake-up (100 ms of audio).
pub const MAX_BURST_FRAMES: u64 = 5;

/// Unread DTMF digits kept for the call; more are dropped (and counted) so a flooding peer
/// cannot grow memory without bound.
pub const MAX_PENDING_DTMF: usize = 128;

/// Receive buffer: larger than any sane RTP packet on a 1500-byte MTU path.
const RECEIVE_BUFFER_BYTES: usize = 2048;

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
    /// Play a generated source (a tone) in place of any prompt.
    PlaySource {
        id: u64,
        source: AudioSource,
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
    StartRecording {
        slot: RecordingSlot,
        job: RecordingJob,
        file: RecordingFile,
    },
    StopRecording {
        slot: RecordingSlot,
        cause: RecordingCause,
    },
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
}

/// Absolute-deadline frame schedule.
#[derive(Debug, Clone, Copy)]
struct FrameClock {
    start: Instant,
    /// Index of the next frame to produce.
    next_frame: u64,
}

impl FrameClock {
    fn deadline(&self) -> Instant {
        self.start + Duration::from_micros(FRAME_DURATION.as_micros() as u64 * self.next_frame)
    }

    /// Frames whose deadline is at or before `now`, counted from the start.
    fn frames_due(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_micros() / FRAME_DURATION.as_micros()) as u64
            + 1
    }
}

/// The driver loop; spawn it once per session.
pub(crate) async fn run(
    sockets: MediaSockets,
    lease: PortLease,
    mut core: SessionCore,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    shared: Arc<SessionShared>,
) {
    tracing::debug!(port = lease.port(), remote = %core.destination(), "media session started");
    let MediaSockets {
        rtp: socket,
        rtcp: rtcp_socket,
    } = sockets;
    let session_start = Instant::now();
    let mut buffer = vec![0u8; RECEIVE_BUFFER_BYTES].into_boxed_slice();
    let mut rtcp_buffer = vec![0u8; RECEIVE_BUFFER_BYTES].into_boxed_slice();
    let mut clock: Option<FrameClock> = None;
    let mut bridge: Option<BridgeEnd> = None;
    let mut writers = RecordingWriters::default();
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            // Commands first (a stop must not wait behind traffic), then the timer, then input.
            biased;
            command = commands.recv() => {
                let Some(command) = command else { break };
                if let Command::StartRecording { slot, job, file } = command {
                    writers.start(job.id(), file, &events);
                    core.start_recording(slot, job);
                } else {
                    apply(&mut core, &mut bridge, &shared, command);
                }
                if core.is_sending() && clock.is_none() {
                    let now = Instant::now();
                    clock = Some(FrameClock { start: now, next_frame: 0 });
                    sleep.as_mut().reset(now);
                }
            }
            () = &mut sleep, if clock.is_some() => {
                if let Some(clock) = clock.as_mut() {
                    send_due_frames(&mut core, clock, &socket, &shared.counters);
                    sleep.as_mut().reset(clock.deadline());
                }
                // Audio the jitter buffer released on those ticks goes to the other leg.
                forward_decoded(&mut core, &mut bridge, &shared);
                let now = session_start.elapsed();
                if let Some((destination, report)) = core.poll_rtcp(now, SystemTime::now()) {
                    send_rtcp(&rtcp_socket, destination, &report);
                }
            }
            message = receive_bridged(&mut bridge), if bridge.is_some() => match message {
                Some(BridgeMessage::Audio(frame)) => core.push_bridged_frame(*frame),
                Some(BridgeMessage::Digit(digit)) => core.forward_digit(digit),
                // The other leg disconnected, was connected elsewhere, or ended.
                None => end_bridge(&mut core, &mut bridge, &shared),
            },
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, source)) => {
                    core.on_datagram_at(session_start.elapsed(), source, &buffer[..length]);
                    // Before sending starts, audio is decoded on arrival.
                    forward_decoded(&mut core, &mut bridge, &shared);
                }
                Err(error) => tracing::debug!(%error, "RTP receive error"),
            },
            received = rtcp_socket.recv_from(&mut rtcp_buffer) => match received {
                Ok((length, source)) => {
                    core.on_rtcp_at(session_start.elapsed(), source, &rtcp_buffer[..length]);
                }
                Err(error) => tracing::debug!(%error, "RTCP receive error"),
            },
        }
        while let Some(event) = core.poll_event() {
            if let MediaEvent::Dtmf { digit } = event {
                send_to_bridge(&mut core, &mut bridge, &shared, BridgeMessage::Digit(digit));
                if shared.pending_dtmf.load(Ordering::Relaxed) >= MAX_PENDING_DTMF {
                    shared.counters.count_dropped_dtmf();
                    continue;
                }
                shared.pending_dtmf.fetch_add(1, Ordering::Relaxed);
            }
            // A closed receiver means the handle is being dropped; the command channel closes next.
            let _ = events.send(event);
        }
        writers.pass_on(&mut core);
    }
    // The call is over: recordings still running end HANGUP, and their files are finished.
    for slot in [RecordingSlot::File, RecordingSlot::WholeCall] {
        core.stop_recording(slot, RecordingCause::Hangup);
    }
    writers.pass_on(&mut core);
    if let Some((destination, goodbye)) = core.goodbye(session_start.elapsed(), SystemTime::now()) {
        send_rtcp(&rtcp_socket, destination, &goodbye);
    }
    let stats = shared.counters.snapshot();
    tracing::debug!(port = lease.port(), ?stats, "media session stopped");
}

/// Pass the core's decoded received frames to the other leg, if bridged.
fn forward_decoded(core: &mut SessionCore, bridge: &mut Option<BridgeEnd>, shared: &SessionShared) {
    while let Some(frame) = core.poll_decoded_frame() {
        let message = BridgeMessage::Audio(Box::new(frame));
        send_to_bridge(core, bridge, shared, message);
    }
}

/// Send one RTCP compound packet; like RTP, a full socket buffer drops it.
fn send_rtcp(socket: &UdpSocket, destination: std::net::SocketAddr, report: &[u8]) {
    if let Err(error) = socket.try_send_to(report, destination) {
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
        Command::PlaySource { id, source } => core.play_source(id, source),
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
        Command::StartRecording { .. } => {}
    }
}

/// The writer task of each running recording, by recording id.
#[derive(Debug, Default)]
struct RecordingWriters {
    chunks: std::collections::HashMap<u64, mpsc::UnboundedSender<RecordingOutput>>,
}

impl RecordingWriters {
    /// Spawn the task that writes recording `id` into `file`.
    fn start(&mut self, id: u64, file: RecordingFile, events: &mpsc::UnboundedSender<MediaEvent>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.chunks.insert(id, sender);
        tokio::spawn(write_recording(id, file, receiver, events.clone()).in_current_span());
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

/// The next message from the other leg; pending forever when not bridged (the loop only polls
/// this while bridged). Cancel-safe: `mpsc::Receiver::recv` is.
async fn receive_bridged(bridge: &mut Option<BridgeEnd>) -> Option<BridgeMessage> {
    match bridge {
        Some(end) => end.from_peer.recv().await,
        None => std::future::pending().await,
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
    socket: &UdpSocket,
    counters: &MediaCounters,
) {
    let due = clock.frames_due(Instant::now());
    let behind = due.saturating_sub(clock.next_frame);
    if behind > MAX_BURST_FRAMES {
        let skipped = behind - MAX_BURST_FRAMES;
        tracing::debug!(skipped, "media driver woke late: skipping frames");
        core.skip_frames(skipped);
        clock.next_frame += skipped;
    }
    while clock.next_frame < due {
        if let Some((destination, packet)) = core.on_frame() {
            // UDP sends do not block for long; a full buffer drops this packet, as the network would.
            if let Err(error) = socket.try_send_to(packet, destination) {
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
}
