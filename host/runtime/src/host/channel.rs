//! `callhost:call/channel`: the `channel` resource. A handle is a
//! `ResourceTable` entry holding the call's [`CallPort`].

use std::time::Duration;

use wasmtime::component::Resource;

use super::types::invalid_argument;
use crate::bindings::callhost::call::channel as wit;
use crate::bindings::callhost::call::types::{CallCause, CallError, CallState};
use crate::port::{self, CallCommand, CallOptions, CallPort, DEFAULT_CALL_TIMEOUT};
use crate::store::CallView;

/// The host side of a `channel` handle: the port of the call it names.
#[derive(Debug)]
pub struct ChannelHandle {
    port: CallPort,
}

impl ChannelHandle {
    pub(crate) fn new(port: CallPort) -> Self {
        ChannelHandle { port }
    }

    pub(crate) fn port(&self) -> &CallPort {
        &self.port
    }
}

impl CallView<'_> {
    /// The port behind a guest's channel handle; an unknown handle traps.
    pub(crate) fn port(&self, channel: &Resource<ChannelHandle>) -> wasmtime::Result<&CallPort> {
        Ok(self.table.get(channel)?.port())
    }

    /// Hands the instance's default tone (if one was set) to the leg as its ringtone.
    async fn send_ringtone(
        &mut self,
        channel: &Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let Some(tone) = self.tones.default_tone() else {
            return Ok(Ok(()));
        };
        let port = self.port(channel)?;
        Ok(port
            .request(|reply| CallCommand::SetRingtone {
                tone: Some(tone),
                reply,
            })
            .await
            .map_err(Into::into))
    }
}

impl wit::Host for CallView<'_> {}

