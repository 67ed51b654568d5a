//! RTCP (RFC 3550 §6) parse and build: sender reports, receiver reports, source descriptions
//! (only CNAME is kept) and BYE, in compound packets (§6.1). APP and unknown packet types are
//! skipped. Also the NTP timestamp format (§4) and the round-trip computation of §6.4.1.
//!
//! Pure functions over byte slices: no I/O, no clock. Every length comes from the wire, so the
//! parser checks each one and returns an [`RtcpError`] instead of panicking (RFC 3550 A.2
//! validity checks: version 2, lengths adding up to the datagram, padding only in the last
//! packet). Depends on nothing else in the crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The only RTCP version (RFC 3550 §6.4.1 `V`).
pub const RTCP_VERSION: u8 = 2;

/// Packet type of a sender report (RFC 3550 §12.1).
pub const SENDER_REPORT_TYPE: u8 = 200;
/// Packet type of a receiver report.
pub const RECEIVER_REPORT_TYPE: u8 = 201;
/// Packet type of a source description.
pub const SOURCE_DESCRIPTION_TYPE: u8 = 202;
/// Packet type of BYE.
pub const GOODBYE_TYPE: u8 = 203;

/// SDES item type CNAME (RFC 3550 §6.5.1).
const CNAME_ITEM: u8 = 1;

/// Bytes of one report block (RFC 3550 §6.4.1).
const REPORT_BLOCK_LENGTH: usize = 24;

/// Most report blocks or sources one packet can count (a 5-bit field).
const MAX_COUNT: usize = 31;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECONDS: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in the high 32 bits, the
/// fraction in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    /// The NTP time of a wall-clock instant (instants before 1970 map to the Unix epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let since_unix = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let seconds = since_unix.as_secs() + NTP_UNIX_OFFSET_SECONDS;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        Self((seconds << 32) | fraction)
    }

    /// The middle 32 bits (16.16 fixed-point seconds), the form LSR uses (§6.4.1).
    pub fn middle_bits(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A duration in the 1/65536 s units of LSR and DLSR (saturating).
pub fn to_short_ntp(duration: Duration) -> u32 {
    let units = duration.as_micros() * 65_536 / 1_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Round-trip time from a report block about our stream (RFC 3550 §6.4.1): `arrival` is when
/// the block arrived, in the middle-32-bit NTP form, `last_sender_report` and `delay` the
/// block's LSR and DLSR. `None` when the peer has not received a sender report from us yet
/// (LSR 0) or the figures are inconsistent (the delay exceeds the elapsed time).
pub fn round_trip(arrival: u32, last_sender_report: u32, delay: u32) -> Option<Duration> {
    if last_sender_report == 0 {
        return None;
    }
    let elapsed = arrival.wrapping_sub(last_sender_report);
    // More than half the 16-bit-seconds circle back: the arrival precedes the report.
    if elapsed > u32::MAX / 2 || delay > elapsed {
        return None;
    }
    let units = u64::from(elapsed - delay);
    Some(Duration::from_micros(units * 1_000_000 / 65_536))
}

/// Sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time of the report.
    pub ntp_timestamp: NtpTimestamp,
    /// The same instant on the RTP clock.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the stream started.
    pub packet_count: u32,
    /// Payload octets sent since the stream started.
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, per 256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp from that source (0: none yet).
    pub last_sender_report: u32,
    /// Delay since that SR arrived, in 1/65536 s.
    pub delay_since_last_sender_report: u32,
}

/// One SDES chunk: a source and its CNAME (other items are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDescription {
    /// The source described.
    pub ssrc: u32,
    /// Its canonical name, if the chunk had one.
    pub cname: Option<String>,
}

/// One RTCP packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR: from an active sender.
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// Its sending figures.
        sender: SenderInfo,
        /// Its reception reports (at most 31).
        reports: Vec<ReportBlock>,
    },
    /// RR: from a participant that did not send since its last report.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// Its reception reports (at most 31).
        reports: Vec<ReportBlock>,
    },
    /// SDES.
    SourceDescription(Vec<SourceDescription>),
    /// BYE: these sources leave.
    Goodbye {
        /// The departing sources (at most 31).
        sources: Vec<u32>,
        /// The optional reason text.
        reason: Option<String>,
    },
}

