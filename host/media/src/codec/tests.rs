use super::*;

#[test]
fn rtpmap_and_static_lookups_agree() {
    for codec in Codec::ALL {
        if let Some(payload_type) = codec.static_payload_type() {
            assert_eq!(Codec::from_static_payload_type(payload_type), Some(codec));
            assert_eq!(codec.default_payload_type(), payload_type);
        }
        assert_eq!(
            Codec::from_rtpmap(
                &codec.encoding_name().to_lowercase(),
                codec.clock_rate(),
                codec.rtpmap_channels()
            ),
            Some(codec)
        );
        assert_eq!(
            Codec::from_rtpmap(codec.encoding_name(), codec.clock_rate(), None),
            Some(codec),
            "a missing channel count is tolerated"
        );
        assert_eq!(
            Codec::from_rtpmap(codec.encoding_name(), 16_000, None),
            None
        );
    }
    assert_eq!(Codec::from_static_payload_type(9), Some(Codec::G722));
    assert_eq!(Codec::from_static_payload_type(18), None);
    assert_eq!(Codec::from_rtpmap("G729", 8000, None), None);
    assert_eq!(
        Codec::from_rtpmap("G722", 16_000, None),
        None,
        "RFC 3551: 8000"
    );
    assert_eq!(
        Codec::from_rtpmap("OPUS", 48_000, Some(2)),
        Some(Codec::Opus)
    );
    assert_eq!(
        Codec::from_rtpmap("opus", 48_000, Some(1)),
        None,
        "RFC 7587: /2"
    );
    assert_eq!(Codec::from_rtpmap("PCMU", 8000, Some(2)), None);
    assert_eq!(Codec::Opus.default_payload_type(), OPUS_PAYLOAD_TYPE);
    let increments: Vec<u32> = Codec::ALL.map(Codec::timestamp_increment).to_vec();
    assert_eq!(increments, vec![160, 160, 160, 960]);
}

#[test]
fn applications_can_name_codecs_loosely() {
    for name in [
        "PCMU",
        "pcmu",
        "G711U",
        "g711u",
        "G.711u",
        "G.711 µ-law",
        "ulaw",
        "MULAW",
    ] {
        assert_eq!(Codec::from_name(name), Some(Codec::Pcmu), "{name}");
    }
    for name in ["PCMA", "Pcma", "G711A", "g.711a", "G711_ALAW", "alaw"] {
        assert_eq!(Codec::from_name(name), Some(Codec::Pcma), "{name}");
    }
    for name in ["G722", "g722", "G.722"] {
        assert_eq!(Codec::from_name(name), Some(Codec::G722), "{name}");
    }
    for name in ["OPUS", "opus", "Opus"] {
        assert_eq!(Codec::from_name(name), Some(Codec::Opus), "{name}");
    }
    for name in ["", "G729", "PCM", "G711", "G7221", "speex"] {
        assert_eq!(Codec::from_name(name), None, "{name}");
    }
}

/// 8 kHz frames of a sine tone.
fn tone_frames(frequency: f64, amplitude: f64, frames: usize) -> Vec<[i16; FRAME_SAMPLES]> {
    (0..frames)
        .map(|frame| {
            std::array::from_fn(|n| {
                let t = (frame * FRAME_SAMPLES + n) as f64 / 8000.0;
                (amplitude * (2.0 * std::f64::consts::PI * frequency * t).sin()) as i16
            })
        })
        .collect()
}

/// Encode `frames` with `codec` and decode them again; returns the payload sizes and the
/// decoded 8 kHz audio.
fn round_trip(codec: Codec, frames: &[[i16; FRAME_SAMPLES]]) -> (Vec<usize>, Vec<i16>) {
    let mut encoder = Encoder::new(codec);
    let mut decoder = Decoder::new(codec);
    assert_eq!((encoder.codec(), decoder.codec()), (codec, codec));
    let mut payload = [0u8; MAX_PAYLOAD_LENGTH];
    let mut sizes = Vec::new();
    let mut decoded = Vec::new();
    for frame in frames {
        let length = encoder.encode(frame, &mut payload).expect("encodes");
        sizes.push(length);
        decoder
            .decode(&payload[..length], &mut decoded)
            .expect("decodes");
    }
    (sizes, decoded)
}

