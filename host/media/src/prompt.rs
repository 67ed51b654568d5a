//! Prompts (8 kHz mono 16-bit audio, ready to packetise) and the [`PromptCache`] that
//! converts each file once and shares it between all calls.
//!
//! Encrypted prompt files are decrypted and converted on every load, never cached
//! ([`load_encrypted_prompt`]).
//!
//! File I/O here is blocking: callers on an async runtime use `spawn_blocking`. Depends on
//! [`crate::wav`] for decoding and [`crate::cipher`] for decryption.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::cipher::{AesCbcCipher, CipherError};
use crate::wav::{self, PROMPT_SAMPLE_RATE, WavError};

/// Files larger than this are refused rather than read into memory (about 30 min of 48 kHz stereo).
pub const MAX_PROMPT_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Default cache budget: 64 Mi samples (128 MiB, about 2.3 hours of audio).
pub const DEFAULT_CACHE_CAPACITY_SAMPLES: usize = 64 * 1024 * 1024;

/// Audio ready to play: 8 kHz, mono, 16-bit linear. Immutable; share it with `Arc`.
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Box<[i16]>,
}

// Sessions and caches are logged with `{:?}`: print the size, not minutes of samples.
impl std::fmt::Debug for Prompt {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Prompt")
            .field("samples", &self.samples.len())
            .finish()
    }
}

impl Prompt {
    /// A prompt from 8 kHz mono samples (generated tones, tests).
    pub fn from_samples(samples: impl Into<Vec<i16>>) -> Self {
        Self {
            samples: samples.into().into_boxed_slice(),
        }
    }

    /// Decode a WAV file image (any supported format and rate) into a prompt.
    pub fn from_wav_bytes(bytes: &[u8]) -> Result<Self, WavError> {
        Ok(Self::from_samples(wav::decode_prompt_samples(bytes)?))
    }

    /// The 8 kHz samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(PROMPT_SAMPLE_RATE))
    }
}

/// Why a prompt file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Opening, inspecting or reading the file failed.
    #[error("cannot read prompt {path}: {source}")]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_PROMPT_FILE_BYTES`].
    #[error("prompt {path} is {length} bytes, over the {MAX_PROMPT_FILE_BYTES}-byte limit")]
    TooLarge {
        /// The canonical path.
        path: PathBuf,
        /// The file length.
        length: u64,
    },
    /// The file could not be decrypted with the key given (wrong key or vector, or not an
    /// encrypted file).
    #[error("cannot decrypt prompt {path}: {source}")]
    Decrypt {
        /// The canonical path.
        path: PathBuf,
        /// What went wrong.
        source: CipherError,
    },
    /// The file is not a usable WAV file.
    #[error("prompt {path} is not a usable WAV file: {source}")]
    Wav {
        /// The canonical path.
        path: PathBuf,
        /// What is wrong with it.
        source: WavError,
    },
}

