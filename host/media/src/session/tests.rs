//! Unit tests for [`super::SessionCore`], driven frame by frame with byte-level checks.

use super::*;
use crate::g711;
use crate::rtp;
use crate::sdp::Direction;
use crate::telephone_event::EventReport;
use crate::telephone_event::sender::parse_digits;

const REMOTE: &str = "192.0.2.50:40000";
const ORIGIN: StreamOrigin = StreamOrigin {
    ssrc: 0xCAFE_F00D,
    sequence_number: 65_534,
    timestamp: u32::MAX - 300,
};

fn negotiated(telephone_event: Option<u8>) -> Negotiated {
    Negotiated::for_test(REMOTE.parse().unwrap(), Codec::Pcmu, 0, telephone_event)
}

fn core() -> SessionCore {
    SessionCore::new(
        negotiated(Some(101)),
        true,
        ORIGIN,
        Arc::new(MediaCounters::default()),
    )
}

/// (destination, header, payload) of the next frame.
fn frame(core: &mut SessionCore) -> Option<(SocketAddr, RtpHeader, Vec<u8>)> {
    core.on_frame().map(|(destination, bytes)| {
        let packet = rtp::parse(bytes).expect("core sends valid RTP");
        (destination, packet.header, packet.payload.to_vec())
    })
}

fn events(core: &mut SessionCore) -> Vec<MediaEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

#[test]
fn nothing_is_sent_before_start_then_silence_with_continuous_numbering() {
    let mut core = core();
    assert!(frame(&mut core).is_none());
    assert!(!core.is_sending());
    core.start_sending();
    let packets: Vec<_> = (0..4).map(|_| frame(&mut core).unwrap()).collect();
    for (index, (destination, header, payload)) in packets.iter().enumerate() {
        assert_eq!(*destination, REMOTE.parse().unwrap());
        assert_eq!(header.ssrc, ORIGIN.ssrc);
        assert_eq!(header.payload_type, 0);
        assert_eq!(
            header.marker,
            index == 0,
            "marker starts the talkspurt only"
        );
        assert_eq!(
            header.sequence_number,
            ORIGIN.sequence_number.wrapping_add(index as u16)
        );
        assert_eq!(
            header.timestamp,
            ORIGIN.timestamp.wrapping_add(160 * index as u32)
        );
        assert_eq!(payload.as_slice(), &[g711::ULAW_SILENCE; 160]);
    }
    let stats = core.counters.snapshot();
    assert_eq!(
        (
            stats.packets_sent,
            stats.audio_packets_sent,
            stats.bytes_sent
        ),
        (4, 4, 4 * 172)
    );
}

#[test]
fn prompts_play_in_order_and_report_completion() {
    let mut core = core();
    core.start_sending();
    let samples: Vec<i16> = (0..400).map(|n| (n * 70 - 14_000) as i16).collect();
    core.play(1, Arc::new(Prompt::from_samples(samples.clone())));
    let mut decoded = Vec::new();
    for _ in 0..3 {
        let (_, _, payload) = frame(&mut core).unwrap();
        decoded.extend(payload.iter().map(|&code| g711::ulaw_to_linear(code)));
    }
    let expected: Vec<i16> = samples
        .iter()
        .map(|&s| g711::ulaw_to_linear(g711::linear_to_ulaw(s)))
        .collect();
    assert_eq!(&decoded[..400], expected.as_slice());
    assert!(
        decoded[400..].iter().all(|&s| s == 0),
        "the last frame is padded with silence"
    );
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::PlayFinished {
            id: 1,
            completed: true
        }]
    );
    // Replacing and stopping report incomplete plays.
    core.play(2, Arc::new(Prompt::from_samples(vec![1000; 1000])));
    frame(&mut core);
    core.play(3, Arc::new(Prompt::from_samples(vec![1000; 1000])));
    core.stop_playing();
    core.stop_playing();
    assert_eq!(
        events(&mut core),
        vec![
            MediaEvent::PlayFinished {
                id: 2,
                completed: false
            },
            MediaEvent::PlayFinished {
                id: 3,
                completed: false
            }
        ]
    );
}

