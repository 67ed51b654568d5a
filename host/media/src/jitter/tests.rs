//! Jitter buffer tests: synthetic PCMU streams whose packets carry their index in every code
//! byte, so each output frame can be traced back to the packet it came from.

use super::*;
use crate::g711;
use crate::session::reception::ReceptionStatistics;

const SSRC: u32 = 0x1234;
const FRAME: u32 = FRAME_SAMPLES as u32;

/// The μ-law code carrying packet `index` (loud, never the two zero codes).
fn code(index: u32) -> u8 {
    0x10 + (index % 100) as u8
}

fn packet(index: u32, samples: usize) -> Vec<u8> {
    vec![code(index); samples]
}

/// Which packet a decoded sample came from (None: silence).
fn source_of(sample: i16) -> Option<u32> {
    if sample == 0 {
        return None;
    }
    let code = g711::linear_to_ulaw(sample);
    // Concealment (a repeat at half level) does not decode to a packet's exact value.
    let exact = g711::ulaw_to_linear(code) == sample;
    (exact && (0x10..0x10 + 100).contains(&code)).then(|| u32::from(code - 0x10))
}

/// The packet a whole frame came from; panics if the frame mixes sources.
fn frame_source(frame: &AudioFrame) -> Option<u32> {
    let first = source_of(frame[0]);
    assert!(
        frame.iter().all(|&sample| source_of(sample) == first),
        "frame mixes packets: {:?}",
        frame.iter().map(|&s| source_of(s)).collect::<Vec<_>>()
    );
    first
}

fn setup() -> (JitterBuffer, Decoder) {
    (JitterBuffer::new(Codec::Pcmu), Decoder::new(Codec::Pcmu))
}

fn push(buffer: &mut JitterBuffer, index: u32) -> PushOutcome {
    buffer.push(
        SSRC,
        5_000 + index * FRAME,
        &packet(index, FRAME_SAMPLES),
        false,
        0,
    )
}

#[test]
fn an_in_order_stream_plays_after_the_initial_delay() {
    let (mut buffer, mut decoder) = setup();
    assert_eq!(
        buffer.next_frame(&mut decoder),
        None,
        "nothing before a packet"
    );
    let mut played = Vec::new();
    for index in 0..60 {
        let outcome = push(&mut buffer, index);
        let expected = if index == 0 {
            PushOutcome::Restarted
        } else {
            PushOutcome::Buffered
        };
        assert_eq!(outcome, expected);
        played.push(frame_source(&buffer.next_frame(&mut decoder).unwrap()));
    }
    assert_eq!(INITIAL_DELAY, 2);
    assert_eq!(&played[..2], &[None, None], "two frames of delay first");
    let expected: Vec<Option<u32>> = (0..58).map(Some).collect();
    assert_eq!(&played[2..], &expected[..]);
    assert_eq!((buffer.late_packets, buffer.frames_concealed), (0, 0));
    assert_eq!(buffer.delay(), INITIAL_DELAY);
}

#[test]
fn reordered_packets_play_in_order() {
    let (mut buffer, mut decoder) = setup();
    let mut played = Vec::new();
    // Arrival order 1, 0, 3, 2, 5, 4, …
    for position in 0..60u32 {
        let index = position ^ 1;
        push(&mut buffer, index);
        played.extend(frame_source(&buffer.next_frame(&mut decoder).unwrap()));
    }
    let expected: Vec<u32> = (0..played.len() as u32).collect();
    assert_eq!(played, expected);
    assert!(played.len() >= 56);
    assert_eq!((buffer.late_packets, buffer.frames_concealed), (0, 0));
}

