//! Calls a leg places: `call`, `start-call`, `wait-for-outgoing-call`.
//!
//! The leg builds an SDP offer, sends the INVITE through the SIP endpoint and
//! follows the call with the dialog's events: a provisional response moves it to
//! RING_OUTGOING, a 2xx to ANSWERED (the answer's SDP starts the media), a final
//! error response to IDLE with the cause the status implies, and the app's answer
//! timeout cancels it with cause TIMEOUT. Status callbacks of an originate request
//! are reported from here. RFC 3261 §13.2 (UAC INVITE), §9.1 (CANCEL).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use callhost_media::{Codec, PendingMedia};
use callhost_runtime::port::{CallCause, CallDetails, CallError, CallOptions, CallState, Reply};
use callhost_sip::{CallEvent, Credentials, OutgoingRequest};

use crate::config::Account;

use super::leg::{Leg, Outgoing, Signalling};
use super::{Host, local};
use crate::status_callback::{StatusEvent, StatusFields};

/// The cause a final SIP status implies for an outgoing call (seed 003 causes).
pub fn cause_for_status(code: u16) -> CallCause {
    match code {
        486 | 600 => CallCause::Busy,
        408 | 480 => CallCause::NoAnswer,
        404 | 484 | 604 => CallCause::Unobtainable,
        301 | 410 => CallCause::Changed,
        403 => CallCause::Barred,
        503 => CallCause::Congestion,
        603 => CallCause::Rejected,
        300..=399 => CallCause::Other,
        _ => CallCause::Failed,
    }
}

/// The account an app's `from` names: its id, its AOR, or the AOR's user@host
/// (with or without `sip:` and a display name).
pub fn account_for<'a>(accounts: &'a [Account], from: &str) -> Option<&'a Account> {
    let bare = |uri: &str| -> String {
        let uri = uri.trim();
        let uri = match (uri.find('<'), uri.rfind('>')) {
            (Some(start), Some(end)) if start < end => &uri[start + 1..end],
            _ => uri,
        };
        let uri = uri
            .strip_prefix("sips:")
            .or_else(|| uri.strip_prefix("sip:"))
            .unwrap_or(uri);
        uri.split([';', '?'])
            .next()
            .unwrap_or(uri)
            .to_ascii_lowercase()
    };
    let wanted = bare(from);
    accounts
        .iter()
        .find(|account| account.id == from.trim() || bare(&account.aor) == wanted)
}