/// Signal-to-noise ratio in dB of `decoded` against `reference` delayed by the lag (searched
/// over 0..400 samples) that matches best, over the steady middle of the signal; also the lag.
fn snr_db(reference: &[i16], decoded: &[i16]) -> (f64, usize) {
    let (start, end) = (2000, reference.len().min(decoded.len()) - 400);
    let mut best = (f64::MIN, 0);
    for lag in 0..400 {
        let (mut signal, mut noise) = (0.0f64, 0.0f64);
        for n in start..end {
            let wanted = f64::from(reference[n - lag.min(n)]);
            let error = f64::from(decoded[n]) - wanted;
            signal += wanted * wanted;
            noise += error * error;
        }
        let snr = 10.0 * (signal / noise.max(1.0)).log10();
        if snr > best.0 {
            best = (snr, lag);
        }
    }
    best
}

#[test]
fn g711_payloads_are_160_octets_and_bit_exact() {
    let frames = tone_frames(1000.0, 8000.0, 5);
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let (sizes, decoded) = round_trip(codec, &frames);
        assert!(sizes.iter().all(|&size| size == 160));
        let flat: Vec<i16> = frames.concat();
        let expected: Vec<i16> = flat
            .iter()
            .map(|&sample| match codec {
                Codec::Pcmu => g711::ulaw_to_linear(g711::linear_to_ulaw(sample)),
                _ => g711::alaw_to_linear(g711::linear_to_alaw(sample)),
            })
            .collect();
        assert_eq!(decoded, expected, "{codec:?}");
    }
    let mut short = [0u8; 100];
    assert_eq!(
        Encoder::new(Codec::Pcmu).encode(&[0; FRAME_SAMPLES], &mut short),
        Err(CodecError::BufferTooSmall {
            needed: 160,
            available: 100
        })
    );
}

#[test]
fn g722_keeps_a_tone_through_a_round_trip() {
    let frames = tone_frames(1000.0, 8000.0, 50);
    let (sizes, decoded) = round_trip(Codec::G722, &frames);
    assert!(
        sizes.iter().all(|&size| size == 160),
        "64 kbit/s: 160 octets per 20 ms"
    );
    assert_eq!(
        decoded.len(),
        50 * FRAME_SAMPLES,
        "one 8 kHz sample per sample in"
    );
    let (snr, _) = snr_db(&frames.concat(), &decoded);
    eprintln!("G.722 round trip of a 1 kHz tone: SNR {snr:.1} dB");
    assert!(snr > 25.0, "SNR {snr:.1} dB");

    // A sweep has one best lag (a tone repeats every period): the edge delay is small.
    let sweep: Vec<[i16; FRAME_SAMPLES]> = (0..50)
        .map(|frame| {
            std::array::from_fn(|n| {
                let t = (frame * FRAME_SAMPLES + n) as f64 / 8000.0;
                // 300 Hz rising to 3300 Hz over one second.
                let phase = 2.0 * std::f64::consts::PI * (300.0 * t + 1500.0 * t * t);
                (6000.0 * phase.sin()) as i16
            })
        })
        .collect();
    let (_, decoded) = round_trip(Codec::G722, &sweep);
    let (snr, lag) = snr_db(&sweep.concat(), &decoded);
    eprintln!("G.722 round trip of a sweep: SNR {snr:.1} dB at a delay of {lag} samples");
    assert!(snr > 20.0, "SNR {snr:.1} dB");
    assert!(lag < 240, "delay {lag} samples (< 30 ms)");
}