/// Pseudo-random numbers in [0, 1) (a fixed LCG, so the test is repeatable).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Run a stream through the buffer on a simulated clock: packet `n` is sent at `n` × 20 ms
/// and arrives `transit(n)` ms later; ticks come every 20 ms (7 ms out of phase). Returns the
/// packet index of each non-silent frame, and the delay and late count at each second.
fn simulate(
    buffer: &mut JitterBuffer,
    decoder: &mut Decoder,
    packets: u32,
    mut transit: impl FnMut(u32) -> f64,
) -> (Vec<u32>, Vec<(u32, u64)>) {
    let mut statistics = ReceptionStatistics::default();
    let mut arrivals: Vec<(f64, u32)> = (0..packets)
        .map(|index| (f64::from(index) * 20.0 + transit(index), index))
        .collect();
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut next = 0;
    let (mut played, mut seconds) = (Vec::new(), Vec::new());
    for tick in 0..packets {
        let now = f64::from(tick) * 20.0 + 7.0;
        while next < arrivals.len() && arrivals[next].0 <= now {
            let (arrival, index) = arrivals[next];
            let timestamp = 5_000 + index * FRAME;
            let timing = Some((timestamp, (arrival * 8.0) as u32));
            statistics.on_packet_at(SSRC, index as u16, timing);
            let payload = packet(index, FRAME_SAMPLES);
            buffer.push(SSRC, timestamp, &payload, false, statistics.jitter());
            next += 1;
        }
        if let Some(frame) = buffer.next_frame(decoder) {
            played.extend(frame_source(&frame));
        }
        if tick % 50 == 49 {
            seconds.push((buffer.delay(), buffer.late_packets));
        }
    }
    (played, seconds)
}

#[test]
fn jitter_grows_the_delay_until_nothing_is_late_then_it_shrinks_back() {
    let (mut buffer, mut decoder) = setup();
    let mut random = Random(7);
    // 30 s with ±30 ms of jitter (0-60 ms transit), then 15 s without.
    let (played, seconds) = simulate(&mut buffer, &mut decoder, 2250, |index| {
        if index < 1500 {
            random.next() * 60.0
        } else {
            30.0
        }
    });
    // Indices wrap at 100: each frame is a little after the previous one, never before.
    let in_order = played
        .windows(2)
        .all(|pair| (1..=20).contains(&((pair[1] + 100 - pair[0]) % 100)));
    assert!(in_order, "in order");
    let (delay_at_15, late_at_15) = seconds[14];
    // The A.8 estimate raises the target within the first second, before much is late.
    let (_, late_at_2) = seconds[1];
    assert!(late_at_15 <= late_at_2 + 1, "{seconds:?}");
    assert!(
        delay_at_15 >= 4,
        "±30 ms needs ≥ 80 ms, got {delay_at_15} frames: {seconds:?}"
    );
    let (_, late_at_30) = seconds[29];
    assert_eq!(
        late_at_30, late_at_2,
        "no late packet once adapted: {seconds:?}"
    );
    let settled = seconds[30..]
        .iter()
        .position(|&(delay, _)| delay <= 2)
        .expect("the delay shrinks back");
    assert!(
        settled <= 12,
        "back to ≤ 40 ms within 12 s (took {settled} s): {seconds:?}"
    );
    assert_eq!(buffer.late_packets, late_at_2);
    assert!(buffer.target_delay_micros() <= 40_000);
    assert!(played.len() > 2_000, "almost every packet played");
}

#[test]
fn a_late_packet_grows_the_delay_at_once() {
    let (mut buffer, mut decoder) = setup();
    let mut played = Vec::new();
    // A steady stream, then a 100 ms stall: packets 30-34 arrive together at tick 35 and
    // everything after keeps that extra 100 ms of transit.
    for tick in 0..300u32 {
        let arriving: Vec<u32> = match tick {
            0..30 => vec![tick],
            30..35 => vec![],
            35 => (30..=35).collect(),
            _ => vec![tick],
        };
        for index in arriving {
            push(&mut buffer, index);
        }
        played.extend(frame_source(&buffer.next_frame(&mut decoder).unwrap()));
        if tick == 36 {
            assert!(buffer.late_packets > 0);
            assert!(
                buffer.target_delay() >= 5,
                "target {}",
                buffer.target_delay()
            );
        }
    }
    let late = buffer.late_packets;
    assert!(late <= 3, "only packets of the stall are late: {late}");
    assert!(
        buffer.delay() >= 4,
        "the delay stays up: {}",
        buffer.delay()
    );
    let in_order = played
        .windows(2)
        .all(|pair| (1..=20).contains(&((pair[1] + 100 - pair[0]) % 100)));
    assert!(in_order);
    // Every packet after the stall played.
    assert!(played.len() >= 300 - 2 - 3 - 10, "played {}", played.len());
}