#[test]
fn an_empty_prompt_finishes_on_the_next_frame() {
    let mut core = core();
    core.play(9, Arc::new(Prompt::from_samples(Vec::new())));
    assert!(frame(&mut core).is_none());
    assert!(
        events(&mut core).is_empty(),
        "frames only run once sending started"
    );
    core.start_sending();
    frame(&mut core);
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::PlayFinished {
            id: 9,
            completed: true
        }]
    );
}

#[test]
fn dtmf_shares_sequence_and_timestamp_space_with_audio() {
    let mut core = core();
    core.start_sending();
    let (_, first_audio, _) = frame(&mut core).unwrap();
    core.send_dtmf(5, parse_digits("7").unwrap());
    let packets: Vec<_> = (0..9).map(|_| frame(&mut core).unwrap().1).collect();
    let event_start = first_audio.timestamp.wrapping_add(160);
    for (index, header) in packets.iter().enumerate() {
        assert_eq!(
            header.sequence_number,
            first_audio.sequence_number.wrapping_add(index as u16 + 1)
        );
        if index < 7 {
            assert_eq!(header.payload_type, 101);
            assert_eq!(
                header.timestamp, event_start,
                "every event packet carries the start timestamp"
            );
            assert_eq!(header.marker, index == 0);
        } else {
            assert_eq!(header.payload_type, 0);
            assert_eq!(
                header.timestamp,
                event_start.wrapping_add(160 * index as u32),
                "audio resumes on the clock"
            );
            assert!(!header.marker);
        }
    }
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::DtmfFinished {
            id: 5,
            completed: true
        }]
    );
    assert_eq!(core.counters.snapshot().telephone_event_packets_sent, 7);
}

#[test]
fn dtmf_payloads_grow_and_end_three_times() {
    let mut core = core();
    core.start_sending();
    core.send_dtmf(1, parse_digits("#").unwrap());
    let reports: Vec<EventReport> = (0..7)
        .map(|_| {
            let (_, _, payload) = frame(&mut core).unwrap();
            EventReport::from_bytes([payload[0], payload[1], payload[2], payload[3]])
        })
        .collect();
    let durations: Vec<u16> = reports.iter().map(|r| r.duration).collect();
    assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(reports.iter().filter(|r| r.end).count(), 3);
    assert!(reports.iter().all(|r| r.event == 11 && r.volume == 10));
}

#[test]
fn hold_stops_sending_but_not_the_clock() {
    let mut core = core();
    core.start_sending();
    let (_, before, _) = frame(&mut core).unwrap();
    core.update(Negotiated {
        direction: Direction::ReceiveOnly,
        ..negotiated(Some(101))
    });
    assert!(frame(&mut core).is_none());
    assert!(frame(&mut core).is_none());
    core.update(negotiated(Some(101)));
    let (_, after, _) = frame(&mut core).unwrap();
    assert_eq!(
        after.sequence_number,
        before.sequence_number.wrapping_add(1),
        "no packets were sent on hold"
    );
    assert_eq!(
        after.timestamp,
        before.timestamp.wrapping_add(3 * 160),
        "time went on"
    );
    assert!(after.marker, "a new talkspurt starts after hold");
    // c=0.0.0.0 hold behaves the same.
    core.update(Negotiated {
        remote: "0.0.0.0:40000".parse().unwrap(),
        ..negotiated(Some(101))
    });
    assert!(frame(&mut core).is_none());
}

#[test]
fn skipped_frames_advance_prompts_and_timestamps() {
    let mut core = core();
    core.start_sending();
    let (_, first, _) = frame(&mut core).unwrap();
    core.play(4, Arc::new(Prompt::from_samples(vec![500; 480])));
    core.skip_frames(2);
    let (_, next, payload) = frame(&mut core).unwrap();
    assert_eq!(next.timestamp, first.timestamp.wrapping_add(3 * 160));
    assert_eq!(next.sequence_number, first.sequence_number.wrapping_add(1));
    assert_eq!(payload[0], g711::linear_to_ulaw(500));
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::PlayFinished {
            id: 4,
            completed: true
        }]
    );
    assert_eq!(core.counters.snapshot().frames_skipped, 2);
}

