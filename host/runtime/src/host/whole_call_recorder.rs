//! `callhost:call/whole-call-recorder`: record both directions of the call to
//! one WAV file (stereo or mixed). Shares the port commands, and the cause and
//! summary types, with `file-recorder`.

use std::time::Duration;

use wasmtime::component::Resource;

use crate::bindings::callhost::call::file_recorder::{
    RecorderCause, RecorderState, RecordingSummary,
};
use crate::bindings::callhost::call::types::CallError;
use crate::bindings::callhost::call::whole_call_recorder as wit;
use crate::host::channel::ChannelHandle;
use crate::host::file_recorder::{start, stop, wait};
use crate::port::{self, Recorder};
use crate::store::CallView;

fn options(options: wit::WholeCallOptions) -> port::RecordOptions {
    port::RecordOptions {
        max_duration: options
            .seconds_max
            .filter(|&seconds| seconds > 0)
            .map(|seconds| Duration::from_secs(u64::from(seconds))),
        max_bytes: options.max_bytes.filter(|&bytes| bytes > 0),
        format: options.format.into(),
        layout: match options.layout {
            wit::WholeCallLayout::Stereo => port::RecordLayout::Stereo,
            wit::WholeCallLayout::Mixed => port::RecordLayout::Mixed,
        },
        cipher: options.cipher.map(Into::into),
        ..port::RecordOptions::default()
    }
}

impl wit::Host for CallView<'_> {
    async fn start(
        &mut self,
        channel: Resource<ChannelHandle>,
        filename: String,
        whole_call_options: wit::WholeCallOptions,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(start(
            port,
            Recorder::WholeCall,
            filename,
            options(whole_call_options),
        )
        .await)
    }

    async fn stop(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        Ok(stop(self.port(&channel)?, Recorder::WholeCall).await)
    }

    async fn wait_until_finished(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<RecorderCause, CallError>> {
        Ok(wait(self.port(&channel)?, Recorder::WholeCall).await)
    }

    async fn state(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<RecorderState> {
        Ok(self
            .port(&channel)?
            .snapshot
            .borrow()
            .whole_call_recorder
            .state
            .into())
    }

    async fn cause(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<RecorderCause> {
        Ok(self
            .port(&channel)?
            .snapshot
            .borrow()
            .whole_call_recorder
            .cause
            .into())
    }

    async fn last_recording(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<RecordingSummary>> {
        let snapshot = self.port(&channel)?.snapshot.borrow().whole_call_recorder;
        Ok(snapshot.last.map(Into::into))
    }
}
