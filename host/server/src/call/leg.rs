//! One leg of an app instance: a `channel` as the host sees it.
//!
//! A leg owns its SIP signalling handle (an inbound [`ServerCall`] or an outbound
//! [`ClientCall`]), its media session, the snapshot the never-blocking WIT
//! functions read, and the per-leg jobs: ringing, play, DTMF play, digit
//! collection, idle waiters. The instance task (`call.rs`) feeds it commands and
//! events in order; everything that touches two legs (connect) or the host
//! (placing calls) lives there or in `outbound.rs`.
//!
//! SIP behaviour: RFC 3261 §13.3 (UAS INVITE), §9.2 (CANCEL), §15 (BYE), §14
//! (re-INVITE). DTMF from RFC 4733 events and SIP INFO (application/dtmf-relay,
//! application/dtmf) feeds one digit buffer.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info};

use callhost_media::tone::ToneSequence;
use callhost_media::tts::Speaker;
use callhost_media::{MediaEngine, MediaEvent, MediaSession, PendingMedia};
use callhost_runtime::port::{
    CallCause, CallCommand, CallError, CallSnapshot, CallState, DetectorCause, DtmfPlayerCause,
    HeaderField, PlayerCause, PlayerState, Reply, SipBody,
};
use callhost_sip::{CallEvent, ClientCall, ServerCall, SipError};

use crate::digits::{Collected, Collection, earliest, info_digit};
use crate::status_callback::StatusReporter;

use super::local::{self, LocalLink};

use super::reject_status;

/// How a leg's SIP dialog is reached.
#[derive(Clone)]
pub(crate) enum Signalling {
    /// No call on this leg yet (an extra channel, an outbound app's channel).
    None,
    /// A call that arrived.
    Inbound(ServerCall),
    /// A call this leg placed.
    Outbound(ClientCall),
    /// A call this leg placed to another service of this host (`call-inbound-service`).
    LocalCaller(LocalLink),
    /// A call that came from another app of this host.
    LocalCallee(LocalLink),
}

impl Signalling {
    /// BYE (or CANCEL / a final response for a call not yet answered).
    pub(crate) async fn hang_up(&self) -> Result<(), SipError> {
        match self {
            Signalling::None => Ok(()),
            Signalling::Inbound(call) => call.hang_up().await,
            Signalling::Outbound(call) => call.hang_up().await,
            Signalling::LocalCaller(link) | Signalling::LocalCallee(link) => {
                super::local::hang_up(link);
                Ok(())
            }
        }
    }

    pub(crate) async fn send_info(&self, content_type: &str, body: &str) -> Result<u16, SipError> {
        match self {
            Signalling::None => Ok(481),
            Signalling::Inbound(call) => call.send_info(content_type, body).await,
            Signalling::Outbound(call) => call.send_info(content_type, body).await,
            Signalling::LocalCaller(link) | Signalling::LocalCallee(link) => {
                link.send(CallEvent::Info {
                    content_type: content_type.to_owned(),
                    body: body.to_owned(),
                });
                Ok(200)
            }
        }
    }

    pub(crate) async fn send_message(
        &self,
        content_type: &str,
        body: &str,
    ) -> Result<u16, SipError> {
        match self {
            Signalling::None => Ok(481),
            Signalling::Inbound(call) => call.send_message(content_type, body).await,
            Signalling::Outbound(call) => call.send_message(content_type, body).await,
            Signalling::LocalCaller(link) | Signalling::LocalCallee(link) => {
                link.send(CallEvent::Message {
                    content_type: content_type.to_owned(),
                    body: body.to_owned(),
                });
                Ok(200)
            }
        }
    }
}

/// An outgoing call in progress on this leg (before it is answered or idle).
pub(crate) struct Outgoing {
    /// When the app's answer timeout runs out.
    pub deadline: Instant,
    /// `call` (and `wait-for-outgoing-call`) replies waiting for ANSWERED or IDLE.
    pub waiters: Vec<Reply<CallState>>,
    /// The offer's media, until the answer arrives.
    pub pending_media: Option<PendingMedia>,
    /// When the INVITE went out.
    pub started: Instant,
}

/// Most INFO or MESSAGE bodies kept for an app that does not collect them.
const MAX_BUFFERED_BODIES: usize = 64;

