//! Tasks that drive a call's INVITE server transactions: the dialog-creating
//! INVITE and each re-INVITE.
//!
//! rsipstack's transaction only advances (timers, retransmissions, ACK and
//! CANCEL matching) while its owner awaits `Transaction::receive`, so each
//! INVITE transaction has one task doing exactly that; decisions reach it as
//! queued `TransactionEvent::Respond` events (see `call.rs`).
//!
//! RFC 3261 §13.3.1.4 (2xx retransmission until ACK; after 64*T1 without ACK
//! the UAS ends the dialog with BYE), §9.2 (CANCEL → 487), §14.2 (re-INVITE).
//! rsipstack's server transaction implements the 2xx retransmission (Timer G,
//! doubling to T2) and gives up after Timer L = 64*T1, which is Timer H here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rsipstack::sip::{Method, SipMessage, StatusCodeKind};
use rsipstack::transaction::transaction::{Transaction, TransactionEvent};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::server::{ReInviteOutcome, ReInviteResponder};
use super::{CallEvent, CallShared, EndCause, Phase, requests};
use crate::message::{ResponseSpec, sdp_body};

/// What one INVITE transaction loop saw.
struct LoopEnd {
    acked: bool,
    shutdown: bool,
}

/// Drive `transaction` until it terminates: `on_ack` on the ACK, 487 to the
/// INVITE and `on_cancel` on a CANCEL, stop early at endpoint shutdown.
async fn drive(
    shared: &CallShared,
    transaction: &mut Transaction,
    mut on_ack: impl FnMut(),
    mut on_cancel: impl FnMut(),
) -> LoopEnd {
    let shutdown = shared.context.shutdown.clone();
    let mut acked = false;
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => return LoopEnd { acked, shutdown: true },
            message = transaction.receive() => message,
        };
        let Some(message) = message else {
            return LoopEnd {
                acked,
                shutdown: false,
            };
        };
        let SipMessage::Request(request) = message else {
            continue;
        };
        match request.method {
            Method::Ack => {
                acked = true;
                on_ack();
            }
            Method::Cancel => {
                // rsipstack has answered the CANCEL (200) and hands it on only
                // while the INVITE has no final response in the transaction's
                // own order; so the INVITE gets 487 even if the server queued a
                // decision meanwhile (that one is refused by the transaction).
                let terminated = shared.response(&transaction.original, ResponseSpec::new(487));
                if let Err(error) = transaction.respond(terminated).await {
                    warn!(call_id = %shared.call_id, %error, "could not send 487");
                }
                on_cancel();
            }
            _ => {}
        }
    }
}

/// The task of the dialog-creating INVITE: 100 Trying at once, then the
/// server's decisions, ACK, CANCEL and the ACK timeout.
pub(crate) async fn run_invite(shared: Arc<CallShared>, mut transaction: Transaction) {
    let trying = shared.response(&shared.invite, ResponseSpec::new(100));
    if let Err(error) = transaction.respond(trying).await {
        warn!(call_id = %shared.call_id, %error, "could not send 100 Trying");
    }
    let end = drive(
        &shared,
        &mut transaction,
        || {
            shared.phase.send_if_modified(|phase| {
                let confirm = *phase == Phase::Answering;
                if confirm {
                    *phase = Phase::Confirmed;
                }
                confirm
            });
        },
        || {
            shared.end(EndCause::Cancelled, Some(CallEvent::Cancelled));
        },
    )
    .await;
    if end.shutdown {
        shared.end(
            EndCause::Shutdown,
            Some(CallEvent::Ended {
                reason: "the SIP endpoint shut down".to_string(),
            }),
        );
        return;
    }
    if !end.acked && shared.current() == Phase::Answering {
        ack_timeout(&shared).await;
    }
    debug!(call_id = %shared.call_id, phase = ?shared.current(), "INVITE transaction done");
}

/// No ACK within Timer H: end the call and the dialog with BYE (§13.3.1.4).
async fn ack_timeout(shared: &CallShared) {
    let reason = "no ACK for the 200 OK within Timer H".to_string();
    if shared.end(EndCause::AckTimeout, Some(CallEvent::Ended { reason })) {
        warn!(call_id = %shared.call_id, "no ACK received; sending BYE");
        if let Err(error) = requests::send_bye(shared).await {
            warn!(call_id = %shared.call_id, %error, "BYE after ACK timeout failed");
        }
    }
}

/// The task of one re-INVITE or offer-carrying UPDATE (already checked by
/// the caller, 100 not yet sent): hand the offer to the server and carry out
/// its decision.
pub(crate) async fn run_reinvite(shared: Arc<CallShared>, mut transaction: Transaction) {
    let is_invite = transaction.original.method == Method::Invite;
    if is_invite {
        let trying = shared.response(&transaction.original, ResponseSpec::new(100));
        if let Err(error) = transaction.respond(trying).await {
            warn!(call_id = %shared.call_id, %error, "could not send 100 Trying");
        }
    }
    shared.lock_dialog().refresh_target(&transaction.original);
    let decided = Arc::new(AtomicBool::new(false));
    let (outcome, outcome_receiver) = watch::channel(ReInviteOutcome::Pending);
    let responder = ReInviteResponder {
        shared: shared.clone(),
        request: Box::new(transaction.original.clone()),
        transaction: transaction.tu_sender.clone(),
        decided: decided.clone(),
        outcome: outcome_receiver,
    };
    let event = CallEvent::ReInvite {
        offer_sdp: sdp_body(&transaction.original),
        responder,
    };
    // Undelivered (queue full or closed): dropping the responder answers 500.
    let deadline = match shared.emit(event) {
        Ok(()) => {
            let events = transaction.tu_sender.clone();
            let decided = decided.clone();
            let failure = shared.response(&transaction.original, ResponseSpec::new(500));
            let timeout = shared.context.config.reinvite_answer_timeout;
            Some(tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                if !decided.swap(true, Ordering::AcqRel) {
                    let _ = events.send(TransactionEvent::Respond(failure));
                }
            }))
        }
        Err(_undelivered) => {
            debug!(call_id = %shared.call_id, "re-INVITE not delivered: event queue full");
            None
        }
    };
    let end = drive(
        &shared,
        &mut transaction,
        || {
            outcome.send_replace(ReInviteOutcome::Acked);
        },
        || {
            decided.store(true, Ordering::Release);
            outcome.send_replace(ReInviteOutcome::Cancelled);
        },
    )
    .await;
    if let Some(deadline) = deadline {
        deadline.abort();
    }
    shared.reinvite_pending.store(false, Ordering::Release);
    let answered = transaction
        .last_response
        .as_ref()
        .is_some_and(|r| r.status_code.kind() == StatusCodeKind::Successful);
    if !is_invite {
        // A 2xx to UPDATE needs no ACK (RFC 3311 §5.2).
        if *outcome.borrow() == ReInviteOutcome::Pending {
            outcome.send_replace(if answered {
                ReInviteOutcome::Acked
            } else {
                ReInviteOutcome::Ended
            });
        }
    } else if answered && !end.acked && !end.shutdown {
        outcome.send_replace(ReInviteOutcome::AckTimeout);
        ack_timeout(&shared).await;
    } else if *outcome.borrow() == ReInviteOutcome::Pending {
        outcome.send_replace(ReInviteOutcome::Ended);
    }
}
