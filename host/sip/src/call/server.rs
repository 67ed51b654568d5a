//! The inbound side of a call: [`IncomingCall`], the [`ServerCall`]
//! handle, and the [`ReInviteResponder`].
//!
//! Depends on the shared call state in `call.rs` and on `requests` for the
//! requests the handle sends (BYE, INFO, MESSAGE). RFC 3261 §13.3 (UAS
//! INVITE processing), §13.3.1.4 (2xx retransmission, Timer H), §15 (BYE),
//! §14.2 (re-INVITE), §9.2 (CANCEL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rsipstack::sip::{Header, Method, Request, Response};
use rsipstack::transaction::transaction::{TransactionEvent, TransactionEventSender};
use tokio::sync::{mpsc, watch};

use super::session_timer::{self, UasDecision};
use super::{CallEvent, CallShared, EndCause, OwnerGuard, Phase, requests};
use crate::address::check_headers;
use crate::message::{Body, ResponseSpec};
use crate::{SipError, Transport};

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
            owner: OwnerGuard::new(shared.clone()),
            shared,
        }
    }

    /// Stop the drop guard (the endpoint answers this call itself).
    pub(crate) fn disarm(&self) {
        self.owner.disarm();
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

    /// Send 183 Session Progress with `sdp` (our answer) so the caller can hear
    /// early media such as a ringback tone (RFC 3261 §13.3.1.1, RFC 3960 §3).
    /// The 183 is sent once, unreliably (no 100rel/PRACK): the 200 OK that
    /// follows carries the same SDP, so a lost 183 only loses the early media.
    /// Allowed until the call is answered or rejected. Cancel-safe: it does not wait.
    pub async fn session_progress(&self, sdp: &str) -> Result<(), SipError> {
        let shared = &self.shared;
        let progress = shared.response(
            &shared.invite,
            ResponseSpec::new(183)
                .contact(&shared.contact())
                .body(Body::sdp(sdp.to_owned())),
        );
        shared.advance(
            "session progress",
            |phase| match phase {
                Phase::Incoming { .. } => Some(Phase::Incoming { ringing: true }),
                _ => None,
            },
            Some(progress),
            None,
        )
    }

    /// Send 200 OK with `sdp` (Contact, `Content-Type: application/sdp`),
    /// retransmitted until the ACK arrives (RFC 3261 §13.3.1.4). Resolves
    /// when the ACK arrives (or a BYE that overtook it: the call was answered
    /// and the `Bye` event follows); errs with [`SipError::AckTimeout`] when
    /// none came within Timer H (the call is then ended with BYE), with
    /// [`SipError::Cancelled`] when the caller's CANCEL won.
    ///
    /// Cancel-safety: dropping the future after the 200 was queued leaves the
    /// call answered; its outcome still arrives as events.
    pub async fn answer(&self, sdp: String) -> Result<(), SipError> {
        self.answer_with_headers(sdp, &[]).await
    }

    /// [`ServerCall::answer`] with extra headers on the 200 OK, e.g. the
    /// seed's `HeaderFieldsToSend`. Errs with [`SipError::InvalidHeader`]
    /// (sending nothing) for a name that is not a token, a header the stack
    /// owns, or a value with a line break.
    pub async fn answer_with_headers(
        &self,
        sdp: String,
        headers: &[(String, String)],
    ) -> Result<(), SipError> {
        check_headers(headers)?;
        let shared = &self.shared;
        let contact = shared.contact();
        // The endpoint answered 422 to intervals below our Min-SE already.
        let (timer, session) =
            match session_timer::as_uas(&shared.invite, &shared.context.config.session_timer) {
                UasDecision::Accept { timer, headers } => (timer, headers),
                UasDecision::TooSmall { .. } => (None, Vec::new()),
            };
        let mut spec = ResponseSpec::new(200)
            .contact(&contact)
            .allow()
            .header(Header::Supported(session_timer::TIMER.into()))
            .body(Body::sdp(sdp.clone()));
        spec.headers.extend(session);
        for (name, value) in headers {
            spec = spec.header(Header::Other(name.clone(), value.clone()));
        }
        let ok = shared.response(&shared.invite, spec);
        let mut phases = shared.phase.subscribe();
        shared.advance(
            "answer",
            |phase| matches!(phase, Phase::Incoming { .. }).then_some(Phase::Answering),
            Some(ok),
            None,
        )?;
        shared.sent_sdp(&sdp);
        shared.start_session_timer(timer);
        loop {
            let phase = *phases.borrow_and_update();
            match phase {
                Phase::Confirmed => return Ok(()),
                // The caller's BYE overtook its ACK (both sent at once): the
                // call was answered; the `Bye` event follows.
                Phase::Ended(EndCause::RemoteBye) => return Ok(()),
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
        hang_up(&self.shared).await
    }

    /// Send INFO in the answered call (RFC 6086) with `body` of
    /// `content_type` (both may be empty for an empty INFO); returns the
    /// final status code (408 when no answer came within Timer F). A 401/407
    /// is answered only when the call has credentials (inbound calls have
    /// none).
    pub async fn send_info(&self, content_type: &str, body: &str) -> Result<u16, SipError> {
        requests::send_with_body(&self.shared, Method::Info, content_type, body).await
    }

    /// Send MESSAGE in the answered call (RFC 3428), otherwise as
    /// [`ServerCall::send_info`].
    pub async fn send_message(&self, content_type: &str, body: &str) -> Result<u16, SipError> {
        requests::send_with_body(&self.shared, Method::Message, content_type, body).await
    }

    /// Send a re-INVITE with `offer_sdp` in the answered call (hold,
    /// resume, a new codec) and wait for the answer; see
    /// [`requests::OfferAnswer`] for what each outcome means.
    pub async fn reinvite(&self, offer_sdp: &str) -> Result<requests::OfferAnswer, SipError> {
        requests::reinvite(&self.shared, offer_sdp).await
    }
}

/// Hang up an inbound call (see [`ServerCall::hang_up`]).
pub(crate) async fn hang_up(shared: &CallShared) -> Result<(), SipError> {
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
                    return requests::send_bye(shared).await;
                }
            }
            // Never on an inbound call.
            Phase::Calling { .. } => return Ok(()),
            Phase::Answering => {
                if phases.changed().await.is_err() {
                    return Ok(());
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

/// Decides one re-INVITE (or UPDATE carrying an offer, RFC 3311). Dropping
/// it without a decision answers
/// 500 Server Internal Error; so does the endpoint when the decision takes
/// longer than `SipConfig::reinvite_answer_timeout`.
pub struct ReInviteResponder {
    pub(super) shared: Arc<CallShared>,
    pub(super) request: Box<Request>,
    pub(super) transaction: TransactionEventSender,
    pub(super) decided: Arc<AtomicBool>,
    pub(super) outcome: watch::Receiver<ReInviteOutcome>,
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
        // A re-INVITE or UPDATE refreshes the session (RFC 4028 §9); a too
        // short interval was refused with 422 before it got here.
        let (timer, session) =
            match session_timer::as_uas(&self.request, &shared.context.config.session_timer) {
                UasDecision::Accept { timer, headers } => (timer, headers),
                UasDecision::TooSmall { .. } => (None, Vec::new()),
            };
        let contact = shared.contact();
        let mut spec = ResponseSpec::new(200)
            .contact(&contact)
            .allow()
            .header(Header::Supported(session_timer::TIMER.into()))
            .body(Body::sdp(answer_sdp.clone()));
        spec.headers.extend(session);
        let ok = shared.response(&self.request, spec);
        self.decide(ok)?;
        shared.sent_sdp(&answer_sdp);
        shared.session.send_replace(timer);
        if self.request.method == Method::Update {
            // No ACK follows a 2xx to UPDATE (RFC 3311 §5.2).
            return Ok(());
        }
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