fn event_datagram(
    sequence: u16,
    timestamp: u32,
    marker: bool,
    report: EventReport,
    ssrc: u32,
) -> Vec<u8> {
    let header = RtpHeader {
        marker,
        payload_type: 101,
        sequence_number: sequence,
        timestamp,
        ssrc,
    };
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(&report.to_bytes());
    datagram
}

#[test]
fn received_telephone_events_become_one_dtmf_event_per_digit() {
    let mut core = core();
    let source: SocketAddr = REMOTE.parse().unwrap();
    let mut sequence = 100;
    for (digit_index, event) in [1u8, 1, 10].into_iter().enumerate() {
        let timestamp = 8000 * digit_index as u32;
        for (step, end) in [(1u16, false), (2, false), (3, true), (3, true), (3, true)] {
            let report = EventReport {
                event,
                end,
                volume: 10,
                duration: 160 * step,
            };
            core.on_datagram(
                source,
                &event_datagram(sequence, timestamp, step == 1 && !end, report, 77),
            );
            sequence += 1;
        }
    }
    assert_eq!(
        events(&mut core),
        vec![
            MediaEvent::Dtmf { digit: '1' },
            MediaEvent::Dtmf { digit: '1' },
            MediaEvent::Dtmf { digit: '*' }
        ]
    );
    let stats = core.counters.snapshot();
    assert_eq!(
        (
            stats.packets_received,
            stats.telephone_event_packets_received,
            stats.dtmf_digits_received
        ),
        (15, 15, 3)
    );
    assert_eq!(stats.packets_lost, 0);
}

#[test]
fn garbage_and_unnegotiated_payload_types_are_counted_and_ignored() {
    let mut core = core();
    let stranger: SocketAddr = "198.51.100.7:1234".parse().unwrap();
    core.on_datagram(stranger, b"hello");
    let video = RtpHeader {
        marker: false,
        payload_type: 96,
        sequence_number: 1,
        timestamp: 0,
        ssrc: 5,
    };
    for _ in 0..5 {
        core.on_datagram(stranger, &video.to_bytes());
    }
    assert_eq!(
        core.destination(),
        REMOTE.parse().unwrap(),
        "unnegotiated payload types never latch"
    );
    let stats = core.counters.snapshot();
    assert_eq!(
        (stats.invalid_packets_received, stats.packets_received),
        (6, 0)
    );
}

#[test]
fn audio_from_a_new_source_moves_the_stream_after_three_packets() {
    let mut core = core();
    core.start_sending();
    let nat: SocketAddr = "203.0.113.80:50000".parse().unwrap();
    for sequence in 0..3u16 {
        assert_eq!(frame(&mut core).unwrap().0, REMOTE.parse().unwrap());
        let header = RtpHeader {
            marker: false,
            payload_type: 0,
            sequence_number: sequence,
            timestamp: 160 * u32::from(sequence),
            ssrc: 3,
        };
        let mut datagram = header.to_bytes().to_vec();
        datagram.extend_from_slice(&[0xFF; 160]);
        core.on_datagram(nat, &datagram);
    }
    assert_eq!(frame(&mut core).unwrap().0, nat);
}

#[test]
fn renegotiation_can_change_codec_and_drop_telephone_event() {
    let mut core = core();
    core.start_sending();
    core.send_dtmf(8, parse_digits("123").unwrap());
    let (_, first, _) = frame(&mut core).unwrap();
    assert_eq!(first.payload_type, 101);
    core.update(Negotiated {
        codec: Codec::Pcma,
        codec_payload_type: 8,
        ..negotiated(None)
    });
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::DtmfFinished {
            id: 8,
            completed: false
        }]
    );
    let (_, next, payload) = frame(&mut core).unwrap();
    assert_eq!((next.payload_type, next.ssrc), (8, ORIGIN.ssrc));
    assert_eq!(next.sequence_number, first.sequence_number.wrapping_add(1));
    assert_eq!(payload[0], g711::ALAW_SILENCE);
    assert_eq!(core.codec(), Codec::Pcma);
}

