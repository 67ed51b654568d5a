//! One inbound call as the server sees it: [`IncomingCall`], the
//! [`ServerCall`] handle, [`CallEvent`]s and the [`ReInviteResponder`].
//!
//! What lives here: the call's shared state (phase, dialog, event queue) and
//! the handle methods. The tasks that drive rsipstack transactions for the
//! call live in `call/invite.rs` (the INVITE and re-INVITE server
//! transactions) and `call/in_dialog.rs` (BYE, INFO, re-INVITE requests).
//!
//! Concurrency: handle methods never touch a transaction directly; they
//! queue the response into the transaction's own event channel
//! (`TransactionEvent::Respond`), which the task driving that transaction
//! processes in order with received CANCELs and ACKs. So the transaction's
//! order decides races such as CANCEL-versus-200 (RFC 3261 §9.2), and the
//! call phase is changed under the same lock as the queueing.
//!
//! RFC 3261 §13.3 (UAS INVITE processing), §13.3.1.4 (2xx retransmission,
//! Timer H), §15 (BYE), §14.2 (re-INVITE), §9.2 (CANCEL).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::sip::{Request, Response};
use rsipstack::transaction::transaction::{TransactionEvent, TransactionEventSender};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, warn};

use crate::dialog::{Dialog, send_request};
use crate::endpoint::EndpointContext;
use crate::message::{Body, ResponseSpec, response};
use crate::{SipError, Transport};

pub(crate) mod in_dialog;
pub(crate) mod invite;

/// A new inbound call (a dialog-creating INVITE), delivered on the receiver
/// returned by [`crate::SipEndpoint::bind`]. The endpoint has already sent
/// 100 Trying.
///
/// Lifecycle: decide with [`ServerCall::ringing`], [`ServerCall::answer`],
/// [`ServerCall::reject`]; watch `events` until it closes (the call is over).
/// Dropping every [`ServerCall`] clone of an unfinished call hangs it up.
#[derive(Debug)]
pub struct IncomingCall {
    /// Call-ID header value.
    pub call_id: String,
    /// From URI.
    pub from: String,
    /// To URI.
    pub to: String,
    /// Request-URI.
    pub request_uri: String,
    /// Request-URI user part, percent-decoded; empty if there is none.
    pub service: String,
    /// Where the INVITE came from.
    pub remote: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// The SDP offer, when the body is `application/sdp`.
    pub offer_sdp: Option<String>,
    /// Every header of the INVITE in order. Extension headers carry their
    /// name as received; standard headers their full name (compact forms
    /// such as `f:` are reported as `From`).
    pub headers: Vec<(String, String)>,
    /// The handle that answers the call.
    pub call: ServerCall,
    /// What happens to the call. Closes when the call is over.
    pub events: mpsc::Receiver<CallEvent>,
}

/// Something the peer did on an ongoing call.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallEvent {
    /// The caller cancelled before the call was answered (the INVITE got 487).
    Cancelled,
    /// The caller hung up (BYE, already answered with 200).
    Bye,
    /// A re-INVITE: decide with the responder (dropping it answers 500).
    ReInvite {
        /// The new offer, if the re-INVITE carries SDP.
        offer_sdp: Option<String>,
        /// Accepts or rejects the re-INVITE.
        responder: ReInviteResponder,
    },
    /// An INFO request (already answered with 200).
    Info {
        /// Its Content-Type (empty when there is no body).
        content_type: String,
        /// Its body as text.
        body: String,
    },
    /// The call ended for another reason (no ACK, endpoint shut down …).
    Ended {
        /// Why, in words.
        reason: String,
    },
}

/// Where the call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Incoming {
        ringing: bool,
    },
    /// 200 OK queued or sent, ACK not yet received.
    Answering,
    Confirmed,
    Ended(EndCause),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndCause {
    Cancelled,
    RemoteBye,
    Rejected,
    HungUp,
    AckTimeout,
    Shutdown,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Incoming { .. } => "not yet answered",
            Phase::Answering => "waiting for the ACK",
            Phase::Confirmed => "answered",
            Phase::Ended(_) => "ended",
        }
    }
}

