//! Media shards: OS threads that send every call's PCMU on an absolute 20 ms grid and drain
//! the host's RTP with kernel arrival timestamps.
//!
//! Depends on [`crate::rtp`] and [`crate::histogram`]; sockets are std `UdpSocket`s in
//! non-blocking mode, read with `recvmsg` for `SO_TIMESTAMPNS` (via nix). RFC 3550 sections
//! 5.1 (sequence and timestamp rules: the timestamp advances with sampling time even when a
//! frame is skipped, the sequence number only with packets sent).
//!
//! Why threads and not one tokio task per call: at 4,000 calls the generator moves 200,000
//! packets/s on a 2-core machine shared with the host. A shard walks its calls once per
//! 1 ms sub-tick (each call owns one of 20 sub-ticks, spreading the load over the 20 ms
//! frame), sends one packet and drains the socket with non-blocking reads. No per-packet
//! wakeups, no timer per call, and the kernel timestamps the arrivals so a shard that wakes
//! late does not show up as host jitter.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};

use crate::histogram::Histogram;
use crate::rtp::{self, PacingTotals, ReceiveCounts, ReceiveStream};

/// Sub-ticks per 20 ms frame: each call sends in one of them.
const SLOTS: u64 = 20;
/// One sub-tick.
const SUB_TICK: Duration = Duration::from_millis(1);
/// Most datagrams read from one socket per visit, so one flooded socket cannot stall a shard.
const READS_PER_VISIT: usize = 64;

/// Phase of the run as the media shards see it.
pub mod phase {
    /// Calls are being set up: packets flow but pacing is not measured.
    pub const RAMP: u8 = 0;
    /// All calls are up and settled: pacing and lateness are measured.
    pub const STEADY: u8 = 1;
    /// BYEs are going out: measurement has stopped.
    pub const ENDING: u8 = 2;
}

/// Creates a call's RTP socket: bound to `bind_ip:0`, non-blocking, with kernel receive
/// timestamps enabled.
pub fn open_socket(bind_ip: std::net::IpAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(bind_ip, 0))?;
    socket.set_nonblocking(true)?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(std::io::Error::from)?;
    Ok(socket)
}

/// A call handed to a shard once it is answered.
#[derive(Debug)]
pub struct MediaCall {
    /// Call number (stable across the run).
    pub index: usize,
    /// The socket whose port was offered in the SDP.
    pub socket: UdpSocket,
    /// Where the host wants our RTP (from its answer).
    pub remote: SocketAddr,
}

/// What the signalling side tells a shard.
#[derive(Debug)]
pub enum Command {
    /// Start sending and receiving for an answered call.
    Start(MediaCall),
    /// Stop sending (our BYE went out) but keep counting what still arrives.
    StopSending(usize),
    /// The call is over: fold its statistics and close its socket.
    Finish(usize),
}

/// Totals of one shard (and, merged, of the run).
#[derive(Debug, Clone)]
pub struct MediaTotals {
    /// RTP packets we sent to the host.
    pub packets_sent: u64,
    /// Sends that failed (buffer full, unreachable).
    pub send_errors: u64,
    /// Frames not sent because the shard fell more than a sub-tick cycle behind.
    pub frames_skipped: u64,
    /// How late each packet left against its grid slot, steady window only.
    pub send_lateness: Histogram,
    /// What arrived from the host.
    pub received: ReceiveCounts,
    /// Host packets received during the steady window.
    pub received_in_window: u64,
    /// Pacing of the host's packets, steady window only.
    pub pacing: PacingTotals,
    /// Packets whose arrival had no kernel timestamp (the shard's clock was used instead).
    pub untimestamped: u64,
}

impl MediaTotals {
    fn new() -> Self {
        Self {
            packets_sent: 0,
            send_errors: 0,
            frames_skipped: 0,
            send_lateness: Histogram::new(10, 200_000),
            received: ReceiveCounts::default(),
            received_in_window: 0,
            pacing: PacingTotals::new(),
            untimestamped: 0,
        }
    }

    /// Adds another shard's totals.
    pub fn merge(&mut self, other: &MediaTotals) {
        self.packets_sent += other.packets_sent;
        self.send_errors += other.send_errors;
        self.frames_skipped += other.frames_skipped;
        self.send_lateness.merge(&other.send_lateness);
        let (mine, theirs) = (&mut self.received, &other.received);
        mine.received += theirs.received;
        mine.lost += theirs.lost;
        mine.duplicates += theirs.duplicates;
        mine.out_of_order += theirs.out_of_order;
        mine.ssrc_changes += theirs.ssrc_changes;
        mine.rtcp += theirs.rtcp;
        mine.malformed += theirs.malformed;
        self.received_in_window += other.received_in_window;
        self.pacing.merge(&other.pacing);
        self.untimestamped += other.untimestamped;
    }
}