fn audio_datagram(codec: Codec, sequence: u16, samples: &[i16]) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type: codec.default_payload_type(),
        sequence_number: sequence,
        timestamp: 160 * u32::from(sequence),
        ssrc: 0x5EED,
    };
    let mut payload = vec![0u8; samples.len()];
    g711_encode(codec, samples, &mut payload);
    let mut datagram = header.to_bytes().to_vec();
    datagram.extend_from_slice(&payload);
    datagram
}

fn ramp(start: i16) -> [i16; FRAME_SAMPLES] {
    std::array::from_fn(|n| start + 40 * n as i16)
}

fn g711_encode(codec: Codec, samples: &[i16], out: &mut [u8]) {
    match codec {
        Codec::Pcmu => g711::encode_ulaw(samples, out),
        _ => g711::encode_alaw(samples, out),
    }
}

fn g711_round_trip(codec: Codec, samples: &[i16]) -> Vec<i16> {
    let mut codes = vec![0u8; samples.len()];
    g711_encode(codec, samples, &mut codes);
    codes
        .iter()
        .map(|&code| match codec {
            Codec::Pcmu => g711::ulaw_to_linear(code),
            _ => g711::alaw_to_linear(code),
        })
        .collect()
}

#[test]
fn received_audio_is_decoded_into_frames_only_when_asked() {
    let mut core = core();
    let source: SocketAddr = REMOTE.parse().unwrap();
    core.on_datagram(source, &audio_datagram(Codec::Pcmu, 1, &ramp(-3000)));
    assert_eq!(
        core.poll_decoded_frame(),
        None,
        "decoding is off by default"
    );
    core.set_decoding(true);
    core.on_datagram(source, &audio_datagram(Codec::Pcmu, 2, &ramp(-3000)));
    core.on_datagram(source, &audio_datagram(Codec::Pcmu, 3, &ramp(1000)));
    // Telephone-event and comfort-noise packets carry no audio samples.
    let report = EventReport {
        event: 1,
        end: false,
        volume: 10,
        duration: 160,
    };
    core.on_datagram(source, &event_datagram(4, 480, true, report, 0x5EED));
    let first = core.poll_decoded_frame().expect("first frame");
    let second = core.poll_decoded_frame().expect("second frame");
    assert_eq!(core.poll_decoded_frame(), None);
    assert_eq!(first.to_vec(), g711_round_trip(Codec::Pcmu, &ramp(-3000)));
    assert_eq!(second.to_vec(), g711_round_trip(Codec::Pcmu, &ramp(1000)));
    core.set_decoding(false);
    core.on_datagram(source, &audio_datagram(Codec::Pcmu, 5, &ramp(0)));
    assert_eq!(core.poll_decoded_frame(), None);
}

#[test]
fn bridged_frames_are_encoded_in_our_codec_inside_our_own_stream() {
    let mut core = SessionCore::new(
        Negotiated {
            codec: Codec::Pcma,
            codec_payload_type: 8,
            ..negotiated(Some(101))
        },
        true,
        ORIGIN,
        Arc::new(MediaCounters::default()),
    );
    core.start_sending();
    let (_, before, _) = frame(&mut core).unwrap();
    core.connect_bridge();
    assert!(core.is_bridged());
    core.push_bridged_frame(ramp(-2000));
    let (_, _, waiting) = frame(&mut core).unwrap();
    assert_eq!(
        waiting,
        vec![g711::ALAW_SILENCE; 160],
        "silence until prefilled"
    );
    core.push_bridged_frame(ramp(2000));
    let packets: Vec<_> = (0..3).map(|_| frame(&mut core).unwrap()).collect();
    let decoded = |payload: &[u8]| -> Vec<i16> {
        payload
            .iter()
            .map(|&code| g711::alaw_to_linear(code))
            .collect()
    };
    assert_eq!(
        decoded(&packets[0].2),
        g711_round_trip(Codec::Pcma, &ramp(-2000))
    );
    assert_eq!(
        decoded(&packets[1].2),
        g711_round_trip(Codec::Pcma, &ramp(2000))
    );
    assert_eq!(
        packets[2].2,
        vec![g711::ALAW_SILENCE; 160],
        "ran dry: silence"
    );
    for (index, (_, header, _)) in packets.iter().enumerate() {
        assert_eq!((header.ssrc, header.payload_type), (ORIGIN.ssrc, 8));
        assert_eq!(
            header.sequence_number,
            before.sequence_number.wrapping_add(2 + index as u16)
        );
        assert_eq!(
            header.timestamp,
            before.timestamp.wrapping_add(160 * (2 + index as u32))
        );
    }
    core.push_bridged_frame(ramp(0));
    core.push_bridged_frame(ramp(0));
    core.disconnect_bridge();
    core.push_bridged_frame(ramp(0));
    let (_, _, after) = frame(&mut core).unwrap();
    assert_eq!(
        after,
        vec![g711::ALAW_SILENCE; 160],
        "disconnected: our own silence"
    );
}

