//! RTP packets for the load generator: the caller's outgoing PCMU frames and the statistics
//! of the stream the host sends back.
//!
//! Sans-IO (no sockets, no clock reads): times come in as nanoseconds from the caller.
//! Depends on [`crate::histogram`] only. RFC 3550 section 5.1 (header), appendix A.1
//! (extended sequence numbers, expected vs received for loss); G.711 µ-law for the tone.

use crate::histogram::Histogram;

/// Bytes in a fixed RTP header without CSRCs or extension (RFC 3550 section 5.1).
pub const HEADER_LENGTH: usize = 12;
/// PCMU payload type (RFC 3551 table 4).
pub const PAYLOAD_TYPE_PCMU: u8 = 0;
/// PCMA payload type (RFC 3551 table 4).
pub const PAYLOAD_TYPE_PCMA: u8 = 8;
/// The telephone-event payload type the generator offers (RFC 4733, dynamic).
pub const PAYLOAD_TYPE_TELEPHONE_EVENT: u8 = 101;
/// Samples in one 20 ms frame at 8 kHz.
pub const SAMPLES_PER_FRAME: u32 = 160;
/// RTP clock rate of PCMU.
pub const CLOCK_RATE: u64 = 8000;
/// Deviation past which a received packet counts as late, after re-anchoring.
pub const LATE_THRESHOLD_MICROS: u64 = 40_000;

/// Builds the 160-byte PCMU payload of a steady 400 Hz tone at about -10 dBFS.
///
/// 400 Hz has exactly eight periods in 20 ms at 8 kHz, so one frame repeats seamlessly
/// and can be computed once and sent for every frame of every call.
pub fn tone_payload() -> [u8; SAMPLES_PER_FRAME as usize] {
    let mut payload = [0u8; SAMPLES_PER_FRAME as usize];
    for (index, byte) in payload.iter_mut().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * 400.0 * index as f64 / CLOCK_RATE as f64;
        let sample = (phase.sin() * 10_362.0).round() as i16;
        *byte = linear_to_ulaw(sample);
    }
    payload
}

/// G.711 µ-law encoding of one 16-bit linear sample (the classic segment search).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0x00
    };
    magnitude = magnitude.min(CLIP) + BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && magnitude & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Writes an RTP header (version 2, no padding/extension/CSRC) into `packet[..12]`.
pub fn write_header(packet: &mut [u8], payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32) {
    packet[0] = 0x80;
    packet[1] = payload_type & 0x7F;
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// The header fields the receiver statistics need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Parses the fixed header; `None` for anything that is not RTP version 2 or is too short
/// for its own CSRC list.
pub fn parse_header(packet: &[u8]) -> Option<Header> {
    if packet.len() < HEADER_LENGTH || packet[0] >> 6 != 2 {
        return None;
    }
    let csrc_count = usize::from(packet[0] & 0x0F);
    if packet.len() < HEADER_LENGTH + 4 * csrc_count {
        return None;
    }
    let payload_type = packet[1] & 0x7F;
    // RTCP on the same port (RFC 5761) uses 200..=204 in the full second byte.
    if (72..=76).contains(&payload_type) {
        return None;
    }
    Some(Header {
        payload_type,
        sequence: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
    })
}

/// Whether a datagram looks like RTCP: version 2 and a packet type in 200..=204 (RFC 5761
/// section 4 tells RTP and RTCP apart by that second byte).
pub fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 8 && packet[0] >> 6 == 2 && (200..=204).contains(&packet[1])
}

/// Packet counts of one direction, summed over calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveCounts {
    /// Packets accepted as RTP (duplicates included).
    pub received: u64,
    /// Sequence numbers never seen between the first and highest (RFC 3550 A.3).
    pub lost: u64,
    /// Packets whose sequence number had been seen already.
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number.
    pub out_of_order: u64,
    /// Times the sender switched SSRC mid-call (each restarts the statistics).
    pub ssrc_changes: u64,
    /// RTCP packets multiplexed on the RTP port (RFC 5761); not counted as RTP.
    pub rtcp: u64,
    /// Packets that were neither RTP nor RTCP.
    pub malformed: u64,
}

/// How many recent sequence numbers are remembered to tell a duplicate from a late packet.
const HISTORY: u64 = 128;

/// Receive-side statistics of one call's incoming stream.
///
/// Lifecycle: one per call, fed every packet with [`ReceiveStream::on_packet`]; at the end
/// (or on an SSRC change) the collected pacing deviations are re-anchored on their minimum
/// and folded into a shard histogram by [`ReceiveStream::finish`].
#[derive(Debug, Default)]
pub struct ReceiveStream {
    counts: ReceiveCounts,
    segment: Option<Segment>,
}

#[derive(Debug)]
struct Segment {
    ssrc: u32,
    base_extended: u64,
    highest_extended: u64,
    unique_received: u64,
    // Bit i set = sequence (highest_extended - i) was seen.
    seen: u128,
    anchor_nanos: i128,
    anchor_timestamp: u32,
    deviations_micros: Vec<i32>,
}

