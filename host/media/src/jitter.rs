//! The adaptive jitter buffer: received *encoded* audio packets wait here, keyed by extended
//! RTP timestamp, and are decoded in timestamp order as the session's own 20 ms frame clock
//! asks for a frame ([`JitterBuffer::next_frame`]). Decoding at release keeps stateful decoders
//! (G.722, Opus) fed in stream order whatever order packets arrived in.
//!
//! Playout: the first packet of a stream (or of a talkspurt after silence) is scheduled
//! [`JitterBuffer::target_delay`] ahead of the frame clock; from then on one frame of RTP time is
//! released per tick. A packet's *lead* on arrival (its timestamp minus the next frame's) is the
//! time it will wait; a packet that arrives after its audio was due is late: it is dropped,
//! counted, and the delay grows at once (by inserting silence) to cover it. The target follows
//! the RFC 3550 A.8 interarrival jitter the session measures: about three times the jitter plus
//! one frame, within [`MIN_DELAY`]..=[`MAX_DELAY`]. When every packet of the last ~0.5 s had at
//! least one spare frame of lead and the delay exceeds the target, one frame is dropped (in a
//! quiet frame if one comes within a second), at most every [`SHRINK_INTERVAL_TICKS`].
//!
//! Missing audio is concealed: Opus by its own PLC, other codecs by repeating the last frame at
//! half level, then silence; after [`MAX_CONCEALED_FRAMES`] the stream is treated as silent
//! (a talkspurt ends, the peer's VAD stopped sending) and the next packet re-anchors playout.
//! Comfort noise (RFC 3389) plays as silence. A new SSRC or a timestamp jump restarts the
//! buffer. At most [`MAX_PACKETS`] packets are held.
//!
//! Sans-IO: no clock (the caller's ticks are the clock) and no sockets. Depends on
//! [`crate::codec`] and the session's frame type.

use std::collections::{BTreeMap, VecDeque};

use crate::codec::{Codec, Decoder};
use crate::session::FRAME_SAMPLES;
use crate::session::bridge::AudioFrame;

/// One frame of the session's clock, the unit of every delay here.
pub const FRAME_MICROS: u64 = 20_000;
/// Smallest playout delay, in frames (20 ms).
pub const MIN_DELAY: u32 = 1;
/// Largest playout delay, in frames (200 ms).
pub const MAX_DELAY: u32 = 10;
/// Delay a new stream starts with, in frames (40 ms).
pub const INITIAL_DELAY: u32 = 2;
/// Most packets held (a backstop: the lead limit keeps far fewer).
pub const MAX_PACKETS: usize = 50;
/// Concealed frames in a row after which the stream counts as silent.
pub const MAX_CONCEALED_FRAMES: u32 = 5;
/// Silent frames with nothing buffered after which playout stops until the next packet.
pub const IDLE_FRAMES: u32 = 50;
/// Ticks between two shrink steps (0.5 s).
pub const SHRINK_INTERVAL_TICKS: u32 = 25;
/// Ticks a late packet keeps the delay up after it (5 s).
pub const LATE_HOLD_TICKS: u32 = 250;
/// A frame whose samples all stay below this is quiet enough to drop when shrinking.
const QUIET_LEVEL: i16 = 600;
/// Packets further ahead than this many frames (or later than [`RESTART_LATENESS_FRAMES`])
/// mean a timestamp jump: playout restarts on them.
const MAX_LEAD_FRAMES: i64 = MAX_DELAY as i64 + 2;
const RESTART_LATENESS_FRAMES: i64 = 50;
/// Played timestamps remembered for duplicate detection.
const PLAYED_MEMORY: usize = 32;

/// Payload buffers of decoded packets kept for the next packets, so that buffering a packet
/// usually allocates nothing (a stream has a few packets in the buffer at a time).
const SPARE_PAYLOADS: usize = 4;

#[derive(Debug)]
struct BufferedPacket {
    payload: Vec<u8>,
    comfort_noise: bool,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered for playout.
    Buffered,
    /// Buffered as the first packet of a new playout timeline (new stream, SSRC, talkspurt
    /// or timestamp jump).
    Restarted,
    /// Its audio was already played or concealed: dropped and counted.
    Late,
    /// Same timestamp as a buffered packet: dropped.
    Duplicate,
}