/// State shared by the call's handles and tasks.
pub(crate) struct CallShared {
    pub call_id: String,
    pub context: Arc<EndpointContext>,
    pub phase: watch::Sender<Phase>,
    /// Event channel of the INVITE server transaction.
    invite_events: TransactionEventSender,
    /// The INVITE as received.
    pub invite: Request,
    pub local_tag: String,
    pub dialog: Mutex<Dialog>,
    events: Mutex<Option<mpsc::Sender<CallEvent>>>,
    /// A re-INVITE is being decided (RFC 3261 §14.2).
    pub reinvite_pending: AtomicBool,
    /// Every task of the call runs in this span.
    pub span: tracing::Span,
}

impl CallShared {
    pub(crate) fn new(
        context: Arc<EndpointContext>,
        invite: Request,
        invite_events: TransactionEventSender,
        dialog: Dialog,
        events: mpsc::Sender<CallEvent>,
    ) -> Self {
        let call_id = dialog.key.call_id.clone();
        CallShared {
            span: tracing::debug_span!("sip_call", sip.call_id = %call_id),
            call_id,
            local_tag: dialog.key.local_tag.clone(),
            context,
            phase: watch::Sender::new(Phase::Incoming { ringing: false }),
            invite_events,
            invite,
            dialog: Mutex::new(dialog),
            events: Mutex::new(Some(events)),
            reinvite_pending: AtomicBool::new(false),
        }
    }

    pub(crate) fn current(&self) -> Phase {
        *self.phase.borrow()
    }

    /// A response to `request` in this dialog (our To tag, Server header).
    pub(crate) fn response(&self, request: &Request, spec: ResponseSpec<'_>) -> Response {
        response(
            request,
            spec.tag(&self.local_tag),
            &self.context.config.user_agent,
        )
    }

    pub(crate) fn contact(&self) -> String {
        self.lock_dialog().contact_uri()
    }

    pub(crate) fn lock_dialog(&self) -> std::sync::MutexGuard<'_, Dialog> {
        self.dialog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn phase_error(&self, operation: &'static str, phase: Phase) -> SipError {
        let call_id = self.call_id.clone();
        match phase {
            Phase::Ended(EndCause::Cancelled) => SipError::Cancelled { call_id },
            Phase::Ended(EndCause::AckTimeout) => SipError::AckTimeout { call_id },
            Phase::Ended(_) => SipError::CallEnded { call_id },
            other => SipError::InvalidState {
                call_id,
                operation,
                state: other.name(),
            },
        }
    }

    /// Atomically: if `decide` accepts the current phase, queue `respond` on
    /// the INVITE transaction and move to the phase it returns. Moving to
    /// `Ended` also runs [`Self::finish`] with `event`.
    pub(crate) fn advance(
        &self,
        operation: &'static str,
        decide: impl FnOnce(Phase) -> Option<Phase>,
        respond: Option<Response>,
        event: Option<CallEvent>,
    ) -> Result<(), SipError> {
        let mut outcome = Ok(());
        let mut ended = false;
        self.phase.send_if_modified(|phase| match decide(*phase) {
            Some(next) => {
                if let Some(resp) = respond
                    && self
                        .invite_events
                        .send(TransactionEvent::Respond(resp))
                        .is_err()
                {
                    outcome = Err(SipError::CallEnded {
                        call_id: self.call_id.clone(),
                    });
                    return false;
                }
                ended = matches!(next, Phase::Ended(_));
                *phase = next;
                true
            }
            None => {
                outcome = Err(self.phase_error(operation, *phase));
                false
            }
        });
        if ended {
            self.finish(event);
        }
        outcome
    }

