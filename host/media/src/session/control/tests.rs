//! RTCP of a [`SessionCore`], driven with explicit times: scheduling, SR/RR contents, LSR/DLSR,
//! round trip, destinations and BYE.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::codec::Codec;
use crate::rtcp::{RtcpPacket, parse_compound};
use crate::rtp::RtpHeader;
use crate::sdp::{Direction, Negotiated};
use crate::session::{MediaCounters, StreamOrigin};

const REMOTE: &str = "192.0.2.50:40000";
const PEER_SSRC: u32 = 0x5EED;
const ORIGIN: StreamOrigin = StreamOrigin {
    ssrc: 0xCAFE_F00D,
    sequence_number: 100,
    timestamp: 1_000,
};

fn negotiated() -> Negotiated {
    Negotiated::for_test(REMOTE.parse().unwrap(), Codec::Pcmu, 0, None)
}

fn core_with(negotiated: Negotiated) -> SessionCore {
    SessionCore::new(negotiated, true, ORIGIN, Arc::new(MediaCounters::default()))
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn wall_clock(at: Duration) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + at
}

/// An RTP packet from the peer.
fn rtp(sequence: u16) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type: 0,
        sequence_number: sequence,
        timestamp: 160 * u32::from(sequence),
        ssrc: PEER_SSRC,
    };
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(&[0xFF; 160]);
    datagram
}