impl Default for MediaTotals {
    fn default() -> Self {
        Self::new()
    }
}

/// A running shard thread.
///
/// Lifecycle: [`Shard::spawn`], then commands through [`Shard::send`]; dropping the command
/// sender (via [`Shard::join`]) lets the thread finish once its calls are finished, or at
/// the deadline, and `join` returns its totals.
pub struct Shard {
    commands: Sender<Command>,
    thread: JoinHandle<MediaTotals>,
}

impl Shard {
    /// Starts a shard thread that runs until its command channel closes and its calls are
    /// finished, or until `deadline`.
    /// Calls must be dealt as `index % shard_count == number`.
    pub fn spawn(
        number: usize,
        shard_count: usize,
        phase: Arc<AtomicU8>,
        deadline: Instant,
    ) -> std::io::Result<Shard> {
        let (commands, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("media-{number}"))
            .spawn(move || ShardLoop::new(receiver, shard_count.max(1), phase, deadline).run())?;
        Ok(Shard { commands, thread })
    }

    /// Queues a command; the shard applies it at its next sub-tick (at most ~1 ms later).
    /// A shard that already stopped (deadline) drops it.
    pub fn send(&self, command: Command) {
        // A send error means the thread is gone (deadline); the call is accounted there.
        let _ = self.commands.send(command);
    }

    /// Closes the command channel and waits for the thread's totals; `None` if the thread
    /// panicked (its calls' figures are lost and the report says so).
    pub fn join(self) -> Option<MediaTotals> {
        drop(self.commands);
        self.thread.join().ok()
    }
}

struct ActiveCall {
    index: usize,
    socket: UdpSocket,
    remote: SocketAddr,
    sending: bool,
    first_tick: u64,
    last_frame: Option<u64>,
    sequence: u16,
    timestamp_base: u32,
    ssrc: u32,
    stream: ReceiveStream,
}

struct ShardLoop {
    commands: Receiver<Command>,
    shard_count: usize,
    phase: Arc<AtomicU8>,
    deadline: Instant,
    slots: Vec<Vec<ActiveCall>>,
    totals: MediaTotals,
    packet: [u8; rtp::HEADER_LENGTH + rtp::SAMPLES_PER_FRAME as usize],
    // Reused for every read: a datagram and room for one SCM_TIMESTAMPNS message.
    receive_buffer: Vec<u8>,
    control_buffer: Vec<u8>,
    epoch: Instant,
    tick: u64,
}

impl ShardLoop {
    fn new(
        commands: Receiver<Command>,
        shard_count: usize,
        phase: Arc<AtomicU8>,
        deadline: Instant,
    ) -> Self {
        let mut packet = [0u8; rtp::HEADER_LENGTH + rtp::SAMPLES_PER_FRAME as usize];
        packet[rtp::HEADER_LENGTH..].copy_from_slice(&rtp::tone_payload());
        Self {
            commands,
            shard_count,
            phase,
            deadline,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            totals: MediaTotals::new(),
            packet,
            receive_buffer: vec![0; 2048],
            control_buffer: nix::cmsg_space!(nix::sys::time::TimeSpec),
            epoch: Instant::now(),
            tick: 0,
        }
    }

    fn run(mut self) -> MediaTotals {
        let mut closed = false;
        loop {
            closed |= self.apply_commands();
            let now = Instant::now();
            if (closed && self.slots.iter().all(Vec::is_empty)) || now >= self.deadline {
                break;
            }
            let mut target = self.epoch + Duration::from_millis(self.tick);
            if target > now {
                std::thread::sleep(target - now);
            } else if now - target > SUB_TICK * SLOTS as u32 {
                // More than a whole frame behind: jump to the present instead of bursting
                // the missed frames; the calls count them as skipped.
                self.tick = ((now - self.epoch).as_micros() / SUB_TICK.as_micros()) as u64;
                target = self.epoch + Duration::from_millis(self.tick);
            }
            self.visit_slot(target);
            self.tick += 1;
        }
        // Whatever is still open at the deadline is folded in as it stands.
        for slot in std::mem::take(&mut self.slots) {
            for call in slot {
                self.fold(call);
            }
        }
        self.totals
    }