/// The codecs an app named, in its order; an unknown name is the app's error.
fn codecs(names: &[String]) -> Result<Option<Vec<Codec>>, CallError> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| {
            Codec::from_name(name).ok_or_else(|| {
                CallError::Error(format!(
                    "unknown codec {name:?} (use PCMU, PCMA, G722 or OPUS)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Check that `leg` can place a call and build its offer; on failure the reply
/// has been sent.
async fn prepare(
    host: &Host,
    leg: &Leg,
    options: &CallOptions,
    reply: Reply<CallState>,
) -> Option<(PendingMedia, String, Reply<CallState>)> {
    let idle = matches!(
        leg.signalling,
        Signalling::None | Signalling::Outbound(_) | Signalling::LocalCaller(_)
    );
    if !idle || leg.state() != CallState::Idle {
        let state = leg.state();
        let _ = reply.send(Err(CallError::Error(format!(
            "call needs an idle channel (state is {state:?})"
        ))));
        return None;
    }
    let codecs = match codecs(&options.codecs) {
        Ok(codecs) => codecs,
        Err(error) => {
            let _ = reply.send(Err(error));
            return None;
        }
    };
    match host.media.create_offer(codecs.as_deref()).await {
        Ok((pending, offer)) => Some((pending, offer, reply)),
        Err(error) => {
            warn!(%error, "no media for an outgoing call");
            let _ = reply.send(Err(CallError::Error(format!(
                "no media for the call: {error}"
            ))));
            None
        }
    }
}

/// The call is on its way: the leg follows it from CALL_OUTGOING.
struct Started {
    signalling: Signalling,
    events: mpsc::Receiver<CallEvent>,
    details: CallDetails,
    offer: String,
    pending: PendingMedia,
}

fn begin(
    leg: &mut Leg,
    started: Started,
    options: &CallOptions,
    wait: bool,
    reply: Reply<CallState>,
) {
    let Started {
        signalling,
        events,
        details,
        offer,
        pending,
    } = started;
    leg.signalling = signalling;
    leg.sip_events = Some(events);
    leg.local_sdp = offer;
    leg.received_headers.clear();
    leg.answered_at = None;
    let now = Instant::now();
    let mut outgoing = Outgoing {
        deadline: now + options.timeout,
        waiters: Vec::new(),
        pending_media: Some(pending),
        started: now,
    };
    leg.update(|snapshot| {
        snapshot.state = CallState::CallOutgoing;
        snapshot.cause = None;
        snapshot.raw_cause = None;
        snapshot.details = std::sync::Arc::new(details);
    });
    report(leg, StatusEvent::Initiated, None);
    if wait {
        outgoing.waiters.push(reply);
    } else {
        let _ = reply.send(Ok(CallState::CallOutgoing));
    }
    leg.outgoing = Some(outgoing);
}

/// Place a call from `leg`. Replies at once for `start-call` (`wait == false`) or
/// an error, else when the call is answered or idle.
pub(crate) async fn place(
    host: &Host,
    leg: &mut Leg,
    destination: String,
    options: CallOptions,
    wait: bool,
    reply: Reply<CallState>,
) {
    let Some((pending, offer, reply)) = prepare(host, leg, &options, reply).await else {
        return;
    };
    let mut headers = super::sip_api::header_lines(&leg.headers_to_send);
    headers.extend(super::sip_api::header_lines(&options.headers));
    let from = options
        .from
        .clone()
        .or_else(|| host.config.default_from.clone());
    // The app's From picks the account whose credentials and proxy the call uses.
    let account = from
        .as_deref()
        .and_then(|from| account_for(&host.config.accounts, from));
    let request = OutgoingRequest {
        target: destination.clone(),
        from: match account {
            Some(account) if from.as_deref() == Some(account.id.as_str()) => {
                Some(account.aor.clone())
            }
            _ => from,
        },
        headers,
        offer_sdp: offer.clone(),
        credentials: account.and_then(|account| {
            let password = account.password.clone()?;
            Some(Credentials {
                username: account.username.clone(),
                password,
                realm: account.realm.clone(),
            })
        }),
        outbound_proxy: account
            .and_then(|account| account.outbound_proxy.clone())
            .or_else(|| host.config.outbound_proxy.clone()),
    };
    let outgoing = match host.sip.call(request).await {
        Ok(outgoing) => outgoing,
        Err(error) => {
            info!(%destination, %error, "cannot place the call");
            let _ = reply.send(Err(CallError::Error(format!(
                "cannot call {destination}: {error}"
            ))));
            return;
        }
    };
    info!(leg = leg.id, %destination, sip.call_id = %outgoing.call_id, "calling");
    let details = CallDetails {
        sip_call_id: outgoing.call_id.clone(),
        call_from: outgoing.from.clone(),
        call_to: outgoing.to.clone(),
        request_uri: outgoing.request_uri.clone(),
        service: String::new(),
        remote_address: outgoing.remote.to_string(),
    };
    let started = Started {
        signalling: Signalling::Outbound(outgoing.call),
        events: outgoing.events,
        details,
        offer,
        pending,
    };
    begin(leg, started, &options, wait, reply);
}

/// `call-inbound-service`: call another service of this host from `leg` and
/// wait like `call`. A refusal (unknown service 404, no instance 503 …) ends the
/// attempt IDLE with the cause that status implies.
pub(crate) async fn place_local(
    host: &Arc<Host>,
    leg: &mut Leg,
    service: String,
    options: CallOptions,
    reply: Reply<CallState>,
) {
    let Some((pending, offer, reply)) = prepare(host, leg, &options, reply).await else {
        return;
    };
    let from = options
        .from
        .clone()
        .unwrap_or_else(|| format!("local:leg-{}", leg.id));
    match local::start(host, &service, &offer, &from).await {
        Ok((signalling, events, details)) => {
            info!(leg = leg.id, %service, "calling a service of this host");
            begin(
                leg,
                Started {
                    signalling,
                    events,
                    details,
                    offer,
                    pending,
                },
                &options,
                true,
                reply,
            );
        }
        Err(refused) => {
            info!(%service, code = refused.code, reason = %refused.reason, "the local call was refused");
            let cause = cause_for_status(refused.code);
            leg.update(|snapshot| {
                snapshot.state = CallState::Idle;
                snapshot.cause = Some(cause);
                snapshot.raw_cause = Some(refused.code);
            });
            let _ = reply.send(Ok(CallState::Idle));
        }
    }
}

/// Dialog events only an outgoing call has: provisional, answered, failed.
pub(crate) async fn event(leg: &mut Leg, event: CallEvent) {
    match event {
        CallEvent::Progress { code, .. } => {
            if leg.outgoing.is_some() && leg.state() == CallState::CallOutgoing {
                debug!(code, "the far end is ringing");
                leg.update(|snapshot| snapshot.state = CallState::RingOutgoing);
                report(leg, StatusEvent::Ringing, Some(code));
            }
        }
        CallEvent::Answered {
            answer_sdp,
            headers,
        } => answered(leg, answer_sdp, headers).await,
        CallEvent::Failed { code, reason, .. } => {
            if leg.outgoing.is_some() {
                let cause = cause_for_status(code);
                leg.go_idle(
                    cause,
                    Some(code),
                    &format!("the call failed: {code} {reason}"),
                );
            }
        }
        other => debug!(?other, "SIP event not handled"),
    }
}

async fn answered(leg: &mut Leg, answer_sdp: Option<String>, headers: Vec<(String, String)>) {
    let Some(mut outgoing) = leg.outgoing.take() else {
        // Answered after the app gave up (a 200 crossing our CANCEL): end it.
        info!("an answer arrived for a call already given up: hanging up");
        if let Err(error) = leg.signalling.hang_up().await {
            debug!(%error, "hang-up of the late answer failed");
        }
        return;
    };
    let media = match (outgoing.pending_media.take(), answer_sdp) {
        (Some(pending), Some(sdp)) => pending
            .accept_answer(&sdp)
            .map_err(|error| error.to_string()),
        (_, None) => Err("the answer has no SDP".to_owned()),
        (None, _) => Err("no media offer is pending".to_owned()),
    };
    leg.received_headers = headers;
    match media {
        Ok(media) => {
            media.start_sending();
            leg.media = Some(media);
            leg.final_statistics = None;
            leg.answered_at = Some(Instant::now());
            leg.update(|snapshot| snapshot.state = CallState::Answered);
            info!(leg = leg.id, "outgoing call answered");
            report(leg, StatusEvent::Answered, Some(200));
            for reply in outgoing.waiters {
                let _ = reply.send(Ok(CallState::Answered));
            }
        }
        Err(error) => {
            warn!(%error, "the answer's media is unusable: hanging up");
            leg.outgoing = Some(outgoing);
            if let Err(error) = leg.signalling.hang_up().await {
                debug!(%error, "hang-up failed");
            }
            leg.go_idle(CallCause::Error, None, &format!("unusable answer: {error}"));
        }
    }
}

/// The answer timeout: cancel the call and go idle with cause TIMEOUT.
pub(crate) async fn check_timeout(leg: &mut Leg, now: Instant) {
    if leg
        .outgoing
        .as_ref()
        .is_some_and(|outgoing| outgoing.deadline <= now)
    {
        if let Err(error) = leg.signalling.hang_up().await {
            debug!(%error, "cancel failed");
        }
        let waited = leg
            .outgoing
            .as_ref()
            .map(|outgoing| now - outgoing.started)
            .unwrap_or_default();
        leg.go_idle(
            CallCause::Timeout,
            None,
            &format!("no answer within {} s", waited.as_secs()),
        );
    }
}

fn report(leg: &Leg, event: StatusEvent, code: Option<u16>) {
    if let Some(reporter) = &leg.status {
        let snapshot = leg.snapshot.borrow();
        let sip_headers = match event {
            StatusEvent::Answered => leg
                .received_headers
                .iter()
                .filter(|(name, _)| name.len() > 2 && name[..2].eq_ignore_ascii_case("x-"))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        reporter.report(
            event,
            StatusFields {
                sip_call_id: snapshot.details.sip_call_id.clone(),
                sip_response_code: code,
                call_duration: None,
                sip_headers,
            },
        );
    }
}

/// The `completed` status callback of a leg that placed a call.
pub(crate) fn report_completed(leg: &Leg, raw: Option<u16>) {
    if matches!(leg.signalling, Signalling::Outbound(_))
        && let Some(reporter) = &leg.status
    {
        let snapshot = leg.snapshot.borrow();
        let answered = leg.answered_at;
        reporter.report(
            StatusEvent::Completed,
            StatusFields {
                sip_call_id: snapshot.details.sip_call_id.clone(),
                sip_response_code: raw.or(answered.map(|_| 200)),
                call_duration: Some(answered.map(|at| at.elapsed()).unwrap_or_default()),
                sip_headers: Vec::new(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_map_to_the_seed_causes() {
        assert_eq!(cause_for_status(486), CallCause::Busy);
        assert_eq!(cause_for_status(600), CallCause::Busy);
        assert_eq!(cause_for_status(408), CallCause::NoAnswer);
        assert_eq!(cause_for_status(480), CallCause::NoAnswer);
        assert_eq!(cause_for_status(404), CallCause::Unobtainable);
        assert_eq!(cause_for_status(484), CallCause::Unobtainable);
        assert_eq!(cause_for_status(604), CallCause::Unobtainable);
        assert_eq!(cause_for_status(301), CallCause::Changed);
        assert_eq!(cause_for_status(410), CallCause::Changed);
        assert_eq!(cause_for_status(403), CallCause::Barred);
        assert_eq!(cause_for_status(503), CallCause::Congestion);
        assert_eq!(cause_for_status(603), CallCause::Rejected);
        assert_eq!(cause_for_status(302), CallCause::Other);
        assert_eq!(cause_for_status(500), CallCause::Failed);
        assert_eq!(cause_for_status(488), CallCause::Failed);
    }

    #[test]
    fn from_picks_the_account_by_id_or_aor() {
        let account = |id: &str, aor: &str| Account {
            id: id.into(),
            registrar: None,
            aor: aor.into(),
            username: id.into(),
            password: None,
            realm: None,
            expires: std::time::Duration::from_secs(60),
            outbound_proxy: None,
            contact_user: id.into(),
            app: id.into(),
            parameters: String::new(),
        };
        let accounts = [
            account("alice", "sip:alice@example.com"),
            account("bob", "sip:bob@example.com"),
        ];
        assert_eq!(
            account_for(&accounts, "bob").map(|a| a.id.as_str()),
            Some("bob")
        );
        assert_eq!(
            account_for(&accounts, "sip:alice@example.com").map(|a| a.id.as_str()),
            Some("alice")
        );
        assert_eq!(
            account_for(&accounts, "Alice@Example.com").map(|a| a.id.as_str()),
            Some("alice")
        );
        assert_eq!(
            account_for(&accounts, "\"A\" <sip:alice@example.com>;tag=1").map(|a| a.id.as_str()),
            Some("alice")
        );
        assert!(account_for(&accounts, "carol@example.com").is_none());
    }

    #[test]
    fn codec_names_are_checked() {
        assert_eq!(codecs(&[]).expect("none"), None);
        assert_eq!(
            codecs(&["pcma".into(), "PCMU".into()]).expect("known"),
            Some(vec![Codec::Pcma, Codec::Pcmu])
        );
        assert!(codecs(&["G729".into()]).is_err());
    }
}
