//! `callhost:call/tone-player`: the app instance's named tones (the UAS
//! `ToneManager`) and playing them on a channel.
//!
//! The table of tones lives in the call's store, so every channel of the
//! instance sees the same tones; the synthesis rules (and so the checks of a
//! new tone) belong to the call task, reached through the primary channel's
//! port. Playing a tone is a play job of the channel's file player.

use std::collections::HashMap;
use std::time::Duration;

use wasmtime::component::Resource;

use crate::arguments::{MAX_TONE_NAME_BYTES, check_size};
use crate::bindings::callhost::call::file_player::PlayerCause;
use crate::bindings::callhost::call::tone_player as wit;
use crate::bindings::callhost::call::types::CallError;
use crate::host::channel::ChannelHandle;
use crate::port::{self, CallCommand, CallPort, PREDEFINED_TONES, Tone};
use crate::store::CallView;

/// The tones an app instance defined and its default (ringing) tone.
#[derive(Debug, Default)]
pub struct ToneTable {
    tones: HashMap<String, Tone>,
    default: Option<String>,
    /// The port that checks new tones (the primary channel's).
    checker: Option<CallPort>,
}

impl ToneTable {
    /// Use `port` to check new tones.
    pub(crate) fn set_checker(&mut self, port: CallPort) {
        self.checker = Some(port);
    }

    /// The tone called `name`: defined by the app, or predefined.
    fn find(&self, name: &str) -> Option<Tone> {
        if PREDEFINED_TONES.contains(&name) {
            return Some(Tone::Predefined(name.to_owned()));
        }
        self.tones.get(name).cloned()
    }

    /// The ringtone set with `set-default`.
    pub(crate) fn default_tone(&self) -> Option<Tone> {
        self.default.as_deref().and_then(|name| self.find(name))
    }
}

fn segment(segment: wit::ToneSegment) -> port::ToneSegment {
    let component = |component: wit::ToneComponent| port::ToneComponent {
        frequency: component.frequency,
        level: component.level,
    };
    port::ToneSegment {
        first: component(segment.first),
        second: component(segment.second),
        milliseconds: segment.milliseconds,
        mix: match segment.mix {
            wit::ToneMix::Summation => port::ToneMix::Summation,
            wit::ToneMix::Modulation => port::ToneMix::Modulation,
        },
    }
}

fn unknown(name: &str) -> CallError {
    // The name is quoted back, so an oversized one is described by its size.
    if let Err(error) = check_size("tone name", name, MAX_TONE_NAME_BYTES) {
        return error;
    }
    CallError::Error(format!("no tone is called `{name}`"))
}

impl wit::Host for CallView<'_> {
    async fn create_tone(
        &mut self,
        name: String,
        segments: Vec<wit::ToneSegment>,
        repeat: bool,
    ) -> wasmtime::Result<Result<(), CallError>> {
        if let Err(error) = check_size("tone name", &name, MAX_TONE_NAME_BYTES) {
            return Ok(Err(error));
        }
        if name.is_empty() || PREDEFINED_TONES.contains(&name.as_str()) {
            return Ok(Err(CallError::Error(format!(
                "`{name}` cannot name a new tone (empty or predefined)"
            ))));
        }
        let tone = Tone::Custom {
            name: name.clone(),
            segments: segments.into_iter().map(segment).collect(),
            repeat,
        };
        let Some(checker) = self.tones.checker.clone() else {
            return Ok(Err(CallError::Error("tones are not available".into())));
        };
        let checked = checker
            .request(|reply| CallCommand::ToneCheck {
                tone: tone.clone(),
                reply,
            })
            .await;
        if let Err(error) = checked {
            return Ok(Err(error.into()));
        }
        self.tones.tones.insert(name, tone);
        Ok(Ok(()))
    }

    async fn set_default(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        if self.tones.find(&name).is_none() {
            return Ok(Err(unknown(&name)));
        }
        self.tones.default = Some(name);
        Ok(Ok(()))
    }

    async fn play(
        &mut self,
        channel: Resource<ChannelHandle>,
        name: String,
        seconds: Option<u32>,
    ) -> wasmtime::Result<Result<PlayerCause, CallError>> {
        let Some(tone) = self.tones.find(&name) else {
            return Ok(Err(unknown(&name)));
        };
        let limit = seconds.map(|seconds| Duration::from_secs(seconds.into()));
        let port = self.port(&channel)?;
        if let Err(error) = port
            .request(|reply| CallCommand::ToneStart { tone, limit, reply })
            .await
        {
            return Ok(Err(error.into()));
        }
        Ok(port
            .request(|reply| CallCommand::PlayWait { reply })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn start(
        &mut self,
        channel: Resource<ChannelHandle>,
        name: String,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let Some(tone) = self.tones.find(&name) else {
            return Ok(Err(unknown(&name)));
        };
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::ToneStart {
                tone,
                limit: None,
                reply,
            })
            .await
            .map_err(Into::into))
    }

    async fn stop(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::PlayStop { reply })
            .await
            .map_err(Into::into))
    }
}
