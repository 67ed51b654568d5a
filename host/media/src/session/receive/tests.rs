//! The receive path of a [`SessionCore`] with the jitter buffer: arrival-time jitter,
//! playout order, digits heard both ways once, and nothing buffered before sending starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::Codec;
use crate::g711;
use crate::rtp::RtpHeader;
use crate::sdp::Negotiated;
use crate::session::{FRAME_SAMPLES, MediaCounters, MediaEvent, SessionCore, StreamOrigin};
use crate::telephone_event::EventReport;

const REMOTE: &str = "192.0.2.50:40000";
const ORIGIN: StreamOrigin = StreamOrigin {
    ssrc: 1,
    sequence_number: 1,
    timestamp: 1,
};

fn core() -> SessionCore {
    let negotiated = Negotiated::for_test(REMOTE.parse().unwrap(), Codec::Pcmu, 0, Some(101));
    SessionCore::new(negotiated, true, ORIGIN, Arc::new(MediaCounters::default()))
}

fn source() -> SocketAddr {
    REMOTE.parse().unwrap()
}

fn header(payload_type: u8, sequence: u16, timestamp: u32, marker: bool) -> Vec<u8> {
    let header = RtpHeader {
        marker,
        payload_type,
        sequence_number: sequence,
        timestamp,
        ssrc: 0x5EED,
    };
    header.to_bytes().to_vec()
}

/// Packet `index` of a PCMU stream whose every byte is the same code.
fn coded(index: u16, code: u8) -> Vec<u8> {
    let mut datagram = header(0, index, 160 * u32::from(index), false);
    datagram.extend_from_slice(&[code; FRAME_SAMPLES]);
    datagram
}

fn audio(index: u16, samples: &[i16; FRAME_SAMPLES]) -> Vec<u8> {
    let mut datagram = header(0, index, 160 * u32::from(index), false);
    let mut payload = [0u8; FRAME_SAMPLES];
    g711::encode_ulaw(samples, &mut payload);
    datagram.extend_from_slice(&payload);
    datagram
}

#[test]
fn arrival_times_give_the_interarrival_jitter() {
    let mut core = core();
    // Every other packet 2 ms late: |D| = 2 ms each time, so J converges on 2 ms.
    for index in 0..300u16 {
        let late = if index % 2 == 1 { 2_000 } else { 0 };
        let arrival = Duration::from_micros(u64::from(index) * 20_000 + late);
        core.on_datagram_at(arrival, source(), &coded(index, 0x20));
    }
    let jitter = core.counters.snapshot().jitter_micros;
    assert!((1_800..=2_000).contains(&jitter), "{jitter} µs");
}

#[test]
fn once_sending_audio_plays_out_in_timestamp_order_on_the_frame_clock() {
    let mut core = core();
    core.set_decoding(true);
    core.start_sending();
    let mut heard = Vec::new();
    // Arrival order 1, 0, 3, 2, …: one packet per frame tick.
    for position in 0..40u16 {
        let index = position ^ 1;
        core.on_datagram(source(), &coded(index, 0x10 + index as u8));
        assert!(core.on_frame().is_some());
        while let Some(frame) = core.poll_decoded_frame() {
            if frame == [0; FRAME_SAMPLES] {
                // Silence: the initial delay, or the delay growing with the jitter seen.
                continue;
            }
            let code = g711::linear_to_ulaw(frame[0]);
            assert!(
                frame.iter().all(|&sample| sample == frame[0]),
                "whole packets"
            );
            heard.push(code - 0x10);
        }
    }
    let expected: Vec<u8> = (0..heard.len() as u8).collect();
    assert_eq!(heard, expected);
    assert!(heard.len() >= 30, "{heard:?}");
    let stats = core.counters.snapshot();
    assert_eq!((stats.late_packets_dropped, stats.frames_concealed), (0, 0));
    assert_eq!(stats.packets_out_of_order, 20);
    assert!(stats.playout_delay_micros >= 20_000);
}

#[test]
fn nothing_is_buffered_before_sending_starts() {
    let mut core = core();
    for index in 0..1_000u16 {
        core.on_datagram(source(), &coded(index, 0x30));
    }
    assert!(core.jitter.is_empty());
    assert_eq!(core.counters.snapshot().packets_received, 1_000);
}

/// 20 ms frames of the DTMF tone pair (`low`, `high` Hz), then `gap` frames of silence.
fn keyed(low: f32, high: f32, frames: usize, gap: usize) -> Vec<[i16; FRAME_SAMPLES]> {
    (0..frames + gap)
        .map(|frame| {
            std::array::from_fn(|n| {
                if frame >= frames {
                    return 0;
                }
                let t = (frame * FRAME_SAMPLES + n) as f32 / 8000.0;
                let tau = 2.0 * std::f32::consts::PI;
                (5000.0 * (tau * low * t).sin() + 5000.0 * (tau * high * t).sin()) as i16
            })
        })
        .collect()
}

#[test]
fn a_key_sent_both_ways_is_reported_once_despite_the_playout_delay() {
    let mut core = core();
    core.start_sending();
    let mut sequence = 0u16;
    for press in 0..3u32 {
        for (index, samples) in keyed(852.0, 1477.0, 5, 10).iter().enumerate() {
            core.on_datagram(source(), &audio(sequence, samples));
            if index < 5 {
                let report = EventReport {
                    event: 9,
                    end: index == 4,
                    volume: 10,
                    duration: 160 * (index as u16 + 1),
                };
                let mut datagram = header(101, 5_000 + sequence, 8_000 * press, index == 0);
                datagram.extend_from_slice(&report.to_bytes());
                core.on_datagram(source(), &datagram);
            }
            sequence += 1;
            core.on_frame();
        }
    }
    for _ in 0..20 {
        core.on_frame();
    }
    let digits: Vec<MediaEvent> = std::iter::from_fn(|| core.poll_event()).collect();
    assert_eq!(digits, vec![MediaEvent::Dtmf { digit: '9' }; 3]);
    assert_eq!(core.counters.snapshot().dtmf_digits_received, 3);
}