#[test]
fn a_lost_packet_is_concealed_and_the_stream_stays_in_step() {
    let (mut buffer, mut decoder) = setup();
    let mut played = Vec::new();
    for index in 0..40 {
        if index != 10 {
            push(&mut buffer, index);
        }
        let frame = buffer.next_frame(&mut decoder).unwrap();
        played.push(if index == 12 {
            None
        } else {
            frame_source(&frame)
        });
        if index == 12 {
            // The concealed frame repeats packet 9 at half level.
            let previous = g711::ulaw_to_linear(code(9));
            assert!(frame.iter().all(|&sample| sample == previous / 2));
        }
    }
    assert_eq!(buffer.frames_concealed, 1);
    for (tick, source) in played.iter().enumerate().skip(2) {
        if tick != 12 {
            assert_eq!(*source, Some(tick as u32 - 2), "tick {tick}");
        }
    }
    // The lost packet arriving now is late, not played.
    assert_eq!(push(&mut buffer, 10), PushOutcome::Late);
}

#[test]
fn thirty_millisecond_packets_are_cut_into_frames() {
    let (mut buffer, mut decoder) = setup();
    let mut samples = Vec::new();
    // 30 ms packets arrive every 30 ms: three packets per 90 ms, 4.5 ticks.
    let mut next_packet = 0u32;
    for tick in 0..60u32 {
        while next_packet * 30 <= tick * 20 {
            buffer.push(
                SSRC,
                9_000 + next_packet * 240,
                &packet(next_packet, 240),
                false,
                0,
            );
            next_packet += 1;
        }
        samples.extend(buffer.next_frame(&mut decoder).unwrap());
    }
    let start = samples.iter().position(|&sample| sample != 0).unwrap();
    assert_eq!(start, 2 * FRAME_SAMPLES, "after the initial delay");
    let sources: Vec<u32> = samples[start..]
        .iter()
        .map(|&s| source_of(s).unwrap())
        .collect();
    for (offset, source) in sources.iter().enumerate() {
        assert_eq!(*source, offset as u32 / 240, "sample {offset}");
    }
    assert_eq!(buffer.frames_concealed, 0);
}

#[test]
fn a_new_ssrc_restarts_playout() {
    let (mut buffer, mut decoder) = setup();
    for index in 0..10 {
        push(&mut buffer, index);
        buffer.next_frame(&mut decoder);
    }
    // A new source with unrelated timestamps, while packets 8 and 9 still wait.
    let new_ssrc = |index: u32| 50 + index;
    let outcome = buffer.push(77, 1_000_000, &packet(new_ssrc(0), FRAME_SAMPLES), false, 0);
    assert_eq!(outcome, PushOutcome::Restarted);
    assert!(buffer.len() == 1, "the old source's packets are gone");
    let mut played = Vec::new();
    for index in 1..20 {
        played.push(frame_source(&buffer.next_frame(&mut decoder).unwrap()));
        buffer.push(
            77,
            1_000_000 + index * FRAME,
            &packet(new_ssrc(index), FRAME_SAMPLES),
            false,
            0,
        );
    }
    assert_eq!(&played[..2], &[None, None]);
    let expected: Vec<Option<u32>> = (0..17).map(|index| Some(new_ssrc(index))).collect();
    assert_eq!(&played[2..], &expected[..]);
    assert_eq!(buffer.late_packets, 0);
}

