//! The per-call task: one inbound call from INVITE to exit record.
//!
//! [`handle_incoming`] routes the INVITE to an app (404 when there is none),
//! negotiates media (488 when there is no common codec), instantiates a fresh
//! app instance (503 + Retry-After when the pool is full), then runs the app's
//! `main` while this task serves its [`CallPort`]: it is the only owner of the
//! call's SIP dialog handle and media session, so every state change happens
//! here, in order. Dropping the task is the cleanup: the media session frees its
//! port, the instance frees its pool slot.
//!
//! Depends on callhost-sip, callhost-media and callhost-runtime; this is where
//! the three meet. SIP behaviour: RFC 3261 §13.3 (UAS INVITE), §9.2 (CANCEL).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

use callhost_media::{MediaEngine, MediaError, MediaEvent, MediaSession};
use callhost_runtime::port::{
    CallCause, CallCommand, CallDetails, CallError, CallPort, CallSnapshot, CallState, DetectorCause, DtmfPlayerCause,
    PlayerCause, PlayerState, Reply,
};
use callhost_runtime::{ExitOutcome, ExitRecord, Invocation, PluginRegistry, Runtime, StartError};
use callhost_sip::{CallEvent, IncomingCall, ServerCall};

use crate::config::Config;
use crate::digits::{Collected, Collection, earliest, info_digit};
use crate::media_path;

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
}

/// Commands an app can have in flight: the guest is single-threaded, so a few suffice.
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

/// Handle one incoming call to the end. Never panics on bad input; every refusal
/// gets a SIP final response.
pub async fn handle_incoming(host: Arc<Host>, incoming: IncomingCall) {
    let instance_id = format!("{:016x}", rand::random::<u64>());
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
    run_call(host, incoming, instance_id).instrument(span).await;
}

