//! Unit tests for [`super::SessionCore`] with the stateful codecs: G.722 and Opus streams
//! keep the RFC 3550 numbering on their own RTP clocks, RFC 4733 events follow the codec's
//! clock, and received payloads reach the decoded-frame and in-band DTMF paths.

use super::*;
use crate::codec::{Decoder, Encoder};
use crate::rtp;
use crate::telephone_event::EventReport;
use crate::telephone_event::sender::parse_digits;

const REMOTE: &str = "192.0.2.50:40000";
const ORIGIN: StreamOrigin = StreamOrigin {
    ssrc: 0x0123_4567,
    sequence_number: 100,
    timestamp: u32::MAX - 1000,
};

fn core_with(codec: Codec, payload_type: u8, telephone_event: Option<u8>) -> SessionCore {
    let negotiated = Negotiated::for_test(
        REMOTE.parse().unwrap(),
        codec,
        payload_type,
        telephone_event,
    );
    SessionCore::new(negotiated, true, ORIGIN, Arc::new(MediaCounters::default()))
}

fn frame(core: &mut SessionCore) -> (RtpHeader, Vec<u8>) {
    let (_, bytes) = core.on_frame().expect("a frame is sent");
    let packet = rtp::parse(bytes).expect("core sends valid RTP");
    (packet.header, packet.payload.to_vec())
}

fn tone(frame: usize, frequency: f64) -> [i16; FRAME_SAMPLES] {
    std::array::from_fn(|n| {
        let t = (frame * FRAME_SAMPLES + n) as f64 / 8000.0;
        (8000.0 * (std::f64::consts::TAU * frequency * t).sin()) as i16
    })
}

/// Energy share of `frequency` in `samples` (1.0 for a pure, bin-aligned tone).
fn tone_share(samples: &[i16], frequency: f64) -> f64 {
    let (mut real, mut imaginary, mut energy) = (0.0, 0.0, 0.0);
    for (n, &sample) in samples.iter().enumerate() {
        let x = f64::from(sample);
        let phase = std::f64::consts::TAU * frequency * n as f64 / 8000.0;
        real += x * phase.cos();
        imaginary += x * phase.sin();
        energy += x * x;
    }
    if energy == 0.0 {
        return 0.0;
    }
    2.0 * (real * real + imaginary * imaginary) / (samples.len() as f64 * energy)
}

#[test]
fn each_codec_stream_advances_by_its_own_clock_and_plays_the_prompt() {
    for (codec, payload_type) in [(Codec::G722, 9), (Codec::Opus, 111), (Codec::Pcma, 8)] {
        let mut core = core_with(codec, payload_type, None);
        core.start_sending();
        let prompt: Vec<i16> = (0..50).flat_map(|index| tone(index, 1000.0)).collect();
        core.play(1, Arc::new(Prompt::from_samples(prompt)));
        let mut decoder = Decoder::new(codec);
        let mut heard = Vec::new();
        for index in 0..50u32 {
            let (header, payload) = frame(&mut core);
            assert_eq!(header.payload_type, payload_type);
            assert_eq!(
                header.timestamp,
                ORIGIN
                    .timestamp
                    .wrapping_add(codec.timestamp_increment() * index),
                "{codec:?}"
            );
            assert_eq!(
                header.sequence_number,
                ORIGIN.sequence_number.wrapping_add(index as u16)
            );
            if codec != Codec::Opus {
                assert_eq!(payload.len(), 160, "{codec:?}: 160 octets per 20 ms");
            }
            decoder.decode(&payload, &mut heard).unwrap();
        }
        // After the codecs' start-up, the peer hears the prompt's tone.
        let steady = &heard[2400..8000];
        assert!(
            tone_share(steady, 1000.0) > 0.9,
            "{codec:?}: share {}",
            tone_share(steady, 1000.0)
        );
    }
}

