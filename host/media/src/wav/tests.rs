//! Unit tests for [`super`]: WAV files written byte by byte here, so no tool is needed.

use super::*;

/// Build a WAV file: `fmt` is the fmt chunk body, then `chunks` (id, body) in order.
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

fn fmt(format_tag: u16, channels: u16, sample_rate: u32, bits: u16) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&format_tag.to_le_bytes());
    chunk.extend_from_slice(&channels.to_le_bytes());
    chunk.extend_from_slice(&sample_rate.to_le_bytes());
    chunk.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    chunk.extend_from_slice(&block_align.to_le_bytes());
    chunk.extend_from_slice(&bits.to_le_bytes());
    chunk
}

fn extensible(subformat: u16, channels: u16, sample_rate: u32, bits: u16) -> Vec<u8> {
    let mut chunk = fmt(FORMAT_EXTENSIBLE, channels, sample_rate, bits);
    chunk.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    chunk.extend_from_slice(&bits.to_le_bytes()); // valid bits
    chunk.extend_from_slice(&3u32.to_le_bytes()); // channel mask FL|FR
    chunk.extend_from_slice(&u32::from(subformat).to_le_bytes());
    chunk.extend_from_slice(&SUBFORMAT_GUID_TAIL);
    chunk
}

fn pcm16(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

const RAMP: [i16; 8] = [0, 1000, -1000, 32767, -32768, 12345, -54, 7];

#[test]
fn pcm16_mono_8k_is_passed_through_exactly() {
    let file = riff(&[(b"fmt ", fmt(1, 1, 8000, 16)), (b"data", pcm16(&RAMP))]);
    assert_eq!(decode_prompt_samples(&file).unwrap(), RAMP);
}

#[test]
fn eight_bit_unsigned_pcm_is_centred_on_128() {
    let file = riff(&[
        (b"fmt ", fmt(1, 1, 8000, 8)),
        (b"data", vec![128, 255, 0, 129]),
    ]);
    assert_eq!(
        decode_prompt_samples(&file).unwrap(),
        vec![0, 127 * 256, -32768, 256]
    );
}

#[test]
fn g711_formats_decode_with_the_itu_expanders() {
    let codes = vec![0xFF, 0x80, 0x00, 0x7F, 0x55, 0xD5];
    let ulaw = riff(&[(b"fmt ", fmt(7, 1, 8000, 8)), (b"data", codes.clone())]);
    let alaw = riff(&[(b"fmt ", fmt(6, 1, 8000, 8)), (b"data", codes.clone())]);
    let expected_ulaw: Vec<i16> = codes.iter().map(|&c| g711::ulaw_to_linear(c)).collect();
    let expected_alaw: Vec<i16> = codes.iter().map(|&c| g711::alaw_to_linear(c)).collect();
    assert_eq!(decode_prompt_samples(&ulaw).unwrap(), expected_ulaw);
    assert_eq!(decode_prompt_samples(&alaw).unwrap(), expected_alaw);
}

#[test]
fn extensible_subformats_and_wider_samples_decode() {
    let ext16 = riff(&[
        (b"fmt ", extensible(1, 1, 8000, 16)),
        (b"data", pcm16(&RAMP)),
    ]);
    assert_eq!(decode_prompt_samples(&ext16).unwrap(), RAMP);
    let ext_ulaw = riff(&[
        (b"fmt ", extensible(7, 1, 8000, 8)),
        (b"data", vec![0xFF, 0x80]),
    ]);
    assert_eq!(decode_prompt_samples(&ext_ulaw).unwrap(), vec![0, 32124]);
    // 24-bit: 0x123456 → 0x1234 (+ 0x56/256 rounds to 0x1234).
    let pcm24 = riff(&[
        (b"fmt ", fmt(1, 1, 8000, 24)),
        (b"data", vec![0x56, 0x34, 0x12, 0x00, 0x00, 0x80]),
    ]);
    assert_eq!(decode_prompt_samples(&pcm24).unwrap(), vec![0x1234, -32768]);
    let float: Vec<u8> = [0.5f32, -1.0, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let float_file = riff(&[(b"fmt ", fmt(3, 1, 8000, 32)), (b"data", float)]);
    assert_eq!(
        decode_prompt_samples(&float_file).unwrap(),
        vec![16384, -32768, 32767],
        "over-range clips"
    );
    let wrong_guid = {
        let mut chunk = extensible(1, 1, 8000, 16);
        chunk[39] ^= 0xFF;
        riff(&[(b"fmt ", chunk), (b"data", pcm16(&RAMP))])
    };
    assert_eq!(
        decode_prompt_samples(&wrong_guid),
        Err(WavError::UnsupportedFormat {
            format_tag: FORMAT_EXTENSIBLE
        })
    );
}

#[test]
fn stereo_is_averaged_to_mono() {
    let interleaved = pcm16(&[1000, 3000, -2000, -4000, 32767, 32767]);
    let file = riff(&[
        (b"fmt ", extensible(1, 2, 8000, 16)),
        (b"data", interleaved),
    ]);
    assert_eq!(
        decode_prompt_samples(&file).unwrap(),
        vec![2000, -3000, 32767]
    );
}

#[test]
fn other_rates_are_resampled_to_8k_once() {
    // 0.25 s of a 500 Hz tone at 44.1 kHz stereo.
    let frames = 44_100 / 4;
    let mut interleaved = Vec::new();
    for n in 0..frames {
        let value =
            (8000.0 * (2.0 * std::f64::consts::PI * 500.0 * n as f64 / 44_100.0).sin()) as i16;
        interleaved.extend_from_slice(&[value, value]);
    }
    let file = riff(&[
        (b"fmt ", fmt(1, 2, 44_100, 16)),
        (b"data", pcm16(&interleaved)),
    ]);
    let samples = decode_prompt_samples(&file).unwrap();
    assert_eq!(samples.len(), 2000);
    // Compare the middle against the ideal 8 kHz tone.
    for (n, &sample) in samples.iter().enumerate().take(1500).skip(500) {
        let ideal = 8000.0 * (2.0 * std::f64::consts::PI * 500.0 * n as f64 / 8000.0).sin();
        assert!(
            (f64::from(sample) - ideal).abs() < 40.0,
            "sample {n}: {sample} vs {ideal}"
        );
    }
}

#[test]
fn unknown_chunks_odd_padding_and_missing_pad_bytes_are_skipped() {
    let file = riff(&[
        (b"LIST", vec![1, 2, 3]),
        (b"fmt ", fmt(1, 1, 8000, 16)),
        (b"junk", vec![9; 5]),
        (b"data", pcm16(&RAMP)),
    ]);
    assert_eq!(decode_prompt_samples(&file).unwrap(), RAMP);
    // The same, written by a tool that forgot the pad byte after the 3-byte LIST chunk.
    let mut unpadded = b"RIFF\0\0\0\0WAVELIST\x03\0\0\0\x01\x02\x03".to_vec();
    unpadded.extend_from_slice(b"fmt \x10\0\0\0");
    unpadded.extend_from_slice(&fmt(1, 1, 8000, 16));
    unpadded.extend_from_slice(b"data\x04\0\0\0");
    unpadded.extend_from_slice(&pcm16(&[5, -5]));
    assert_eq!(decode_prompt_samples(&unpadded).unwrap(), vec![5, -5]);
}

#[test]
fn oversized_and_streaming_data_sizes_run_to_the_end_of_the_file() {
    let mut truncated = riff(&[(b"fmt ", fmt(1, 1, 8000, 16)), (b"data", pcm16(&RAMP))]);
    let data_size_at = truncated.len() - RAMP.len() * 2 - 4;
    truncated[data_size_at..data_size_at + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
    truncated.push(0x42); // and a partial last sample, dropped
    assert_eq!(decode_prompt_samples(&truncated).unwrap(), RAMP);
    let mut streaming = truncated.clone();
    streaming[data_size_at..data_size_at + 4].copy_from_slice(&UNKNOWN_SIZE.to_le_bytes());
    streaming[4..8].copy_from_slice(&UNKNOWN_SIZE.to_le_bytes());
    assert_eq!(decode_prompt_samples(&streaming).unwrap(), RAMP);
    let mut rf64 = streaming;
    rf64[..4].copy_from_slice(b"RF64");
    assert_eq!(decode_prompt_samples(&rf64).unwrap(), RAMP);
}

#[test]
fn broken_headers_give_typed_errors() {
    let good_fmt = fmt(1, 1, 8000, 16);
    assert_eq!(decode_prompt_samples(b""), Err(WavError::NotRiff));
    assert_eq!(
        decode_prompt_samples(b"OggS\0\0\0\0WAVE"),
        Err(WavError::NotRiff)
    );
    assert_eq!(
        decode_prompt_samples(b"RIFF\0\0"),
        Err(WavError::TruncatedHeader)
    );
    assert_eq!(
        decode_prompt_samples(b"RIFF\0\0\0\0AVI "),
        Err(WavError::NotWave)
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"data", pcm16(&RAMP))])),
        Err(WavError::MissingFormatChunk)
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"fmt ", good_fmt.clone())])),
        Err(WavError::MissingDataChunk)
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"fmt ", good_fmt[..14].to_vec())])),
        Err(WavError::FormatChunkTooShort { length: 14 })
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"fmt ", fmt(2, 1, 8000, 4))])),
        Err(WavError::UnsupportedFormat { format_tag: 2 })
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[
            (b"fmt ", fmt(7, 1, 8000, 16)),
            (b"data", vec![0; 4])
        ])),
        Err(WavError::UnsupportedBitsPerSample {
            format_tag: 7,
            bits_per_sample: 16
        })
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"fmt ", fmt(1, 0, 8000, 16))])),
        Err(WavError::InvalidChannelCount { channels: 0 })
    );
    assert_eq!(
        decode_prompt_samples(&riff(&[(b"fmt ", fmt(1, 1, 0, 16))])),
        Err(WavError::InvalidSampleRate { sample_rate: 0 })
    );
    let mut cut_fmt = riff(&[(b"fmt ", good_fmt)]);
    cut_fmt.truncate(30);
    assert_eq!(
        decode_prompt_samples(&cut_fmt),
        Err(WavError::TruncatedHeader)
    );
    let short_extensible = riff(&[(b"fmt ", extensible(1, 1, 8000, 16)[..30].to_vec())]);
    assert_eq!(
        decode_prompt_samples(&short_extensible),
        Err(WavError::FormatChunkTooShort { length: 30 })
    );
}

#[test]
fn every_truncation_and_corruption_of_a_valid_file_is_handled_without_panic() {
    let file = riff(&[
        (b"LIST", vec![1, 2, 3]),
        (b"fmt ", extensible(1, 2, 11_025, 16)),
        (b"data", pcm16(&RAMP)),
    ]);
    for length in 0..=file.len() {
        let _ = decode_prompt_samples(&file[..length]);
    }
    // Flip every byte of the header region to a few hostile values.
    for position in 0..file.len() {
        for value in [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF] {
            let mut corrupted = file.clone();
            corrupted[position] = value;
            let _ = decode_prompt_samples(&corrupted);
        }
    }
}
