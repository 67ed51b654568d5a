//! The I/O driver: one tokio task per session owns its UDP socket and its frame timer and
//! feeds the sans-IO [`SessionCore`]. This is the only module with sockets and time.
//!
//! Timing: one monotonic clock (`tokio::time::Instant`). Frame *k* is due at
//! `start + k × 20 ms` (absolute deadlines, so scheduling delays never accumulate into drift).
//! A late wake-up sends the overdue frames back to back, at most [`MAX_BURST_FRAMES`] of them;
//! beyond that the core skips frames (time moves on, nothing is sent) rather than flooding
//! the peer's jitter buffer. The timer runs only after `start_sending`.
//!
//! The task ends when the command channel closes (the `MediaSession` was dropped); the socket
//! and the port lease drop with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ports::PortLease;
use crate::prompt::Prompt;
use crate::sdp::Negotiated;
use crate::session::{MediaCounters, MediaEvent, SessionCore};
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

/// What `MediaSession` asks of its driver.
#[derive(Debug)]
pub(crate) enum Command {
    StartSending,
    Play { id: u64, prompt: Arc<Prompt> },
    StopPlaying,
    SendDtmf { id: u64, items: Vec<DtmfItem> },
    StopDtmf,
    Update(Box<Negotiated>),
}

/// State the session handle and the driver both see.
#[derive(Debug, Default)]
pub(crate) struct SessionShared {
    pub(crate) counters: Arc<MediaCounters>,
    /// DTMF events sent to the handle and not yet read.
    pub(crate) pending_dtmf: AtomicUsize,
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
    socket: UdpSocket,
    lease: PortLease,
    mut core: SessionCore,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    shared: Arc<SessionShared>,
) {
    tracing::debug!(port = lease.port(), remote = %core.destination(), "media session started");
    let mut buffer = vec![0u8; RECEIVE_BUFFER_BYTES].into_boxed_slice();
    let mut clock: Option<FrameClock> = None;
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            // Commands first (a stop must not wait behind traffic), then the timer, then input.
            biased;
            command = commands.recv() => {
                let Some(command) = command else { break };
                apply(&mut core, command);
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
            }
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, source)) => core.on_datagram(source, &buffer[..length]),
                Err(error) => tracing::debug!(%error, "RTP receive error"),
            },
        }
        while let Some(event) = core.poll_event() {
            if let MediaEvent::Dtmf { .. } = event {
                if shared.pending_dtmf.load(Ordering::Relaxed) >= MAX_PENDING_DTMF {
                    shared.counters.count_dropped_dtmf();
                    continue;
                }
                shared.pending_dtmf.fetch_add(1, Ordering::Relaxed);
            }
            // A closed receiver means the handle is being dropped; the command channel closes next.
            let _ = events.send(event);
        }
    }
    tracing::debug!(port = lease.port(), "media session stopped");
}

fn apply(core: &mut SessionCore, command: Command) {
    match command {
        Command::StartSending => core.start_sending(),
        Command::Play { id, prompt } => core.play(id, prompt),
        Command::StopPlaying => core.stop_playing(),
        Command::SendDtmf { id, items } => core.send_dtmf(id, items),
        Command::StopDtmf => core.stop_dtmf(),
        Command::Update(negotiated) => core.update(*negotiated),
    }
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
