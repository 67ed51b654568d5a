//! Text to speech for `say`: the `[tts]` config section, its startup checks,
//! and the embedded default engine, espeak-ng run as a subprocess.
//!
//! `[tts]` keys: `engine` (only `"espeak-ng"`), `voice` (default `"en-us"`,
//! must be one of the engine's voices), `command` (the espeak-ng binary;
//! default `espeak-ng` on the PATH). A host without a `[tts]` section and
//! without espeak-ng still runs; `say` then fails with an error. A `[tts]`
//! section that names a missing binary or an unknown voice stops startup
//! (exit 64).
//!
//! The engine is blocking (the caller runs it with `spawn_blocking`): it feeds
//! the text on stdin (`--stdin`, `-m` for SSML), reads the WAV from stdout
//! (`--stdout`) and kills the process after [`SYNTHESIS_TIMEOUT`]. Depends on
//! callhost-media's [`SpeechEngine`] and [`Prompt`].

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callhost_media::Prompt;
use callhost_media::tts::{
    DEFAULT_SPEECH_CACHE_SAMPLES, Speaker, SpeechCache, SpeechEngine, SpeechError, SpeechRequest,
};
use serde::Deserialize;

use crate::config::ConfigError;

/// The engine name `[tts] engine` accepts.
pub const ESPEAK_NG: &str = "espeak-ng";
/// The voice when `[tts] voice` is not set.
pub const DEFAULT_VOICE: &str = "en-us";
/// Longest time one utterance may take to render.
pub const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest time `espeak-ng --voices` may take at startup.
const VOICE_LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a running engine is polled for completion.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// `[tts]` as written in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
    /// `engine = "espeak-ng"`
    pub engine: Option<String>,
    /// `voice = "en-us"`
    pub voice: Option<String>,
    /// `command = "/usr/bin/espeak-ng"`
    pub command: Option<PathBuf>,
}

/// The checked text-to-speech settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsConfig {
    /// The espeak-ng binary.
    pub command: PathBuf,
    /// The default voice.
    pub voice: String,
    /// Every voice the engine offers (names and language codes).
    pub voices: BTreeSet<String>,
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

impl TtsSection {
    /// Check the section (`None`: no `[tts]` in the file). Runs the engine
    /// once to list its voices. Without a section, a missing engine only turns
    /// speech off (`Ok(None)`); with one, it is an error.
    pub fn validate(section: Option<TtsSection>) -> Result<Option<TtsConfig>, ConfigError> {
        let explicit = section.is_some();
        let section = section.unwrap_or_default();
        let engine = section.engine.as_deref().unwrap_or(ESPEAK_NG);
        if engine != ESPEAK_NG {
            return Err(invalid(
                "tts.engine",
                format!("`{engine}` is not a known engine (the host has `{ESPEAK_NG}`)"),
            ));
        }
        let voice = section.voice.unwrap_or_else(|| DEFAULT_VOICE.into());
        if voice.is_empty()
            || !voice
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/'))
        {
            return Err(invalid(
                "tts.voice",
                format!("`{voice}` is not a voice name"),
            ));
        }
        let command = section.command.unwrap_or_else(|| ESPEAK_NG.into());
        let voices = match list_voices(&command) {
            Ok(voices) => voices,
            Err(message) if explicit => return Err(invalid("tts.command", message)),
            Err(message) => {
                tracing::warn!(%message, "text to speech is off: `say` will fail");
                return Ok(None);
            }
        };
        if !voices.contains(&voice) {
            return Err(invalid(
                "tts.voice",
                format!(
                    "`{voice}` is not a voice of {} (see `espeak-ng --voices`)",
                    command.display()
                ),
            ));
        }
        Ok(Some(TtsConfig {
            command,
            voice,
            voices,
        }))
    }
}

/// Run `command` to completion with `input` on stdin; its stdout, or why not.
fn run(command: &mut Command, input: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run it: {error}"))?;
    // Feed and drain on threads so a full pipe cannot stall the wait below.
    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = &mut stdin {
            // A process that exits early closes the pipe: its exit status says why.
            let _ = stdin.write_all(&input);
        }
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Err(error) => return Err(format!("cannot wait for it: {error}")),
        }
    };
    let _ = writer.join();
    let output = stdout.join().unwrap_or_default();
    let errors = stderr.join().unwrap_or_default();
    if !status.success() {
        let message = String::from_utf8_lossy(&errors);
        return Err(format!("{status}: {}", message.trim()));
    }
    Ok(output)
}