impl ReceiveStream {
    /// Accounts one packet that arrived at `arrival_nanos` (any fixed epoch, same for every
    /// packet of the call). Pacing deviation is kept only when `measure_pacing` is set (the
    /// steady window) and the payload is audio.
    pub fn on_packet(
        &mut self,
        packet: &[u8],
        arrival_nanos: i128,
        measure_pacing: bool,
        pacing: &mut PacingTotals,
    ) {
        let Some(header) = parse_header(packet) else {
            if is_rtcp(packet) {
                self.counts.rtcp += 1;
            } else {
                self.counts.malformed += 1;
            }
            return;
        };
        self.counts.received += 1;
        if self
            .segment
            .as_ref()
            .is_some_and(|segment| segment.ssrc != header.ssrc)
        {
            self.counts.ssrc_changes += 1;
            self.close_segment(pacing);
        }
        let segment = self.segment.get_or_insert_with(|| Segment {
            ssrc: header.ssrc,
            base_extended: u64::from(header.sequence) + (1 << 16),
            highest_extended: u64::from(header.sequence) + (1 << 16),
            unique_received: 0,
            seen: 0,
            anchor_nanos: arrival_nanos,
            anchor_timestamp: header.timestamp,
            deviations_micros: Vec::new(),
        });
        match segment.accept_sequence(header.sequence) {
            SequenceVerdict::Duplicate => {
                self.counts.duplicates += 1;
                return;
            }
            SequenceVerdict::Late => self.counts.out_of_order += 1,
            SequenceVerdict::InOrder => {}
        }
        let audio = matches!(header.payload_type, PAYLOAD_TYPE_PCMU | PAYLOAD_TYPE_PCMA);
        if measure_pacing && audio {
            // Media time since the anchor; i32 covers ±74 hours of 8 kHz ticks.
            let media_ticks =
                i128::from(header.timestamp.wrapping_sub(segment.anchor_timestamp) as i32);
            let ideal = segment.anchor_nanos + media_ticks * 1_000_000_000 / i128::from(CLOCK_RATE);
            let deviation_micros = (arrival_nanos - ideal) / 1000;
            segment
                .deviations_micros
                .push(deviation_micros.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32);
        }
    }

    /// Folds the open segment into `pacing` and returns this stream's counts.
    pub fn finish(mut self, pacing: &mut PacingTotals) -> ReceiveCounts {
        self.close_segment(pacing);
        self.counts
    }

    fn close_segment(&mut self, pacing: &mut PacingTotals) {
        let Some(segment) = self.segment.take() else {
            return;
        };
        let expected = segment.highest_extended - segment.base_extended + 1;
        self.counts.lost += expected.saturating_sub(segment.unique_received);
        // A constant offset (path delay, anchor packet arriving late) is not jitter: measure
        // from the earliest packet of the stream.
        if let Some(minimum) = segment.deviations_micros.iter().copied().min() {
            for deviation in segment.deviations_micros {
                let anchored = (i64::from(deviation) - i64::from(minimum)) as u64;
                pacing.histogram.record(anchored);
                if anchored > LATE_THRESHOLD_MICROS {
                    pacing.late += 1;
                }
            }
        }
    }
}

/// Pacing deviations of many streams, re-anchored per stream.
#[derive(Debug, Clone)]
pub struct PacingTotals {
    /// Deviation from the stream's ideal 20 ms grid, microseconds.
    pub histogram: Histogram,
    /// Packets more than [`LATE_THRESHOLD_MICROS`] behind their grid slot.
    pub late: u64,
}

impl PacingTotals {
    /// An empty total with 10 µs resolution up to 2 s.
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new(10, 200_000),
            late: 0,
        }
    }

    /// Adds another shard's totals.
    pub fn merge(&mut self, other: &PacingTotals) {
        self.histogram.merge(&other.histogram);
        self.late += other.late;
    }
}

impl Default for PacingTotals {
    fn default() -> Self {
        Self::new()
    }
}

enum SequenceVerdict {
    InOrder,
    Late,
    Duplicate,
}

