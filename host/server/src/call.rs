//! App instances: one inbound call (or one originate request) from start to exit
//! record, with every channel (leg) the app uses.
//!
//! [`handle_incoming`] routes the INVITE to an app (404 when there is none),
//! negotiates media (488 when there is no common codec), instantiates a fresh
//! app instance (503 + Retry-After when the pool is full), then runs the app's
//! `main` while this task serves the ports of its legs. [`start_outbound`] does
//! the same for an outbound app, whose primary channel starts idle. The task is
//! the only owner of every leg's SIP dialog handle and media session, so every
//! state change happens here, in order. Dropping the task is the cleanup: media
//! sessions free their ports, the instance frees its pool slot.
//!
//! Per-leg behaviour lives in `call/leg.rs`, placing calls in `call/outbound.rs`,
//! the `sip` interface in `call/sip_api.rs`, hold and resume in `call/hold.rs`;
//! what spans legs (extra channels, connect, transfer to another service and its
//! retrieval) is here. Depends on callhost-sip, callhost-media and callhost-runtime;
//! this is where the three meet.

mod files;
mod hold;
mod leg;
mod local;
pub mod outbound;
mod play;
mod record;
pub mod sip_api;
mod statistics;
mod tones;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

use callhost_media::tts::Speaker;
use callhost_media::{MediaEngine, MediaError, MediaEvent};
use callhost_runtime::port::{
    CallCause, CallCommand, CallDetails, CallError, CallOptions, CallPort, CallSnapshot, CallState,
    Reply,
};
use callhost_runtime::{ExitOutcome, ExitRecord, Invocation, PluginRegistry, Runtime, StartError};
use callhost_sip::auth::{AuthVerdict, NonceIssuer};
use callhost_sip::{CallEvent, IncomingCall, ServerCall, SipClient};

use crate::admin::{OriginateError, OriginateRequest};
use crate::config::Config;
use crate::digits::earliest;
use crate::status_callback::StatusReporter;
use leg::{Leg, Signalling};

/// What every call needs from the host; shared by all call tasks.
pub struct Host {
    /// Validated configuration.
    pub config: Config,
    /// The Wasm runtime.
    pub runtime: Runtime,
    /// Loaded apps by service key.
    pub registry: PluginRegistry,
    /// The media engine (RTP ports, prompt cache).
    pub media: MediaEngine,
    /// Places outgoing calls.
    pub sip: SipClient,
    /// Issues and checks the digest nonces of services that authenticate callers.
    pub nonces: NonceIssuer,
    /// Text to speech for `say`; none when no engine is available.
    pub speech: Option<Arc<Speaker>>,
}

/// Commands an app can have in flight per channel: the guest is single-threaded, so a few suffice.
const COMMAND_QUEUE: usize = 8;
/// How long to wait before telling a caller refused for lack of capacity to retry.
const RETRY_AFTER_SECONDS: &str = "5";

/// Exit codes the host reports for an app that did not return (-1..-99 are the host's).
pub fn host_exit_code(outcome: &ExitOutcome) -> i32 {
    match outcome {
        ExitOutcome::Returned(code) => *code,
        ExitOutcome::Trapped(_) => -1,
        ExitOutcome::CpuBudgetExceeded => -2,
        ExitOutcome::WallClockExceeded => -3,
    }
}

fn new_instance_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Handle one incoming call to the end. Never panics on bad input; every refusal
/// gets a SIP final response.
pub async fn handle_incoming(host: Arc<Host>, incoming: IncomingCall) {
    let instance_id = new_instance_id();
    let span = info_span!(
        "call",
        call.id = %instance_id,
        sip.call_id = %incoming.call_id,
        service = %incoming.service,
        from = %incoming.from,
        to = %incoming.to,
        app = tracing::field::Empty,
        app.version = tracing::field::Empty,
    );
    run_incoming(host, incoming, instance_id)
        .instrument(span)
        .await;
}