fn compound(packets: &[RtcpPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::rtcp::write_compound(packets, &mut out);
    out
}

/// Send `frames` frames, then poll for a report at `at`.
fn report_at(
    core: &mut SessionCore,
    frames: usize,
    at: Duration,
) -> Option<(SocketAddr, Vec<RtcpPacket>)> {
    for _ in 0..frames {
        core.on_frame();
    }
    core.poll_rtcp(at, wall_clock(at))
        .map(|(destination, bytes)| (destination, parse_compound(&bytes).expect("valid RTCP")))
}

#[test]
fn reports_start_after_sending_and_are_spaced_by_the_interval() {
    let mut core = core_with(negotiated());
    assert!(
        core.poll_rtcp(seconds(5.0), wall_clock(seconds(5.0)))
            .is_none()
    );
    core.start_sending();
    assert!(
        report_at(&mut core, 1, seconds(0.0)).is_none(),
        "the first call schedules"
    );
    assert!(
        report_at(&mut core, 1, seconds(0.49)).is_none(),
        "not before 0.5 s"
    );
    let (destination, packets) = report_at(&mut core, 10, seconds(1.6)).expect("due by 1.5 s");
    assert_eq!(
        destination,
        "192.0.2.50:40001".parse().unwrap(),
        "RTP port + 1"
    );
    let RtcpPacket::SenderReport {
        ssrc,
        sender,
        reports,
    } = &packets[0]
    else {
        panic!("we sent RTP: an SR first, got {packets:?}");
    };
    assert_eq!(*ssrc, ORIGIN.ssrc);
    assert_eq!(sender.packet_count, 12);
    assert_eq!(sender.octet_count, 12 * 160, "payload octets only");
    assert_eq!(
        sender.rtp_timestamp,
        ORIGIN.timestamp + 11 * 160,
        "the last frame's"
    );
    assert_eq!(
        sender.ntp_timestamp,
        crate::rtcp::NtpTimestamp::from_system_time(wall_clock(seconds(1.6)))
    );
    assert!(reports.is_empty(), "nothing received yet");
    let RtcpPacket::SourceDescription(chunks) = &packets[1] else {
        panic!("SDES second");
    };
    assert_eq!(chunks[0].ssrc, ORIGIN.ssrc);
    assert!(
        chunks[0]
            .cname
            .as_deref()
            .is_some_and(|cname| cname.starts_with("callhost-"))
    );
    assert_eq!(packets.len(), 2);
    // The next one: 2.5-7.5 s later.
    assert!(report_at(&mut core, 1, seconds(4.0)).is_none());
    assert!(report_at(&mut core, 1, seconds(9.2)).is_some());
    assert_eq!(core.counters.snapshot().rtcp_packets_sent, 2);
}

#[test]
fn receiver_reports_carry_loss_jitter_and_the_peers_last_sr() {
    let mut negotiated = negotiated();
    // On hold by the peer: we receive but may not send, so our reports are RRs.
    negotiated.direction = Direction::ReceiveOnly;
    let mut core = core_with(negotiated);
    core.start_sending();
    let source: SocketAddr = REMOTE.parse().unwrap();
    for sequence in (0..20u16).filter(|sequence| *sequence != 5) {
        core.on_datagram_at(seconds(0.02 * f64::from(sequence)), source, &rtp(sequence));
    }
    let peer_ntp = crate::rtcp::NtpTimestamp(0xAAAA_BBBB_CCCC_DDDD);
    let peer_report = compound(&[RtcpPacket::SenderReport {
        ssrc: PEER_SSRC,
        sender: crate::rtcp::SenderInfo {
            ntp_timestamp: peer_ntp,
            ..Default::default()
        },
        reports: vec![],
    }]);
    core.on_rtcp_at(
        seconds(0.5),
        "192.0.2.50:40001".parse().unwrap(),
        &peer_report,
    );
    assert!(report_at(&mut core, 1, seconds(0.5)).is_none());
    let (_, packets) = report_at(&mut core, 1, seconds(2.0)).expect("a report");
    let RtcpPacket::ReceiverReport { ssrc, reports } = &packets[0] else {
        panic!("nothing sent: an RR, got {packets:?}");
    };
    assert_eq!(*ssrc, ORIGIN.ssrc);
    let block = reports[0];
    assert_eq!(block.ssrc, PEER_SSRC);
    assert_eq!(block.cumulative_lost, 1);
    assert_eq!(block.fraction_lost, (256 / 20) as u8, "1 of 20 lost");
    assert_eq!(block.extended_highest_sequence, 19);
    assert_eq!(block.jitter, 0, "arrivals exactly 20 ms apart");
    assert_eq!(block.last_sender_report, peer_ntp.middle_bits());
    assert_eq!(
        block.delay_since_last_sender_report,
        3 * 32_768,
        "1.5 s in 1/65536 s"
    );
}

#[test]
fn a_report_about_our_sr_gives_the_round_trip_and_the_remote_figures() {
    let mut core = core_with(negotiated());
    core.start_sending();
    report_at(&mut core, 1, seconds(0.0));
    let sent_at = seconds(2.0);
    let (_, packets) = report_at(&mut core, 50, sent_at).expect("an SR");
    let RtcpPacket::SenderReport { sender, .. } = &packets[0] else {
        panic!("an SR");
    };
    // The peer holds it 250 ms and its report arrives 400 ms after we sent: 150 ms round trip.
    let block = crate::rtcp::ReportBlock {
        ssrc: ORIGIN.ssrc,
        fraction_lost: 12,
        cumulative_lost: 3,
        extended_highest_sequence: 150,
        jitter: 80,
        last_sender_report: sender.ntp_timestamp.middle_bits(),
        delay_since_last_sender_report: 16_384,
    };
    let other = crate::rtcp::ReportBlock {
        ssrc: 0x0BAD,
        cumulative_lost: 999,
        ..block
    };
    let report = compound(&[RtcpPacket::ReceiverReport {
        ssrc: PEER_SSRC,
        reports: vec![other, block],
    }]);
    core.on_rtcp_at(
        sent_at + seconds(0.4),
        "192.0.2.50:40001".parse().unwrap(),
        &report,
    );
    let remote = core.counters.snapshot().remote.expect("a report about us");
    assert_eq!(remote.packets_lost, 3, "the block about our SSRC");
    assert_eq!(remote.fraction_lost, 12);
    assert_eq!(remote.jitter_micros, 10_000, "80 units at 8 kHz");
    let round_trip = remote.round_trip_micros.expect("a round trip");
    assert!(round_trip.abs_diff(150_000) <= 100, "{round_trip} µs");
    // A block without LSR keeps the last round trip.
    let later = compound(&[RtcpPacket::ReceiverReport {
        ssrc: PEER_SSRC,
        reports: vec![crate::rtcp::ReportBlock {
            last_sender_report: 0,
            cumulative_lost: 4,
            ..block
        }],
    }]);
    core.on_rtcp_at(seconds(5.0), "192.0.2.50:40001".parse().unwrap(), &later);
    let remote = core.counters.snapshot().remote.unwrap();
    assert_eq!(
        (remote.packets_lost, remote.round_trip_micros),
        (4, Some(round_trip))
    );
    assert_eq!(core.counters.snapshot().rtcp_packets_received, 2);
}

#[test]
fn the_destination_follows_sdp_latching_and_the_rtcp_source() {
    let mut with_attribute = negotiated();
    with_attribute.remote_rtcp = Some("192.0.2.60:50001".parse().unwrap());
    assert_eq!(
        core_with(with_attribute).rtcp_destination(),
        Some("192.0.2.60:50001".parse().unwrap()),
        "a=rtcp wins over port + 1"
    );
    let mut held = negotiated();
    held.remote = "0.0.0.0:40000".parse().unwrap();
    assert_eq!(core_with(held).rtcp_destination(), None);

    let mut core = core_with(negotiated());
    let nat: SocketAddr = "203.0.113.5:31000".parse().unwrap();
    for sequence in 0..3 {
        core.on_datagram(nat, &rtp(sequence));
    }
    assert_eq!(
        core.rtcp_destination(),
        Some("203.0.113.5:31001".parse().unwrap())
    );
    // A report from a stranger's SSRC does not move it; the peer's does.
    let stranger = compound(&[RtcpPacket::ReceiverReport {
        ssrc: 0x0BAD,
        reports: vec![],
    }]);
    core.on_rtcp_at(seconds(1.0), "198.51.100.9:9".parse().unwrap(), &stranger);
    assert_eq!(
        core.rtcp_destination(),
        Some("203.0.113.5:31001".parse().unwrap())
    );
    let peer = compound(&[RtcpPacket::ReceiverReport {
        ssrc: PEER_SSRC,
        reports: vec![],
    }]);
    let rtcp_source: SocketAddr = "203.0.113.5:31999".parse().unwrap();
    core.on_rtcp_at(seconds(1.0), rtcp_source, &peer);
    assert_eq!(core.rtcp_destination(), Some(rtcp_source));
}

#[test]
fn rtcp_on_the_rtp_port_is_read_and_bad_rtcp_is_counted_invalid() {
    let mut core = core_with(negotiated());
    let source: SocketAddr = REMOTE.parse().unwrap();
    let report = compound(&[RtcpPacket::ReceiverReport {
        ssrc: PEER_SSRC,
        reports: vec![],
    }]);
    core.on_datagram(source, &report);
    let stats = core.counters.snapshot();
    assert_eq!(
        (stats.rtcp_packets_received, stats.invalid_packets_received),
        (1, 0)
    );
    assert_eq!(stats.packets_received, 0, "not RTP");
    let mut truncated = report.clone();
    truncated[3] = 9;
    core.on_datagram(source, &truncated);
    let stats = core.counters.snapshot();
    assert_eq!(
        (stats.rtcp_packets_received, stats.invalid_packets_received),
        (1, 1)
    );
    assert_eq!(
        core.rtcp_destination(),
        Some("192.0.2.50:40001".parse().unwrap()),
        "not latched"
    );
}

#[test]
fn goodbye_ends_the_last_report_once_we_reported() {
    let mut core = core_with(negotiated());
    assert!(
        core.goodbye(seconds(1.0), wall_clock(seconds(1.0)))
            .is_none(),
        "never reported"
    );
    core.start_sending();
    report_at(&mut core, 1, seconds(0.0));
    let (destination, bytes) = core
        .goodbye(seconds(1.0), wall_clock(seconds(1.0)))
        .expect("BYE");
    assert_eq!(destination, "192.0.2.50:40001".parse().unwrap());
    let packets = parse_compound(&bytes).unwrap();
    assert!(matches!(packets[0], RtcpPacket::SenderReport { .. }));
    assert!(matches!(packets[1], RtcpPacket::SourceDescription(_)));
    assert_eq!(
        packets[2],
        RtcpPacket::Goodbye {
            sources: vec![ORIGIN.ssrc],
            reason: None
        }
    );
}