/// One channel of an app instance.
pub(crate) struct Leg {
    pub id: u32,
    pub signalling: Signalling,
    /// The dialog's events; none when there is no call or it is over.
    pub sip_events: Option<mpsc::Receiver<CallEvent>>,
    pub commands: mpsc::Receiver<Box<CallCommand>>,
    pub commands_open: bool,
    /// None once the media driver has stopped (or before there is media).
    pub media: Option<MediaSession>,
    /// Our current SDP (answer of an inbound call; offer of an outbound one).
    pub local_sdp: String,
    pub snapshot: Arc<watch::Sender<CallSnapshot>>,
    pub media_dir: PathBuf,
    pub engine: MediaEngine,
    ring: Option<(Instant, Reply<()>)>,
    idle_waiters: Vec<(Option<Instant>, Reply<CallState>)>,
    pub(super) play: Option<super::play::PlayJob>,
    pub(super) play_waiters: Vec<Reply<PlayerCause>>,
    /// Digits received while no collection was running.
    buffered: VecDeque<char>,
    collection: Option<(Collection, Reply<String>)>,
    pub(super) dtmf: Option<(u64, Reply<DtmfPlayerCause>)>,
    pub outgoing: Option<Outgoing>,
    /// When the current call was answered (for durations).
    pub answered_at: Option<Instant>,
    /// The leg this one's audio is connected to.
    pub connected_to: Option<u32>,
    pub headers_to_send: Vec<HeaderField>,
    /// Headers of the INVITE received (inbound) or of the 2xx (outbound).
    pub received_headers: Vec<(String, String)>,
    pub infos: VecDeque<SipBody>,
    pub messages: VecDeque<SipBody>,
    /// Status callbacks of an originate request (outbound app's primary leg).
    pub status: Option<StatusReporter>,
    /// While TRANSFERRING or TRANSFERRED: the leg the call was handed to.
    pub transferred_via: Option<u32>,
    /// Apps waiting for a TRANSFERRED call to come back.
    pub retrieval_waiters: Vec<Reply<CallState>>,
    /// The file and whole-call recorders' jobs.
    pub recorders: super::record::Recorders,
    /// Text to speech for `say` (the host's).
    pub speech: Option<Arc<Speaker>>,
    /// The tone `ring` plays as early media (the app's default tone).
    pub ringtone: Option<Arc<ToneSequence>>,
    /// True while the ringtone plays before answer.
    pub early_media: bool,
    /// The audio figures kept when the call ended (the media session is gone then).
    pub final_statistics: Option<callhost_runtime::port::MediaStatistics>,
}