async fn run_incoming(host: Arc<Host>, incoming: IncomingCall, instance_id: String) {
    let IncomingCall {
        call_id,
        from,
        to,
        request_uri,
        service,
        remote,
        transport,
        offer_sdp,
        headers,
        call: sip,
        events,
    } = incoming;
    info!(remote = %remote, %transport, "incoming call");

    if let Some((realm, users)) = host.config.service_auth(&service) {
        let authorization = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authorization"))
            .map(|(_, value)| value.as_str())
            .find(|value| value.contains(&format!("realm=\"{realm}\"")))
            .unwrap_or("");
        match host.nonces.verify("INVITE", authorization, realm, |user| {
            users.0.get(user).cloned()
        }) {
            AuthVerdict::Accepted { username } => info!(%username, "caller authenticated"),
            verdict => {
                let stale = matches!(verdict, AuthVerdict::Stale);
                if let AuthVerdict::Rejected(why) = verdict {
                    info!(why, "caller failed authentication: 401");
                } else {
                    info!(stale, "challenging the caller: 401");
                }
                // MD5 first: many deployed phones (and SIPp) answer only the first
                // challenge and know no SHA-256; SHA-256 clients find theirs second.
                let challenges = [
                    host.nonces.challenge(realm, stale),
                    host.nonces.challenge_sha256(realm, stale),
                ];
                let headers: Vec<(&str, &str)> = challenges
                    .iter()
                    .map(|value| ("WWW-Authenticate", value.as_str()))
                    .collect();
                reject(&sip, 401, Some("Unauthorized"), &headers).await;
                return;
            }
        }
    }
    let (app_key, parameters) = host.config.route(&service);
    let Some(app) = host.registry.get(&app_key) else {
        info!(app = %app_key, "no app serves this service: 404");
        reject(&sip, 404, Some("Not Found"), &[]).await;
        return;
    };
    let span = tracing::Span::current();
    span.record("app", app.name.as_str());
    span.record("app.version", app.version.as_str());

    let Some(offer) = offer_sdp else {
        info!("INVITE without an SDP offer is not supported: 488");
        reject(&sip, 488, Some("Not Acceptable Here"), &[]).await;
        return;
    };
    let codecs = host.config.service_codecs(&service);
    let (media, answer_sdp) = match host
        .media
        .accept_offer_with(&offer, codecs.as_deref())
        .await
    {
        Ok(accepted) => accepted,
        Err(error) => {
            let (code, reason) = media_refusal(&error);
            info!(%error, code, "cannot accept the SDP offer");
            reject(&sip, code, Some(reason), &[]).await;
            return;
        }
    };

    let details = CallDetails {
        sip_call_id: call_id,
        call_from: from,
        call_to: to,
        request_uri,
        service,
        remote_address: remote.to_string(),
    };
    let (mut primary, port) =
        Instance::new_leg(&host, &app_key, 0, CallSnapshot::incoming(details));
    primary.signalling = Signalling::Inbound(sip.clone());
    primary.sip_events = Some(events);
    primary.media = Some(media);
    primary.local_sdp = answer_sdp;
    primary.received_headers = headers;
    let invocation = Invocation {
        instance_id: instance_id.clone(),
        application_parameters: parameters,
        outbound_parameters: None,
        media_dir: primary
            .media_dir
            .is_dir()
            .then(|| primary.media_dir.clone()),
    };
    let running = match host.runtime.start_call(app.clone(), port, invocation).await {
        Ok(running) => running,
        Err(StartError::PoolExhausted { .. }) => {
            warn!("no free app instance: 503");
            reject(
                &sip,
                503,
                Some("Service Unavailable"),
                &[("Retry-After", RETRY_AFTER_SECONDS)],
            )
            .await;
            return;
        }
        Err(error) => {
            error!(%error, "cannot start the app: 500");
            reject(&sip, 500, Some("Server Internal Error"), &[]).await;
            return;
        }
    };
    let mut instance = Instance::new(host.clone(), app_key, primary);
    let record = instance.serve(running.run()).await;
    instance.finish(&record.outcome).await;
    log_exit_record(&record);
}

