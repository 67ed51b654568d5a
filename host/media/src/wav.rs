//! WAV (RIFF/WAVE) decoding to 8 kHz mono 16-bit samples, the prompt format.
//!
//! Accepted: format 1 (PCM, 8-bit unsigned, 16/24/32-bit signed), 3 (IEEE float, 32/64-bit),
//! 6 (A-law), 7 (µ-law), and WAVE_FORMAT_EXTENSIBLE (0xFFFE) with any of those as subformat;
//! any channel count (averaged to mono) and any sample rate (converted by [`crate::resample`]).
//! Also `RF64` headers whose sizes are 0xFFFFFFFF.
//!
//! Tolerated, because real recordings do it: unknown chunks (skipped), odd-sized chunks with
//! or without their pad byte, a RIFF size that disagrees with the file, a data chunk larger
//! than the file (truncated recording) or sized 0xFFFFFFFF (streamed), a partial last frame.
//! Everything else is a typed [`WavError`]; no input makes this module panic. Pure functions.

use crate::g711;
use crate::resample::resample;

/// The sample rate of every prompt.
pub const PROMPT_SAMPLE_RATE: u32 = 8000;

const MAX_CHANNELS: u16 = 32;
const MIN_SAMPLE_RATE: u32 = 1000;
const MAX_SAMPLE_RATE: u32 = 768_000;
/// Size marker for "unknown, runs to the end" (streaming writers, RF64).
const UNKNOWN_SIZE: u32 = 0xFFFF_FFFF;
/// KSDATAFORMAT_SUBTYPE_* GUIDs are `<format tag as u32 LE>` followed by these 12 bytes.
const SUBFORMAT_GUID_TAIL: [u8; 12] = [
    0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

const FORMAT_PCM: u16 = 1;
const FORMAT_IEEE_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Why a file is not a usable WAV prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// The file does not start with `RIFF` (or `RF64`).
    #[error("not a RIFF file")]
    NotRiff,
    /// The RIFF form type is not `WAVE`.
    #[error("RIFF file is not WAVE")]
    NotWave,
    /// The file ends inside the RIFF header or the `fmt ` chunk.
    #[error("file is truncated inside its header")]
    TruncatedHeader,
    /// No `fmt ` chunk.
    #[error("no fmt chunk")]
    MissingFormatChunk,
    /// No `data` chunk.
    #[error("no data chunk")]
    MissingDataChunk,
    /// The `fmt ` chunk is shorter than its format requires.
    #[error("fmt chunk of {length} bytes is too short")]
    FormatChunkTooShort {
        /// The chunk length.
        length: u32,
    },
    /// A format tag (or extensible subformat) we do not decode (ADPCM, GSM, MP3, …).
    #[error("unsupported WAV format tag {format_tag:#06x}")]
    UnsupportedFormat {
        /// The format tag, or the subformat's tag for WAVE_FORMAT_EXTENSIBLE.
        format_tag: u16,
    },
    /// A sample size the format does not allow.
    #[error("unsupported {bits_per_sample}-bit samples for format {format_tag:#06x}")]
    UnsupportedBitsPerSample {
        /// The (sub)format tag.
        format_tag: u16,
        /// The container size in bits.
        bits_per_sample: u16,
    },
    /// Zero channels or an absurd number of them.
    #[error("invalid channel count {channels}")]
    InvalidChannelCount {
        /// The channel count.
        channels: u16,
    },
    /// A sample rate outside 1 kHz..=768 kHz.
    #[error("invalid sample rate {sample_rate} Hz")]
    InvalidSampleRate {
        /// The sample rate.
        sample_rate: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Unsigned8,
    Signed16,
    Signed24,
    Signed32,
    Float32,
    Float64,
    ALaw,
    MuLaw,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::Unsigned8 | Encoding::ALaw | Encoding::MuLaw => 1,
            Encoding::Signed16 => 2,
            Encoding::Signed24 => 3,
            Encoding::Signed32 | Encoding::Float32 => 4,
            Encoding::Float64 => 8,
        }
    }

    /// One sample, scaled to the 16-bit range.
    fn decode(self, bytes: &[u8]) -> f32 {
        match self {
            Encoding::Unsigned8 => (f32::from(bytes[0]) - 128.0) * 256.0,
            Encoding::Signed16 => f32::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            Encoding::Signed24 => {
                (i32::from_le_bytes([0, bytes[0], bytes[1], bytes[2]]) >> 8) as f32 / 256.0
            }
            Encoding::Signed32 => {
                i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f32 / 65_536.0
            }
            Encoding::Float32 => {
                f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) * 32_768.0
            }
            Encoding::Float64 => {
                let value = f64::from_le_bytes([
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                ]);
                (value * 32_768.0) as f32
            }
            Encoding::ALaw => f32::from(g711::alaw_to_linear(bytes[0])),
            Encoding::MuLaw => f32::from(g711::ulaw_to_linear(bytes[0])),
        }
    }
}

