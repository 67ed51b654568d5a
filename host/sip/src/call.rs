//! Calls as the server sees them, in both directions: the shared call state,
//! [`CallEvent`]s, and the handles ([`ServerCall`] for inbound calls,
//! [`ClientCall`] for outgoing ones).
//!
//! What lives here: [`CallShared`] (phase, dialog, event queue, credentials)
//! and the drop guard both handles use. The submodules hold the rest:
//! `server` (inbound handle and re-INVITE responder), `invite` (tasks that
//! drive inbound INVITE server transactions), `in_dialog` (requests the peer
//! sends inside a dialog: BYE, INFO, MESSAGE, re-INVITE, UPDATE), `requests`
//! (requests we send inside a dialog, with digest retry: BYE, INFO,
//! MESSAGE, re-INVITE, UPDATE), `ack` (the ACK of a 2xx to our INVITE),
//! `session_timer` (RFC 4028), `outgoing` (the UAC: outgoing INVITE,
//! CANCEL).
//!
//! Concurrency: handle methods never touch a server transaction directly;
//! they queue the response into the transaction's own event channel
//! (`TransactionEvent::Respond`), which the task driving that transaction
//! processes in order with received CANCELs and ACKs. So the transaction's
//! order decides races such as CANCEL-versus-200 (RFC 3261 §9.2), and the
//! call phase is changed under the same lock as the queueing.
//!
//! RFC 3261 §12 (dialogs), §13 (INVITE), §15 (BYE), §14 (re-INVITE), §9
//! (CANCEL); RFC 6086 (INFO), RFC 3428 (MESSAGE).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::sip::{Request, Response};
use rsipstack::transaction::transaction::{TransactionEvent, TransactionEventSender};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, warn};

use crate::SipError;
use crate::auth::Credentials;
use crate::dialog::Dialog;
use crate::endpoint::EndpointContext;
use crate::message::{ResponseSpec, response};

pub(crate) mod ack;
pub(crate) mod in_dialog;
pub(crate) mod invite;
pub(crate) mod outgoing;
pub(crate) mod requests;
pub(crate) mod server;
pub mod session_timer;

pub use outgoing::{ClientCall, OutgoingCall, OutgoingRequest};
pub use requests::OfferAnswer;
pub use server::{IncomingCall, ReInviteResponder, ServerCall};

/// Something that happened on a call. Inbound calls see `Cancelled`, `Bye`,
/// `ReInvite`, `Info`, `Message`, `Ended`; outgoing calls first see
/// `Progress`, then `Answered` or `Failed`, then the in-dialog events.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallEvent {
    /// The caller cancelled before the call was answered (the INVITE got 487).
    Cancelled,
    /// The peer hung up (BYE, already answered with 200).
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
    /// A MESSAGE request inside the dialog (already answered with 200).
    Message {
        /// Its Content-Type (empty when there is no body).
        content_type: String,
        /// Its body as text.
        body: String,
    },
    /// Outgoing call: a provisional response other than 100 (180 Ringing,
    /// 183 Session Progress …).
    Progress {
        /// Its status code.
        code: u16,
        /// Its reason phrase.
        reason: String,
        /// Early-media SDP, when the response carries `application/sdp`.
        sdp: Option<String>,
    },
    /// Outgoing call: answered (2xx, already acknowledged). The call is now
    /// a confirmed dialog.
    Answered {
        /// The SDP answer, when the 2xx carries `application/sdp`.
        answer_sdp: Option<String>,
        /// Every header of the 2xx, in order (name as for
        /// [`IncomingCall::headers`]).
        headers: Vec<(String, String)>,
    },
    /// Outgoing call: it ended with a final non-2xx response (after any
    /// digest retries), 487 after a CANCEL, or 408 when nobody answered
    /// in time (Timer B, or 64*T1 after a CANCEL). Always the last event.
    Failed {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
        /// Every header of the response, in order (empty for a timeout).
        headers: Vec<(String, String)>,
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
    /// Inbound, not yet answered.
    Incoming {
        ringing: bool,
    },
    /// Inbound: 200 OK queued or sent, ACK not yet received.
    Answering,
    /// Outgoing: INVITE sent, no final response yet.
    Calling {
        provisional: bool,
    },
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
    /// Outgoing call refused or timed out.
    Failed,
    /// The peer stopped refreshing the session (RFC 4028 §10), or the
    /// dialog was gone when we refreshed it.
    SessionExpired,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Incoming { .. } => "not yet answered",
            Phase::Answering => "waiting for the ACK",
            Phase::Calling { .. } => "not yet answered",
            Phase::Confirmed => "answered",
            Phase::Ended(_) => "ended",
        }
    }
}