    // Returns true once the channel is closed.
    fn apply_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Start(call)) => self.start(call),
                Ok(Command::StopSending(index)) => {
                    if let Some(call) = self.find(index) {
                        call.sending = false;
                    }
                }
                Ok(Command::Finish(index)) => {
                    let slot_index = self.slot_of(index);
                    let slot = &mut self.slots[slot_index];
                    if let Some(position) = slot.iter().position(|call| call.index == index) {
                        let mut call = slot.swap_remove(position);
                        self.drain(&mut call, false);
                        self.fold(call);
                    }
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    // Calls are dealt round-robin to shards, so within a shard consecutive calls of that
    // shard take consecutive slots and the load spreads over the whole 20 ms frame.
    fn slot_of(&self, index: usize) -> usize {
        ((index / self.shard_count) as u64 % SLOTS) as usize
    }

    fn find(&mut self, index: usize) -> Option<&mut ActiveCall> {
        let slot = self.slot_of(index);
        self.slots[slot].iter_mut().find(|call| call.index == index)
    }

    fn start(&mut self, call: MediaCall) {
        let slot = self.slot_of(call.index) as u64;
        // The first sub-tick of this call's slot that is still ahead of the shard.
        let first_tick = self.tick + (slot + SLOTS - self.tick % SLOTS) % SLOTS;
        let seed = mix(call.index as u64 ^ 0x5EED);
        self.slots[slot as usize].push(ActiveCall {
            index: call.index,
            socket: call.socket,
            remote: call.remote,
            sending: true,
            first_tick,
            last_frame: None,
            sequence: seed as u16,
            timestamp_base: (seed >> 16) as u32,
            ssrc: (seed >> 32) as u32,
            stream: ReceiveStream::default(),
        });
    }

    fn visit_slot(&mut self, target: Instant) {
        let measuring = self.phase.load(Ordering::Relaxed) == phase::STEADY;
        let slot = (self.tick % SLOTS) as usize;
        let mut calls = std::mem::take(&mut self.slots[slot]);
        for call in &mut calls {
            if call.sending && self.tick >= call.first_tick {
                self.send_frame(call, target, measuring);
            }
            self.drain(call, measuring);
        }
        self.slots[slot] = calls;
    }

    fn send_frame(&mut self, call: &mut ActiveCall, target: Instant, measuring: bool) {
        let frame = (self.tick - call.first_tick) / SLOTS;
        if let Some(last) = call.last_frame {
            self.totals.frames_skipped += frame.saturating_sub(last + 1);
        }
        call.last_frame = Some(frame);
        let timestamp = call
            .timestamp_base
            .wrapping_add((frame as u32).wrapping_mul(rtp::SAMPLES_PER_FRAME));
        rtp::write_header(
            &mut self.packet,
            rtp::PAYLOAD_TYPE_PCMU,
            call.sequence,
            timestamp,
            call.ssrc,
        );
        call.sequence = call.sequence.wrapping_add(1);
        match call.socket.send_to(&self.packet, call.remote) {
            Ok(_) => self.totals.packets_sent += 1,
            Err(_) => self.totals.send_errors += 1,
        }
        if measuring {
            let lateness = Instant::now().saturating_duration_since(target);
            self.totals
                .send_lateness
                .record(lateness.as_micros() as u64);
        }
    }

    // Reads what is queued on the call's socket, bounded per visit.
    fn drain(&mut self, call: &mut ActiveCall, measuring: bool) {
        let mut buffer = std::mem::take(&mut self.receive_buffer);
        let mut control = std::mem::take(&mut self.control_buffer);
        for _ in 0..READS_PER_VISIT {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let (length, kernel_time) = match recvmsg::<()>(
                call.socket.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::empty(),
            ) {
                Ok(message) => (message.bytes, kernel_timestamp(&message)),
                Err(nix::errno::Errno::EAGAIN) => break,
                // ICMP errors surface here on some kernels; the next read carries on.
                Err(_) => continue,
            };
            let arrival = kernel_time.unwrap_or_else(|| {
                self.totals.untimestamped += 1;
                wall_clock_nanos()
            });
            if measuring {
                self.totals.received_in_window += 1;
            }
            call.stream.on_packet(
                &buffer[..length],
                arrival,
                measuring,
                &mut self.totals.pacing,
            );
        }
        self.receive_buffer = buffer;
        self.control_buffer = control;
    }

    fn fold(&mut self, call: ActiveCall) {
        let counts = call.stream.finish(&mut self.totals.pacing);
        let received = &mut self.totals.received;
        received.received += counts.received;
        received.lost += counts.lost;
        received.duplicates += counts.duplicates;
        received.out_of_order += counts.out_of_order;
        received.ssrc_changes += counts.ssrc_changes;
        received.rtcp += counts.rtcp;
        received.malformed += counts.malformed;
    }
}