impl Segment {
    // RFC 3550 A.1 in spirit: pick the extension of the 16-bit number closest to the highest
    // seen, so wraparound at 65535 -> 0 continues the count.
    fn accept_sequence(&mut self, sequence: u16) -> SequenceVerdict {
        let highest_low = self.highest_extended as u16;
        let forward = sequence.wrapping_sub(highest_low);
        if self.unique_received == 0 {
            self.seen = 1;
            self.unique_received = 1;
            return SequenceVerdict::InOrder;
        }
        if forward != 0 && forward < 0x8000 {
            let step = u64::from(forward);
            self.seen = if step >= 128 { 0 } else { self.seen << step };
            self.seen |= 1;
            self.highest_extended += step;
            self.unique_received += 1;
            return SequenceVerdict::InOrder;
        }
        let behind = u64::from(highest_low.wrapping_sub(sequence));
        let extended = self.highest_extended - behind;
        if behind >= HISTORY || extended < self.base_extended {
            // Too old to tell, or before the first packet: count it as a reordered packet
            // that extends the expected range backwards.
            if extended < self.base_extended {
                self.base_extended = extended;
            }
            self.unique_received += 1;
            return SequenceVerdict::Late;
        }
        let bit = 1u128 << behind;
        if self.seen & bit != 0 {
            return SequenceVerdict::Duplicate;
        }
        self.seen |= bit;
        self.unique_received += 1;
        SequenceVerdict::Late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sequence: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; HEADER_LENGTH + 160];
        write_header(&mut bytes, PAYLOAD_TYPE_PCMU, sequence, timestamp, ssrc);
        bytes
    }

    const FRAME_NANOS: i128 = 20_000_000;

    #[test]
    fn header_round_trips() {
        let bytes = packet(65_535, 0xDEAD_BEEF, 42);
        let header = parse_header(&bytes).expect("valid header");
        assert_eq!(
            header,
            Header {
                payload_type: 0,
                sequence: 65_535,
                timestamp: 0xDEAD_BEEF,
                ssrc: 42
            }
        );
        assert_eq!(parse_header(&bytes[..11]), None);
        let mut rtcp = bytes.clone();
        rtcp[1] = 200;
        assert_eq!(parse_header(&rtcp), None);
        assert!(is_rtcp(&rtcp));
        assert!(!is_rtcp(&bytes));
    }

    #[test]
    fn ulaw_matches_g711_reference_points() {
        // Reference values from the G.711 µ-law table: silence, full scale, small values.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(32_767), 0x80);
        assert_eq!(linear_to_ulaw(-32_768), 0x00);
        assert_eq!(linear_to_ulaw(1000), 0xCE);
    }

    #[test]
    fn tone_is_not_silence_and_repeats_per_frame() {
        let tone = tone_payload();
        assert!(tone.iter().any(|&byte| byte != 0xFF));
        // Eight periods of 20 samples: sample n equals sample n + 20.
        assert_eq!(tone[..140], tone[20..]);
    }

    #[test]
    fn counts_loss_across_sequence_wraparound() {
        let mut stream = ReceiveStream::default();
        let mut pacing = PacingTotals::new();
        let mut timestamp = 0u32;
        for (index, sequence) in [65_533u16, 65_534, 65_535, 1, 2, 3].into_iter().enumerate() {
            stream.on_packet(
                &packet(sequence, timestamp, 7),
                index as i128 * FRAME_NANOS,
                false,
                &mut pacing,
            );
            timestamp += 160;
        }
        let counts = stream.finish(&mut pacing);
        assert_eq!(counts.received, 6);
        assert_eq!(counts.lost, 1, "sequence 0 is missing");
        assert_eq!(counts.out_of_order, 0);
        assert_eq!(counts.duplicates, 0);
    }

    #[test]
    fn tells_duplicates_from_reordered_packets() {
        let mut stream = ReceiveStream::default();
        let mut pacing = PacingTotals::new();
        for sequence in [10u16, 12, 11, 12, 13] {
            stream.on_packet(&packet(sequence, 0, 1), 0, false, &mut pacing);
        }
        let counts = stream.finish(&mut pacing);
        assert_eq!(counts.received, 5);
        assert_eq!(counts.duplicates, 1);
        assert_eq!(counts.out_of_order, 1);
        assert_eq!(counts.lost, 0);
    }

    #[test]
    fn pacing_removes_constant_offset_and_flags_late_packets() {
        let mut stream = ReceiveStream::default();
        let mut pacing = PacingTotals::new();
        // A constant 5 ms path delay on every packet, then one packet 45 ms late.
        for frame in 0..10u16 {
            let extra = if frame == 6 { 45_000_000 } else { 0 };
            let arrival = 5_000_000 + i128::from(frame) * FRAME_NANOS + extra;
            stream.on_packet(
                &packet(frame, u32::from(frame) * 160, 3),
                arrival,
                true,
                &mut pacing,
            );
        }
        stream.finish(&mut pacing);
        assert_eq!(pacing.histogram.count(), 10);
        assert_eq!(pacing.late, 1);
        // On time after re-anchoring: the first 10 µs bucket (quantiles report upper edges).
        assert_eq!(pacing.histogram.quantile_micros(0.5), 10);
        assert_eq!(pacing.histogram.summary().max_ms, 45.0);
    }

    #[test]
    fn ssrc_change_restarts_sequence_tracking() {
        let mut stream = ReceiveStream::default();
        let mut pacing = PacingTotals::new();
        stream.on_packet(&packet(100, 0, 1), 0, false, &mut pacing);
        stream.on_packet(&packet(101, 160, 1), FRAME_NANOS, false, &mut pacing);
        stream.on_packet(&packet(5000, 999, 2), 2 * FRAME_NANOS, false, &mut pacing);
        stream.on_packet(&packet(5001, 1159, 2), 3 * FRAME_NANOS, false, &mut pacing);
        let counts = stream.finish(&mut pacing);
        assert_eq!(counts.ssrc_changes, 1);
        assert_eq!(counts.lost, 0);
        assert_eq!(counts.received, 4);
    }
}