#[test]
fn a_prompt_played_while_bridged_is_mixed_over_the_other_leg() {
    let mut core = core();
    core.start_sending();
    core.connect_bridge();
    core.push_bridged_frame([1000; FRAME_SAMPLES]);
    core.push_bridged_frame([1000; FRAME_SAMPLES]);
    core.play(4, Arc::new(Prompt::from_samples(vec![-3000; 80])));
    let (_, _, payload) = frame(&mut core).unwrap();
    let decoded: Vec<i16> = payload.iter().map(|&c| g711::ulaw_to_linear(c)).collect();
    let mixed = g711::ulaw_to_linear(g711::linear_to_ulaw(-2000));
    let bridged = g711::ulaw_to_linear(g711::linear_to_ulaw(1000));
    assert!(
        decoded[..80].iter().all(|&s| s == mixed),
        "{:?}",
        &decoded[..4]
    );
    assert!(decoded[80..].iter().all(|&s| s == bridged));
    assert_eq!(
        events(&mut core),
        vec![MediaEvent::PlayFinished {
            id: 4,
            completed: true
        }]
    );
}

#[test]
fn forwarded_digits_become_events_without_completion_reports() {
    let mut core = core();
    core.start_sending();
    core.forward_digit('5');
    core.forward_digit('x'); // not DTMF: ignored
    let packets: Vec<_> = (0..8).map(|_| frame(&mut core).unwrap()).collect();
    let event_packets: Vec<EventReport> = packets
        .iter()
        .filter(|(_, header, _)| header.payload_type == 101)
        .map(|(_, _, payload)| EventReport::from_bytes(payload[..4].try_into().unwrap()))
        .collect();
    assert_eq!(
        event_packets.len(),
        7,
        "one digit: 7 event packets, then audio"
    );
    assert_eq!(packets[7].1.payload_type, 0);
    assert!(event_packets.iter().all(|report| report.event == 5));
    assert!(packets[0].1.marker);
    assert!(
        events(&mut core).is_empty(),
        "no DtmfFinished for forwarded digits"
    );

    let mut plain = SessionCore::new(
        negotiated(None),
        true,
        ORIGIN,
        Arc::new(MediaCounters::default()),
    );
    plain.start_sending();
    plain.forward_digit('5');
    assert!(!plain.telephone_event_negotiated());
    assert_eq!(
        frame(&mut plain).unwrap().1.payload_type,
        0,
        "no telephone-event: audio"
    );
}

#[test]
fn events_with_our_own_payload_type_number_are_accepted_too() {
    // We offered telephone-event as 101, the answer said 96: the peer may send either.
    let mut core = SessionCore::new(
        Negotiated {
            telephone_event_payload_type: Some(96),
            ..negotiated(Some(101))
        },
        true,
        ORIGIN,
        Arc::new(MediaCounters::default()),
    );
    let source: SocketAddr = REMOTE.parse().unwrap();
    let report = |event| EventReport {
        event,
        end: false,
        volume: 10,
        duration: 160,
    };
    core.on_datagram(source, &event_datagram(1, 0, true, report(3), 9));
    let mut with_96 = event_datagram(2, 8000, true, report(4), 9);
    with_96[1] = 96;
    core.on_datagram(source, &with_96);
    assert_eq!(
        events(&mut core),
        vec![
            MediaEvent::Dtmf { digit: '3' },
            MediaEvent::Dtmf { digit: '4' }
        ]
    );
    core.start_sending();
    core.forward_digit('1');
    assert_eq!(
        frame(&mut core).unwrap().1.payload_type,
        96,
        "we send with the peer's number"
    );
}

