//! `callhost:call/file-player`: play WAV files from the app's media directory,
//! and speak text (`say`, rendered by the call task's speech engine).
//! File names go to the call task as the app wrote them; the server resolves
//! them against the app's media directory and refuses any that escape it. An
//! encrypted file's key goes along unparsed; the server decrypts.

use wasmtime::component::Resource;

use crate::arguments::{MAX_FILE_NAME_BYTES, MAX_SPEECH_TEXT_BYTES, check_size};
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

async fn start_play(
    port: &CallPort,
    filename: String,
    options: wit::PlayOptions,
) -> Result<(), CallError> {
    check_size("file name", &filename, MAX_FILE_NAME_BYTES)?;
    let barge_in = options.barge_in;
    let cipher = options.cipher.map(Into::into);
    port.request(|reply| CallCommand::PlayStart {
        filename,
        barge_in,
        cipher,
        reply,
    })
    .await
    .map_err(Into::into)
}

async fn wait_play(port: &CallPort) -> Result<wit::PlayerCause, CallError> {
    port.request(|reply| CallCommand::PlayWait { reply })
        .await
        .map(Into::into)
        .map_err(Into::into)
}

async fn start_say(
    port: &CallPort,
    text: String,
    options: wit::PlayOptions,
) -> Result<(), CallError> {
    check_size("speech text", &text, MAX_SPEECH_TEXT_BYTES)?;
    let barge_in = options.barge_in;
    port.request(|reply| CallCommand::SayStart {
        text,
        barge_in,
        reply,
    })
    .await
    .map_err(Into::into)
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

    async fn wait_until_finished(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<wit::PlayerCause, CallError>> {
        Ok(wait_play(self.port(&channel)?).await)
    }

    async fn state(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::PlayerState> {
        Ok(self.port(&channel)?.snapshot.borrow().player_state.into())
    }

    async fn cause(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::PlayerCause> {
        Ok(self.port(&channel)?.snapshot.borrow().player_cause.into())
    }

    async fn say(
        &mut self,
        channel: Resource<ChannelHandle>,
        text: String,
        options: wit::PlayOptions,
    ) -> wasmtime::Result<Result<wit::PlayerCause, CallError>> {
        let port = self.port(&channel)?;
        if let Err(error) = start_say(port, text, options).await {
            return Ok(Err(error));
        }
        Ok(wait_play(port).await)
    }

    async fn start_say(
        &mut self,
        channel: Resource<ChannelHandle>,
        text: String,
        options: wit::PlayOptions,
    ) -> wasmtime::Result<Result<(), CallError>> {
        Ok(start_say(self.port(&channel)?, text, options).await)
    }
}