/// Start an outbound app (an originate request): instantiate it with an idle
/// primary channel and its outbound parameters. Returns the instance id and the
/// future that runs the instance to its exit record (the caller spawns it).
pub async fn start_outbound(
    host: Arc<Host>,
    request: OriginateRequest,
) -> Result<(String, impl Future<Output = ()> + Send + 'static), OriginateError> {
    let Some(app) = host.registry.get(&request.app) else {
        return Err(OriginateError::UnknownApp(request.app));
    };
    let instance_id = new_instance_id();
    let span = info_span!(
        "call",
        call.id = %instance_id,
        app = %app.name,
        app.version = %app.version,
        outbound = true,
    );
    let (mut primary, port) = Instance::new_leg(&host, &request.app, 0, CallSnapshot::idle());
    if let Some(spec) = request.status_callback {
        primary.status = Some(StatusReporter::spawn(spec, instance_id.clone()));
    }
    let invocation = Invocation {
        instance_id: instance_id.clone(),
        application_parameters: request.application_parameters,
        outbound_parameters: Some(request.outbound_parameters.unwrap_or_default()),
        media_dir: primary
            .media_dir
            .is_dir()
            .then(|| primary.media_dir.clone()),
    };
    let running = match host
        .runtime
        .start_call(app.clone(), port, invocation)
        .instrument(span.clone())
        .await
    {
        Ok(running) => running,
        Err(StartError::PoolExhausted { limit }) => {
            return Err(OriginateError::Unavailable(format!(
                "all {limit} app instances are busy"
            )));
        }
        Err(error) => {
            return Err(OriginateError::Unavailable(format!(
                "cannot start the app: {error}"
            )));
        }
    };
    let app_key = request.app;
    let run = async move {
        info!("outbound app started");
        let mut instance = Instance::new(host, app_key, primary);
        let record = instance.serve(running.run()).await;
        instance.finish(&record.outcome).await;
        log_exit_record(&record);
    };
    Ok((instance_id, run.instrument(span)))
}

/// What one leg has for the instance task.
enum Input {
    Command(CallCommand),
    CommandsClosed,
    Sip(Option<CallEvent>),
    Media(Option<MediaEvent>),
}

/// One running app instance and its legs (index = leg id; 0 is the primary).
struct Instance {
    host: Arc<Host>,
    app_key: String,
    legs: Vec<Leg>,
    /// The port of extra channel `index`, once the app asked for it.
    extra: Vec<(u32, CallPort)>,
    /// Transfers whose service has not answered yet.
    transfers: Vec<PendingTransfer>,
}

/// A `transfer-to-inbound-service` waiting for the service to answer.
struct PendingTransfer {
    /// The leg being transferred (TRANSFERRING).
    leg: usize,
    /// The leg calling the service.
    via: usize,
    /// The outcome of the service call.
    answered: oneshot::Receiver<Result<CallState, CallError>>,
    reply: Reply<CallState>,
}

impl Instance {
    fn new(host: Arc<Host>, app_key: String, primary: Leg) -> Self {
        Instance {
            host,
            app_key,
            legs: vec![primary],
            extra: Vec::new(),
            transfers: Vec::new(),
        }
    }

    /// A new leg and the port the app reaches it by.
    fn new_leg(host: &Host, app_key: &str, id: u32, snapshot: CallSnapshot) -> (Leg, CallPort) {
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (snapshot_tx, snapshot_rx) = watch::channel(snapshot);
        let media_dir = host.config.media_dir.join(app_key);
        let mut leg = Leg::new(id, commands_rx, snapshot_tx, media_dir, host.media.clone());
        leg.speech = host.speech.clone();
        (
            leg,
            CallPort {
                leg: id,
                commands: commands_tx,
                snapshot: snapshot_rx,
            },
        )
    }