/// One received stream's playout buffer. Owned by the session; see the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    /// RTP units per 20 ms frame and per 8 kHz sample.
    frame_units: i64,
    clock_factor: i64,
    codec: Codec,
    ssrc: Option<u32>,
    packets: BTreeMap<i64, BufferedPacket>,
    /// Last extended timestamp seen, for unwrapping the 32-bit ones.
    reference: Option<i64>,
    /// Playing: the next frame starts at `playout` (extended RTP time).
    anchored: bool,
    playout: i64,
    /// Audio up to here is decoded (into `pending`) or concealed.
    decoded_until: i64,
    pending: VecDeque<i16>,
    /// Timestamps of the packets played lately, to tell duplicates from late packets.
    played: VecDeque<i64>,
    /// Emptied payload buffers, reused ([`SPARE_PAYLOADS`]).
    spare_payloads: Vec<Vec<u8>>,
    /// The decoder's output for one packet, reused.
    decoded: Vec<i16>,
    /// Current playout delay and the A.8 jitter it adapts to, in frames / RTP units.
    delay: u32,
    jitter_units: u32,
    /// Delay a recent late packet asked for, and ticks it still holds.
    late_floor: u32,
    late_hold: u32,
    ticks_since_change: u32,
    /// Smallest lead (RTP units) of the packets that arrived in this and the previous window.
    window_min_lead: [Option<i64>; 2],
    window_ticks: u32,
    concealed_run: u32,
    silent: bool,
    idle_ticks: u32,
    last_frame: AudioFrame,
    /// Packets dropped because their audio was already due.
    pub late_packets: u64,
    /// Output frames that contained concealment of missing audio.
    pub frames_concealed: u64,
    /// Packets dropped to stay within [`MAX_PACKETS`].
    pub packets_discarded: u64,
}

impl JitterBuffer {
    /// An empty buffer for `codec`'s packets.
    pub fn new(codec: Codec) -> Self {
        Self {
            frame_units: i64::from(codec.timestamp_increment()),
            clock_factor: i64::from(codec.clock_rate() / 8000),
            codec,
            ssrc: None,
            packets: BTreeMap::new(),
            reference: None,
            anchored: false,
            playout: 0,
            decoded_until: 0,
            pending: VecDeque::new(),
            played: VecDeque::new(),
            spare_payloads: Vec::new(),
            decoded: Vec::new(),
            delay: INITIAL_DELAY,
            jitter_units: 0,
            late_floor: 0,
            late_hold: 0,
            ticks_since_change: 0,
            window_min_lead: [None; 2],
            window_ticks: 0,
            concealed_run: 0,
            silent: true,
            idle_ticks: 0,
            last_frame: [0; FRAME_SAMPLES],
            late_packets: 0,
            frames_concealed: 0,
            packets_discarded: 0,
        }
    }

    /// Forget the stream (a codec change): the next packet starts afresh. Counters stay.
    pub fn reset(&mut self, codec: Codec) {
        let (late, concealed, discarded) = (
            self.late_packets,
            self.frames_concealed,
            self.packets_discarded,
        );
        *self = Self::new(codec);
        self.late_packets = late;
        self.frames_concealed = concealed;
        self.packets_discarded = discarded;
    }

    /// The playout delay being aimed at, in frames.
    pub fn target_delay(&self) -> u32 {
        // 3 × jitter + one frame, rounded up to whole frames.
        let units = 3 * i64::from(self.jitter_units) + self.frame_units;
        let frames =
            u32::try_from((units + self.frame_units - 1) / self.frame_units).unwrap_or(MAX_DELAY);
        frames.max(self.late_floor).clamp(MIN_DELAY, MAX_DELAY)
    }

    /// The playout delay in effect, in frames.
    pub fn delay(&self) -> u32 {
        self.delay
    }