    /// End the call unless it already ended; returns whether this call ended it.
    pub(crate) fn end(&self, cause: EndCause, event: Option<CallEvent>) -> bool {
        let changed = self.phase.send_if_modified(|phase| {
            if matches!(phase, Phase::Ended(_)) {
                return false;
            }
            *phase = Phase::Ended(cause);
            true
        });
        if changed {
            self.finish(event);
        }
        changed
    }

    /// After the move to `Ended`: forget the dialog, deliver the last event
    /// and close the event queue.
    fn finish(&self, event: Option<CallEvent>) {
        let key = self.lock_dialog().key.clone();
        self.context.forget_dialog(&key);
        let sender = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let (Some(sender), Some(event)) = (sender, event) {
            // Non-final events never take the last slot, so this fits.
            if sender.try_send(event).is_err() {
                warn!(call_id = %self.call_id, "final call event lost");
            }
        }
        debug!(call_id = %self.call_id, phase = ?self.current(), "call ended");
    }

    /// Deliver a non-final event. Keeps one slot free for the final event;
    /// gives the event back when the queue is full or closed (a slow server
    /// must not stall SIP).
    pub(crate) fn emit(&self, event: CallEvent) -> Result<(), CallEvent> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match events.as_ref() {
            Some(sender) if sender.capacity() > 1 => {
                sender.try_send(event).map_err(|e| e.into_inner())
            }
            _ => Err(event),
        }
    }

    /// Send BYE and wait for its final response or Timer F.
    pub(crate) async fn send_bye(&self) -> Result<(), SipError> {
        let (request, flow, transport) = self
            .lock_dialog()
            .next_request(rsipstack::sip::Method::Bye, &self.context.config.user_agent);
        let deadline = self.context.config.timers.t1 * 64 + std::time::Duration::from_secs(1);
        let status = send_request(&self.context.stack, request, flow, transport, deadline).await?;
        if !(200..300).contains(&status) {
            debug!(call_id = %self.call_id, status, "BYE answered with a non-2xx");
        }
        Ok(())
    }
}

/// Hangs up an unfinished call when the last [`ServerCall`] clone is dropped.
struct OwnerGuard {
    shared: Arc<CallShared>,
    armed: AtomicBool,
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Acquire) || matches!(self.shared.current(), Phase::Ended(_)) {
            return;
        }
        let call = ServerCall {
            shared: self.shared.clone(),
            owner: Arc::new(OwnerGuard {
                shared: self.shared.clone(),
                armed: AtomicBool::new(false),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            debug!(call_id = %self.shared.call_id, "call handle dropped; hanging up");
            let span = self.shared.span.clone();
            runtime.spawn(
                async move {
                    let _ = call.hang_up().await;
                }
                .instrument(span),
            );
        }
    }
}

/// Cheap handle to answer and end one inbound call. Clone freely; when the
/// last clone is dropped while the call is unfinished, the call is hung up.
#[derive(Clone)]
pub struct ServerCall {
    shared: Arc<CallShared>,
    owner: Arc<OwnerGuard>,
}

impl std::fmt::Debug for ServerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCall")
            .field("call_id", &self.shared.call_id)
            .field("phase", &self.shared.current())
            .finish()
    }
}

impl ServerCall {
    pub(crate) fn new(shared: Arc<CallShared>) -> Self {
        ServerCall {
            owner: Arc::new(OwnerGuard {
                shared: shared.clone(),
                armed: AtomicBool::new(true),
            }),
            shared,
        }
    }

    /// Stop the drop guard (the endpoint answers this call itself).
    pub(crate) fn disarm(&self) {
        self.owner.armed.store(false, Ordering::Release);
    }

    /// The call's Call-ID.
    pub fn call_id(&self) -> &str {
        &self.shared.call_id
    }