    /// Serve the legs' ports until the app's `main` ends.
    async fn serve(&mut self, run: impl Future<Output = ExitRecord>) -> ExitRecord {
        let mut run = std::pin::pin!(run);
        loop {
            let deadline = self
                .legs
                .iter()
                .fold(None, |next, leg| earliest(next, leg.next_deadline()));
            let legs = &mut self.legs;
            let next_input = std::future::poll_fn(|cx| poll_legs(legs, cx));
            tokio::select! {
                record = &mut run => return record,
                (index, input) = next_input => self.input(index, input).await,
                () = leg::sleep_until(deadline) => self.deadlines().await,
            }
            self.unbridge_idle_legs();
            self.follow_transfers().await;
        }
    }

    async fn input(&mut self, index: usize, input: Input) {
        match input {
            Input::Command(command) => self.command(index, command).await,
            Input::CommandsClosed => self.legs[index].commands_open = false,
            Input::Sip(Some(event)) => self.legs[index].sip_event(event).await,
            Input::Sip(None) => {
                let leg = &mut self.legs[index];
                leg.sip_events = None;
                leg.go_idle(CallCause::Error, None, "the SIP dialog ended");
            }
            Input::Media(Some(event)) => self.legs[index].media_event(event),
            Input::Media(None) => {
                let leg = &mut self.legs[index];
                if leg.state() != CallState::Idle {
                    warn!(leg = leg.id, "the media session stopped");
                }
                statistics::finish(leg);
                leg.media = None;
            }
        }
    }

    async fn deadlines(&mut self) {
        let now = Instant::now();
        for leg in &mut self.legs {
            leg.deadlines(now);
            outbound::check_timeout(leg, now).await;
        }
    }

    async fn command(&mut self, index: usize, command: CallCommand) {
        match command {
            CallCommand::Call {
                destination,
                options,
                wait,
                reply,
            } => {
                let host = self.host.clone();
                outbound::place(
                    &host,
                    &mut self.legs[index],
                    destination,
                    options,
                    wait,
                    reply,
                )
                .await;
            }
            CallCommand::CallService {
                service,
                options,
                reply,
            } => {
                let host = self.host.clone();
                outbound::place_local(&host, &mut self.legs[index], service, options, reply).await;
            }
            CallCommand::ExtraChannel {
                index: extra,
                reply,
            } => {
                let _ = reply.send(self.extra_channel(extra));
            }
            CallCommand::Connect { other, reply } => {
                let _ = reply.send(self.connect(index, other as usize));
            }
            CallCommand::Disconnect { reply } => {
                self.disconnect(index);
                let _ = reply.send(Ok(()));
            }
            CallCommand::Transfer {
                via,
                service,
                options,
                reply,
            } => {
                self.transfer(index, via as usize, service, options, reply)
                    .await;
            }
            command => self.legs[index].command(command).await,
        }
    }

    /// The port of extra channel `index`, creating its leg on first use; later
    /// requests get another handle to the same leg.
    fn extra_channel(&mut self, index: u32) -> Result<CallPort, CallError> {
        let limit = self.host.config.extra_channels;
        if index >= limit {
            return Err(CallError::Error(format!(
                "extra channel {index} does not exist: this host gives an app {limit}"
            )));
        }
        if let Some((_, port)) = self.extra.iter().find(|(extra, _)| *extra == index) {
            return Ok(port.clone());
        }
        let id = self.legs.len() as u32;
        let (leg, port) = Instance::new_leg(&self.host, &self.app_key, id, CallSnapshot::idle());
        self.legs.push(leg);
        self.extra.push((index, port.clone()));
        Ok(port)
    }