impl wit::HostChannel for CallView<'_> {
    async fn state(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<CallState> {
        Ok(self.port(&channel)?.snapshot.borrow().state.into())
    }

    async fn cause(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<CallCause>> {
        Ok(self.port(&channel)?.snapshot.borrow().cause.map(Into::into))
    }

    async fn raw_cause(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<u16>> {
        Ok(self.port(&channel)?.snapshot.borrow().raw_cause)
    }

    async fn details(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::CallDetails> {
        let details = self.port(&channel)?.snapshot.borrow().details.clone();
        Ok(wit::CallDetails {
            sip_call_id: details.sip_call_id.clone(),
            call_from: details.call_from.clone(),
            call_to: details.call_to.clone(),
            request_uri: details.request_uri.clone(),
            service: details.service.clone(),
            remote_address: details.remote_address.clone(),
        })
    }

    async fn ring(
        &mut self,
        channel: Resource<ChannelHandle>,
        seconds: u32,
    ) -> wasmtime::Result<Result<(), CallError>> {
        // The ringtone is the instance's default tone; the leg plays it as early media.
        if let Err(error) = self.send_ringtone(&channel).await? {
            return Ok(Err(error));
        }
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Ring { seconds, reply })
            .await
            .map_err(Into::into))
    }

    async fn answer(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Answer { reply })
            .await
            .map_err(Into::into))
    }

    async fn reject(
        &mut self,
        channel: Resource<ChannelHandle>,
        cause: CallCause,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        let cause = cause.into();
        Ok(port
            .request(|reply| CallCommand::Reject { cause, reply })
            .await
            .map_err(Into::into))
    }

    async fn hang_up(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::HangUp { reply })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn wait_for_idle(
        &mut self,
        channel: Resource<ChannelHandle>,
        seconds_timeout: Option<u32>,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        let timeout = seconds_timeout.map(|seconds| Duration::from_secs(seconds.into()));
        Ok(port
            .request(|reply| CallCommand::WaitForIdle { timeout, reply })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn call(
        &mut self,
        channel: Resource<ChannelHandle>,
        destination: String,
        options: wit::CallOptions,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        Ok(place_call(port, destination, options, true)
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn start_call(
        &mut self,
        channel: Resource<ChannelHandle>,
        destination: String,
        options: wit::CallOptions,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(place_call(port, destination, options, false)
            .await
            .map(|_| ())
            .map_err(Into::into))
    }

    async fn call_inbound_service(
        &mut self,
        channel: Resource<ChannelHandle>,
        service: String,
        options: wit::CallOptions,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        let (service, options) = match service_and_options(service, options) {
            Ok(checked) => checked,
            Err(error) => return Ok(Err(error)),
        };
        Ok(port
            .request(|reply| CallCommand::CallService {
                service,
                options,
                reply,
            })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn hold(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Hold { on: true, reply })
            .await
            .map_err(Into::into))
    }

    async fn unhold(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Hold { on: false, reply })
            .await
            .map_err(Into::into))
    }

    async fn transfer_to_inbound_service(
        &mut self,
        channel: Resource<ChannelHandle>,
        via: Resource<ChannelHandle>,
        service: String,
        options: wit::CallOptions,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let via = self.port(&via)?.leg;
        let port = self.port(&channel)?;
        if via == port.leg {
            return Ok(Err(invalid_argument(
                "a call cannot be transferred through its own channel",
            )));
        }
        let (service, options) = match service_and_options(service, options) {
            Ok(checked) => checked,
            Err(error) => return Ok(Err(error)),
        };
        // While the service rings, the caller hears the instance's default tone.
        if let Err(error) = self.send_ringtone(&channel).await? {
            return Ok(Err(error));
        }
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Transfer {
                via,
                service,
                options,
                reply,
            })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn wait_for_transferred_call_retrieval(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::WaitForRetrieval { reply })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn wait_for_outgoing_call(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<CallState, CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::WaitForOutgoing { reply })
            .await
            .map(Into::into)
            .map_err(Into::into))
    }

    async fn extra_channel(
        &mut self,
        channel: Resource<ChannelHandle>,
        index: u32,
    ) -> wasmtime::Result<Result<Resource<ChannelHandle>, CallError>> {
        let port = self.port(&channel)?;
        match port
            .request(|reply| CallCommand::ExtraChannel { index, reply })
            .await
        {
            Ok(extra) => Ok(Ok(self.table.push(ChannelHandle::new(extra))?)),
            Err(error) => Ok(Err(error.into())),
        }
    }

    async fn connect(
        &mut self,
        channel: Resource<ChannelHandle>,
        other: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let other = self.port(&other)?.leg;
        let port = self.port(&channel)?;
        if other == port.leg {
            return Ok(Err(invalid_argument(
                "a channel cannot be connected to itself",
            )));
        }
        Ok(port
            .request(|reply| CallCommand::Connect { other, reply })
            .await
            .map_err(Into::into))
    }

    async fn disconnect(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::Disconnect { reply })
            .await
            .map_err(Into::into))
    }

    async fn media_statistics(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Option<wit::MediaStatistics>> {
        let port = self.port(&channel)?;
        // A call task that has gone has no figures left to give.
        let statistics = port
            .request(|reply| CallCommand::MediaStatistics { reply })
            .await
            .ok()
            .flatten();
        Ok(statistics.map(media_statistics))
    }

    async fn drop(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<()> {
        self.table.delete(channel)?;
        Ok(())
    }
}

/// A service name (1 to 256 characters, trimmed) and checked call options.
fn milliseconds(duration: std::time::Duration) -> f32 {
    duration.as_secs_f32() * 1000.0
}

fn media_statistics(statistics: port::MediaStatistics) -> wit::MediaStatistics {
    wit::MediaStatistics {
        codec: statistics.codec,
        packets_sent: statistics.packets_sent,
        packets_received: statistics.packets_received,
        packets_lost: statistics.packets_lost,
        jitter_ms: milliseconds(statistics.jitter),
        late_packets: statistics.late_packets,
        concealed_frames: statistics.concealed_frames,
        playout_delay_ms: u32::try_from(statistics.playout_delay.as_millis()).unwrap_or(u32::MAX),
        rtcp_packets_sent: statistics.rtcp_packets_sent,
        rtcp_packets_received: statistics.rtcp_packets_received,
        remote: statistics.remote.map(|remote| wit::RemoteReport {
            packets_lost: remote.packets_lost,
            fraction_lost: remote.fraction_lost,
            jitter_ms: milliseconds(remote.jitter),
            round_trip_ms: remote.round_trip.map(milliseconds),
        }),
    }
}

fn service_and_options(
    service: String,
    options: wit::CallOptions,
) -> Result<(String, CallOptions), CallError> {
    let service = service.trim().to_owned();
    if service.is_empty() || service.len() > 256 {
        return Err(invalid_argument(
            "a service name must hold 1 to 256 characters",
        ));
    }
    let options = call_options(options).map_err(CallError::from)?;
    Ok((service, options))
}

/// Longest destination or identity accepted from an app.
const MAX_URI_LENGTH: usize = 2048;
/// Longest answer timeout an app may ask for (a day).
const MAX_CALL_TIMEOUT_SECONDS: u32 = 86_400;

/// Check the arguments of `call` / `start-call` and send the command.
async fn place_call(
    port: &CallPort,
    destination: String,
    options: wit::CallOptions,
    wait: bool,
) -> Result<port::CallState, port::CallError> {
    let destination = destination.trim().to_owned();
    if destination.is_empty() || destination.len() > MAX_URI_LENGTH {
        return Err(port::CallError::Error(format!(
            "a destination must hold 1 to {MAX_URI_LENGTH} characters"
        )));
    }
    let options = call_options(options)?;
    port.request(|reply| CallCommand::Call {
        destination,
        options,
        wait,
        reply,
    })
    .await
}

/// Check call options and fill in the defaults.
fn call_options(options: wit::CallOptions) -> Result<CallOptions, port::CallError> {
    if options
        .call_from
        .as_ref()
        .is_some_and(|from| from.len() > MAX_URI_LENGTH)
    {
        return Err(port::CallError::Error(format!(
            "call-from is longer than {MAX_URI_LENGTH} characters"
        )));
    }
    let timeout = match options.seconds_timeout {
        None => DEFAULT_CALL_TIMEOUT,
        Some(0) => {
            return Err(port::CallError::Error(
                "seconds-timeout must be at least 1".into(),
            ));
        }
        Some(seconds) if seconds > MAX_CALL_TIMEOUT_SECONDS => {
            return Err(port::CallError::Error(format!(
                "seconds-timeout is over {MAX_CALL_TIMEOUT_SECONDS}"
            )));
        }
        Some(seconds) => Duration::from_secs(seconds.into()),
    };
    Ok(CallOptions {
        from: options.call_from.filter(|from| !from.trim().is_empty()),
        timeout,
        codecs: options.codecs,
        headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::callhost::call::channel::HostChannel;
    use crate::output::CallLog;
    use crate::port::{CallDetails, CallSnapshot};
    use tokio::sync::{mpsc, watch};
    use wasmtime::component::ResourceTable;

    fn port() -> (
        CallPort,
        mpsc::Receiver<Box<CallCommand>>,
        watch::Sender<CallSnapshot>,
    ) {
        let (commands, receiver) = mpsc::channel(1);
        let (snapshot_sender, snapshot) =
            watch::channel(CallSnapshot::incoming(CallDetails::default()));
        (
            CallPort {
                leg: 0,
                commands,
                snapshot,
            },
            receiver,
            snapshot_sender,
        )
    }

    #[tokio::test]
    async fn an_unknown_or_dropped_handle_traps() {
        let mut table = ResourceTable::new();
        let log = CallLog::new("test".into(), tracing::Span::none());
        let (port, _commands, _snapshot) = port();
        let handle = table.push(ChannelHandle::new(port)).expect("push");
        let rep = handle.rep();
        let mut tones = crate::host::tone_player::ToneTable::default();
        let mut view = CallView {
            table: &mut table,
            log: &log,
            tones: &mut tones,
            files_port: None,
        };

        assert_eq!(
            view.state(Resource::new_borrow(rep))
                .await
                .expect("known handle"),
            CallState::CallIncoming
        );
        assert!(
            view.state(Resource::new_borrow(rep + 100)).await.is_err(),
            "unknown handle"
        );
        view.drop(Resource::new_own(rep)).await.expect("drop");
        assert!(
            view.answer(Resource::new_borrow(rep)).await.is_err(),
            "dropped handle"
        );
    }

    #[tokio::test]
    async fn a_call_task_that_has_gone_is_a_hangup_not_a_trap() {
        let mut table = ResourceTable::new();
        let log = CallLog::new("test".into(), tracing::Span::none());
        let (port, commands, _snapshot) = port();
        drop(commands);
        let handle = table.push(ChannelHandle::new(port)).expect("push");
        let mut tones = crate::host::tone_player::ToneTable::default();
        let mut view = CallView {
            table: &mut table,
            log: &log,
            tones: &mut tones,
            files_port: None,
        };
        let result = view
            .answer(Resource::new_borrow(handle.rep()))
            .await
            .expect("no trap");
        assert!(matches!(result, Err(CallError::Hangup(_))), "{result:?}");
    }
}
