//! Byte-level tests of the RTCP parser and builder.

use super::*;

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 64,
        cumulative_lost: 1234,
        extended_highest_sequence: 0x0001_0005,
        jitter: 77,
        last_sender_report: 0x1234_5678,
        delay_since_last_sender_report: 0x0001_8000,
    }
}

fn cname(ssrc: u32, name: &str) -> RtcpPacket {
    RtcpPacket::SourceDescription(vec![SourceDescription {
        ssrc,
        cname: Some(name.to_owned()),
    }])
}

fn build(packets: &[RtcpPacket]) -> Vec<u8> {
    let mut out = Vec::new();
    write_compound(packets, &mut out);
    out
}

#[test]
fn sender_report_and_sdes_round_trip() {
    let packets = vec![
        RtcpPacket::SenderReport {
            ssrc: 0xDEAD_BEEF,
            sender: SenderInfo {
                ntp_timestamp: NtpTimestamp(0xE000_0001_8000_0000),
                rtp_timestamp: 160_000,
                packet_count: 250,
                octet_count: 40_000,
            },
            reports: vec![block(7)],
        },
        cname(0xDEAD_BEEF, "callhost@127.0.0.1"),
    ];
    let bytes = build(&packets);
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(parse_compound(&bytes), Ok(packets));
}

#[test]
fn receiver_report_sdes_and_bye_round_trip() {
    let packets = vec![
        RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![ReportBlock {
                cumulative_lost: -3,
                ..block(2)
            }],
        },
        // Lengths 1, 2, 3 and 4 exercise every chunk padding.
        RtcpPacket::SourceDescription(vec![
            SourceDescription {
                ssrc: 1,
                cname: Some("a".into()),
            },
            SourceDescription {
                ssrc: 3,
                cname: Some("bc".into()),
            },
            SourceDescription {
                ssrc: 4,
                cname: Some("def".into()),
            },
            SourceDescription {
                ssrc: 5,
                cname: Some("ghij".into()),
            },
        ]),
        RtcpPacket::Goodbye {
            sources: vec![1],
            reason: Some("call ended".into()),
        },
    ];
    let bytes = build(&packets);
    assert_eq!(parse_compound(&bytes), Ok(packets));
    let without_reason = vec![RtcpPacket::Goodbye {
        sources: vec![9, 10],
        reason: None,
    }];
    assert_eq!(parse_compound(&build(&without_reason)), Ok(without_reason));
}

#[test]
fn a_sender_report_has_the_rfc_3550_layout() {
    let report = RtcpPacket::SenderReport {
        ssrc: 0x0102_0304,
        sender: SenderInfo {
            ntp_timestamp: NtpTimestamp(0x1112_1314_1516_1718),
            rtp_timestamp: 0x2122_2324,
            packet_count: 0x3132_3334,
            octet_count: 0x4142_4344,
        },
        reports: vec![ReportBlock {
            ssrc: 0x5152_5354,
            fraction_lost: 0x61,
            cumulative_lost: 0x62_6364,
            extended_highest_sequence: 0x7172_7374,
            jitter: 0x8182_8384,
            last_sender_report: 0x9192_9394,
            delay_since_last_sender_report: 0xA1A2_A3A4,
        }],
    };
    #[rustfmt::skip]
    let expected: [u8; 52] = [
        0x81, 200, 0x00, 12, // V=2 P=0 RC=1, PT=SR, length 13 words - 1
        0x01, 0x02, 0x03, 0x04, // SSRC of sender
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // NTP timestamp
        0x21, 0x22, 0x23, 0x24, // RTP timestamp
        0x31, 0x32, 0x33, 0x34, // packet count
        0x41, 0x42, 0x43, 0x44, // octet count
        0x51, 0x52, 0x53, 0x54, // SSRC_1
        0x61, 0x62, 0x63, 0x64, // fraction lost, cumulative lost
        0x71, 0x72, 0x73, 0x74, // extended highest sequence
        0x81, 0x82, 0x83, 0x84, // jitter
        0x91, 0x92, 0x93, 0x94, // LSR
        0xA1, 0xA2, 0xA3, 0xA4, // DLSR
    ];
    assert_eq!(build(&[report]), expected);
}