    fn connect(&mut self, index: usize, other: usize) -> Result<(), CallError> {
        if other >= self.legs.len() || other == index {
            return Err(CallError::Error(
                "that channel cannot be connected to this one".into(),
            ));
        }
        if self.legs[index].connected_to == Some(other as u32) {
            return Ok(());
        }
        for leg in [&self.legs[index], &self.legs[other]] {
            match leg.state() {
                CallState::Answered => {}
                CallState::Idle => {
                    return Err(CallError::Hangup(format!("channel {} is idle", leg.id)));
                }
                state => {
                    return Err(CallError::Error(format!(
                        "channel {} is not answered (state is {state:?})",
                        leg.id
                    )));
                }
            }
            if leg.is_busy_with_media() {
                return Err(CallError::Error(format!(
                    "channel {} is playing; stop it first",
                    leg.id
                )));
            }
            if leg.connected_to.is_some() {
                return Err(CallError::Error(format!(
                    "channel {} is already connected; disconnect it first",
                    leg.id
                )));
            }
        }
        let (Some(first), Some(second)) = (&self.legs[index].media, &self.legs[other].media) else {
            return Err(CallError::Error("a channel has no media session".into()));
        };
        first
            .connect(second)
            .map_err(|error| CallError::Error(format!("cannot connect the calls: {error}")))?;
        self.legs[index].connected_to = Some(other as u32);
        self.legs[other].connected_to = Some(index as u32);
        info!(first = index, second = other, "calls connected");
        Ok(())
    }

    fn disconnect(&mut self, index: usize) {
        if let Some(other) = self.legs[index].connected_to.take() {
            if let Some(media) = &self.legs[index].media {
                media.disconnect();
            }
            if let Some(peer) = self.legs.get_mut(other as usize) {
                peer.connected_to = None;
                if let Some(media) = &peer.media {
                    media.disconnect();
                }
            }
            info!(first = index, second = other, "calls disconnected");
        }
    }

    /// Start handing leg `index`'s call to `service` through leg `via` (the
    /// seed's retrievable transfer): `via` calls the service; the outcome is
    /// taken up by [`Self::follow_transfers`].
    async fn transfer(
        &mut self,
        index: usize,
        via: usize,
        service: String,
        options: CallOptions,
        reply: Reply<CallState>,
    ) {
        if via >= self.legs.len() || via == index {
            let _ = reply.send(Err(CallError::Error(
                "that channel cannot carry a transfer of this one".into(),
            )));
            return;
        }
        let leg = &self.legs[index];
        let refusal = match leg.state() {
            CallState::Answered if leg.connected_to.is_some() => Some(CallError::Error(
                "the call is connected to another; disconnect it first".into(),
            )),
            CallState::Answered if leg.is_busy_with_media() => Some(CallError::Error(
                "the call is playing; stop it first".into(),
            )),
            CallState::Answered => None,
            CallState::Idle => Some(CallError::Hangup("the call is idle".into())),
            state => Some(CallError::Error(format!(
                "only an ANSWERED call can be transferred (state is {state:?})"
            ))),
        };
        let refusal = refusal.or_else(|| {
            (self.legs[via].state() != CallState::Idle).then(|| {
                CallError::Error(format!(
                    "channel {via} is in use; a transfer needs an idle extra channel"
                ))
            })
        });
        if let Some(refusal) = refusal {
            let _ = reply.send(Err(refusal));
            return;
        }
        info!(leg = index, via, %service, "transferring the call to a service of this host");
        self.legs[index].update(|snapshot| snapshot.state = CallState::Transferring);
        self.legs[index].transferred_via = Some(via as u32);
        let (answered_tx, answered) = oneshot::channel();
        let host = self.host.clone();
        outbound::place_local(&host, &mut self.legs[via], service, options, answered_tx).await;
        tones::start_transfer_ringback(&self.legs[index]);
        self.transfers.push(PendingTransfer {
            leg: index,
            via,
            answered,
            reply,
        });
    }