/// Why a datagram is not a valid RTCP compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Less than one RTCP header is left.
    #[error("{length} bytes are too short for an RTCP header")]
    TooShort {
        /// Bytes left.
        length: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {version} is not supported")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// A packet's length field runs past the datagram.
    #[error("RTCP packet of {declared} bytes runs past the {available} bytes left")]
    LengthBeyondBuffer {
        /// The length the header declares.
        declared: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// Padding on a packet that is not the last, or a padding count that does not fit.
    #[error("padding of {padding} bytes is invalid in a packet of {length} bytes")]
    InvalidPadding {
        /// The padding count (0 when padding appears before the last packet).
        padding: u8,
        /// The packet length.
        length: usize,
    },
    /// The packet's contents (report blocks, chunks, reason) do not fit its length.
    #[error("RTCP packet type {packet_type} is truncated")]
    Truncated {
        /// The packet type.
        packet_type: u8,
    },
}

/// Read a big-endian u32 at `offset` (the caller has checked the length).
fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset + 4)?;
    Some(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

/// Parse a compound RTCP packet (RFC 3550 §6.1). APP and unknown packet types are skipped.
/// Never panics; any malformed packet rejects the whole datagram (A.2).
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut packets = Vec::new();
    let mut rest = datagram;
    if rest.is_empty() {
        return Err(RtcpError::TooShort { length: 0 });
    }
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::TooShort { length: rest.len() });
        }
        let version = rest[0] >> 6;
        if version != RTCP_VERSION {
            return Err(RtcpError::UnsupportedVersion { version });
        }
        let declared = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if declared > rest.len() {
            return Err(RtcpError::LengthBeyondBuffer {
                declared,
                available: rest.len(),
            });
        }
        let (packet, after) = rest.split_at(declared);
        let mut body_end = declared;
        if packet[0] & 0x20 != 0 {
            // A.2: only the last packet of a compound may be padded.
            let padding = packet[declared - 1];
            if !after.is_empty() || padding == 0 || usize::from(padding) > declared - 4 {
                let padding = if after.is_empty() { padding } else { 0 };
                return Err(RtcpError::InvalidPadding {
                    padding,
                    length: declared,
                });
            }
            body_end -= usize::from(padding);
        }
        let count = usize::from(packet[0] & 0x1F);
        let packet_type = packet[1];
        let body = &packet[4..body_end];
        let truncated = RtcpError::Truncated { packet_type };
        match packet_type {
            SENDER_REPORT_TYPE => {
                let ssrc = read_u32(body, 0).ok_or(truncated)?;
                let word = |index: usize| read_u32(body, 4 + 4 * index).ok_or(truncated);
                let sender = SenderInfo {
                    ntp_timestamp: NtpTimestamp(u64::from(word(0)?) << 32 | u64::from(word(1)?)),
                    rtp_timestamp: word(2)?,
                    packet_count: word(3)?,
                    octet_count: word(4)?,
                };
                let reports = parse_report_blocks(&body[24..], count).ok_or(truncated)?;
                packets.push(RtcpPacket::SenderReport {
                    ssrc,
                    sender,
                    reports,
                });
            }
            RECEIVER_REPORT_TYPE => {
                let ssrc = read_u32(body, 0).ok_or(truncated)?;
                let reports = parse_report_blocks(&body[4..], count).ok_or(truncated)?;
                packets.push(RtcpPacket::ReceiverReport { ssrc, reports });
            }
            SOURCE_DESCRIPTION_TYPE => {
                let chunks = parse_chunks(body, count).ok_or(truncated)?;
                packets.push(RtcpPacket::SourceDescription(chunks));
            }
            GOODBYE_TYPE => {
                let sources: Vec<u32> = (0..count)
                    .map(|index| read_u32(body, 4 * index))
                    .collect::<Option<_>>()
                    .ok_or(truncated)?;
                let reason = match body.get(4 * count) {
                    Some(&length) => {
                        let start = 4 * count + 1;
                        let text = body
                            .get(start..start + usize::from(length))
                            .ok_or(truncated)?;
                        Some(String::from_utf8_lossy(text).into_owned())
                    }
                    None => None,
                };
                packets.push(RtcpPacket::Goodbye { sources, reason });
            }
            // APP (204), feedback (205, 206), XR (207) and anything newer: not ours to read.
            _ => {}
        }
        rest = after;
    }
    Ok(packets)
}

fn parse_report_blocks(bytes: &[u8], count: usize) -> Option<Vec<ReportBlock>> {
    (0..count)
        .map(|index| {
            let block =
                bytes.get(index * REPORT_BLOCK_LENGTH..(index + 1) * REPORT_BLOCK_LENGTH)?;
            let lost = read_u32(block, 4)?;
            // The low 24 bits hold a signed count: shift up and back down to sign-extend.
            let cumulative_lost = ((lost << 8) as i32) >> 8;
            Some(ReportBlock {
                ssrc: read_u32(block, 0)?,
                fraction_lost: (lost >> 24) as u8,
                cumulative_lost,
                extended_highest_sequence: read_u32(block, 8)?,
                jitter: read_u32(block, 12)?,
                last_sender_report: read_u32(block, 16)?,
                delay_since_last_sender_report: read_u32(block, 20)?,
            })
        })
        .collect()
}