#[test]
fn g722_decodes_its_own_16_khz_coder_faithfully() {
    // The sub-band coder alone (no resampling): a 16 kHz 1 kHz tone at 64 kbit/s.
    let mut encoder = libg722_encoder();
    let mut decoder = libg722_decoder();
    let wideband: Vec<i16> = (0..16_000)
        .map(|n| {
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 16_000.0).sin()) as i16
        })
        .collect();
    let octets = encoder.encode(&wideband);
    assert_eq!(octets.len(), 8000);
    let decoded = decoder.decode(&octets);
    assert_eq!(decoded.len(), 16_000);
    let (snr, lag) = snr_db(&wideband, &decoded);
    eprintln!("G.722 16 kHz coder: SNR {snr:.1} dB at a delay of {lag} samples");
    assert!(snr > 30.0, "SNR {snr:.1} dB");
}

fn libg722_encoder() -> ezk_g722::libg722::encoder::Encoder {
    ezk_g722::libg722::encoder::Encoder::new(ezk_g722::libg722::Bitrate::Mode1_64000, false, false)
}

fn libg722_decoder() -> ezk_g722::libg722::decoder::Decoder {
    ezk_g722::libg722::decoder::Decoder::new(ezk_g722::libg722::Bitrate::Mode1_64000, false, false)
}

/// Amplitude of `frequency` in 8 kHz `signal` (single-bin DFT).
fn amplitude_at(signal: &[i16], frequency: f64) -> f64 {
    let (mut real, mut imaginary) = (0.0, 0.0);
    for (n, &sample) in signal.iter().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * frequency * n as f64 / 8000.0;
        real += f64::from(sample) * phase.cos();
        imaginary += f64::from(sample) * phase.sin();
    }
    2.0 * (real * real + imaginary * imaginary).sqrt() / signal.len() as f64
}

#[test]
fn opus_keeps_a_tone_through_a_round_trip() {
    let frames = tone_frames(700.0, 8000.0, 100);
    let (sizes, decoded) = round_trip(Codec::Opus, &frames);
    assert_eq!(decoded.len(), 100 * FRAME_SAMPLES, "20 ms out per 20 ms in");
    let largest = sizes.iter().copied().max().unwrap_or(0);
    assert!(
        (1..=400).contains(&largest),
        "a 20 ms mono VOIP packet is small: {largest} bytes"
    );
    let steady = &decoded[4000..];
    let level = amplitude_at(steady, 700.0);
    let off_tone = amplitude_at(steady, 1900.0);
    let (snr, lag) = snr_db(&frames.concat(), &decoded);
    eprintln!(
        "Opus round trip: tone {level:.0} of 8000, 1900 Hz {off_tone:.0}, SNR {snr:.1} dB at {lag}"
    );
    assert!((level / 8000.0 - 1.0).abs() < 0.25, "tone level {level}");
    assert!(off_tone < 200.0, "no energy off the tone: {off_tone}");
}

#[test]
fn opus_rejects_garbage_and_skips_empty_payloads() {
    let mut decoder = Decoder::new(Codec::Opus);
    let mut out = Vec::new();
    decoder.decode(&[], &mut out).expect("empty is skipped");
    assert!(out.is_empty());
    // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5, R5).
    let result = decoder.decode(&[0x03, 0x00], &mut out);
    assert!(
        matches!(
            result,
            Err(CodecError::Opus {
                operation: "decode",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn encoders_keep_state_between_frames() {
    // The same input frame encodes differently the second time for the predictive coders:
    // their state carries over, so a session must own one encoder for its whole stream.
    let frames = tone_frames(440.0, 6000.0, 2);
    let repeated = [frames[1], frames[1]];
    for codec in [Codec::G722, Codec::Opus] {
        let mut encoder = Encoder::new(codec);
        let mut first = [0u8; MAX_PAYLOAD_LENGTH];
        let mut second = [0u8; MAX_PAYLOAD_LENGTH];
        let a = encoder.encode(&repeated[0], &mut first).unwrap();
        let b = encoder.encode(&repeated[1], &mut second).unwrap();
        assert_ne!(first[..a], second[..b], "{codec:?}");
    }
}