/// Read a whole prompt file (at most [`MAX_PROMPT_FILE_BYTES`]); returns its canonical path and
/// bytes. Blocking.
pub fn read_prompt_file(path: &Path) -> Result<(PathBuf, Vec<u8>), PromptError> {
    let io_error = |source| PromptError::Io {
        path: path.to_owned(),
        source,
    };
    let canonical = path.canonicalize().map_err(io_error)?;
    let file = std::fs::File::open(&canonical).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length > MAX_PROMPT_FILE_BYTES {
        return Err(PromptError::TooLarge {
            path: canonical,
            length,
        });
    }
    let mut bytes = Vec::with_capacity(length as usize);
    // `take` keeps a file that grows while we read within the limit.
    file.take(MAX_PROMPT_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    Ok((canonical, bytes))
}

/// Read an AES-CBC encrypted WAV file (as `openssl enc` writes it), decrypt it and convert it.
/// Blocking.
///
/// Decrypted prompts are deliberately not cached: the shared cache is keyed by path, and
/// keeping plaintext audio around between calls would outlive the key holder's play. A wrong
/// key is [`PromptError::Decrypt`] (bad padding) or, when the garbage happens to pass the
/// padding check, [`PromptError::Wav`].
pub fn load_encrypted_prompt(path: &Path, cipher: &AesCbcCipher) -> Result<Prompt, PromptError> {
    let (canonical, bytes) = read_prompt_file(path)?;
    let plain = match cipher.decrypt(&bytes) {
        Ok(plain) => plain,
        Err(source) => {
            return Err(PromptError::Decrypt {
                path: canonical,
                source,
            });
        }
    };
    Prompt::from_wav_bytes(&plain).map_err(|source| PromptError::Wav {
        path: canonical,
        source,
    })
}

#[derive(Debug)]
struct CacheEntry {
    modified: Option<SystemTime>,
    length: u64,
    prompt: Arc<Prompt>,
}

/// Converted prompts keyed by canonical path; an entry is reused while the file's modification
/// time and length are unchanged, so an operator replacing a file is picked up on the next play.
///
/// When the cache holds more than its capacity, prompts nobody is playing are dropped.
#[derive(Debug)]
pub struct PromptCache {
    entries: Mutex<HashMap<PathBuf, CacheEntry>>,
    capacity_samples: usize,
}

impl Default for PromptCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CACHE_CAPACITY_SAMPLES)
    }
}