    /// Send 180 Ringing. Allowed until the call is answered or rejected.
    /// Cancel-safe: it does not wait.
    pub async fn ringing(&self) -> Result<(), SipError> {
        let shared = &self.shared;
        let ringing = shared.response(
            &shared.invite,
            ResponseSpec::new(180).contact(&shared.contact()),
        );
        shared.advance(
            "ring",
            |phase| match phase {
                Phase::Incoming { .. } => Some(Phase::Incoming { ringing: true }),
                _ => None,
            },
            Some(ringing),
            None,
        )
    }

    /// Send 200 OK with `sdp` (Contact, `Content-Type: application/sdp`),
    /// retransmitted until the ACK arrives (RFC 3261 §13.3.1.4). Resolves
    /// when the ACK arrives; errs with [`SipError::AckTimeout`] when none came
    /// within Timer H (the call is then ended with BYE), with
    /// [`SipError::Cancelled`] when the caller's CANCEL won.
    ///
    /// Cancel-safety: dropping the future after the 200 was queued leaves the
    /// call answered; its outcome still arrives as events.
    pub async fn answer(&self, sdp: String) -> Result<(), SipError> {
        let shared = &self.shared;
        let ok = shared.response(
            &shared.invite,
            ResponseSpec::new(200)
                .contact(&shared.contact())
                .allow()
                .body(Body::sdp(sdp)),
        );
        let mut phases = shared.phase.subscribe();
        shared.advance(
            "answer",
            |phase| matches!(phase, Phase::Incoming { .. }).then_some(Phase::Answering),
            Some(ok),
            None,
        )?;
        loop {
            let phase = *phases.borrow_and_update();
            match phase {
                Phase::Confirmed => return Ok(()),
                Phase::Ended(_) => return Err(shared.phase_error("answer", phase)),
                _ => {}
            }
            if phases.changed().await.is_err() {
                return Err(SipError::CallEnded {
                    call_id: shared.call_id.clone(),
                });
            }
        }
    }

    /// Answer the unanswered INVITE with a final error response (300–699),
    /// e.g. 404 for an unknown service or 488 when no codec fits.
    /// `extra_headers` are added as given, e.g. `[("Retry-After", "5")]`.
    pub async fn reject(
        &self,
        code: u16,
        reason: Option<&str>,
        extra_headers: &[(&str, &str)],
    ) -> Result<(), SipError> {
        if !(300..=699).contains(&code) {
            return Err(SipError::InvalidStatus {
                code,
                operation: "reject a call",
            });
        }
        let shared = &self.shared;
        let mut spec = ResponseSpec::new(code);
        spec.reason = reason;
        for (name, value) in extra_headers {
            spec = spec.header(rsipstack::sip::headers::make_header(
                name,
                value.to_string(),
            ));
        }
        if code == 405 {
            spec = spec.allow();
        }
        let final_response = shared.response(&shared.invite, spec);
        shared.advance(
            "reject",
            |phase| {
                matches!(phase, Phase::Incoming { .. }).then_some(Phase::Ended(EndCause::Rejected))
            },
            Some(final_response),
            None,
        )
    }