/// The stream format from the `fmt ` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    encoding: Encoding,
    /// Interleaved channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn parse_format(chunk: &[u8]) -> Result<WavFormat, WavError> {
    let length = chunk.len() as u32;
    if chunk.len() < 16 {
        return Err(WavError::FormatChunkTooShort { length });
    }
    let mut format_tag = read_u16(chunk, 0);
    let channels = read_u16(chunk, 2);
    let sample_rate = read_u32(chunk, 4);
    let bits_per_sample = read_u16(chunk, 14);
    if format_tag == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) subformat GUID(16) follow the 16 basic bytes.
        if chunk.len() < 40 {
            return Err(WavError::FormatChunkTooShort { length });
        }
        let guid = &chunk[24..40];
        format_tag = read_u16(guid, 0);
        if guid[2..4] != [0, 0] || guid[4..16] != SUBFORMAT_GUID_TAIL {
            return Err(WavError::UnsupportedFormat {
                format_tag: FORMAT_EXTENSIBLE,
            });
        }
    }
    let encoding = match (format_tag, bits_per_sample) {
        (FORMAT_PCM, 8) => Encoding::Unsigned8,
        (FORMAT_PCM, 16) => Encoding::Signed16,
        (FORMAT_PCM, 24) => Encoding::Signed24,
        (FORMAT_PCM, 32) => Encoding::Signed32,
        (FORMAT_IEEE_FLOAT, 32) => Encoding::Float32,
        (FORMAT_IEEE_FLOAT, 64) => Encoding::Float64,
        (FORMAT_ALAW, 8) => Encoding::ALaw,
        (FORMAT_MULAW, 8) => Encoding::MuLaw,
        (FORMAT_PCM | FORMAT_IEEE_FLOAT | FORMAT_ALAW | FORMAT_MULAW, _) => {
            return Err(WavError::UnsupportedBitsPerSample {
                format_tag,
                bits_per_sample,
            });
        }
        _ => return Err(WavError::UnsupportedFormat { format_tag }),
    };
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(WavError::InvalidChannelCount { channels });
    }
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(WavError::InvalidSampleRate { sample_rate });
    }
    Ok(WavFormat {
        encoding,
        channels,
        sample_rate,
    })
}

fn looks_like_chunk_id(bytes: &[u8], at: usize) -> bool {
    bytes
        .get(at..at + 4)
        .is_some_and(|id| id.iter().all(|&b| b.is_ascii_graphic() || b == b' '))
}

/// Locate and parse the `fmt ` chunk and the `data` chunk's bytes.
pub fn parse(bytes: &[u8]) -> Result<(WavFormat, &[u8]), WavError> {
    let magic = bytes.get(..4).ok_or(WavError::NotRiff)?;
    if magic != b"RIFF" && magic != b"RF64" {
        return Err(WavError::NotRiff);
    }
    match bytes.get(8..12) {
        None => return Err(WavError::TruncatedHeader),
        Some(form) if form != b"WAVE" => return Err(WavError::NotWave),
        Some(_) => {}
    }
    let mut format = None;
    let mut data = None;
    let mut offset = 12usize;
    while offset + 8 <= bytes.len() && (format.is_none() || data.is_none()) {
        let id = &bytes[offset..offset + 4];
        let size = read_u32(bytes, offset + 4);
        let body = offset + 8;
        let available = bytes.len() - body;
        let length = if size == UNKNOWN_SIZE {
            available
        } else {
            (size as usize).min(available)
        };
        match id {
            b"fmt " => {
                if (size as usize) > available {
                    return Err(WavError::TruncatedHeader);
                }
                format = Some(parse_format(&bytes[body..body + length])?);
            }
            b"data" => data = Some(&bytes[body..body + length]),
            _ => {}
        }
        if size == UNKNOWN_SIZE {
            break; // runs to the end of the file: nothing can follow it
        }
        let mut next = body + length;
        // RIFF pads odd chunks to even length, but some writers forget the pad byte: skip it
        // unless a chunk id starts right here and not one byte later.
        let pad_missing = looks_like_chunk_id(bytes, next) && !looks_like_chunk_id(bytes, next + 1);
        if length % 2 == 1 && !pad_missing {
            next += 1;
        }
        offset = next;
    }
    match (format, data) {
        (Some(format), Some(data)) => Ok((format, data)),
        (None, _) => Err(WavError::MissingFormatChunk),
        (Some(_), None) => Err(WavError::MissingDataChunk),
    }
}

/// Decode a WAV file to mono samples at the file's own rate (16-bit scale, not yet rounded).
pub fn decode_mono(bytes: &[u8]) -> Result<(Vec<f32>, u32), WavError> {
    let (format, data) = parse(bytes)?;
    let channels = usize::from(format.channels);
    let frame_bytes = format.encoding.bytes() * channels;
    let scale = 1.0 / channels as f32;
    let samples = data
        .chunks_exact(frame_bytes)
        .map(|frame| {
            frame
                .chunks_exact(format.encoding.bytes())
                .map(|sample| format.encoding.decode(sample))
                .sum::<f32>()
                * scale
        })
        .collect();
    Ok((samples, format.sample_rate))
}

/// Decode a WAV file to 8 kHz mono 16-bit samples, resampling once if needed.
pub fn decode_prompt_samples(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let (samples, sample_rate) = decode_mono(bytes)?;
    let converted = resample(&samples, sample_rate, PROMPT_SAMPLE_RATE);
    // Float-to-int `as` saturates, which is the clipping we want for overshoot near full scale.
    Ok(converted
        .into_iter()
        .map(|sample| sample.round() as i16)
        .collect())
}

#[cfg(test)]
mod tests;
