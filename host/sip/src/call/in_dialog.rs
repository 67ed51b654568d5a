//! Requests the peer sends inside an existing call's dialog (either role):
//! BYE, INFO, MESSAGE, re-INVITE and UPDATE. (CANCEL and ACK never get here: rsipstack matches them to the
//! INVITE transaction; OPTIONS is answered by the endpoint.)
//!
//! RFC 3261 §15.1.2 (BYE: 200, and 487 to a pending INVITE), §14.2
//! (re-INVITE: 500 + Retry-After while another INVITE is pending), §12.2.2
//! (481 once the dialog is gone), RFC 6086 (INFO), RFC 3428 (MESSAGE),
//! RFC 3311 (UPDATE), RFC 4028 (session refresh by re-INVITE or UPDATE).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rsipstack::sip::{Header, Method};
use rsipstack::transaction::transaction::Transaction;
use tracing::{debug, warn};

use super::invite::run_reinvite;
use super::session_timer::{self, UasDecision};
use super::{CallEvent, CallShared, EndCause, Phase};
use crate::message::{ResponseSpec, check_offer, full_content_type, sdp_body};

/// Handle one in-dialog request of the call. Owns the transaction.
pub(crate) async fn handle(shared: Arc<CallShared>, transaction: Transaction) {
    match transaction.original.method {
        Method::Bye => bye(&shared, transaction).await,
        Method::Info | Method::Message => info_or_message(&shared, transaction).await,
        Method::Invite | Method::Update => reinvite_or_update(shared, transaction).await,
        _ => reply(&shared, transaction, ResponseSpec::new(405).allow()).await,
    }
}

async fn reply(shared: &CallShared, mut transaction: Transaction, spec: ResponseSpec<'_>) {
    let response = shared.response(&transaction.original, spec);
    if let Err(error) = transaction.respond(response).await {
        warn!(call_id = %shared.call_id, %error, "could not answer an in-dialog request");
    }
}

fn does_not_exist() -> ResponseSpec<'static> {
    ResponseSpec::new(481)
}

/// A 500 telling the client to retry after 0–10 s (RFC 3261 §14.2).
fn retry_later() -> ResponseSpec<'static> {
    let seconds: u32 = rand::random_range(0..=10);
    ResponseSpec::new(500).header(Header::RetryAfter(seconds.to_string().into()))
}

async fn bye(shared: &CallShared, transaction: Transaction) {
    let phase = shared.current();
    match phase {
        Phase::Ended(_) | Phase::Calling { .. } => {
            return reply(shared, transaction, does_not_exist()).await;
        }
        Phase::Incoming { .. } => {
            // A BYE on the early dialog: the INVITE still needs its final
            // response (§15.1.2 recommends 487).
            let terminated = shared.response(&shared.invite, ResponseSpec::new(487));
            let ended = shared.advance(
                "end",
                |p| {
                    matches!(p, Phase::Incoming { .. }).then_some(Phase::Ended(EndCause::RemoteBye))
                },
                Some(terminated),
                Some(CallEvent::Bye),
            );
            if ended.is_err() {
                shared.end(EndCause::RemoteBye, Some(CallEvent::Bye));
            }
        }
        Phase::Answering | Phase::Confirmed => {
            shared.end(EndCause::RemoteBye, Some(CallEvent::Bye));
        }
    }
    debug!(call_id = %shared.call_id, "caller hung up");
    reply(shared, transaction, ResponseSpec::new(200)).await;
}

async fn info_or_message(shared: &CallShared, transaction: Transaction) {
    if matches!(shared.current(), Phase::Ended(_) | Phase::Calling { .. }) {
        return reply(shared, transaction, does_not_exist()).await;
    }
    let request = &transaction.original;
    let content_type = full_content_type(request).unwrap_or_default();
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let event = if request.method == Method::Message {
        CallEvent::Message { content_type, body }
    } else {
        CallEvent::Info { content_type, body }
    };
    reply(shared, transaction, ResponseSpec::new(200)).await;
    if let Err(event) = shared.emit(event) {
        debug!(call_id = %shared.call_id, ?event, "not reported: event queue full");
    }
}

/// A re-INVITE, or an UPDATE (RFC 3311): both refresh the session timer
/// (RFC 4028 §9, 422 below our Min-SE); an offer goes to the server to
/// decide, a bodiless UPDATE is answered here. Our own offer in flight
/// means 491 (RFC 3261 §14.2, RFC 3311 §5.2).
async fn reinvite_or_update(shared: Arc<CallShared>, transaction: Transaction) {
    match shared.current() {
        Phase::Ended(_) => return reply(&shared, transaction, does_not_exist()).await,
        Phase::Incoming { .. } | Phase::Calling { .. } => {
            return reply(&shared, transaction, retry_later()).await;
        }
        Phase::Answering | Phase::Confirmed => {}
    }
    let request = &transaction.original;
    let settings = shared.context.config.session_timer;
    let decision = session_timer::as_uas(request, &settings);
    if let UasDecision::TooSmall { min_se } = decision {
        let mut spec = ResponseSpec::new(422);
        spec.headers
            .extend(session_timer::too_small_headers(min_se));
        return reply(&shared, transaction, spec).await;
    }
    let offer = sdp_body(request).is_some();
    if request.method == Method::Update && !offer {
        return refresh_only(&shared, transaction, decision).await;
    }
    if shared.local_offer_pending.load(Ordering::Acquire) {
        return reply(&shared, transaction, ResponseSpec::new(491)).await;
    }
    if shared.reinvite_pending.swap(true, Ordering::AcqRel) {
        return reply(&shared, transaction, retry_later()).await;
    }
    if let Some(refusal) = check_offer(&transaction.original) {
        shared.reinvite_pending.store(false, Ordering::Release);
        return reply(&shared, transaction, refusal).await;
    }
    run_reinvite(shared, transaction).await;
}

/// An UPDATE without a body: a session refresh (and target refresh).
async fn refresh_only(shared: &CallShared, transaction: Transaction, decision: UasDecision) {
    let UasDecision::Accept { timer, headers } = decision else {
        return;
    };
    shared.lock_dialog().refresh_target(&transaction.original);
    let contact = shared.contact();
    let mut spec = ResponseSpec::new(200)
        .contact(&contact)
        .header(Header::Supported(session_timer::TIMER.into()));
    spec.headers.extend(headers);
    reply(shared, transaction, spec).await;
    debug!(call_id = %shared.call_id, ?timer, "session refreshed by the peer");
    shared.session.send_replace(timer);
}
