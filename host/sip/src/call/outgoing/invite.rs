//! The task that drives an outgoing call's INVITE client transactions:
//! provisional responses, the digest retry, the 2xx (dialog, ACK, absorbing
//! retransmitted 2xx), final failures, and CANCEL.
//!
//! rsipstack runs the client transaction (Timers A, B, D; the ACK of a
//! non-2xx). The endpoint is built with `auto_ack_2xx = false`, so a 2xx
//! ends the transaction and the ACK is ours (RFC 3261 §13.2.2.4, §17.1.1.3):
//! we build it from the new dialog, and for 64*T1 re-register the
//! transaction key with rsipstack to receive, and re-acknowledge,
//! retransmissions of the 2xx (RFC 6026 §7.2, Timer M's window).
//!
//! RFC 3261 §13.2.2 (processing INVITE responses), §9.1 (CANCEL: same
//! Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE,
//! only after a provisional response; after 64*T1 without a final response
//! the INVITE is given up), §22.2 (401/407 retry).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rsipstack::sip::{Header, Method, Request, Response, SipMessage, StatusCodeKind};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::ClientState;
use crate::call::ack::{self, AckRoute};
use crate::call::requests::{self, Attempts};
use crate::call::{CallEvent, CallShared, EndCause, Phase, session_timer};
use crate::message::{header_list, sdp_of};

/// Drive the call from the first INVITE to its answer or failure.
pub(crate) async fn run(shared: Arc<CallShared>, mut transaction: Transaction) {
    let Some(client) = shared.client() else {
        return;
    };
    let timers = shared.context.config.timers;
    let shutdown = shared.context.shutdown.clone();
    let mut cancel_sent = client.cancel_sent.subscribe();
    let mut cancel_expiry = None;
    let mut attempts = Attempts::default();
    let mut floor_raised = false;
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                shared.end(EndCause::Shutdown, Some(CallEvent::Ended {
                    reason: "the SIP endpoint shut down".to_string(),
                }));
                return;
            }
            () = after_cancel(&mut cancel_sent, &mut cancel_expiry, timers.t1 * 64) => {
                debug!(call_id = %shared.call_id, "no final response within 64*T1 of the CANCEL");
                fail(&shared, 408, "Request Timeout".to_string(), Vec::new());
                return;
            }
            message = transaction.receive() => message,
        };
        let response = match message {
            Some(SipMessage::Response(response)) => response,
            Some(SipMessage::Request(_)) => continue,
            None => {
                fail(&shared, 408, "Request Timeout".to_string(), Vec::new());
                return;
            }
        };
        match response.status_code.kind() {
            StatusCodeKind::Provisional => provisional(&shared, client, &response).await,
            StatusCodeKind::Successful => {
                answered(&shared, client, &transaction.original, response).await;
                return;
            }
            _ => {
                let cancelled = client.cancel_requested.load(Ordering::SeqCst);
                let retry = !cancelled
                    && (raise_session_floor(&shared, &response, &mut floor_raised)
                        || shared
                            .auth
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .on_challenge(&response, shared.credentials.as_ref(), &mut attempts));
                if retry {
                    // The new INVITE needs its own provisional before a CANCEL.
                    shared.phase.send_if_modified(|phase| {
                        let calling = matches!(phase, Phase::Calling { .. });
                        if calling {
                            *phase = Phase::Calling { provisional: false };
                        }
                        calling
                    });
                    match shared.send_invite(&attempts).await {
                        Ok(next) => {
                            debug!(call_id = %shared.call_id, "INVITE repeated (credentials or a larger Session-Expires)");
                            transaction = next;
                            continue;
                        }
                        Err(error) => {
                            warn!(call_id = %shared.call_id, %error, "INVITE retry failed")
                        }
                    }
                }
                let code = response.status_code.code();
                if code == 408 && shared.current() == (Phase::Calling { provisional: true }) {
                    // rsipstack's Timer C gives up on a ringing INVITE with a
                    // local 408; the callee must hear of it too (RFC 3261
                    // §16.8 does the same for a proxy).
                    send_cancel(&shared, client).await;
                }
                fail(
                    &shared,
                    code,
                    reason_of(&response),
                    header_list(&response.headers),
                );
                return;
            }
        }
    }
}