async fn run_call(host: Arc<Host>, incoming: IncomingCall, instance_id: String) {
    let IncomingCall { call_id, from, to, request_uri, service, remote, offer_sdp, call: sip, events, .. } = incoming;
    info!(remote = %remote, "incoming call");

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
    let (media, answer_sdp) = match host.media.accept_offer(&offer).await {
        Ok(accepted) => accepted,
        Err(error) => {
            let (code, reason) = media_refusal(&error);
            info!(%error, code, "cannot accept the SDP offer");
            reject(&sip, code, Some(reason), &[]).await;
            return;
        }
    };

    let media_dir = host.config.media_dir.join(&app_key);
    let details = CallDetails {
        sip_call_id: call_id,
        call_from: from,
        call_to: to,
        request_uri,
        service,
        remote_address: remote.to_string(),
    };
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (snapshot_tx, snapshot_rx) = watch::channel(CallSnapshot::incoming());
    let port = CallPort { commands: commands_tx, snapshot: snapshot_rx, details };
    let invocation = Invocation {
        instance_id: instance_id.clone(),
        application_parameters: parameters,
        outbound_parameters: None,
        media_dir: media_dir.is_dir().then(|| media_dir.clone()),
    };
    let running = match host.runtime.start_call(app.clone(), port, invocation).await {
        Ok(running) => running,
        Err(StartError::PoolExhausted { .. }) => {
            warn!("no free app instance: 503");
            reject(&sip, 503, Some("Service Unavailable"), &[("Retry-After", RETRY_AFTER_SECONDS)]).await;
            return;
        }
        Err(error) => {
            error!(%error, "cannot start the app: 500");
            reject(&sip, 500, Some("Server Internal Error"), &[]).await;
            return;
        }
    };

    let mut task = CallTask {
        sip,
        media: Some(media),
        answer_sdp,
        snapshot: snapshot_tx,
        media_dir,
        engine: host.media.clone(),
        ring: None,
        idle_waiters: Vec::new(),
        play: None,
        play_waiters: Vec::new(),
        buffered: VecDeque::new(),
        collection: None,
        dtmf: None,
    };
    let record = task.serve(running.run(), commands_rx, events).await;
    task.finish(&record.outcome).await;
    log_exit_record(&record);
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
        _ => warn!(%instance_id, %app, %version, exit_code, wall_ms, cpu_ticks, "exit record: app ended by the host: {}", record.message),
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

struct PlayJob {
    id: u64,
    barge_in: bool,
    /// Why the host stopped it, if it did (a stop request or barge-in).
    stop_cause: Option<PlayerCause>,
}

/// State of one call while its app runs.
struct CallTask {
    sip: ServerCall,
    /// None once the media driver has stopped.
    media: Option<MediaSession>,
    answer_sdp: String,
    snapshot: watch::Sender<CallSnapshot>,
    media_dir: PathBuf,
    engine: MediaEngine,
    ring: Option<(Instant, Reply<()>)>,
    idle_waiters: Vec<(Option<Instant>, Reply<CallState>)>,
    play: Option<PlayJob>,
    play_waiters: Vec<Reply<PlayerCause>>,
    /// Digits received while no collection was running.
    buffered: VecDeque<char>,
    collection: Option<(Collection, Reply<String>)>,
    dtmf: Option<(u64, Reply<DtmfPlayerCause>)>,
}

async fn next_media_event(media: &mut Option<MediaSession>) -> Option<MediaEvent> {
    match media {
        Some(session) => session.next_event().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl CallTask {
    /// Serve the port until the app's `main` ends.
    async fn serve(
        &mut self,
        run: impl Future<Output = ExitRecord>,
        mut commands: mpsc::Receiver<CallCommand>,
        mut events: mpsc::Receiver<CallEvent>,
    ) -> ExitRecord {
        let mut run = std::pin::pin!(run);
        let mut sip_open = true;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                record = &mut run => return record,
                Some(command) = commands.recv() => self.command(command).await,
                event = events.recv(), if sip_open => match event {
                    Some(event) => self.sip_event(event).await,
                    None => {
                        sip_open = false;
                        self.go_idle(CallCause::Error, None, "the SIP dialog ended");
                    }
                },
                event = next_media_event(&mut self.media) => match event {
                    Some(event) => self.media_event(event),
                    None => {
                        warn!("the media session stopped");
                        self.media = None;
                    }
                },
                () = sleep_until_deadline(deadline) => self.deadlines(Instant::now()),
            }
        }
    }

    /// After `main` ended: hang up a call the app left up. A call whose app
    /// failed ends with cause ERROR; an unanswered one gets 500 rather than 480.
    async fn finish(&mut self, outcome: &ExitOutcome) {
        let state = self.state();
        if state == CallState::Idle {
            return;
        }
        let failed = !matches!(outcome, ExitOutcome::Returned(_));
        let unanswered = matches!(state, CallState::CallIncoming | CallState::RingIncoming);
        info!(?state, "the app ended with the call still up: hanging up");
        let (sent, raw) = if failed && unanswered {
            (self.sip.reject(500, Some("Server Internal Error"), &[]).await, Some(500))
        } else {
            (self.sip.hang_up().await, None)
        };
        if let Err(error) = sent {
            debug!(%error, "hang-up after exit failed");
        }
        let cause = if failed { CallCause::Error } else { CallCause::Normal };
        self.go_idle(cause, raw, "the app ended");
    }

    fn state(&self) -> CallState {
        self.snapshot.borrow().state
    }

    fn update(&self, change: impl FnOnce(&mut CallSnapshot)) {
        self.snapshot.send_modify(change);
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.ring.as_ref().map(|(at, _)| *at);
        for (at, _) in &self.idle_waiters {
            next = earliest(next, *at);
        }
        if let Some((collection, _)) = &self.collection {
            next = earliest(next, collection.deadline());
        }
        next
    }

    fn deadlines(&mut self, now: Instant) {
        if self.ring.as_ref().is_some_and(|(at, _)| *at <= now)
            && let Some((_, reply)) = self.ring.take()
        {
            let _ = reply.send(Ok(()));
        }
        let state = self.state();
        let (expired, waiting): (Vec<_>, Vec<_>) =
            self.idle_waiters.drain(..).partition(|(at, _)| at.is_some_and(|at| at <= now));
        self.idle_waiters = waiting;
        for (_, reply) in expired {
            let _ = reply.send(Ok(state));
        }
        if let Some((collection, _)) = &mut self.collection
            && let Some(done) = collection.poll_timeout(now)
        {
            self.finish_collection(done);
        }
    }

    /// The call is over: record why and release everyone waiting on it.
    fn go_idle(&mut self, cause: CallCause, raw: Option<u16>, why: &str) {
        if self.state() == CallState::Idle {
            return;
        }
        info!(?cause, raw_cause = ?raw, "call idle: {why}");
        let was_playing = self.play.take().is_some();
        let had_dtmf = self.dtmf.is_some();
        self.update(|snapshot| {
            snapshot.state = CallState::Idle;
            snapshot.cause = Some(cause);
            snapshot.raw_cause = raw;
            snapshot.player_state = PlayerState::Idle;
            if was_playing {
                snapshot.player_cause = PlayerCause::Hangup;
            }
            if had_dtmf {
                snapshot.dtmf_player_cause = DtmfPlayerCause::Hangup;
            }
        });
        if let Some(media) = &self.media {
            media.stop_playing();
            media.stop_dtmf();
        }
        let hangup = || CallError::Hangup(why.to_owned());
        if let Some((_, reply)) = self.ring.take() {
            let _ = reply.send(Err(hangup()));
        }
        for reply in self.play_waiters.drain(..) {
            let _ = reply.send(Err(hangup()));
        }
        if let Some((_, reply)) = self.dtmf.take() {
            let _ = reply.send(Err(hangup()));
        }
        if let Some((_, reply)) = self.collection.take() {
            self.update(|snapshot| snapshot.detector_cause = DetectorCause::Hangup);
            let _ = reply.send(Err(hangup()));
        }
        for (_, reply) in self.idle_waiters.drain(..) {
            let _ = reply.send(Ok(CallState::Idle));
        }
    }

    /// Refuse a media command unless the call is answered.
    fn require_answered(&self, what: &str) -> Result<(), CallError> {
        match self.state() {
            CallState::Answered => Ok(()),
            CallState::Idle => Err(CallError::Hangup("the call is idle".into())),
            other => Err(CallError::Error(format!("{what} needs an answered call (state is {other:?})"))),
        }
    }

    async fn command(&mut self, command: CallCommand) {
        match command {
            CallCommand::Ring { seconds, reply } => self.ring(seconds, reply).await,
            CallCommand::Answer { reply } => {
                let result = self.answer().await;
                let _ = reply.send(result);
            }
            CallCommand::Reject { cause, reply } => {
                let result = self.reject(cause).await;
                let _ = reply.send(result);
            }
            CallCommand::HangUp { reply } => {
                if self.state() != CallState::Idle {
                    if let Err(error) = self.sip.hang_up().await {
                        debug!(%error, "hang-up failed");
                    }
                    self.go_idle(CallCause::Normal, None, "the app hung up");
                }
                let _ = reply.send(Ok(self.state()));
            }
            CallCommand::WaitForIdle { timeout, reply } => {
                if self.state() == CallState::Idle {
                    let _ = reply.send(Ok(CallState::Idle));
                } else {
                    self.idle_waiters.push((timeout.map(|limit| Instant::now() + limit), reply));
                }
            }
            CallCommand::PlayStart { filename, barge_in, reply } => {
                let result = self.start_play(&filename, barge_in).await;
                let _ = reply.send(result);
            }
            CallCommand::PlayStop { reply } => {
                if let Some(job) = &mut self.play {
                    job.stop_cause.get_or_insert(PlayerCause::Aborted);
                    if let Some(media) = &self.media {
                        media.stop_playing();
                    }
                }
                let _ = reply.send(Ok(()));
            }
            CallCommand::PlayWait { reply } => {
                if self.play.is_some() {
                    self.play_waiters.push(reply);
                } else if self.state() == CallState::Idle && self.snapshot.borrow().player_cause == PlayerCause::Hangup {
                    let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
                } else {
                    let _ = reply.send(Ok(self.snapshot.borrow().player_cause));
                }
            }
            CallCommand::GetDigits { options, reply } => {
                if self.state() == CallState::Idle {
                    let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
                    return;
                }
                if options.clear {
                    self.buffered.clear();
                }
                self.update(|snapshot| snapshot.detector_cause = DetectorCause::None);
                let mut collection = Collection::new(options, Instant::now());
                match collection.absorb(&mut self.buffered, Instant::now()) {
                    Some(done) => {
                        self.update(|snapshot| snapshot.detector_cause = done.cause);
                        let _ = reply.send(Ok(done.digits));
                    }
                    None => self.collection = Some((collection, reply)),
                }
            }
            CallCommand::ClearDigits => self.buffered.clear(),
            CallCommand::DtmfPlay { digits, reply } => self.play_dtmf(&digits, reply),
        }
    }

    async fn ring(&mut self, seconds: u32, reply: Reply<()>) {
        match self.state() {
            CallState::CallIncoming | CallState::RingIncoming => {}
            CallState::Idle => {
                let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
                return;
            }
            other => {
                let _ = reply.send(Err(CallError::Error(format!("ring is only valid before answer (state is {other:?})"))));
                return;
            }
        }
        if let Err(error) = self.sip.ringing().await {
            let _ = reply.send(Err(CallError::Error(format!("could not send 180 Ringing: {error}"))));
            return;
        }
        self.update(|snapshot| snapshot.state = CallState::RingIncoming);
        if seconds == 0 {
            let _ = reply.send(Ok(()));
        } else {
            self.ring = Some((Instant::now() + Duration::from_secs(u64::from(seconds)), reply));
        }
    }

    async fn answer(&mut self) -> Result<(), CallError> {
        match self.state() {
            CallState::Answered => return Ok(()),
            CallState::CallIncoming | CallState::RingIncoming => {}
            CallState::Idle => return Err(CallError::Hangup("the call is idle".into())),
            other => return Err(CallError::Error(format!("cannot answer in state {other:?}"))),
        }
        self.update(|snapshot| snapshot.state = CallState::Answering);
        match self.sip.answer(self.answer_sdp.clone()).await {
            Ok(()) => {
                self.update(|snapshot| snapshot.state = CallState::Answered);
                if let Some(media) = &self.media {
                    media.start_sending();
                }
                info!("answered");
                Ok(())
            }
            Err(error) => {
                let why = format!("answer failed: {error}");
                self.go_idle(CallCause::Error, None, &why);
                Err(CallError::Hangup(why))
            }
        }
    }

    async fn reject(&mut self, cause: CallCause) -> Result<(), CallError> {
        match self.state() {
            CallState::CallIncoming | CallState::RingIncoming => {}
            CallState::Idle => return Err(CallError::Hangup("the call is idle".into())),
            other => return Err(CallError::Error(format!("cannot reject in state {other:?}; hang up instead"))),
        }
        let code = reject_status(cause);
        if let Err(error) = self.sip.reject(code, None, &[]).await {
            debug!(%error, code, "reject failed");
        }
        self.go_idle(cause, Some(code), "the app rejected the call");
        Ok(())
    }

    async fn start_play(&mut self, filename: &str, barge_in: bool) -> Result<(), CallError> {
        self.require_answered("play")?;
        let fail = |task: &Self, message: String| {
            task.update(|snapshot| snapshot.player_cause = PlayerCause::Error);
            Err(CallError::Error(message))
        };
        let path = match media_path::resolve(&self.media_dir, filename) {
            Ok(path) => path,
            Err(error) => return fail(self, error.to_string()),
        };
        let engine = self.engine.clone();
        let loaded = tokio::task::spawn_blocking(move || engine.load_prompt(&path)).await;
        let prompt = match loaded {
            Ok(Ok(prompt)) => prompt,
            Ok(Err(error)) => return fail(self, format!("cannot play `{filename}`: {error}")),
            Err(join) => return fail(self, format!("cannot play `{filename}`: loader failed: {join}")),
        };
        // A new job replaces the current one, which ends ABORTED.
        if let Some(mut old) = self.play.take() {
            old.stop_cause.get_or_insert(PlayerCause::Aborted);
            self.finish_play(old, false);
        }
        let Some(id) = self.media.as_ref().map(|media| media.play(prompt)) else {
            return fail(self, "the media session has stopped".into());
        };
        self.play = Some(PlayJob { id, barge_in, stop_cause: None });
        self.update(|snapshot| {
            snapshot.player_state = PlayerState::Playing;
            snapshot.player_cause = PlayerCause::None;
        });
        debug!(file = filename, barge_in, "playing");
        // Digits typed ahead of a barge-in prompt interrupt it at once.
        if barge_in && !self.buffered.is_empty() {
            self.barge_in();
        }
        Ok(())
    }

    fn barge_in(&mut self) {
        if let Some(job) = &mut self.play
            && job.barge_in
            && job.stop_cause.is_none()
        {
            job.stop_cause = Some(PlayerCause::BargeIn);
            if let Some(media) = &self.media {
                media.stop_playing();
            }
        }
    }

    fn finish_play(&mut self, job: PlayJob, completed: bool) {
        let cause = if completed { PlayerCause::Normal } else { job.stop_cause.unwrap_or(PlayerCause::Aborted) };
        self.update(|snapshot| {
            snapshot.player_state = PlayerState::Idle;
            snapshot.player_cause = cause;
        });
        for reply in self.play_waiters.drain(..) {
            let _ = reply.send(Ok(cause));
        }
    }

    fn play_dtmf(&mut self, digits: &str, reply: Reply<DtmfPlayerCause>) {
        if let Err(error) = self.require_answered("DTMF play") {
            let _ = reply.send(Err(error));
            return;
        }
        let Some(media) = &self.media else {
            let _ = reply.send(Err(CallError::Error("the media session has stopped".into())));
            return;
        };
        match media.send_dtmf(digits) {
            Ok(id) => {
                self.update(|snapshot| snapshot.dtmf_player_cause = DtmfPlayerCause::None);
                self.dtmf = Some((id, reply));
            }
            Err(error) => {
                self.update(|snapshot| snapshot.dtmf_player_cause = DtmfPlayerCause::Error);
                let _ = reply.send(Err(CallError::Error(error.to_string())));
            }
        }
    }

    fn finish_collection(&mut self, done: Collected) {
        if let Some((_, reply)) = self.collection.take() {
            info!(digits = %done.digits, cause = ?done.cause, "get-digits finished");
            self.update(|snapshot| snapshot.detector_cause = done.cause);
            let _ = reply.send(Ok(done.digits));
        }
    }

    /// A digit from the caller, by any method: buffer it, barge in, feed get-digits.
    fn digit_received(&mut self, digit: char, method: &str) {
        debug!(%digit, method, "DTMF received");
        if self.state() == CallState::Idle {
            return;
        }
        self.buffered.push_back(digit);
        self.barge_in();
        if let Some((collection, _)) = &mut self.collection
            && let Some(done) = collection.absorb(&mut self.buffered, Instant::now())
        {
            self.finish_collection(done);
        }
    }

    fn media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf { digit } => self.digit_received(digit, "RFC 4733"),
            MediaEvent::PlayFinished { id, completed } => {
                if self.play.as_ref().is_some_and(|job| job.id == id)
                    && let Some(job) = self.play.take()
                {
                    self.finish_play(job, completed);
                }
            }
            MediaEvent::DtmfFinished { id, completed } => {
                if self.dtmf.as_ref().is_some_and(|(current, _)| *current == id)
                    && let Some((_, reply)) = self.dtmf.take()
                {
                    let cause = if completed { DtmfPlayerCause::Normal } else { DtmfPlayerCause::Aborted };
                    self.update(|snapshot| snapshot.dtmf_player_cause = cause);
                    let _ = reply.send(Ok(cause));
                }
            }
        }
    }

    async fn sip_event(&mut self, event: CallEvent) {
        match event {
            CallEvent::Cancelled => self.go_idle(CallCause::Normal, Some(487), "the caller cancelled"),
            CallEvent::Bye => self.go_idle(CallCause::Normal, None, "the caller hung up"),
            CallEvent::Ended { reason } => self.go_idle(CallCause::Error, None, &format!("the dialog ended: {reason}")),
            CallEvent::ReInvite { offer_sdp, responder } => {
                let outcome = match (&offer_sdp, &self.media) {
                    (Some(offer), Some(media)) => media.update_offer(offer).map_err(|error| error.to_string()),
                    (None, Some(_)) => Ok(self.answer_sdp.clone()),
                    (_, None) => Err("no media session".to_owned()),
                };
                let sent = match outcome {
                    Ok(answer) => {
                        self.answer_sdp = answer.clone();
                        responder.accept(answer).await
                    }
                    Err(error) => {
                        info!(%error, "re-INVITE refused: 488");
                        responder.reject(488).await
                    }
                };
                if let Err(error) = sent {
                    debug!(%error, "re-INVITE response failed");
                }
            }
            CallEvent::Info { content_type, body } => match info_digit(&content_type, &body) {
                Some(digit) => self.digit_received(digit, "SIP INFO"),
                None => debug!(%content_type, len = body.len(), "INFO received"),
            },
            other => debug!(?other, "SIP event not handled yet"),
        }
    }
}