/// Sleep until `deadline`, or forever when there is none.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Leg {
    pub(crate) fn new(
        id: u32,
        commands: mpsc::Receiver<Box<CallCommand>>,
        snapshot: watch::Sender<CallSnapshot>,
        media_dir: PathBuf,
        engine: MediaEngine,
    ) -> Self {
        Leg {
            id,
            signalling: Signalling::None,
            sip_events: None,
            commands,
            commands_open: true,
            media: None,
            local_sdp: String::new(),
            snapshot: Arc::new(snapshot),
            media_dir,
            engine,
            ring: None,
            idle_waiters: Vec::new(),
            play: None,
            play_waiters: Vec::new(),
            buffered: VecDeque::new(),
            collection: None,
            dtmf: None,
            outgoing: None,
            answered_at: None,
            connected_to: None,
            headers_to_send: Vec::new(),
            transferred_via: None,
            retrieval_waiters: Vec::new(),
            received_headers: Vec::new(),
            infos: VecDeque::new(),
            messages: VecDeque::new(),
            status: None,
            recorders: super::record::Recorders::default(),
            speech: None,
            ringtone: None,
            early_media: false,
            final_statistics: None,
        }
    }

    pub(crate) fn state(&self) -> CallState {
        self.snapshot.borrow().state
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut CallSnapshot)) {
        self.snapshot.send_modify(change);
    }

    pub(crate) fn has_buffered_digits(&self) -> bool {
        !self.buffered.is_empty()
    }

    pub(crate) fn is_busy_with_media(&self) -> bool {
        self.play.is_some() || self.dtmf.is_some()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.ring.as_ref().map(|(at, _)| *at);
        for (at, _) in &self.idle_waiters {
            next = earliest(next, *at);
        }
        if let Some((collection, _)) = &self.collection {
            next = earliest(next, collection.deadline());
        }
        if let Some(outgoing) = &self.outgoing {
            next = earliest(next, Some(outgoing.deadline));
        }
        next
    }

    /// Timers that ran out: ringing, idle waits, digit collection. (The outgoing
    /// call's answer timeout is the instance's, see `outbound.rs`.)
    pub(crate) fn deadlines(&mut self, now: Instant) {
        if self.ring.as_ref().is_some_and(|(at, _)| *at <= now)
            && let Some((_, reply)) = self.ring.take()
        {
            let _ = reply.send(Ok(()));
        }
        let state = self.state();
        let (expired, waiting): (Vec<_>, Vec<_>) = self
            .idle_waiters
            .drain(..)
            .partition(|(at, _)| at.is_some_and(|at| at <= now));
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
    pub(crate) fn go_idle(&mut self, cause: CallCause, raw: Option<u16>, why: &str) {
        if self.state() == CallState::Idle {
            return;
        }
        info!(?cause, raw_cause = ?raw, leg = self.id, "call idle: {why}");
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
            media.disconnect();
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
        for reply in self.retrieval_waiters.drain(..) {
            let _ = reply.send(Ok(CallState::Idle));
        }
        super::record::hang_up(self, why);
        if let Some(outgoing) = self.outgoing.take() {
            for reply in outgoing.waiters {
                let _ = reply.send(Ok(CallState::Idle));
            }
        }
        super::outbound::report_completed(self, raw);
        super::statistics::finish(self);
        // The media session of a call that is over has nothing more to do.
        self.media = None;
    }

    /// ANSWERED ↔ ON_HOLD as the far end holds and resumes (RFC 3264 §8.4): its
    /// re-offer of sendonly/inactive pauses our media, sendrecv resumes it.
    fn follow_remote_hold(&mut self) {
        let held = self.media.as_ref().is_some_and(|media| media.is_on_hold());
        match (self.state(), held) {
            (CallState::Answered, true) => {
                info!("the far end put the call on hold");
                self.update(|snapshot| snapshot.state = CallState::OnHold);
            }
            (CallState::OnHold, false) => {
                info!("the far end took the call off hold");
                self.update(|snapshot| snapshot.state = CallState::Answered);
            }
            _ => {}
        }
    }

    /// Refuse a media command unless the call is answered and not connected.
    pub(crate) fn require_media(&self, what: &str) -> Result<(), CallError> {
        match self.state() {
            CallState::Answered | CallState::OnHold | CallState::Holding
                if self.connected_to.is_some() =>
            {
                Err(CallError::Error(format!(
                    "{what} is not possible while the call is connected to another"
                )))
            }
            // Media to a held party is sent but not heard; that is the app's
            // choice. While we hold the far end, what we play is music on hold.
            CallState::Answered | CallState::OnHold | CallState::Holding => Ok(()),
            CallState::Transferring | CallState::Transferred => Err(CallError::Error(format!(
                "{what} is not possible while the call is transferred"
            ))),
            CallState::Idle => Err(CallError::Hangup("the call is idle".into())),
            other => Err(CallError::Error(format!(
                "{what} needs an answered call (state is {other:?})"
            ))),
        }
    }

    /// The commands that concern this leg alone.
    pub(crate) async fn command(&mut self, command: CallCommand) {
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
                    if let Err(error) = self.signalling.hang_up().await {
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
                    self.idle_waiters
                        .push((timeout.map(|limit| Instant::now() + limit), reply));
                }
            }
            CallCommand::PlayStart {
                filename,
                barge_in,
                cipher,
                reply,
            } => {
                let result = super::play::start_file(self, &filename, barge_in, cipher).await;
                let _ = reply.send(result);
            }
            CallCommand::SayStart {
                text,
                barge_in,
                reply,
            } => super::tones::start_say(self, text, barge_in, reply).await,
            CallCommand::ToneCheck { tone, reply } => {
                let _ = reply.send(super::tones::resolve(&tone).map(|_| ()));
            }
            CallCommand::ToneStart { tone, limit, reply } => {
                let _ = reply.send(super::tones::start_tone(self, &tone, limit));
            }
            CallCommand::SetRingtone { tone, reply } => {
                let _ = reply.send(super::tones::set_ringtone(self, tone.as_ref()));
            }
            CallCommand::PlayStop { reply } => super::play::stop(self, reply),
            CallCommand::PlayWait { reply } => super::play::wait(self, reply),
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
            CallCommand::DtmfPlay { digits, reply } => super::play::play_dtmf(self, &digits, reply),
            CallCommand::WaitForOutgoing { reply } => match &mut self.outgoing {
                Some(outgoing) => outgoing.waiters.push(reply),
                None => {
                    let _ = reply.send(Ok(self.state()));
                }
            },
            CallCommand::Hold { on, reply } => {
                let _ = reply.send(super::hold::hold(self, on).await);
            }
            CallCommand::WaitForRetrieval { reply } => match self.state() {
                CallState::Transferring | CallState::Transferred => {
                    self.retrieval_waiters.push(reply)
                }
                state => {
                    let _ = reply.send(Ok(state));
                }
            },
            CallCommand::RecordStart {
                recorder,
                filename,
                options,
                reply,
            } => {
                let result = super::record::start(self, recorder, filename, options).await;
                let _ = reply.send(result);
            }
            CallCommand::RecordStop { recorder, reply } => {
                super::record::stop(self, recorder);
                let _ = reply.send(Ok(()));
            }
            CallCommand::RecordWait { recorder, reply } => {
                super::record::wait(self, recorder, reply)
            }
            CallCommand::Files { request, reply } => {
                super::files::spawn(&self.media_dir, request, reply)
            }
            CallCommand::MediaStatistics { reply } => {
                let _ = reply.send(Ok(super::statistics::current(self)));
            }
            other => super::sip_api::command(self, other),
        }
    }

    async fn ring(&mut self, seconds: u32, reply: Reply<()>) {
        if !matches!(
            self.signalling,
            Signalling::Inbound(_) | Signalling::LocalCallee(_)
        ) {
            let _ = reply.send(Err(CallError::Error(
                "ring is only for incoming calls".into(),
            )));
            return;
        }
        match self.state() {
            CallState::CallIncoming | CallState::RingIncoming => {}
            CallState::Idle => {
                let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
                return;
            }
            other => {
                let _ = reply.send(Err(CallError::Error(format!(
                    "ring is only valid before answer (state is {other:?})"
                ))));
                return;
            }
        }
        match &self.signalling {
            Signalling::Inbound(_) if self.ringtone.is_some() => {
                if let Err(error) = super::tones::start_early_media(self).await {
                    let _ = reply.send(Err(error));
                    return;
                }
            }
            Signalling::Inbound(call) => {
                if let Err(error) = call.ringing().await {
                    let _ = reply.send(Err(CallError::Error(format!(
                        "could not send 180 Ringing: {error}"
                    ))));
                    return;
                }
            }
            Signalling::LocalCallee(link) => local::ringing(link),
            _ => {}
        }
        self.update(|snapshot| snapshot.state = CallState::RingIncoming);
        if seconds == 0 {
            let _ = reply.send(Ok(()));
        } else {
            self.ring = Some((
                Instant::now() + Duration::from_secs(u64::from(seconds)),
                reply,
            ));
        }
    }

    async fn answer(&mut self) -> Result<(), CallError> {
        match self.state() {
            CallState::Answered => return Ok(()),
            CallState::CallIncoming | CallState::RingIncoming => {}
            CallState::Idle => return Err(CallError::Hangup("the call is idle".into())),
            other => {
                return Err(CallError::Error(format!(
                    "cannot answer in state {other:?}"
                )));
            }
        }
        let headers = super::sip_api::header_lines(&self.headers_to_send);
        let answered = match self.signalling.clone() {
            Signalling::Inbound(call) => {
                self.update(|snapshot| snapshot.state = CallState::Answering);
                call.answer_with_headers(self.local_sdp.clone(), &headers)
                    .await
            }
            Signalling::LocalCallee(link) => {
                local::answer(&link, self.local_sdp.clone(), headers);
                Ok(())
            }
            _ => return Err(CallError::Error("answer is only for incoming calls".into())),
        };
        if std::mem::take(&mut self.early_media)
            && let Some(media) = &self.media
        {
            media.stop_playing();
        }
        match answered {
            Ok(()) => {
                self.update(|snapshot| snapshot.state = CallState::Answered);
                self.answered_at = Some(Instant::now());
                if let Some(media) = &self.media {
                    media.start_sending();
                }
                let codec = self
                    .media
                    .as_ref()
                    .map(|media| media.codec().encoding_name());
                info!(codec = codec.unwrap_or("none"), "answered");
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
            other => {
                return Err(CallError::Error(format!(
                    "cannot reject in state {other:?}; hang up instead"
                )));
            }
        }
        let code = reject_status(cause);
        match &self.signalling {
            Signalling::Inbound(call) => {
                if let Err(error) = call.reject(code, None, &[]).await {
                    debug!(%error, code, "reject failed");
                }
            }
            Signalling::LocalCallee(link) => local::reject(link, code),
            _ => return Err(CallError::Error("reject is only for incoming calls".into())),
        }
        self.go_idle(cause, Some(code), "the app rejected the call");
        Ok(())
    }

    fn finish_collection(&mut self, done: Collected) {
        if let Some((_, reply)) = self.collection.take() {
            info!(digits = %done.digits, cause = ?done.cause, "get-digits finished");
            self.update(|snapshot| snapshot.detector_cause = done.cause);
            let _ = reply.send(Ok(done.digits));
        }
    }

    /// A digit from the far end, by any method: buffer it, barge in, feed get-digits.
    fn digit_received(&mut self, digit: char, method: &str) {
        debug!(%digit, method, leg = self.id, "DTMF received");
        if self.state() == CallState::Idle {
            return;
        }
        self.buffered.push_back(digit);
        super::play::barge_in_now(self);
        if let Some((collection, _)) = &mut self.collection
            && let Some(done) = collection.absorb(&mut self.buffered, Instant::now())
        {
            self.finish_collection(done);
        }
    }

    pub(crate) fn media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf { digit } => self.digit_received(digit, "RTP (RFC 4733 or in band)"),
            MediaEvent::PlayFinished { id, completed } => {
                super::play::finished(self, id, completed)
            }
            MediaEvent::DtmfFinished { id, completed } => {
                if self
                    .dtmf
                    .as_ref()
                    .is_some_and(|(current, _)| *current == id)
                    && let Some((_, reply)) = self.dtmf.take()
                {
                    let cause = if completed {
                        DtmfPlayerCause::Normal
                    } else {
                        DtmfPlayerCause::Aborted
                    };
                    self.update(|snapshot| snapshot.dtmf_player_cause = cause);
                    let _ = reply.send(Ok(cause));
                }
            }
            MediaEvent::RecordingFinished { id, summary } => {
                super::record::finished(self, id, summary)
            }
        }
    }

    /// Events of the dialog once it exists (both directions).
    pub(crate) async fn sip_event(&mut self, event: CallEvent) {
        match event {
            CallEvent::Cancelled => {
                self.go_idle(CallCause::Normal, Some(487), "the caller cancelled")
            }
            CallEvent::Bye => {
                let who = if matches!(
                    self.signalling,
                    Signalling::Outbound(_) | Signalling::LocalCaller(_)
                ) {
                    "callee"
                } else {
                    "caller"
                };
                self.go_idle(CallCause::Normal, None, &format!("the {who} hung up"));
            }
            CallEvent::Ended { reason } => self.go_idle(
                CallCause::Error,
                None,
                &format!("the dialog ended: {reason}"),
            ),
            CallEvent::ReInvite {
                offer_sdp,
                responder,
            } => {
                let outcome = match (&offer_sdp, &self.media) {
                    (Some(offer), Some(media)) => {
                        media.update_offer(offer).map_err(|error| error.to_string())
                    }
                    (None, Some(_)) => Ok(self.local_sdp.clone()),
                    (_, None) => Err("no media session".to_owned()),
                };
                let sent = match outcome {
                    Ok(answer) => {
                        self.local_sdp = answer.clone();
                        self.follow_remote_hold();
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
            CallEvent::Info { content_type, body } => {
                if let Some(digit) = info_digit(&content_type, &body) {
                    self.digit_received(digit, "SIP INFO");
                }
                debug!(%content_type, len = body.len(), "INFO received");
                push_bounded(&mut self.infos, SipBody { body, content_type }, "INFO");
            }
            CallEvent::Message { content_type, body } => {
                debug!(%content_type, len = body.len(), "MESSAGE received");
                push_bounded(
                    &mut self.messages,
                    SipBody { body, content_type },
                    "MESSAGE",
                );
            }
            other => super::outbound::event(self, other).await,
        }
    }
}

/// Buffer a received body, dropping the oldest beyond [`MAX_BUFFERED_BODIES`].
fn push_bounded(buffer: &mut VecDeque<SipBody>, body: SipBody, what: &str) {
    if buffer.len() >= MAX_BUFFERED_BODIES {
        buffer.pop_front();
        debug!("{what} buffer full: the oldest was dropped");
    }
    buffer.push_back(body);
}