/// A 422 (RFC 4028 §7.4): ask again, once, with at least its Min-SE.
pub(crate) fn raise_session_floor(
    shared: &CallShared,
    response: &Response,
    raised: &mut bool,
) -> bool {
    if response.status_code.code() != 422 || *raised {
        return false;
    }
    let Some(min_se) = session_timer::min_se(&response.headers) else {
        return false;
    };
    *raised = true;
    shared.session_floor.fetch_max(min_se, Ordering::AcqRel);
    true
}

fn reason_of(response: &Response) -> String {
    response
        .wire_reason
        .clone()
        .unwrap_or_else(|| response.status_code.text().to_string())
}

fn fail(shared: &CallShared, code: u16, reason: String, headers: Vec<(String, String)>) {
    shared.end(
        EndCause::Failed,
        Some(CallEvent::Failed {
            code,
            reason,
            headers,
        }),
    );
}

/// Resolves 64*T1 after the CANCEL went out; never if none did.
async fn after_cancel(
    sent: &mut watch::Receiver<bool>,
    expiry: &mut Option<Instant>,
    wait: Duration,
) {
    let at = match *expiry {
        Some(at) => at,
        None => {
            if sent.wait_for(|sent| *sent).await.is_err() {
                return std::future::pending().await;
            }
            *expiry.insert(Instant::now() + wait)
        }
    };
    tokio::time::sleep_until(at).await;
}

async fn provisional(shared: &CallShared, client: &ClientState, response: &Response) {
    shared.phase.send_if_modified(|phase| {
        let early = matches!(phase, Phase::Calling { provisional: false });
        if early {
            *phase = Phase::Calling { provisional: true };
        }
        early
    });
    let code = response.status_code.code();
    if code != 100 {
        let progress = CallEvent::Progress {
            code,
            reason: reason_of(response),
            sdp: sdp_of(&response.headers, &response.body),
        };
        // Keep room for Answered and the final event.
        if shared.emit_reserving(progress, 2).is_err() {
            debug!(call_id = %shared.call_id, code, "progress not reported: event queue full");
        }
    }
    if client.cancel_requested.load(Ordering::SeqCst) {
        send_cancel(shared, client).await;
    }
}

/// Send the CANCEL for the INVITE in flight, once (RFC 3261 §9.1), in its
/// own client transaction; its final response is only logged.
pub(super) async fn send_cancel(shared: &CallShared, client: &ClientState) {
    if client.cancel_sent.send_replace(true) {
        return;
    }
    let invite = client
        .in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let cancel = cancel_request(&invite);
    let key = match TransactionKey::from_request(&cancel, TransactionRole::Client) {
        Ok(key) => key,
        Err(error) => {
            warn!(call_id = %shared.call_id, %error, "cannot build the CANCEL");
            return;
        }
    };
    let mut transaction = Transaction::new_client(
        key,
        cancel,
        shared.context.stack.clone(),
        Some(client.connection.clone()),
    );
    transaction.destination = Some(client.destination.clone());
    if let Err(error) = transaction.send().await {
        warn!(call_id = %shared.call_id, %error, "CANCEL not sent");
        return;
    }
    let call_id = shared.call_id.clone();
    let deadline = shared.context.config.timers.t1 * 64 + Duration::from_secs(1);
    tokio::spawn(async move {
        let wait_final = async {
            while let Some(message) = transaction.receive().await {
                if let SipMessage::Response(response) = message
                    && response.status_code.kind() != StatusCodeKind::Provisional
                {
                    return Some(response.status_code.code());
                }
            }
            None
        };
        let code = tokio::time::timeout(deadline, wait_final).await;
        debug!(%call_id, ?code, "CANCEL answered");
    });
}

/// The CANCEL of `invite` (RFC 3261 §9.1): its Request-URI, top Via, From,
/// To, Call-ID and Route, CSeq number with method CANCEL.
fn cancel_request(invite: &Request) -> Request {
    let mut headers: Vec<Header> = Vec::new();
    let mut via_seen = false;
    for header in invite.headers.iter() {
        match header {
            Header::Via(_) if !via_seen => {
                via_seen = true;
                headers.push(header.clone());
            }
            Header::MaxForwards(_)
            | Header::From(_)
            | Header::To(_)
            | Header::CallId(_)
            | Header::Route(_)
            | Header::UserAgent(_) => headers.push(header.clone()),
            Header::CSeq(cseq) => {
                let number = cseq.value().split_whitespace().next().unwrap_or("1");
                headers.push(Header::CSeq(format!("{number} CANCEL").into()));
            }
            _ => {}
        }
    }
    headers.push(Header::ContentLength(0u32.into()));
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        version: invite.version,
        headers: headers.into(),
        body: Vec::new(),
    }
}