impl PromptCache {
    /// An empty cache with the default capacity.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that tries to keep at most `capacity_samples` samples.
    pub fn with_capacity(capacity_samples: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity_samples,
        }
    }

    /// Number of cached prompts.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, CacheEntry>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts/removes).
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Load (or reuse) the prompt at `path`. Blocking: reads and converts the file on a miss.
    pub fn load(&self, path: &Path) -> Result<Arc<Prompt>, PromptError> {
        let io_error = |source| PromptError::Io {
            path: path.to_owned(),
            source,
        };
        let canonical = path.canonicalize().map_err(io_error)?;
        let mut file = std::fs::File::open(&canonical).map_err(io_error)?;
        // Metadata from the open handle describes the bytes we are about to read.
        let metadata = file.metadata().map_err(io_error)?;
        let modified = metadata.modified().ok();
        let length = metadata.len();
        if let Some(entry) = self.lock().get(&canonical)
            && entry.modified == modified
            && entry.length == length
        {
            return Ok(Arc::clone(&entry.prompt));
        }
        if length > MAX_PROMPT_FILE_BYTES {
            return Err(PromptError::TooLarge {
                path: canonical,
                length,
            });
        }
        let mut bytes = Vec::with_capacity(length as usize);
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let prompt = match Prompt::from_wav_bytes(&bytes) {
            Ok(prompt) => Arc::new(prompt),
            Err(source) => {
                return Err(PromptError::Wav {
                    path: canonical,
                    source,
                });
            }
        };
        let mut entries = self.lock();
        entries.insert(
            canonical,
            CacheEntry {
                modified,
                length,
                prompt: Arc::clone(&prompt),
            },
        );
        let mut total: usize = entries
            .values()
            .map(|entry| entry.prompt.samples().len())
            .sum();
        if total > self.capacity_samples {
            entries.retain(|_, entry| {
                let evict = total > self.capacity_samples && Arc::strong_count(&entry.prompt) == 1;
                if evict {
                    total -= entry.prompt.samples().len();
                }
                !evict
            });
        }
        Ok(prompt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_file(samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut file = b"RIFF".to_vec();
        file.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        file.extend_from_slice(
            b"WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data",
        );
        file.extend_from_slice(&(data.len() as u32).to_le_bytes());
        file.extend_from_slice(&data);
        file
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "callhost-media-prompt-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn loads_once_and_shares_until_the_file_changes() {
        let dir = temp_dir("share");
        let path = dir.join("hello.wav");
        std::fs::write(&path, wav_file(&[1, 2, 3, 4])).unwrap();
        let cache = PromptCache::new();
        let first = cache.load(&path).unwrap();
        assert_eq!(first.samples(), &[1, 2, 3, 4]);
        // A different spelling of the same file hits the same entry.
        let second = cache.load(&dir.join(".").join("hello.wav")).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(cache.len(), 1);
        // Replacing the file (different length) is noticed.
        std::fs::write(&path, wav_file(&[9, 9, 9, 9, 9, 9])).unwrap();
        let third = cache.load(&path).unwrap();
        assert_eq!(third.samples(), &[9, 9, 9, 9, 9, 9]);
        assert_eq!(
            first.samples(),
            &[1, 2, 3, 4],
            "calls holding the old prompt keep it"
        );
        assert_eq!(cache.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_name_the_file_and_the_cause() {
        let dir = temp_dir("errors");
        let cache = PromptCache::new();
        let missing = dir.join("missing.wav");
        assert!(
            matches!(cache.load(&missing), Err(PromptError::Io { path, .. }) if path == missing)
        );
        let text = dir.join("text.wav");
        std::fs::write(&text, b"hello, not audio").unwrap();
        assert!(matches!(
            cache.load(&text),
            Err(PromptError::Wav {
                source: WavError::NotRiff,
                ..
            })
        ));
        assert!(cache.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn encrypted_prompts_decrypt_with_the_right_key_only() {
        let dir = temp_dir("encrypted");
        let key = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
        let vector = "9b0ef243445da908976b7dc9c247c29e";
        let cipher = AesCbcCipher::from_hex(key, vector).unwrap();
        let path = dir.join("secret.wav");
        std::fs::write(&path, cipher.encrypt(&wav_file(&[5, -5, 300]))).unwrap();
        let prompt = load_encrypted_prompt(&path, &cipher).unwrap();
        assert_eq!(prompt.samples(), &[5, -5, 300]);

        let wrong = AesCbcCipher::from_hex(&key.replace('e', "f"), vector).unwrap();
        assert!(matches!(
            load_encrypted_prompt(&path, &wrong),
            Err(PromptError::Decrypt {
                source: CipherError::BadPadding,
                ..
            })
        ));
        // A wrong vector garbles only the first block: the RIFF header.
        let wrong_vector = AesCbcCipher::from_hex(key, &"0".repeat(32)).unwrap();
        assert!(matches!(
            load_encrypted_prompt(&path, &wrong_vector),
            Err(PromptError::Wav { .. })
        ));
        // A plain WAV file is not ciphertext (its length is not a multiple of 16 here).
        let plain = dir.join("plain.wav");
        std::fs::write(&plain, wav_file(&[1, 2, 3])).unwrap();
        assert!(matches!(
            load_encrypted_prompt(&plain, &cipher),
            Err(PromptError::Decrypt {
                source: CipherError::CiphertextLength { length: 50 },
                ..
            })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn over_capacity_evicts_only_prompts_nobody_holds() {
        let dir = temp_dir("evict");
        let cache = PromptCache::with_capacity(10);
        let paths: Vec<PathBuf> = (0..3)
            .map(|index| dir.join(format!("{index}.wav")))
            .collect();
        for path in &paths {
            std::fs::write(path, wav_file(&[7; 6])).unwrap();
        }
        let held = cache.load(&paths[0]).unwrap();
        // 12 samples > 10, but the prompt being returned is in use while the cache trims.
        drop(cache.load(&paths[1]).unwrap());
        assert_eq!(cache.len(), 2);
        // The next insert evicts prompt 1, which nobody holds any more, and keeps the held ones.
        let also_held = cache.load(&paths[2]).unwrap();
        assert_eq!(cache.len(), 2);
        assert!(Arc::ptr_eq(&cache.load(&paths[0]).unwrap(), &held));
        assert!(Arc::ptr_eq(&cache.load(&paths[2]).unwrap(), &also_held));
        assert_eq!(held.duration(), Duration::from_micros(750));
        assert_eq!(format!("{held:?}"), "Prompt { samples: 6 }");
        drop(also_held);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
