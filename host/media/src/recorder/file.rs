//! The recording's WAV file on disk, kept valid while it grows.
//!
//! The header is written first with sizes for no data; every appended chunk (about a second
//! of audio) is written and then the header's RIFF, `fact` and `data` sizes are rewritten in
//! place, so at any moment the file is a complete WAV whose header matches its data. A host
//! killed mid-recording leaves a playable file missing at most the chunk being collected (a
//! second); a long call never ends as a header-only file.
//!
//! Layout (58 bytes of header for every format): `RIFF` · `WAVE` · `fmt ` (18 bytes:
//! WAVEFORMATEX with cbSize 0) · `fact` (sample frames, required for the G.711 formats and
//! harmless for PCM) · `data`. Blocking I/O: call from a blocking thread.
//!
//! Encrypted recordings ([`RecordingFile::create_encrypted`]) are AES-CBC ciphertext as
//! `openssl enc` writes it. CBC chains every block to the one before, so the header cannot be
//! patched in place: while the file grows its RIFF and `data` sizes say "unknown" (0xFFFFFFFF,
//! which streaming WAV readers take as "read to the end"), whole blocks reach the disk as each
//! chunk is appended, and [`RecordingFile::finish`] rewrites the file once with the true sizes
//! and the PKCS#7 tail (a second pass over it, into a temporary file renamed over the old one).
//! A host killed mid-recording leaves ciphertext without padding: it decrypts with
//! `openssl enc -d -nopad` to a WAV of unknown length that holds all but the last second.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::RecordFormat;
use crate::cipher::{AesCbcCipher, CbcEncryptWriter};

/// Bytes before the audio data.
pub const HEADER_BYTES: u64 = 58;

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_ALAW: u16 = 6;
const WAVE_FORMAT_MULAW: u16 = 7;
const SAMPLE_RATE: u32 = 8000;

/// Offsets of the size fields rewritten as the file grows.
const RIFF_SIZE_AT: u64 = 4;
const FACT_SAMPLES_AT: u64 = 46;
const DATA_SIZE_AT: u64 = 54;

/// The declared size of a chunk whose length is not known yet (an encrypted file that grows).
const UNKNOWN_SIZE: u32 = u32::MAX;

/// Where the bytes go.
#[derive(Debug)]
enum Sink {
    /// Plain WAV: data appended at its offset, sizes patched in place.
    Plain(File),
    /// AES-CBC ciphertext, streamed; sizes fixed by a rewrite at the end.
    Encrypted(Box<(CbcEncryptWriter<File>, AesCbcCipher)>),
}

/// A WAV file being recorded.
#[derive(Debug)]
pub struct RecordingFile {
    sink: Sink,
    path: PathBuf,
    format: RecordFormat,
    channels: u16,
    data_bytes: u64,
}

/// The header for `data_bytes` of audio (`None`: not known yet).
fn header(
    format: RecordFormat,
    channels: u16,
    data_bytes: Option<u32>,
) -> [u8; HEADER_BYTES as usize] {
    let tag = match format {
        RecordFormat::Pcm16 => WAVE_FORMAT_PCM,
        RecordFormat::Mulaw => WAVE_FORMAT_MULAW,
        RecordFormat::Alaw => WAVE_FORMAT_ALAW,
    };
    let block_align = format.bytes_per_sample() * channels;
    let mut out = [0u8; HEADER_BYTES as usize];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    let block = u32::from(block_align);
    let (riff, frames, data) = match data_bytes {
        Some(data) => ((HEADER_BYTES - 8) as u32 + data, data / block, data),
        None => (UNKNOWN_SIZE, 0, UNKNOWN_SIZE),
    };
    put(b"RIFF");
    put(&riff.to_le_bytes());
    put(b"WAVE");
    put(b"fmt ");
    put(&18u32.to_le_bytes());
    put(&tag.to_le_bytes());
    put(&channels.to_le_bytes());
    put(&SAMPLE_RATE.to_le_bytes());
    put(&(SAMPLE_RATE * u32::from(block_align)).to_le_bytes());
    put(&block_align.to_le_bytes());
    put(&(format.bytes_per_sample() * 8).to_le_bytes());
    put(&0u16.to_le_bytes());
    put(b"fact");
    put(&4u32.to_le_bytes());
    put(&frames.to_le_bytes());
    put(b"data");
    put(&data.to_le_bytes());
    out
}

impl RecordingFile {
    /// Create (or truncate) `path` and write the header. The file is a valid, empty WAV.
    pub fn create(path: &Path, format: RecordFormat, channels: u16) -> io::Result<Self> {
        let mut file = create_file(path)?;
        file.write_all(&header(format, channels, Some(0)))?;
        Ok(Self {
            sink: Sink::Plain(file),
            path: path.to_owned(),
            format,
            channels,
            data_bytes: 0,
        })
    }