/// Which side of the dialog we are.
pub(crate) enum Role {
    /// Inbound call: the event channel of the INVITE server transaction.
    Server {
        invite_events: TransactionEventSender,
    },
    /// Outgoing call.
    Client(Box<outgoing::ClientState>),
}

/// State shared by the call's handles and tasks.
pub(crate) struct CallShared {
    pub call_id: String,
    pub context: Arc<EndpointContext>,
    pub phase: watch::Sender<Phase>,
    pub role: Role,
    /// Inbound: the INVITE as received. Outgoing: our first INVITE.
    pub invite: Request,
    pub local_tag: String,
    pub dialog: Mutex<Dialog>,
    events: Mutex<Option<mpsc::Sender<CallEvent>>>,
    /// A re-INVITE (or UPDATE with an offer) from the peer is being
    /// decided (RFC 3261 §14.2).
    pub reinvite_pending: AtomicBool,
    /// One offer of ours (re-INVITE or UPDATE) at a time (RFC 3261 §14.1).
    pub offering: tokio::sync::Mutex<()>,
    /// Our offer is on the wire: the peer's re-INVITE gets 491.
    pub local_offer_pending: AtomicBool,
    /// The SDP we last sent (offer or answer); a re-INVITE that only
    /// refreshes the session repeats it unchanged.
    pub local_sdp: Mutex<Option<String>>,
    /// The peer's Allow lists UPDATE (refreshes then need no SDP).
    pub peer_allows_update: AtomicBool,
    /// The negotiated session timer (RFC 4028); every refresh either way
    /// replaces it, which restarts the timer task's wait.
    pub session: watch::Sender<Option<session_timer::SessionTimer>>,
    /// Session-Expires we must at least ask for (a 422's Min-SE).
    pub session_floor: std::sync::atomic::AtomicU32,
    /// For digest challenges to requests we send in this call.
    pub credentials: Option<Credentials>,
    pub auth: Mutex<requests::AuthState>,
    /// Every task of the call runs in this span.
    pub span: tracing::Span,
}