/// A 2xx: confirm the dialog, ACK, report (or, when the application had
/// cancelled meanwhile, hang up with BYE).
async fn answered(
    shared: &Arc<CallShared>,
    client: &ClientState,
    invite: &Request,
    response: Response,
) {
    let confirmed = {
        let mut dialog = shared.lock_dialog();
        let draft = dialog.key.clone();
        dialog.confirm(&response).map(|key| (draft, key))
    };
    let (draft, key) = match confirmed {
        Ok(keys) => keys,
        Err(why) => {
            // Without a To tag there is no dialog to acknowledge or end.
            warn!(call_id = %shared.call_id, why, "unusable 2xx");
            shared.end(
                EndCause::Failed,
                Some(CallEvent::Ended {
                    reason: format!("the 2xx cannot establish a dialog: {why}"),
                }),
            );
            return;
        }
    };
    shared.context.rekey_dialog(&draft, key, shared);
    let cancelled = client.cancel_requested.load(Ordering::SeqCst);
    if !cancelled {
        let _ = shared.advance(
            "answer",
            |phase| matches!(phase, Phase::Calling { .. }).then_some(Phase::Confirmed),
            None,
            None,
        );
    }
    let (ack, flow, transport) = ack::build(shared, invite);
    let fallback = Some((client.connection.clone(), client.destination.clone()));
    if let Some(route) = AckRoute::find(&shared.context, flow, transport, &ack, fallback).await {
        route.send(&ack, None).await;
        ack::absorb_retransmissions(shared, invite, ack, route);
    }
    if cancelled {
        // RFC 3261 §15: the callee answered a call we no longer want.
        let reason = "answered after it was cancelled; hung up with BYE".to_string();
        if shared.end(EndCause::HungUp, Some(CallEvent::Ended { reason }))
            && let Err(error) = requests::send_bye(shared).await
        {
            warn!(call_id = %shared.call_id, %error, "BYE after a late answer failed");
        }
        return;
    }
    shared.learn_allow(&response.headers);
    shared.start_session_timer(session_timer::from_response(&response));
    let answered = CallEvent::Answered {
        answer_sdp: sdp_of(&response.headers, &response.body),
        headers: header_list(&response.headers),
    };
    if shared.emit(answered).is_err() {
        warn!(call_id = %shared.call_id, "Answered not reported: event queue full");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_copies_the_invite_identity() {
        let invite = Request::try_from(
            "INVITE sip:bob@192.0.2.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKinv;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1>;tag=ours\r\n\
             To: <sip:bob@192.0.2.1>\r\n\
             Call-ID: c@127.0.0.1\r\n\
             CSeq: 2 INVITE\r\n\
             Route: <sip:proxy.example.com;lr>\r\n\
             Proxy-Authorization: Digest username=\"a\"\r\n\
             Contact: <sip:127.0.0.1:5060>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: 4\r\n\r\nv=0\n",
        )
        .expect("parse");
        let cancel = cancel_request(&invite).to_string();
        assert!(
            cancel.starts_with("CANCEL sip:bob@192.0.2.1 SIP/2.0\r\n"),
            "{cancel}"
        );
        assert!(cancel.contains("branch=z9hG4bKinv"), "{cancel}");
        assert!(cancel.contains("CSeq: 2 CANCEL\r\n"), "{cancel}");
        assert!(cancel.contains("To: <sip:bob@192.0.2.1>\r\n"), "{cancel}");
        assert!(
            cancel.contains("Route: <sip:proxy.example.com;lr>\r\n"),
            "{cancel}"
        );
        assert!(!cancel.contains("Authorization"), "{cancel}");
        assert!(!cancel.contains("Content-Type"), "{cancel}");
        assert!(cancel.ends_with("Content-Length: 0\r\n\r\n"), "{cancel}");
        // Same transaction identity except the method (RFC 3261 §9.1).
        let invite_key = TransactionKey::from_request(&invite, TransactionRole::Client)
            .expect("key")
            .to_string();
        let cancel_key =
            TransactionKey::from_request(&cancel_request(&invite), TransactionRole::Client)
                .expect("key")
                .to_string();
        assert_eq!(invite_key.replace("INVITE", "CANCEL"), cancel_key);
    }
}