/// 20 ms frames of the DTMF tone pair (`low`, `high` Hz) for `frames` frames,
/// then `gap` frames of silence.
fn keyed(low: f32, high: f32, frames: usize, gap: usize) -> Vec<[i16; FRAME_SAMPLES]> {
    let mut out = Vec::new();
    for frame in 0..frames + gap {
        out.push(std::array::from_fn(|n| {
            if frame >= frames {
                return 0;
            }
            let t = (frame * FRAME_SAMPLES + n) as f32 / 8000.0;
            let tau = 2.0 * std::f32::consts::PI;
            (5000.0 * (tau * low * t).sin() + 5000.0 * (tau * high * t).sin()) as i16
        }));
    }
    out
}

#[test]
fn digits_keyed_in_band_become_dtmf_events() {
    let mut core = core();
    let source: SocketAddr = REMOTE.parse().unwrap();
    let mut frames = keyed(770.0, 1336.0, 4, 4); // 5
    frames.extend(keyed(941.0, 1477.0, 4, 4)); // #
    for (sequence, samples) in frames.iter().enumerate() {
        core.on_datagram(
            source,
            &audio_datagram(Codec::Pcmu, sequence as u16, samples),
        );
    }
    assert_eq!(
        events(&mut core),
        vec![
            MediaEvent::Dtmf { digit: '5' },
            MediaEvent::Dtmf { digit: '#' }
        ]
    );
    assert_eq!(core.counters.snapshot().dtmf_digits_received, 2);
}

#[test]
fn a_key_sent_both_in_band_and_as_events_is_reported_once() {
    let mut core = core();
    let source: SocketAddr = REMOTE.parse().unwrap();
    // The sender keys 9 as tones and as RFC 4733 events at the same time, twice.
    let mut sequence = 0u16;
    for press in 0..2u32 {
        for (index, samples) in keyed(852.0, 1477.0, 5, 5).iter().enumerate() {
            core.on_datagram(source, &audio_datagram(Codec::Pcmu, sequence, samples));
            sequence += 1;
            if index < 5 {
                let report = EventReport {
                    event: 9,
                    end: index == 4,
                    volume: 10,
                    duration: 160 * (index as u16 + 1),
                };
                let timestamp = 8000 * press;
                core.on_datagram(
                    source,
                    &event_datagram(1000 + sequence, timestamp, index == 0, report, 0x5EED),
                );
            }
        }
    }
    assert_eq!(
        events(&mut core),
        vec![
            MediaEvent::Dtmf { digit: '9' },
            MediaEvent::Dtmf { digit: '9' }
        ]
    );
}

#[test]
fn without_telephone_event_digits_are_sent_as_tones() {
    let mut core = SessionCore::new(
        negotiated(None),
        true,
        ORIGIN,
        Arc::new(MediaCounters::default()),
    );
    core.start_sending();
    core.send_dtmf(9, parse_digits("2#,7").expect("digits"));
    let mut detector = InbandDtmfDetector::new();
    let mut heard = String::new();
    for _ in 0..150 {
        let Some((_, header, payload)) = frame(&mut core) else {
            panic!("a frame is sent every 20 ms");
        };
        assert_eq!(header.payload_type, 0, "only audio (PCMU) goes out");
        let samples: Vec<i16> = payload
            .iter()
            .map(|&code| g711::ulaw_to_linear(code))
            .collect();
        heard.extend(detector.push(&samples));
    }
    assert_eq!(heard, "2#7");
    assert!(events(&mut core).contains(&MediaEvent::DtmfFinished {
        id: 9,
        completed: true
    }));
}
