//! `callhost:call/file-player`: play WAV files from the app's media directory.
//! File names are checked here (relative, no `..`) before they reach the call
//! task, which resolves them against the media directory.

use wasmtime::component::Resource;

use super::types::invalid_argument;
use crate::bindings::callhost::call::file_player as wit;
use crate::bindings::callhost::call::types::CallError;
use crate::host::channel::ChannelHandle;
use crate::port::{self, CallCommand, CallPort};
use crate::store::CallView;

impl From<port::PlayerState> for wit::PlayerState {
    fn from(state: port::PlayerState) -> Self {
        match state {
            port::PlayerState::Idle => wit::PlayerState::Idle,
            port::PlayerState::Playing => wit::PlayerState::Playing,
        }
    }
}

impl From<port::PlayerCause> for wit::PlayerCause {
    fn from(cause: port::PlayerCause) -> Self {
        match cause {
            port::PlayerCause::None => wit::PlayerCause::None,
            port::PlayerCause::Normal => wit::PlayerCause::Normal,
            port::PlayerCause::BargeIn => wit::PlayerCause::Bargein,
            port::PlayerCause::Aborted => wit::PlayerCause::Aborted,
            port::PlayerCause::Hangup => wit::PlayerCause::Hangup,
            port::PlayerCause::Error => wit::PlayerCause::Error,
        }
    }
}

/// A media file name the app may use: relative, without `..`, NUL or
/// backslashes.
pub(crate) fn check_file_name(filename: &str) -> Result<(), CallError> {
    let bad = filename.is_empty()
        || filename.starts_with('/')
        || filename.contains(['\0', '\\'])
        || filename.split('/').any(|part| part == "..");
    if bad {
        return Err(invalid_argument(format!("invalid media file name {filename:?}: use a path relative to the app's media directory")));
    }
    Ok(())
}

async fn start_play(port: &CallPort, filename: String, options: wit::PlayOptions) -> Result<(), CallError> {
    check_file_name(&filename)?;
    let barge_in = options.barge_in;
    port.request(|reply| CallCommand::PlayStart { filename, barge_in, reply }).await.map_err(Into::into)
}

async fn wait_play(port: &CallPort) -> Result<wit::PlayerCause, CallError> {
    port.request(|reply| CallCommand::PlayWait { reply }).await.map(Into::into).map_err(Into::into)
}

impl wit::Host for CallView<'_> {
    async fn play(
        &mut self,
        channel: Resource<ChannelHandle>,
        filename: String,
        options: wit::PlayOptions,
    ) -> wasmtime::Result<Result<wit::PlayerCause, CallError>> {
        let port = self.port(&channel)?;
        if let Err(error) = start_play(port, filename, options).await {
            return Ok(Err(error));
        }
        Ok(wait_play(port).await)
    }

    async fn start(
        &mut self,
        channel: Resource<ChannelHandle>,
        filename: String,
        options: wit::PlayOptions,
    ) -> wasmtime::Result<Result<(), CallError>> {
        Ok(start_play(self.port(&channel)?, filename, options).await)
    }

    async fn stop(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port.request(|reply| CallCommand::PlayStop { reply }).await.map_err(Into::into))
    }

    async fn wait_until_finished(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<Result<wit::PlayerCause, CallError>> {
        Ok(wait_play(self.port(&channel)?).await)
    }

    async fn state(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<wit::PlayerState> {
        Ok(self.port(&channel)?.snapshot.borrow().player_state.into())
    }

    async fn cause(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<wit::PlayerCause> {
        Ok(self.port(&channel)?.snapshot.borrow().player_cause.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_inside_the_media_directory() {
        assert!(check_file_name("hello.wav").is_ok());
        assert!(check_file_name("prompts/en/hello.wav").is_ok());
        assert!(check_file_name("..hello.wav").is_ok());
        assert!(check_file_name("").is_err());
        assert!(check_file_name("/etc/passwd").is_err());
        assert!(check_file_name("../other-app/secret.wav").is_err());
        assert!(check_file_name("prompts/../../x.wav").is_err());
        assert!(check_file_name("a\\b.wav").is_err());
        assert!(check_file_name("a\0.wav").is_err());
    }
}
