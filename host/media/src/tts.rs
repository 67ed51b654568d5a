//! Text to speech: the [`SpeechEngine`] trait an engine implements, the
//! [`Speaker`] that prepares text (SSML normalising, [`ssml`]), picks the
//! voice and caches the rendered [`Prompt`]s in a [`SpeechCache`].
//!
//! Everything here is sans-IO except what an engine does: engines are blocking
//! (a subprocess, a library) and are called off the async threads
//! (`spawn_blocking`). The server provides the espeak-ng engine. Depends on
//! [`crate::prompt`] and [`crate::wav`] (engines usually return WAV bytes).
//! SSML: W3C Speech Synthesis Markup Language 1.1, with `say-as` after the
//! W3C Note "SSML 1.0 say-as attribute values".

pub mod ssml;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::prompt::Prompt;
use crate::wav::WavError;

/// Default cache budget: 8 Mi samples (16 MiB, about 17 minutes of speech).
pub const DEFAULT_SPEECH_CACHE_SAMPLES: usize = 8 * 1024 * 1024;

/// Longest text accepted for one `say` (bytes).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// What an engine is asked to speak.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpeechRequest {
    /// The engine's voice name.
    pub voice: String,
    /// Plain text, or an SSML document (`<speak>…</speak>`) when `markup`.
    pub text: String,
    /// True when `text` is SSML.
    pub markup: bool,
}

/// Why speech could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The text is empty (after removing markup) or too long.
    #[error("nothing to say: {reason}")]
    BadText {
        /// What is wrong.
        reason: String,
    },
    /// The engine could not be run or failed.
    #[error("speech engine {engine} failed: {message}")]
    Engine {
        /// Engine name.
        engine: String,
        /// What it reported.
        message: String,
    },
    /// The engine took longer than it is allowed.
    #[error("speech engine {engine} did not finish within {seconds} s")]
    Timeout {
        /// Engine name.
        engine: String,
        /// The limit.
        seconds: u64,
    },
    /// The engine's audio could not be decoded.
    #[error("speech engine {engine} returned unusable audio: {source}")]
    Audio {
        /// Engine name.
        engine: String,
        /// The decoding error.
        source: WavError,
    },
}

/// A text-to-speech engine. Implementations block (run them on a blocking thread).
pub trait SpeechEngine: Send + Sync + std::fmt::Debug {
    /// Short engine name, part of the cache key (e.g. `espeak-ng`).
    fn name(&self) -> &str;
    /// True if `voice` names one of the engine's voices.
    fn has_voice(&self, voice: &str) -> bool;
    /// Speak `request` into 8 kHz audio.
    fn synthesize(&self, request: &SpeechRequest) -> Result<Prompt, SpeechError>;
}

/// Rendered speech keyed by (engine, voice, text, markup), least recently used
/// dropped first once over its sample budget. Shared by every call.
#[derive(Debug)]
pub struct SpeechCache {
    inner: Mutex<CacheInner>,
    capacity_samples: usize,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<(String, SpeechRequest), (Arc<Prompt>, u64)>,
    samples: usize,
    clock: u64,
}

impl SpeechCache {
    /// An empty cache keeping at most about `capacity_samples` samples.
    pub fn with_capacity(capacity_samples: usize) -> Self {
        Self {
            inner: Mutex::new(CacheInner::default()),
            capacity_samples,
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheInner> {
        // Every update leaves the map consistent before it can panic.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached speech for `request` by `engine`, marked as recently used.
    pub fn get(&self, engine: &str, request: &SpeechRequest) -> Option<Arc<Prompt>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let key = (engine.to_owned(), request.clone());
        inner.entries.get_mut(&key).map(|(prompt, used)| {
            *used = now;
            Arc::clone(prompt)
        })
    }

    /// Keep `prompt`; older entries go while the cache is over budget (a prompt
    /// larger than the whole budget is not kept).
    pub fn insert(&self, engine: &str, request: SpeechRequest, prompt: Arc<Prompt>) {
        let length = prompt.samples().len();
        if length > self.capacity_samples {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner
            .entries
            .insert((engine.to_owned(), request), (prompt, now))
        {
            inner.samples -= old.samples().len();
        }
        inner.samples += length;
        while inner.samples > self.capacity_samples {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some((removed, _)) = inner.entries.remove(&oldest) {
                inner.samples -= removed.samples().len();
            }
        }
    }

    /// Number of cached utterances.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples held.
    pub fn samples(&self) -> usize {
        self.lock().samples
    }
}

/// Text to prompts: one engine, its default voice, a cache. Shared by every call.
#[derive(Debug)]
pub struct Speaker {
    engine: Arc<dyn SpeechEngine>,
    default_voice: String,
    cache: SpeechCache,
}

impl Speaker {
    /// A speaker using `engine` with `default_voice` (checked by the caller at startup).
    pub fn new(engine: Arc<dyn SpeechEngine>, default_voice: String, cache: SpeechCache) -> Self {
        Self {
            engine,
            default_voice,
            cache,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &dyn SpeechEngine {
        self.engine.as_ref()
    }

    /// The cache.
    pub fn cache(&self) -> &SpeechCache {
        &self.cache
    }

    /// What `text` turns into for the engine (see [`ssml::prepare`]).
    pub fn prepare(&self, text: &str) -> Result<SpeechRequest, SpeechError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(SpeechError::BadText {
                reason: format!("{} bytes, over the {MAX_TEXT_BYTES}-byte limit", text.len()),
            });
        }
        let request = ssml::prepare(text, &self.default_voice, |voice| {
            self.engine.has_voice(voice)
        });
        if ssml::is_blank(&request) {
            return Err(SpeechError::BadText {
                reason: "the text is empty".into(),
            });
        }
        Ok(request)
    }

    /// Speak `text` (plain or SSML): from the cache, or by the engine. Blocking.
    pub fn speak(&self, text: &str) -> Result<Arc<Prompt>, SpeechError> {
        let request = self.prepare(text)?;
        let engine = self.engine.name();
        if let Some(prompt) = self.cache.get(engine, &request) {
            return Ok(prompt);
        }
        let prompt = Arc::new(self.engine.synthesize(&request)?);
        self.cache.insert(engine, request, Arc::clone(&prompt));
        Ok(prompt)
    }
}

#[cfg(test)]
mod tests;