/// The voice names and language codes `espeak-ng --voices` lists.
fn list_voices(command: &Path) -> Result<BTreeSet<String>, String> {
    let output = run(
        Command::new(command).arg("--voices"),
        b"",
        VOICE_LIST_TIMEOUT,
    )
    .map_err(|error| format!("`{} --voices`: {error}", command.display()))?;
    let text = String::from_utf8_lossy(&output);
    let mut voices = BTreeSet::new();
    // Columns: Pty Language Age/Gender VoiceName File Other-languages.
    for line in text.lines().skip(1) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        if columns.len() >= 5 {
            voices.insert(columns[1].to_owned());
            voices.insert(columns[3].to_owned());
        }
    }
    if voices.is_empty() {
        return Err(format!("`{} --voices` listed no voice", command.display()));
    }
    Ok(voices)
}

/// espeak-ng as a [`SpeechEngine`].
#[derive(Debug)]
pub struct EspeakEngine {
    config: TtsConfig,
}

impl EspeakEngine {
    /// An engine for checked settings.
    pub fn new(config: TtsConfig) -> Self {
        Self { config }
    }
}

impl SpeechEngine for EspeakEngine {
    fn name(&self) -> &str {
        ESPEAK_NG
    }

    fn has_voice(&self, voice: &str) -> bool {
        self.config.voices.contains(voice)
    }

    fn synthesize(&self, request: &SpeechRequest) -> Result<Prompt, SpeechError> {
        let mut command = Command::new(&self.config.command);
        command.args(["--stdin", "--stdout", "-v", &request.voice]);
        if request.markup {
            command.arg("-m");
        }
        let engine_error = |message: String| SpeechError::Engine {
            engine: ESPEAK_NG.into(),
            message,
        };
        let wav = match run(&mut command, request.text.as_bytes(), SYNTHESIS_TIMEOUT) {
            Ok(wav) => wav,
            Err(message) if message.starts_with("timed out") => {
                return Err(SpeechError::Timeout {
                    engine: ESPEAK_NG.into(),
                    seconds: SYNTHESIS_TIMEOUT.as_secs(),
                });
            }
            Err(message) => return Err(engine_error(message)),
        };
        Prompt::from_wav_bytes(&wav).map_err(|source| SpeechError::Audio {
            engine: ESPEAK_NG.into(),
            source,
        })
    }
}

/// The host's speaker, when speech is on.
pub fn speaker(config: Option<&TtsConfig>) -> Option<Arc<Speaker>> {
    let config = config?;
    Some(Arc::new(Speaker::new(
        Arc::new(EspeakEngine::new(config.clone())),
        config.voice.clone(),
        SpeechCache::with_capacity(DEFAULT_SPEECH_CACHE_SAMPLES),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(engine: Option<&str>, voice: Option<&str>, command: Option<&str>) -> TtsSection {
        TtsSection {
            engine: engine.map(Into::into),
            voice: voice.map(Into::into),
            command: command.map(Into::into),
        }
    }

    #[test]
    fn settings_are_checked() {
        let config = TtsSection::validate(None)
            .expect("defaults")
            .expect("espeak-ng is installed on the build machine");
        assert_eq!(config.voice, "en-us");
        assert!(config.voices.contains("en-gb"));
        for (bad, setting) in [
            (section(Some("festival"), None, None), "tts.engine"),
            (section(None, Some("klingon-x"), None), "tts.voice"),
            (section(None, Some("en us"), None), "tts.voice"),
            (
                section(None, None, Some("/nonexistent/espeak-ng")),
                "tts.command",
            ),
        ] {
            match TtsSection::validate(Some(bad)) {
                Err(ConfigError::Invalid { setting: got, .. }) => assert_eq!(got, setting),
                other => panic!("expected {setting} to be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn espeak_speaks_text_and_ssml_at_8_khz() {
        let speaker = speaker(TtsSection::validate(None).expect("defaults").as_ref())
            .expect("espeak-ng is installed");
        let plain = speaker
            .speak("Welcome to the speaking clock")
            .expect("speech");
        // A few words last between half a second and five seconds.
        assert!(
            (4_000..40_000).contains(&plain.samples().len()),
            "{} samples",
            plain.samples().len()
        );
        let loudest = plain.samples().iter().map(|s| s.unsigned_abs()).max();
        assert!(loudest > Some(1000), "speech is not silence");
        let marked = speaker
            .speak("<speak>one <break time='1s'/> two</speak>")
            .expect("ssml speech");
        assert!(marked.samples().len() > 8000, "the break adds a second");
        // Cached: the second request returns the same audio.
        let again = speaker
            .speak("Welcome to the speaking clock")
            .expect("speech");
        assert!(Arc::ptr_eq(&plain, &again));
    }

    #[test]
    fn a_failing_engine_is_an_error_not_a_hang() {
        let config = TtsConfig {
            command: "false".into(),
            voice: "en-us".into(),
            voices: BTreeSet::from(["en-us".to_owned()]),
        };
        let engine = EspeakEngine::new(config);
        let request = SpeechRequest {
            voice: "en-us".into(),
            text: "hello".into(),
            markup: false,
        };
        assert!(matches!(
            engine.synthesize(&request),
            Err(SpeechError::Engine { .. })
        ));
    }
}