    /// [`Self::target_delay`] in microseconds.
    pub fn target_delay_micros(&self) -> u64 {
        u64::from(self.target_delay()) * FRAME_MICROS
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True if no packet waits.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// True while a stream plays out (from its first packet until it has been idle a while).
    pub fn is_playing(&self) -> bool {
        self.anchored
    }

    /// Add a received audio (or, `comfort_noise`, RFC 3389) packet. `jitter_units` is the
    /// current A.8 jitter estimate in RTP units.
    pub fn push(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
        comfort_noise: bool,
        jitter_units: u32,
    ) -> PushOutcome {
        self.jitter_units = jitter_units;
        let extended = match self.reference {
            Some(reference) if self.ssrc == Some(ssrc) => {
                reference + i64::from(timestamp.wrapping_sub(reference as u32) as i32)
            }
            _ => i64::from(timestamp),
        };
        let new_source = self.ssrc != Some(ssrc);
        // (Only audio before `decoded_until` can have been played.)
        let played = extended < self.decoded_until && self.played.contains(&extended);
        if !new_source && (played || self.packets.contains_key(&extended)) {
            return PushOutcome::Duplicate;
        }
        let idle = self.packets.is_empty() && self.pending.is_empty() && self.silent;
        let lead = extended - self.playout;
        let restart = new_source
            || !self.anchored
            || idle
            || lead > MAX_LEAD_FRAMES * self.frame_units
            || self.decoded_until - extended > RESTART_LATENESS_FRAMES * self.frame_units;
        if restart {
            let delay = if self.anchored && !new_source {
                self.target_delay()
            } else {
                self.target_delay().max(INITIAL_DELAY)
            };
            self.packets.clear();
            self.pending.clear();
            self.played.clear();
            self.ssrc = Some(ssrc);
            self.anchored = true;
            self.delay = delay;
            self.playout = extended - i64::from(delay) * self.frame_units;
            self.decoded_until = self.playout;
            self.window_min_lead = [None; 2];
            self.ticks_since_change = 0;
            self.idle_ticks = 0;
            self.silent = true;
        }
        self.reference = Some(extended);
        if extended < self.decoded_until {
            self.late_packets += 1;
            // Enough delay that a packet this late would have made it.
            let lateness = self.decoded_until - extended;
            let frames = (lateness + self.frame_units - 1) / self.frame_units;
            let needed = u32::try_from(i64::from(self.delay) + frames).unwrap_or(MAX_DELAY);
            self.late_floor = self.late_floor.max(needed).min(MAX_DELAY);
            self.late_hold = LATE_HOLD_TICKS;
            return PushOutcome::Late;
        }
        let lead = extended - self.playout;
        let window = &mut self.window_min_lead[0];
        *window = Some(window.map_or(lead, |minimum| minimum.min(lead)));
        if self.packets.len() == MAX_PACKETS {
            self.packets.pop_first();
            self.packets_discarded += 1;
        }
        let mut buffer = self.spare_payloads.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(payload);
        self.packets.insert(
            extended,
            BufferedPacket {
                payload: buffer,
                comfort_noise,
            },
        );
        if restart {
            PushOutcome::Restarted
        } else {
            PushOutcome::Buffered
        }
    }

    /// The next 20 ms of received audio for this tick of the frame clock, decoded with
    /// `decoder` (the session's, for the same codec), or `None` when no stream plays.
    pub fn next_frame(&mut self, decoder: &mut Decoder) -> Option<AudioFrame> {
        if !self.anchored {
            return None;
        }
        self.tick_bookkeeping();
        let target = self.target_delay();
        if self.delay < target {
            // Grow now: hold playout for a frame.
            self.delay += 1;
            self.ticks_since_change = 0;
            self.shift_windows(self.frame_units);
            return Some([0; FRAME_SAMPLES]);
        }
        let mut frame = self.produce(decoder);
        let spare = self.window_min_lead.iter().flatten().min().copied();
        // Never while concealing: an empty buffer is not deeper than the target.
        let can_shrink = self.delay > target
            && self.concealed_run == 0
            && !self.packets.is_empty()
            && self.ticks_since_change >= SHRINK_INTERVAL_TICKS
            && spare.is_some_and(|lead| lead >= 2 * self.frame_units)
            && (is_quiet(&frame) || self.ticks_since_change >= 3 * SHRINK_INTERVAL_TICKS);
        if can_shrink {
            // Drop the frame just decoded: the decoder still saw it, so its state stays in step.
            self.delay -= 1;
            self.ticks_since_change = 0;
            self.shift_windows(-self.frame_units);
            frame = self.produce(decoder);
        }
        if self.silent && self.packets.is_empty() && self.pending.is_empty() {
            self.idle_ticks += 1;
            if self.idle_ticks >= IDLE_FRAMES {
                self.anchored = false;
            }
        } else {
            self.idle_ticks = 0;
        }
        self.last_frame = frame;
        Some(frame)
    }

    fn tick_bookkeeping(&mut self) {
        self.ticks_since_change = self.ticks_since_change.saturating_add(1);
        self.late_hold = self.late_hold.saturating_sub(1);
        if self.late_hold == 0 {
            self.late_floor = 0;
        }
        self.window_ticks += 1;
        if self.window_ticks >= SHRINK_INTERVAL_TICKS {
            self.window_ticks = 0;
            self.window_min_lead = [None, self.window_min_lead[0]];
        }
    }

    /// Leads measured before a delay change would be off by the change.
    fn shift_windows(&mut self, units: i64) {
        for lead in self.window_min_lead.iter_mut().flatten() {
            *lead += units;
        }
    }

    /// Decode or conceal the frame starting at `playout` and move playout on.
    fn produce(&mut self, decoder: &mut Decoder) -> AudioFrame {
        let end = self.playout + self.frame_units;
        let mut concealed = false;
        while self.decoded_until < end {
            let next = self
                .packets
                .first_key_value()
                .map(|(&timestamp, _)| timestamp);
            match next {
                Some(timestamp) if timestamp <= self.decoded_until => {
                    let (timestamp, packet) = self.packets.pop_first().expect("a first packet");
                    if timestamp < self.decoded_until {
                        // Overlaps audio already out (a packet longer than its successor's gap).
                        continue;
                    }
                    self.decode(decoder, timestamp, packet);
                }
                _ => {
                    let until = next.map_or(end, |timestamp| timestamp.min(end));
                    let samples = usize::try_from((until - self.decoded_until) / self.clock_factor)
                        .unwrap_or(0);
                    if !self.silent {
                        concealed = true;
                    }
                    self.conceal(decoder, samples);
                    self.decoded_until = until;
                }
            }
        }
        let mut frame = [0; FRAME_SAMPLES];
        for (sample, value) in frame
            .iter_mut()
            .zip(self.pending.drain(..FRAME_SAMPLES.min(self.pending.len())))
        {
            *sample = value;
        }
        self.playout = end;
        if concealed {
            self.frames_concealed += 1;
            self.concealed_run += 1;
            if self.concealed_run >= MAX_CONCEALED_FRAMES {
                self.silent = true;
            }
        }
        frame
    }

    fn decode(&mut self, decoder: &mut Decoder, timestamp: i64, packet: BufferedPacket) {
        if self.played.len() == PLAYED_MEMORY {
            self.played.pop_front();
        }
        self.played.push_back(timestamp);
        if packet.comfort_noise {
            // RFC 3389: background noise at the given level; we play silence until audio.
            let silence = usize::try_from(self.frame_units / self.clock_factor).unwrap_or(0);
            self.pending.extend(std::iter::repeat_n(0, silence));
            self.decoded_until = timestamp + self.frame_units;
            self.silent = true;
            self.concealed_run = 0;
            return;
        }
        let samples = &mut self.decoded;
        samples.clear();
        if let Err(error) = decoder.decode(&packet.payload, samples) {
            tracing::debug!(%error, "undecodable audio payload");
        }
        let units = match self.codec {
            // One byte per 8 kHz sampling period (RFC 3551 §4.5.2); the decoder's count wobbles.
            Codec::G722 => packet.payload.len() as i64,
            _ => samples.len() as i64 * self.clock_factor,
        };
        self.decoded_until = timestamp + if units > 0 { units } else { self.frame_units };
        self.pending.extend(samples.iter());
        if self.spare_payloads.len() < SPARE_PAYLOADS {
            self.spare_payloads.push(packet.payload);
        }
        self.silent = false;
        self.concealed_run = 0;
    }

    fn conceal(&mut self, decoder: &mut Decoder, samples: usize) {
        if self.silent {
            self.pending.extend(std::iter::repeat_n(0, samples));
            return;
        }
        let before = self.pending.len();
        let mut concealed = Vec::with_capacity(samples);
        if decoder.conceal(samples, &mut concealed) && concealed.len() == samples {
            self.pending.extend(concealed);
            return;
        }
        // No codec PLC: the last frame again at half level (it halves again each frame
        // concealed in a row, as `last_frame` is then itself a concealed one), then silence.
        self.pending.truncate(before);
        let last = self.last_frame;
        let fading = self.concealed_run < 3;
        self.pending.extend((0..samples).map(|index| {
            if fading {
                last[index % FRAME_SAMPLES] / 2
            } else {
                0
            }
        }));
    }
}

fn is_quiet(frame: &AudioFrame) -> bool {
    frame
        .iter()
        .all(|&sample| sample.unsigned_abs() < QUIET_LEVEL.unsigned_abs())
}

#[cfg(test)]
mod tests;