    /// Move transfers on: connect a transfer whose service answered
    /// (TRANSFERRED), give back one it did not (ANSWERED); retrieve a
    /// TRANSFERRED call whose service hung up (ANSWERED), and hang up the
    /// service when the transferred caller leaves.
    async fn follow_transfers(&mut self) {
        let mut index = 0;
        while index < self.transfers.len() {
            let pending = &mut self.transfers[index];
            let outcome = match pending.answered.try_recv() {
                Err(oneshot::error::TryRecvError::Empty)
                    if self.legs[pending.leg].state() != CallState::Idle =>
                {
                    index += 1;
                    continue;
                }
                Err(_) => Err(CallError::Hangup("the transferred call ended".into())),
                Ok(outcome) => outcome,
            };
            let PendingTransfer {
                leg, via, reply, ..
            } = self.transfers.swap_remove(index);
            // The ringback ends whatever the outcome (no play job can run meanwhile).
            if let Some(media) = &self.legs[leg].media {
                media.stop_playing();
            }
            let result = match outcome {
                _ if self.legs[leg].state() == CallState::Idle => Ok(CallState::Idle),
                Ok(CallState::Answered) => match self.connect_transfer(leg, via) {
                    Ok(()) => Ok(CallState::Transferred),
                    Err(error) => Err(error),
                },
                Ok(_) | Err(_) => {
                    info!(leg, via, "the service did not take the transfer");
                    Ok(CallState::Answered)
                }
            };
            if result.as_ref().ok() != Some(&CallState::Transferred) {
                self.legs[leg].transferred_via = None;
                if self.legs[leg].state() == CallState::Transferring {
                    self.legs[leg].update(|snapshot| snapshot.state = CallState::Answered);
                }
                if self.legs[via].state() != CallState::Idle {
                    self.hang_up_leg(via, "the transfer did not complete").await;
                }
            }
            let _ = reply.send(result);
        }
        for index in 0..self.legs.len() {
            let Some(via) = self.legs[index].transferred_via.map(|via| via as usize) else {
                continue;
            };
            if self.legs[index].state() != CallState::Transferred {
                continue;
            }
            if self.legs[via].state() == CallState::Idle {
                info!(
                    leg = index,
                    via, "the service hung up: the transferred call is retrieved"
                );
                let leg = &mut self.legs[index];
                leg.transferred_via = None;
                leg.update(|snapshot| snapshot.state = CallState::Answered);
                for reply in leg.retrieval_waiters.drain(..) {
                    let _ = reply.send(Ok(CallState::Answered));
                }
            }
        }
        for index in 0..self.legs.len() {
            if self.legs[index].state() == CallState::Idle
                && let Some(via) = self.legs[index]
                    .transferred_via
                    .take()
                    .map(|via| via as usize)
                && self.legs[via].state() != CallState::Idle
            {
                self.hang_up_leg(via, "the transferred caller hung up")
                    .await;
            }
        }
    }

    /// Connect a transfer whose service answered; TRANSFERRED on success.
    fn connect_transfer(&mut self, leg: usize, via: usize) -> Result<(), CallError> {
        self.legs[leg].update(|snapshot| snapshot.state = CallState::Answered);
        let connected = self.connect(leg, via);
        if connected.is_ok() {
            self.legs[leg].update(|snapshot| snapshot.state = CallState::Transferred);
            info!(leg, via, "call transferred");
        }
        connected
    }

    /// Hang up leg `index` from the host's side (BYE or CANCEL).
    async fn hang_up_leg(&mut self, index: usize, why: &str) {
        let leg = &mut self.legs[index];
        if let Err(error) = leg.signalling.hang_up().await {
            debug!(leg = index, %error, "hang-up failed");
        }
        leg.go_idle(CallCause::Normal, None, why);
    }

    /// A connection ends when either leg goes idle.
    fn unbridge_idle_legs(&mut self) {
        let ended: Vec<usize> = (0..self.legs.len())
            .filter(|&index| {
                self.legs[index].connected_to.is_some()
                    && self.legs[index].state() == CallState::Idle
            })
            .collect();
        for index in ended {
            self.disconnect(index);
        }
    }

