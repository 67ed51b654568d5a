//! RTCP for one session (RFC 3550 §6): when to report, what the report says, and what the
//! peer's reports tell us. Two-party sessions, so the simple interval of §6.2 applies: the first
//! report [`RTCP_FIRST_TIME`]–2× that after sending starts, then every [`RTCP_MIN_TIME`] ×
//! a random factor in [0.5, 1.5]. Each compound packet is an SR (if we sent RTP since the last
//! report) or an RR, with at most one report block (about the peer's SSRC), then SDES CNAME,
//! and BYE when the session ends (§6.3.7).
//!
//! Destination (RFC 3550 §11, RFC 3605): the RTCP source once a valid report from the peer
//! arrived on our RTCP port (symmetric RTCP), else the latched RTP address's port + 1, else
//! the SDP's `a=rtcp` or the RTP port + 1.
//!
//! Round trip (§6.4.1): we remember when we sent our last few SRs, so the time between the
//! SR and the peer's report about it comes from our monotonic clock, minus the peer's DLSR.
//! Clock-free: the driver passes "now" (since session start) and the wall clock for SR
//! timestamps.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{RemoteReport, SessionCore, bump};
use crate::rtcp::{self, NtpTimestamp, ReportBlock, RtcpPacket, SenderInfo, SourceDescription};
use crate::rtp::RTP_HEADER_LENGTH;

/// The interval between reports before randomisation (RFC 3550 §6.2 minimum, `RTCP_MIN_TIME`
/// in A.7).
pub const RTCP_MIN_TIME: Duration = Duration::from_secs(5);

/// Half the nominal delay of the first report after sending starts: it comes after twice this
/// × a random factor in [0.5, 1.5), i.e. 0.5-1.5 s (sooner than §6.2's 2.5 s, so a short call
/// still gets its figures).
pub const RTCP_FIRST_TIME: Duration = Duration::from_millis(500);

/// Our sender reports remembered for round-trip times.
const SENT_REPORTS_KEPT: usize = 8;

/// A random factor in [0.5, 1.5) (RFC 3550 §6.3.1 randomisation).
fn randomised(interval: Duration) -> Duration {
    interval.mul_f64(0.5 + rand::random::<f64>())
}

/// RTCP state of one session.
#[derive(Debug)]
pub(super) struct RtcpState {
    cname: String,
    next_report: Option<Duration>,
    /// RTP packets sent when the last report went out (an SR is due if this moved).
    packets_at_last_report: u64,
    /// Middle bits of the peer's last SR timestamp and when it arrived.
    peer_sender_report: Option<(u32, Duration)>,
    /// Our recent SRs: middle bits of their NTP timestamp and when we sent them.
    sent_reports: VecDeque<(u32, Duration)>,
    /// Where the peer's RTCP comes from (symmetric RTCP), once a report from it arrived.
    latched: Option<SocketAddr>,
    last_round_trip: Option<u64>,
}

impl RtcpState {
    pub(super) fn new() -> Self {
        Self {
            // RFC 3550 §6.5.1 allows any unique name; ours need not reveal an address.
            cname: format!("callhost-{:016x}", rand::random::<u64>()),
            next_report: None,
            packets_at_last_report: 0,
            peer_sender_report: None,
            sent_reports: VecDeque::new(),
            latched: None,
            last_round_trip: None,
        }
    }
}

impl SessionCore {
    /// Where RTCP goes now, or `None` when the peer's address is unspecified (hold).
    pub fn rtcp_destination(&self) -> Option<SocketAddr> {
        if self.negotiated.remote.ip().is_unspecified() {
            return None;
        }
        if let Some(source) = self.rtcp.latched {
            return Some(source);
        }
        let rtp = self.latch.destination();
        if self.latch.is_latched() {
            return Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
        }
        Some(
            self.negotiated
                .remote_rtcp
                .unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
        )
    }

    /// The RTCP report due at `now` (time since the session started), with its destination;
    /// call after each frame. Nothing before sending starts (the first call only schedules
    /// the first report) or while the peer's address is unspecified. `wall_clock` stamps SRs.
    pub fn poll_rtcp(
        &mut self,
        now: Duration,
        wall_clock: SystemTime,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        if !self.sending {
            return None;
        }
        let destination = self.rtcp_destination()?;
        match self.rtcp.next_report {
            None => {
                self.rtcp.next_report = Some(now + randomised(RTCP_FIRST_TIME * 2));
                return None;
            }
            Some(due) if now < due => return None,
            Some(_) => {}
        }
        self.rtcp.next_report = Some(now + randomised(RTCP_MIN_TIME));
        Some((destination, self.build_report(now, wall_clock, false)))
    }

    /// The last report with a BYE (RFC 3550 §6.3.7), for when the session ends; `None` if
    /// we never reported (nothing to say goodbye to) or the address is unspecified.
    pub fn goodbye(
        &mut self,
        now: Duration,
        wall_clock: SystemTime,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        self.rtcp.next_report?;
        let destination = self.rtcp_destination()?;
        Some((destination, self.build_report(now, wall_clock, true)))
    }