#[test]
fn duplicates_are_dropped_without_counting_as_late() {
    let (mut buffer, mut decoder) = setup();
    push(&mut buffer, 0);
    assert_eq!(push(&mut buffer, 0), PushOutcome::Duplicate);
    for _ in 0..3 {
        buffer.next_frame(&mut decoder);
    }
    assert_eq!(push(&mut buffer, 1), PushOutcome::Buffered);
    assert_eq!(
        push(&mut buffer, 0),
        PushOutcome::Duplicate,
        "already played"
    );
    assert_eq!(buffer.late_packets, 0);
}

#[test]
fn memory_stays_bounded() {
    let (mut buffer, mut decoder) = setup();
    // 2.5 ms packets (20 samples) for 400 ms without a tick, then a flood of far-future ones.
    for index in 0..160u32 {
        buffer.push(SSRC, index * 20, &packet(index, 20), false, 0);
        assert!(buffer.len() <= MAX_PACKETS);
    }
    assert!(buffer.packets_discarded > 0);
    for index in 0..1_000u32 {
        buffer.push(SSRC, index.wrapping_mul(7_919_111), &[0xFF; 160], false, 0);
        assert!(buffer.len() <= MAX_PACKETS);
        if index % 10 == 0 {
            buffer.next_frame(&mut decoder);
        }
    }
}

#[test]
fn talkspurts_after_comfort_noise_restart_at_the_target_delay() {
    let (mut buffer, mut decoder) = setup();
    for index in 0..10 {
        push(&mut buffer, index);
        buffer.next_frame(&mut decoder);
    }
    // Comfort noise, then the peer stays silent for a second (VAD), then speaks again.
    buffer.push(SSRC, 5_000 + 10 * FRAME, &[40], true, 0);
    for _ in 0..50 {
        let frame = buffer.next_frame(&mut decoder);
        assert!(
            frame.is_none_or(
                |frame| frame_source(&frame).is_none() || frame_source(&frame) < Some(10)
            )
        );
    }
    let concealed = buffer.frames_concealed;
    assert_eq!(
        concealed, 0,
        "silence after comfort noise is not concealment"
    );
    let outcome = push(&mut buffer, 70);
    assert_eq!(outcome, PushOutcome::Restarted);
    let mut played = Vec::new();
    for index in 71..80 {
        played.push(frame_source(&buffer.next_frame(&mut decoder).unwrap()));
        push(&mut buffer, index);
    }
    let delay = buffer.delay() as usize;
    assert!(played[..delay].iter().all(Option::is_none));
    assert_eq!(played[delay], Some(70));
}

#[test]
fn opus_losses_are_concealed_by_the_codec() {
    use crate::codec::Encoder;
    let mut encoder = Encoder::new(Codec::Opus);
    let mut buffer = JitterBuffer::new(Codec::Opus);
    let mut decoder = Decoder::new(Codec::Opus);
    let mut concealed_energy = None;
    for index in 0..30u32 {
        let tone: AudioFrame = std::array::from_fn(|n| {
            let t = (index as usize * FRAME_SAMPLES + n) as f32 / 8000.0;
            (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16
        });
        let mut payload = [0u8; 400];
        let length = encoder.encode(&tone, &mut payload).expect("encode");
        if index != 20 {
            buffer.push(SSRC, index * 960, &payload[..length], false, 0);
        }
        let frame = buffer.next_frame(&mut decoder).expect("playing");
        if index == 22 {
            // Packet 20's slot (two frames of delay): libopus extrapolates the tone.
            let energy: f64 = frame.iter().map(|&s| f64::from(s).powi(2)).sum();
            concealed_energy = Some(energy / FRAME_SAMPLES as f64);
        }
    }
    assert_eq!(buffer.frames_concealed, 1);
    let energy = concealed_energy.unwrap();
    assert!(
        energy.sqrt() > 500.0,
        "PLC continues the tone, RMS {}",
        energy.sqrt()
    );
}