#[test]
fn opus_telephone_events_count_on_the_48_khz_clock() {
    let mut core = core_with(Codec::Opus, 111, Some(101));
    core.start_sending();
    let (first_audio, _) = frame(&mut core);
    core.send_dtmf(1, parse_digits("5").unwrap());
    let mut reports = Vec::new();
    let mut timestamps = Vec::new();
    for _ in 0..7 {
        let (header, payload) = frame(&mut core);
        assert_eq!(header.payload_type, 101);
        timestamps.push(header.timestamp);
        reports.push(EventReport::from_bytes([
            payload[0], payload[1], payload[2], payload[3],
        ]));
    }
    let start = first_audio.timestamp.wrapping_add(960);
    assert!(timestamps.iter().all(|&timestamp| timestamp == start));
    let durations: Vec<u16> = reports.iter().map(|report| report.duration).collect();
    assert_eq!(durations, vec![960, 1920, 2880, 3840, 4800, 4800, 4800]);
    let (audio, _) = frame(&mut core);
    assert_eq!(audio.payload_type, 111);
    assert_eq!(audio.timestamp, start.wrapping_add(7 * 960));
}

fn datagram(payload_type: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let header = RtpHeader {
        marker: false,
        payload_type,
        sequence_number: sequence,
        timestamp,
        ssrc: 0x5EED,
    };
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn received_g722_and_opus_become_8_khz_frames_and_in_band_digits() {
    let source: SocketAddr = REMOTE.parse().unwrap();
    for (codec, payload_type) in [(Codec::G722, 9), (Codec::Opus, 111)] {
        let mut core = core_with(codec, payload_type, None);
        core.set_decoding(true);
        let mut encoder = Encoder::new(codec);
        let mut payload = [0u8; crate::codec::MAX_PAYLOAD_LENGTH];
        // 30 frames of a 1 kHz tone, then the DTMF digit 5 (770 + 1336 Hz) for 100 ms.
        let frames: Vec<[i16; FRAME_SAMPLES]> = (0..30)
            .map(|index| tone(index, 1000.0))
            .chain((30..35).map(|index| {
                let low = tone(index, 770.0);
                let high = tone(index, 1336.0);
                std::array::from_fn(|n| low[n] / 3 + high[n] / 3)
            }))
            .chain((35..45).map(|_| [0; FRAME_SAMPLES]))
            .collect();
        let mut decoded = Vec::new();
        for (index, samples) in frames.iter().enumerate() {
            let length = encoder.encode(samples, &mut payload).unwrap();
            let timestamp = codec.timestamp_increment() * index as u32;
            core.on_datagram(
                source,
                &datagram(payload_type, index as u16, timestamp, &payload[..length]),
            );
            decoded.extend(std::iter::from_fn(|| core.poll_decoded_frame()).flatten());
        }
        assert!(
            decoded.len() >= 40 * FRAME_SAMPLES,
            "{codec:?}: {} samples",
            decoded.len()
        );
        assert!(tone_share(&decoded[1600..4000], 1000.0) > 0.9, "{codec:?}");
        let digits: Vec<MediaEvent> = std::iter::from_fn(|| core.poll_event()).collect();
        assert_eq!(
            digits,
            vec![MediaEvent::Dtmf { digit: '5' }],
            "{codec:?}: the digit keyed in band is heard through the codec"
        );
        assert_eq!(core.counters.snapshot().packets_received, 45);
    }
}

#[test]
fn renegotiating_to_another_codec_replaces_encoder_and_clock_step() {
    let mut core = core_with(Codec::Pcmu, 0, Some(101));
    core.start_sending();
    let (first, _) = frame(&mut core);
    let mut negotiated = core.negotiated.clone();
    negotiated.codec = Codec::Opus;
    negotiated.codec_payload_type = 96;
    core.update(negotiated);
    let (second, opus_payload) = frame(&mut core);
    let (third, _) = frame(&mut core);
    assert_eq!(second.payload_type, 96);
    assert_eq!(second.timestamp, first.timestamp.wrapping_add(160));
    assert_eq!(third.timestamp, second.timestamp.wrapping_add(960));
    assert!(opus_payload.len() < 160, "an Opus packet, not G.711");
    let mut samples = Vec::new();
    Decoder::new(Codec::Opus)
        .decode(&opus_payload, &mut samples)
        .expect("the new encoder writes Opus");
    assert_eq!(samples.len(), FRAME_SAMPLES);
}