    /// End the call from our side. Unanswered: 480 Temporarily Unavailable.
    /// Answered: BYE (after the ACK, RFC 3261 §15), resolving on the BYE's
    /// final response or Timer F. Already over: nothing. Idempotent.
    ///
    /// Cancel-safety: once the BYE is being sent, dropping the future
    /// abandons the wait, not the hang-up.
    pub async fn hang_up(&self) -> Result<(), SipError> {
        let shared = &self.shared;
        let mut phases = shared.phase.subscribe();
        loop {
            let phase = *phases.borrow_and_update();
            match phase {
                Phase::Ended(_) => return Ok(()),
                Phase::Incoming { .. } => {
                    let unavailable = shared.response(&shared.invite, ResponseSpec::new(480));
                    let hung_up = shared.advance(
                        "hang up",
                        |p| {
                            matches!(p, Phase::Incoming { .. })
                                .then_some(Phase::Ended(EndCause::HungUp))
                        },
                        Some(unavailable),
                        None,
                    );
                    if hung_up.is_ok() {
                        return Ok(());
                    }
                }
                Phase::Confirmed => {
                    let hung_up = shared.advance(
                        "hang up",
                        |p| (p == Phase::Confirmed).then_some(Phase::Ended(EndCause::HungUp)),
                        None,
                        None,
                    );
                    if hung_up.is_ok() {
                        return shared.send_bye().await;
                    }
                }
                Phase::Answering => {
                    if phases.changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// How a re-INVITE ended, as its responder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReInviteOutcome {
    Pending,
    Acked,
    Cancelled,
    AckTimeout,
    Ended,
}

/// Decides one re-INVITE. Dropping it without a decision answers
/// 500 Server Internal Error; so does the endpoint when the decision takes
/// longer than `SipConfig::reinvite_answer_timeout`.
pub struct ReInviteResponder {
    shared: Arc<CallShared>,
    request: Box<Request>,
    transaction: TransactionEventSender,
    decided: Arc<AtomicBool>,
    outcome: watch::Receiver<ReInviteOutcome>,
}

impl std::fmt::Debug for ReInviteResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReInviteResponder")
            .field("call_id", &self.shared.call_id)
            .finish_non_exhaustive()
    }
}

impl ReInviteResponder {
    /// Accept with `answer_sdp` (200 OK); resolves when the ACK arrives.
    /// Cancel-safety: as for [`ServerCall::answer`].
    pub async fn accept(self, answer_sdp: String) -> Result<(), SipError> {
        let shared = self.shared.clone();
        let ok = shared.response(
            &self.request,
            ResponseSpec::new(200)
                .contact(&shared.contact())
                .allow()
                .body(Body::sdp(answer_sdp)),
        );
        self.decide(ok)?;
        let mut outcome = self.outcome.clone();
        let result = outcome
            .wait_for(|o| *o != ReInviteOutcome::Pending)
            .await
            .map(|o| *o)
            .unwrap_or(ReInviteOutcome::Ended);
        let call_id = shared.call_id.clone();
        match result {
            ReInviteOutcome::Acked => Ok(()),
            ReInviteOutcome::Cancelled => Err(SipError::Cancelled { call_id }),
            ReInviteOutcome::AckTimeout => Err(SipError::AckTimeout { call_id }),
            ReInviteOutcome::Pending | ReInviteOutcome::Ended => {
                Err(SipError::CallEnded { call_id })
            }
        }
    }

    /// Reject with a final response (300–699, e.g. 488 Not Acceptable Here).
    pub async fn reject(self, code: u16) -> Result<(), SipError> {
        if !(300..=699).contains(&code) {
            return Err(SipError::InvalidStatus {
                code,
                operation: "reject a re-INVITE",
            });
        }
        let mut spec = ResponseSpec::new(code);
        if code == 405 {
            spec = spec.allow();
        }
        let refusal = self.shared.response(&self.request, spec);
        self.decide(refusal)
    }

    fn decide(&self, response: Response) -> Result<(), SipError> {
        if self.decided.swap(true, Ordering::AcqRel) {
            return Err(SipError::InvalidState {
                call_id: self.shared.call_id.clone(),
                operation: "answer a re-INVITE",
                state: "already answered",
            });
        }
        self.transaction
            .send(TransactionEvent::Respond(response))
            .map_err(|_| SipError::CallEnded {
                call_id: self.shared.call_id.clone(),
            })
    }
}

impl Drop for ReInviteResponder {
    fn drop(&mut self) {
        if !self.decided.swap(true, Ordering::AcqRel) {
            let failure = self.shared.response(&self.request, ResponseSpec::new(500));
            let _ = self.transaction.send(TransactionEvent::Respond(failure));
        }
    }
}