fn parse_chunks(bytes: &[u8], count: usize) -> Option<Vec<SourceDescription>> {
    let mut chunks = Vec::with_capacity(count.min(MAX_COUNT));
    let mut offset = 0;
    for _ in 0..count {
        let ssrc = read_u32(bytes, offset)?;
        offset += 4;
        let mut cname = None;
        loop {
            let item = *bytes.get(offset)?;
            if item == 0 {
                // The list ends with a null octet, then padding to the next 32-bit boundary.
                offset = (offset + 4) & !3;
                break;
            }
            let length = usize::from(*bytes.get(offset + 1)?);
            let text = bytes.get(offset + 2..offset + 2 + length)?;
            if item == CNAME_ITEM {
                cname = Some(String::from_utf8_lossy(text).into_owned());
            }
            offset += 2 + length;
        }
        chunks.push(SourceDescription { ssrc, cname });
    }
    Some(chunks)
}

/// Append `packets` to `out` as one compound packet (RFC 3550 §6.1; the caller puts an SR or
/// RR first and SDES with a CNAME next). Lists longer than 31 entries are cut at 31, texts
/// longer than 255 bytes at 255.
pub fn write_compound(packets: &[RtcpPacket], out: &mut Vec<u8>) {
    for packet in packets {
        let start = out.len();
        let (count, packet_type) = match packet {
            RtcpPacket::SenderReport { reports, .. } => {
                (reports.len().min(MAX_COUNT), SENDER_REPORT_TYPE)
            }
            RtcpPacket::ReceiverReport { reports, .. } => {
                (reports.len().min(MAX_COUNT), RECEIVER_REPORT_TYPE)
            }
            RtcpPacket::SourceDescription(chunks) => {
                (chunks.len().min(MAX_COUNT), SOURCE_DESCRIPTION_TYPE)
            }
            RtcpPacket::Goodbye { sources, .. } => (sources.len().min(MAX_COUNT), GOODBYE_TYPE),
        };
        out.extend_from_slice(&[RTCP_VERSION << 6 | count as u8, packet_type, 0, 0]);
        match packet {
            RtcpPacket::SenderReport {
                ssrc,
                sender,
                reports,
            } => {
                out.extend_from_slice(&ssrc.to_be_bytes());
                out.extend_from_slice(&sender.ntp_timestamp.0.to_be_bytes());
                for word in [
                    sender.rtp_timestamp,
                    sender.packet_count,
                    sender.octet_count,
                ] {
                    out.extend_from_slice(&word.to_be_bytes());
                }
                write_report_blocks(&reports[..count], out);
            }
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                out.extend_from_slice(&ssrc.to_be_bytes());
                write_report_blocks(&reports[..count], out);
            }
            RtcpPacket::SourceDescription(chunks) => {
                for chunk in &chunks[..count] {
                    out.extend_from_slice(&chunk.ssrc.to_be_bytes());
                    if let Some(cname) = &chunk.cname {
                        write_text(CNAME_ITEM, cname, out);
                    }
                    // Null item, then pad the chunk to 32 bits (at least one null octet).
                    out.push(0);
                    pad_to_word(out);
                }
            }
            RtcpPacket::Goodbye { sources, reason } => {
                for source in &sources[..count] {
                    out.extend_from_slice(&source.to_be_bytes());
                }
                if let Some(reason) = reason {
                    let text = truncate_text(reason);
                    out.push(text.len() as u8);
                    out.extend_from_slice(text);
                    pad_to_word(out);
                }
            }
        }
        let words = ((out.len() - start) / 4 - 1) as u16;
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    }
}

fn write_report_blocks(reports: &[ReportBlock], out: &mut Vec<u8>) {
    for block in reports {
        let lost = (block.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0xFF_FFFF;
        for word in [
            block.ssrc,
            u32::from(block.fraction_lost) << 24 | lost,
            block.extended_highest_sequence,
            block.jitter,
            block.last_sender_report,
            block.delay_since_last_sender_report,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

fn truncate_text(text: &str) -> &[u8] {
    let bytes = text.as_bytes();
    &bytes[..bytes.len().min(255)]
}

fn write_text(item: u8, text: &str, out: &mut Vec<u8>) {
    let text = truncate_text(text);
    out.push(item);
    out.push(text.len() as u8);
    out.extend_from_slice(text);
}

fn pad_to_word(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// True if a datagram on the RTP port is RTCP (RFC 5761 §4: second octet 192..=223).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram
        .get(1)
        .is_some_and(|packet_type| (192..=223).contains(packet_type))
}

#[cfg(test)]
mod tests;