impl CallShared {
    pub(crate) fn new(
        context: Arc<EndpointContext>,
        invite: Request,
        role: Role,
        dialog: Dialog,
        events: mpsc::Sender<CallEvent>,
        credentials: Option<Credentials>,
    ) -> Self {
        let call_id = dialog.key.call_id.clone();
        let phase = match role {
            Role::Server { .. } => Phase::Incoming { ringing: false },
            Role::Client(_) => Phase::Calling { provisional: false },
        };
        let shared = CallShared {
            span: tracing::debug_span!("sip_call", sip.call_id = %call_id),
            call_id,
            local_tag: dialog.key.local_tag.clone(),
            context,
            phase: watch::Sender::new(phase),
            role,
            invite,
            dialog: Mutex::new(dialog),
            events: Mutex::new(Some(events)),
            reinvite_pending: AtomicBool::new(false),
            offering: tokio::sync::Mutex::new(()),
            local_offer_pending: AtomicBool::new(false),
            local_sdp: Mutex::new(None),
            peer_allows_update: AtomicBool::new(false),
            session: watch::Sender::new(None),
            session_floor: std::sync::atomic::AtomicU32::new(0),
            credentials,
            auth: Mutex::new(requests::AuthState::default()),
        };
        if matches!(shared.role, Role::Server { .. }) {
            shared.learn_allow(&shared.invite.headers);
        }
        shared
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

    /// Remember the SDP we just sent.
    pub(crate) fn sent_sdp(&self, sdp: &str) {
        *self.local_sdp.lock().unwrap_or_else(|p| p.into_inner()) = Some(sdp.to_string());
    }

    /// Note whether the peer's Allow (of its INVITE or our INVITE's 2xx)
    /// lists UPDATE.
    pub(crate) fn learn_allow(&self, headers: &rsipstack::sip::Headers) {
        let allows = crate::message::header_list(headers)
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Allow"))
            .flat_map(|(_, value)| {
                value
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .any(|method| method.eq_ignore_ascii_case("UPDATE"));
        self.peer_allows_update.store(allows, Ordering::Release);
    }

    /// Start the session timer the dialog negotiated (RFC 4028), once.
    pub(crate) fn start_session_timer(
        self: &Arc<Self>,
        timer: Option<session_timer::SessionTimer>,
    ) {
        self.session.send_replace(timer);
        let span = self.span.clone();
        tokio::spawn(session_timer::run(self.clone()).instrument(span));
    }

    pub(crate) fn client(&self) -> Option<&outgoing::ClientState> {
        match &self.role {
            Role::Client(state) => Some(state),
            Role::Server { .. } => None,
        }
    }

    pub(crate) fn phase_error(&self, operation: &'static str, phase: Phase) -> SipError {
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
    /// the INVITE server transaction and move to the phase it returns.
    /// Moving to `Ended` also runs [`Self::finish`] with `event`.
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
                if let Some(resp) = respond {
                    let queued = match &self.role {
                        Role::Server { invite_events } => {
                            invite_events.send(TransactionEvent::Respond(resp)).is_ok()
                        }
                        Role::Client(_) => false,
                    };
                    if !queued {
                        outcome = Err(SipError::CallEnded {
                            call_id: self.call_id.clone(),
                        });
                        return false;
                    }
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

    /// Deliver a non-final event, leaving `reserve` slots free (at least
    /// one, for the final event); gives the event back when the queue is
    /// too full or closed (a slow server must not stall SIP).
    pub(crate) fn emit_reserving(&self, event: CallEvent, reserve: usize) -> Result<(), CallEvent> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match events.as_ref() {
            Some(sender) if sender.capacity() > reserve.max(1) => {
                sender.try_send(event).map_err(|e| e.into_inner())
            }
            _ => Err(event),
        }
    }

    /// Deliver a non-final event, keeping one slot for the final event.
    pub(crate) fn emit(&self, event: CallEvent) -> Result<(), CallEvent> {
        self.emit_reserving(event, 1)
    }

    /// Hang up from our side, whichever role (for the drop guard).
    async fn hang_up(self: Arc<Self>) -> Result<(), SipError> {
        match self.role {
            Role::Server { .. } => server::hang_up(&self).await,
            Role::Client(_) => outgoing::hang_up(&self).await,
        }
    }
}

/// Hangs up an unfinished call when the last handle clone is dropped.
pub(crate) struct OwnerGuard {
    shared: Arc<CallShared>,
    armed: AtomicBool,
}

impl OwnerGuard {
    pub(crate) fn new(shared: Arc<CallShared>) -> Arc<Self> {
        Arc::new(OwnerGuard {
            shared,
            armed: AtomicBool::new(true),
        })
    }

    /// Stop the guard (the endpoint ends this call itself).
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::Release);
    }
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Acquire) || matches!(self.shared.current(), Phase::Ended(_)) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            debug!(call_id = %self.shared.call_id, "call handle dropped; hanging up");
            let shared = self.shared.clone();
            let span = shared.span.clone();
            runtime.spawn(
                async move {
                    let _ = shared.hang_up().await;
                }
                .instrument(span),
            );
        }
    }
}