    /// Create (or truncate) `path` as an AES-CBC encrypted recording and write the header
    /// (sizes unknown until [`Self::finish`]; see the module docs).
    pub fn create_encrypted(
        path: &Path,
        format: RecordFormat,
        channels: u16,
        cipher: &AesCbcCipher,
    ) -> io::Result<Self> {
        let mut writer = CbcEncryptWriter::new(cipher, create_file(path)?);
        writer.write_all(&header(format, channels, None))?;
        Ok(Self {
            sink: Sink::Encrypted(Box::new((writer, cipher.clone()))),
            path: path.to_owned(),
            format,
            channels,
            data_bytes: 0,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio bytes written so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Audio written so far (per channel).
    pub fn duration(&self) -> std::time::Duration {
        let block = u64::from(self.format.bytes_per_sample()) * u64::from(self.channels);
        std::time::Duration::from_micros(self.data_bytes / block * 125)
    }

    /// Append encoded samples, then bring the header's sizes up to date. WAV sizes are 32-bit:
    /// data past 4 GiB is refused (the recorder's size limit stops well before).
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let new_total = self.data_bytes + bytes.len() as u64;
        if HEADER_BYTES - 8 + new_total > u64::from(u32::MAX) {
            return Err(io::Error::other("a WAV file cannot hold more than 4 GiB"));
        }
        match &mut self.sink {
            Sink::Plain(file) => {
                file.write_all_at(bytes, HEADER_BYTES + self.data_bytes)?;
                self.data_bytes = new_total;
                let block = u64::from(self.format.bytes_per_sample()) * u64::from(self.channels);
                let riff = (HEADER_BYTES - 8 + self.data_bytes) as u32;
                let frames = (self.data_bytes / block) as u32;
                file.write_all_at(&riff.to_le_bytes(), RIFF_SIZE_AT)?;
                file.write_all_at(&frames.to_le_bytes(), FACT_SAMPLES_AT)?;
                file.write_all_at(&(self.data_bytes as u32).to_le_bytes(), DATA_SIZE_AT)
            }
            Sink::Encrypted(encrypted) => {
                encrypted.0.write_all(bytes)?;
                self.data_bytes = new_total;
                Ok(())
            }
        }
    }

    /// Finish the file: everything is on disk when this returns. An encrypted file is
    /// rewritten once with its true sizes (see the module docs).
    pub fn finish(self) -> io::Result<u64> {
        match self.sink {
            Sink::Plain(file) => file.sync_data()?,
            Sink::Encrypted(encrypted) => {
                let (writer, cipher) = *encrypted;
                writer.finish()?.sync_data()?;
                let data = u32::try_from(self.data_bytes).map_err(io::Error::other)?;
                reencrypt_with_sizes(
                    &self.path,
                    &cipher,
                    &header(self.format, self.channels, Some(data)),
                )?;
            }
        }
        Ok(self.data_bytes)
    }
}

fn create_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Replace the header of the encrypted WAV at `path` with `header`: decrypt, patch, encrypt
/// into a temporary file beside it, and rename that over the original (so a crash here leaves
/// either the old file or the new one, never a half-written mix).
fn reencrypt_with_sizes(
    path: &Path,
    cipher: &AesCbcCipher,
    header: &[u8; HEADER_BYTES as usize],
) -> io::Result<()> {
    let mut plain = cipher
        .decrypt(&std::fs::read(path)?)
        .map_err(io::Error::other)?;
    if plain.len() < header.len() {
        return Err(io::Error::other("the encrypted recording lost its header"));
    }
    plain[..header.len()].copy_from_slice(header);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    let mut file = create_file(&temporary)?;
    let written = file
        .write_all(&cipher.encrypt(&plain))
        .and_then(|()| file.sync_data());
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav;

    #[test]
    fn the_file_is_a_valid_wav_after_every_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grow.wav");
        let mut file = RecordingFile::create(&path, RecordFormat::Pcm16, 1).unwrap();
        let empty = std::fs::read(&path).unwrap();
        let (format, data) = wav::parse(&empty).unwrap();
        assert_eq!((format.channels, format.sample_rate), (1, 8000));
        assert!(data.is_empty());
        let samples: Vec<i16> = (0..8000)
            .map(|n| ((n % 100) * 300 - 15_000) as i16)
            .collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        for (round, part) in bytes.chunks(3200).enumerate() {
            file.append(part).unwrap();
            let on_disk = std::fs::read(&path).unwrap();
            let declared = u32::from_le_bytes(on_disk[54..58].try_into().unwrap()) as usize;
            assert_eq!(declared, 3200 * (round + 1));
            assert_eq!(on_disk.len(), 58 + declared, "header and data agree");
            let riff = u32::from_le_bytes(on_disk[4..8].try_into().unwrap()) as usize;
            assert_eq!(riff, on_disk.len() - 8);
        }
        assert_eq!(file.finish().unwrap(), 16_000);
        let decoded = wav::decode_prompt_samples(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(decoded, samples);
    }

    #[test]
    fn g711_and_stereo_headers_describe_their_data() {
        let dir = tempfile::tempdir().unwrap();
        for (format, tag) in [(RecordFormat::Mulaw, 7u16), (RecordFormat::Alaw, 6)] {
            let path = dir.path().join(format!("g711-{tag}.wav"));
            let mut file = RecordingFile::create(&path, format, 2).unwrap();
            file.append(&[0xD5; 640]).unwrap();
            file.finish().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), tag);
            assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "channels");
            assert_eq!(u16::from_le_bytes([bytes[32], bytes[33]]), 2, "block align");
            let fact = u32::from_le_bytes(bytes[46..50].try_into().unwrap());
            assert_eq!(fact, 320, "sample frames");
            let (parsed, data) = wav::parse(&bytes).unwrap();
            assert_eq!((parsed.channels, data.len()), (2, 640));
        }
    }
}