    fn build_report(&mut self, now: Duration, wall_clock: SystemTime, goodbye: bool) -> Vec<u8> {
        let counters = &self.counters;
        let packets_sent = counters.packets_sent.load(Ordering::Relaxed);
        let bytes_sent = counters.bytes_sent.load(Ordering::Relaxed);
        let reports: Vec<ReportBlock> = self
            .reception
            .report()
            .map(|report| {
                let (last_sender_report, delay) = match self.rtcp.peer_sender_report {
                    Some((middle, at)) => (middle, rtcp::to_short_ntp(now.saturating_sub(at))),
                    None => (0, 0),
                };
                ReportBlock {
                    ssrc: report.ssrc,
                    fraction_lost: report.fraction_lost,
                    cumulative_lost: report.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
                    extended_highest_sequence: report.extended_highest_sequence,
                    jitter: report.jitter,
                    last_sender_report,
                    delay_since_last_sender_report: delay,
                }
            })
            .into_iter()
            .collect();
        let first = if packets_sent != self.rtcp.packets_at_last_report {
            let ntp_timestamp = NtpTimestamp::from_system_time(wall_clock);
            if self.rtcp.sent_reports.len() == SENT_REPORTS_KEPT {
                self.rtcp.sent_reports.pop_front();
            }
            self.rtcp
                .sent_reports
                .push_back((ntp_timestamp.middle_bits(), now));
            RtcpPacket::SenderReport {
                ssrc: self.ssrc,
                sender: SenderInfo {
                    ntp_timestamp,
                    // The driver reports right after a frame: that frame's timestamp is "now"
                    // to within its scheduling delay.
                    rtp_timestamp: self
                        .timestamp
                        .wrapping_sub(self.negotiated.codec.timestamp_increment()),
                    packet_count: packets_sent as u32,
                    octet_count: bytes_sent.saturating_sub(packets_sent * RTP_HEADER_LENGTH as u64)
                        as u32,
                },
                reports,
            }
        } else {
            RtcpPacket::ReceiverReport {
                ssrc: self.ssrc,
                reports,
            }
        };
        self.rtcp.packets_at_last_report = packets_sent;
        let mut packets = vec![
            first,
            RtcpPacket::SourceDescription(vec![SourceDescription {
                ssrc: self.ssrc,
                cname: Some(self.rtcp.cname.clone()),
            }]),
        ];
        if goodbye {
            packets.push(RtcpPacket::Goodbye {
                sources: vec![self.ssrc],
                reason: None,
            });
        }
        let mut bytes = Vec::with_capacity(128);
        rtcp::write_compound(&packets, &mut bytes);
        bump(&self.counters.rtcp_packets_sent, 1);
        bytes
    }

    /// Handle a datagram that arrived on the RTCP socket at `arrival` (since session start).
    pub fn on_rtcp_at(&mut self, arrival: Duration, source: SocketAddr, datagram: &[u8]) {
        self.receive_rtcp(arrival, Some(source), datagram);
    }

    /// Read a compound RTCP packet; `source` is given when it came to the RTCP port (it may
    /// then become where our RTCP goes).
    pub(super) fn receive_rtcp(
        &mut self,
        arrival: Duration,
        source: Option<SocketAddr>,
        datagram: &[u8],
    ) {
        let packets = match rtcp::parse_compound(datagram) {
            Ok(packets) => packets,
            Err(error) => {
                tracing::trace!(?source, %error, "ignored invalid RTCP");
                bump(&self.counters.invalid_packets_received, 1);
                return;
            }
        };
        bump(&self.counters.rtcp_packets_received, 1);
        let peer = self.reception.ssrc();
        for packet in packets {
            let (sender, reports) = match packet {
                RtcpPacket::SenderReport {
                    ssrc,
                    sender,
                    reports,
                } => {
                    self.rtcp.peer_sender_report =
                        Some((sender.ntp_timestamp.middle_bits(), arrival));
                    (ssrc, reports)
                }
                RtcpPacket::ReceiverReport { ssrc, reports } => (ssrc, reports),
                RtcpPacket::Goodbye { sources, reason } => {
                    tracing::debug!(?sources, ?reason, "RTCP BYE from the peer");
                    continue;
                }
                RtcpPacket::SourceDescription(_) => continue,
            };
            // Symmetric RTCP: follow the peer's RTCP source, but only for its own stream's
            // reports (a stray packet must not move our reports elsewhere).
            if let Some(source) = source
                && self.latch_enabled()
                && (peer.is_none() || peer == Some(sender))
            {
                self.rtcp.latched = Some(source);
            }
            if let Some(block) = reports.iter().find(|block| block.ssrc == self.ssrc) {
                self.on_report_about_us(arrival, block);
            }
        }
    }

    fn latch_enabled(&self) -> bool {
        self.latch.is_enabled()
    }

    fn on_report_about_us(&mut self, arrival: Duration, block: &ReportBlock) {
        let round_trip = self
            .rtcp
            .sent_reports
            .iter()
            .find(|(middle, _)| *middle == block.last_sender_report)
            .and_then(|&(middle, sent_at)| {
                // The arrival on the sender's NTP clock, reckoned from when we sent the SR.
                let arrival_middle =
                    middle.wrapping_add(rtcp::to_short_ntp(arrival.saturating_sub(sent_at)));
                rtcp::round_trip(
                    arrival_middle,
                    block.last_sender_report,
                    block.delay_since_last_sender_report,
                )
            })
            .map(|round_trip| u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX));
        if round_trip.is_some() {
            self.rtcp.last_round_trip = round_trip;
        }
        let clock_rate = u64::from(self.negotiated.codec.clock_rate());
        let report = RemoteReport {
            packets_lost: i64::from(block.cumulative_lost),
            fraction_lost: block.fraction_lost,
            jitter_micros: u64::from(block.jitter) * 1_000_000 / clock_rate,
            round_trip_micros: self.rtcp.last_round_trip,
        };
        *self.counters.remote() = Some(report);
    }
}

#[cfg(test)]
mod tests;