#[test]
fn malformed_packets_are_rejected() {
    let good = build(&[
        RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![block(2)],
        },
        cname(1, "x"),
    ]);
    assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort { length: 0 }));
    assert_eq!(
        parse_compound(&good[..3]),
        Err(RtcpError::TooShort { length: 3 })
    );
    let mut version_1 = good.clone();
    version_1[0] = 0x41;
    assert_eq!(
        parse_compound(&version_1),
        Err(RtcpError::UnsupportedVersion { version: 1 })
    );
    // Cut inside the SDES: its length now runs past the datagram.
    let cut = &good[..good.len() - 4];
    assert!(matches!(
        parse_compound(cut),
        Err(RtcpError::LengthBeyondBuffer { .. })
    ));
    // A report count the length cannot hold.
    let mut too_many = good.clone();
    too_many[0] = 0x80 | 5;
    assert_eq!(
        parse_compound(&too_many),
        Err(RtcpError::Truncated {
            packet_type: RECEIVER_REPORT_TYPE
        })
    );
    // Padding on the first packet of a compound.
    let mut padded_first = good.clone();
    padded_first[0] |= 0x20;
    assert!(matches!(
        parse_compound(&padded_first),
        Err(RtcpError::InvalidPadding { padding: 0, .. })
    ));
    // Padding count larger than the packet on the last one.
    let mut bad_padding = build(&[RtcpPacket::Goodbye {
        sources: vec![1],
        reason: None,
    }]);
    bad_padding[0] |= 0x20;
    let last = bad_padding.len() - 1;
    bad_padding[last] = 200;
    assert!(matches!(
        parse_compound(&bad_padding),
        Err(RtcpError::InvalidPadding { padding: 200, .. })
    ));
    // A reason whose length runs past the packet.
    let mut long_reason = build(&[RtcpPacket::Goodbye {
        sources: vec![1],
        reason: Some("abc".into()),
    }]);
    long_reason[8] = 9;
    assert_eq!(
        parse_compound(&long_reason),
        Err(RtcpError::Truncated {
            packet_type: GOODBYE_TYPE
        })
    );
    // Valid padding on the last packet is accepted and skipped.
    let mut padded = build(&[RtcpPacket::Goodbye {
        sources: vec![1],
        reason: None,
    }]);
    padded[0] |= 0x20;
    padded.extend_from_slice(&[0, 0, 0, 4]);
    padded[3] += 1;
    assert_eq!(
        parse_compound(&padded),
        Ok(vec![RtcpPacket::Goodbye {
            sources: vec![1],
            reason: None
        }])
    );
}

#[test]
fn app_and_unknown_packets_are_skipped() {
    let mut bytes = build(&[RtcpPacket::ReceiverReport {
        ssrc: 1,
        reports: vec![],
    }]);
    // APP: subtype 0, SSRC, name "TEST", no data.
    bytes.extend_from_slice(&[0x80, 204, 0, 2, 0, 0, 0, 1, b'T', b'E', b'S', b'T']);
    bytes.extend_from_slice(&build(&[cname(1, "z")]));
    let parsed = parse_compound(&bytes).unwrap();
    assert_eq!(parsed.len(), 2);
    assert!(matches!(parsed[1], RtcpPacket::SourceDescription(_)));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut state = 0x1234_5678u32;
    for length in 0..200usize {
        let mut bytes: Vec<u8> = (0..length)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        if let Some(first) = bytes.first_mut() {
            *first = 0x80 | (*first & 0x3F);
        }
        let _ = parse_compound(&bytes);
    }
}

#[test]
fn ntp_timestamps_and_round_trip() {
    let time = UNIX_EPOCH + Duration::from_millis(1_500);
    let ntp = NtpTimestamp::from_system_time(time);
    assert_eq!(ntp.0 >> 32, NTP_UNIX_OFFSET_SECONDS + 1);
    assert_eq!(ntp.0 as u32, 0x8000_0000, "half a second");
    assert_eq!(
        ntp.middle_bits(),
        ((NTP_UNIX_OFFSET_SECONDS + 1) as u32) << 16 | 0x8000
    );
    assert_eq!(to_short_ntp(Duration::from_millis(250)), 0x4000);
    // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
    // (46853.125 s), DLSR = 0x0005:4000 (5.250 s): RTT = 6.125 s.
    assert_eq!(
        round_trip(0xB710_8000, 0xB705_2000, 0x0005_4000),
        Some(Duration::from_millis(6125))
    );
    assert_eq!(round_trip(0xB710_8000, 0, 0), None, "no SR from us yet");
    assert_eq!(
        round_trip(0xB705_2000, 0xB710_8000, 0),
        None,
        "arrival before the report"
    );
    assert_eq!(round_trip(0x0001_0000, 0x0000_8000, 0x0001_0000), None);
    // Across the 16-bit seconds wrap.
    assert_eq!(
        round_trip(0x0000_4000, 0xFFFF_C000, 0x0000_4000),
        Some(Duration::from_millis(250))
    );
}

#[test]
fn rtcp_on_the_rtp_port_is_recognised() {
    let report = build(&[RtcpPacket::ReceiverReport {
        ssrc: 1,
        reports: vec![],
    }]);
    assert!(is_rtcp(&report));
    assert!(!is_rtcp(&[0x80, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80]));
}