    /// After `main` ended: hang up every call the app left up. A call whose app
    /// failed ends with cause ERROR; an unanswered inbound one gets 500 rather than 480.
    async fn finish(&mut self, outcome: &ExitOutcome) {
        let failed = !matches!(outcome, ExitOutcome::Returned(_));
        for leg in &mut self.legs {
            let state = leg.state();
            if state == CallState::Idle {
                continue;
            }
            let unanswered = matches!(state, CallState::CallIncoming | CallState::RingIncoming);
            info!(
                leg = leg.id,
                ?state,
                "the app ended with the call still up: hanging up"
            );
            let (sent, raw) = match &leg.signalling {
                Signalling::Inbound(call) if failed && unanswered => (
                    call.reject(500, Some("Server Internal Error"), &[]).await,
                    Some(500),
                ),
                Signalling::LocalCallee(link) if unanswered => {
                    let code = if failed { 500 } else { 480 };
                    local::reject(link, code);
                    (Ok(()), Some(code))
                }
                signalling => (signalling.hang_up().await, None),
            };
            if let Err(error) = sent {
                debug!(%error, "hang-up after exit failed");
            }
            let cause = if failed {
                CallCause::Error
            } else {
                CallCause::Normal
            };
            leg.go_idle(cause, raw, "the app ended");
        }
    }
}

/// The first input any leg has ready.
fn poll_legs(legs: &mut [Leg], cx: &mut std::task::Context<'_>) -> Poll<(usize, Input)> {
    for (index, leg) in legs.iter_mut().enumerate() {
        if leg.commands_open {
            match leg.commands.poll_recv(cx) {
                Poll::Ready(Some(command)) => {
                    return Poll::Ready((index, Input::Command(*command)));
                }
                Poll::Ready(None) => return Poll::Ready((index, Input::CommandsClosed)),
                Poll::Pending => {}
            }
        }
        if let Some(events) = &mut leg.sip_events
            && let Poll::Ready(event) = events.poll_recv(cx)
        {
            return Poll::Ready((index, Input::Sip(event)));
        }
        if let Some(media) = &mut leg.media
            && let Poll::Ready(event) = media.poll_event(cx)
        {
            return Poll::Ready((index, Input::Media(event)));
        }
    }
    Poll::Pending
}

/// One line per call with everything an operator needs to know how it ended.
fn log_exit_record(record: &ExitRecord) {
    let exit_code = host_exit_code(&record.outcome);
    let wall_ms = record.wall_time.as_millis() as u64;
    let cpu_ticks = record.guest_cpu_ticks;
    let (instance_id, app, version) = (&record.instance_id, &record.app, &record.version);
    match &record.outcome {
        ExitOutcome::Returned(_) => {
            info!(%instance_id, %app, %version, exit_code, wall_ms, cpu_ticks, "exit record: {}", record.message)
        }
        _ => {
            warn!(%instance_id, %app, %version, exit_code, wall_ms, cpu_ticks, "exit record: app ended by the host: {}", record.message)
        }
    }
}

fn media_refusal(error: &MediaError) -> (u16, &'static str) {
    match error {
        MediaError::NoFreePort { .. } | MediaError::Bind { .. } => (503, "Service Unavailable"),
        MediaError::InvalidSdp(_) => (400, "Bad Request"),
        _ => (488, "Not Acceptable Here"),
    }
}

async fn reject(sip: &ServerCall, code: u16, reason: Option<&str>, headers: &[(&str, &str)]) {
    if let Err(error) = sip.reject(code, reason, headers).await {
        debug!(%error, code, "could not send the final response");
    }
}

/// The SIP status a UAS `reject(cause)` sends.
pub fn reject_status(cause: CallCause) -> u16 {
    match cause {
        CallCause::Busy => 486,
        CallCause::Rejected => 603,
        CallCause::Unobtainable => 404,
        CallCause::Barred => 403,
        CallCause::Congestion | CallCause::NoChannels => 503,
        CallCause::Changed => 410,
        CallCause::OutOfOrder => 502,
        CallCause::Error | CallCause::Failed => 500,
        CallCause::Timeout | CallCause::NoAnswer | CallCause::Normal | CallCause::Other => 480,
    }
}