// The SCM_TIMESTAMPNS arrival time (CLOCK_REALTIME) in nanoseconds, if the kernel gave one.
fn kernel_timestamp(message: &nix::sys::socket::RecvMsg<'_, '_, ()>) -> Option<i128> {
    message.cmsgs().ok()?.find_map(|control| match control {
        ControlMessageOwned::ScmTimestampns(time) => {
            Some(i128::from(time.tv_sec()) * 1_000_000_000 + i128::from(time.tv_nsec()))
        }
        _ => None,
    })
}

fn wall_clock_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i128)
}

/// SplitMix64: spreads a counter into well-mixed bits for SSRCs, tags and branches.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn host_packet(sequence: u16, timestamp: u32) -> Vec<u8> {
        let mut packet = vec![0xFF; rtp::HEADER_LENGTH + 160];
        rtp::write_header(
            &mut packet,
            rtp::PAYLOAD_TYPE_PCMU,
            sequence,
            timestamp,
            0xCAFE,
        );
        packet
    }

    #[test]
    fn a_shard_sends_paced_pcmu_and_counts_what_comes_back() {
        let host = UdpSocket::bind((LOCALHOST, 0)).expect("host socket");
        host.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let call_socket = open_socket(LOCALHOST).expect("call socket");
        let call_address = call_socket.local_addr().expect("call address");
        let phase = Arc::new(AtomicU8::new(phase::STEADY));
        let shard =
            Shard::spawn(0, 1, phase, Instant::now() + Duration::from_secs(60)).expect("shard");
        shard.send(Command::Start(MediaCall {
            index: 0,
            socket: call_socket,
            remote: host.local_addr().unwrap(),
        }));

        let mut buffer = [0u8; 2048];
        let mut headers = Vec::new();
        let mut first_arrival = None;
        for _ in 0..10 {
            let (length, source) = host.recv_from(&mut buffer).expect("the shard sends RTP");
            first_arrival.get_or_insert_with(Instant::now);
            assert_eq!(source, call_address, "RTP comes from the offered port");
            assert_eq!(length, rtp::HEADER_LENGTH + 160);
            assert_eq!(buffer[rtp::HEADER_LENGTH..length], rtp::tone_payload());
            headers.push(rtp::parse_header(&buffer[..length]).expect("valid RTP"));
        }
        // Ten frames span at least 180 ms of grid time; a burst would arrive in microseconds.
        assert!(first_arrival.unwrap().elapsed() >= Duration::from_millis(60));
        for pair in headers.windows(2) {
            assert_eq!(pair[1].payload_type, rtp::PAYLOAD_TYPE_PCMU);
            assert_eq!(pair[1].ssrc, pair[0].ssrc);
            assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
            // Skipped frames (a starved shard) advance the timestamp, never the sequence.
            let step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
            assert!(step >= 160 && step % 160 == 0, "timestamp step {step}");
        }

        // The host side sends five packets with sequence 3 missing.
        for (sequence, timestamp) in [(1u16, 160u32), (2, 320), (4, 640), (5, 800), (6, 960)] {
            host.send_to(&host_packet(sequence, timestamp), call_address)
                .expect("send to the call");
        }
        host.send_to(b"not rtp", call_address).expect("send junk");
        // An RTCP receiver report (RFC 3550 section 6.4.2) with no report blocks.
        let receiver_report = [0x80, 201, 0, 1, 0, 0, 0xCA, 0xFE];
        host.send_to(&receiver_report, call_address)
            .expect("send RTCP");
        std::thread::sleep(Duration::from_millis(50));
        shard.send(Command::Finish(0));
        let totals = shard.join().expect("the shard thread ends cleanly");
        assert!(totals.packets_sent >= 10);
        assert_eq!(totals.send_errors, 0);
        assert_eq!(totals.received.received, 5);
        assert_eq!(totals.received.lost, 1);
        assert_eq!(totals.received.malformed, 1);
        assert_eq!(totals.received.rtcp, 1);
        assert_eq!(
            totals.pacing.histogram.summary().count,
            5,
            "measured in the steady phase"
        );
        assert_eq!(
            totals.untimestamped, 0,
            "the kernel timestamps every datagram"
        );
    }
}
