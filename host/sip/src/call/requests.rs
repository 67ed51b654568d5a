//! Requests callhost sends inside a dialog (BYE, INFO, MESSAGE, re-INVITE,
//! UPDATE), for both roles, and the digest-challenge bookkeeping shared with
//! the outgoing INVITE.
//!
//! Depends on `dialog` (request building, client transactions) and `auth`.
//! RFC 3261 §12.2.1.1 (requests within a dialog), §15.1.1 (BYE), §22.2–§22.3
//! (a 401/407 is answered by repeating the request, new CSeq, with
//! Authorization/Proxy-Authorization; a second challenge for the same realm
//! means the credentials are wrong unless the nonce was `stale`), §14.1
//! (re-INVITE: one at a time, 491 retried after a random wait), §12.2.1.2
//! (408/481 to a request in a dialog ends it), RFC 6086 §4.2 (INFO),
//! RFC 3428 §4 (MESSAGE), RFC 3311 (UPDATE), RFC 4028 §7 and §10 (session
//! refresh).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rsipstack::sip::{Header, Method, Request, Response};
use tracing::{debug, warn};

use super::session_timer::{self, Refresher, SessionTimer};
use super::{CallEvent, CallShared, EndCause, Phase, Role, ack};
use crate::SipError;
use crate::auth::{Credentials, DigestChallenge, DigestSession};
use crate::dialog::{FinalResponse, send_request};
use crate::message::{Body, sdp_of};
use crate::validate::ALLOW;

/// Most requests sent for one logical request: the first, one answer to a
/// challenge of each kind, and a couple of `stale` renewals.
const MOST_ATTEMPTS: usize = 5;

/// Which challenge a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChallengeKind {
    /// 401 WWW-Authenticate → Authorization.
    Server,
    /// 407 Proxy-Authenticate → Proxy-Authorization.
    Proxy,
}

/// The digest sessions of one call, kept across requests so a server that
/// reuses its nonce sees `nc` count up.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    server: Option<DigestSession>,
    proxy: Option<DigestSession>,
}

/// The challenges answered so far for one logical request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Attempts {
    server: u8,
    proxy: u8,
}

impl AuthState {
    /// React to the final response of a request: `true` when it is a 401 or
    /// 407 that the request should be repeated for, with credentials.
    pub(crate) fn on_challenge(
        &mut self,
        response: &Response,
        credentials: Option<&Credentials>,
        attempts: &mut Attempts,
    ) -> bool {
        let kind = match response.status_code.code() {
            401 => ChallengeKind::Server,
            407 => ChallengeKind::Proxy,
            _ => return false,
        };
        let Some(credentials) = credentials else {
            return false;
        };
        let values: Vec<&str> = response
            .headers
            .iter()
            .filter_map(|header| match (kind, header) {
                (ChallengeKind::Server, Header::WwwAuthenticate(h)) => Some(h.value()),
                (ChallengeKind::Proxy, Header::ProxyAuthenticate(h)) => Some(h.value()),
                _ => None,
            })
            .collect();
        let challenge = match DigestChallenge::choose(values, credentials) {
            Ok(challenge) => challenge,
            Err(error) => {
                debug!(%error, "cannot answer the digest challenge");
                return false;
            }
        };
        let (count, session) = match kind {
            ChallengeKind::Server => (&mut attempts.server, &mut self.server),
            ChallengeKind::Proxy => (&mut attempts.proxy, &mut self.proxy),
        };
        // A second challenge after we answered one means wrong credentials,
        // unless the server says only the nonce was stale (RFC 7616 §3.3).
        if *count > 0 && !challenge.stale {
            return false;
        }
        *count += 1;
        match session {
            Some(session) => session.update(challenge),
            None => *session = Some(DigestSession::new(challenge)),
        }
        true
    }

    /// The Authorization / Proxy-Authorization headers for one request,
    /// for the kinds challenged in `attempts`.
    pub(crate) fn headers(
        &mut self,
        request: &Request,
        credentials: Option<&Credentials>,
        attempts: &Attempts,
    ) -> Vec<Header> {
        let Some(credentials) = credentials else {
            return Vec::new();
        };
        let method = request.method.to_string();
        let uri = crate::message::uri_text(&request.uri);
        let mut headers = Vec::new();
        if attempts.proxy > 0
            && let Some(session) = self.proxy.as_mut()
        {
            match session.authorization(&method, &uri, credentials, &request.body) {
                Ok(value) => headers.push(Header::ProxyAuthorization(value.into())),
                Err(error) => debug!(%error, "no Proxy-Authorization"),
            }
        }
        if attempts.server > 0
            && let Some(session) = self.server.as_mut()
        {
            match session.authorization(&method, &uri, credentials, &request.body) {
                Ok(value) => headers.push(Header::Authorization(value.into())),
                Err(error) => debug!(%error, "no Authorization"),
            }
        }
        headers
    }
}

/// Insert `headers` before the trailing Content-Length (cosmetic: keeps
/// the length last, where readers of traces expect it).
pub(crate) fn add_headers(request: &mut Request, headers: Vec<Header>) {
    let at = request
        .headers
        .iter()
        .position(|h| matches!(h, Header::ContentLength(_)))
        .unwrap_or(request.headers.len());
    let mut all: Vec<Header> = request.headers.iter().cloned().collect();
    all.splice(at..at, headers);
    request.headers = all.into();
}

/// Set the body and its Content-Type (empty type: no Content-Type).
fn set_body(request: &mut Request, content_type: &str, body: &[u8]) {
    if !content_type.is_empty() {
        add_headers(request, vec![Header::ContentType(content_type.into())]);
    }
    request.body = body.to_vec();
    request
        .headers
        .unique_push(Header::ContentLength((body.len() as u32).into()));
}

/// Send `method` in the call's dialog and wait for the final response,
/// repeating it with credentials on a 401/407 when the call has them.
/// Returns the final status code (408 when none came within Timer F).
async fn send_in_dialog(
    shared: &CallShared,
    method: Method,
    content_type: &str,
    body: &[u8],
) -> Result<u16, SipError> {
    let (outcome, _) = send_in_dialog_with(shared, method, content_type, body, Vec::new).await?;
    Ok(outcome.code)
}

/// [`send_in_dialog`] with `extra()` headers on every attempt; returns the
/// final response and the request that got it.
async fn send_in_dialog_with(
    shared: &CallShared,
    method: Method,
    content_type: &str,
    body: &[u8],
    extra: impl Fn() -> Vec<Header>,
) -> Result<(FinalResponse, Request), SipError> {
    let config = &shared.context.config;
    let deadline = config.timers.t1 * 64 + std::time::Duration::from_secs(1);
    let credentials = shared.credentials.as_ref();
    let mut attempts = Attempts::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut request, flow, transport) = shared
            .lock_dialog()
            .next_request(method, &config.user_agent);
        add_headers(&mut request, extra());
        set_body(&mut request, content_type, body);
        let auth = shared
            .auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .headers(&request, credentials, &attempts);
        add_headers(&mut request, auth);
        let outcome =
            send_request(&shared.context, request.clone(), flow, transport, deadline).await?;
        let retry = attempt < MOST_ATTEMPTS
            && outcome.response.as_ref().is_some_and(|response| {
                shared
                    .auth
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .on_challenge(response, credentials, &mut attempts)
            });
        if !retry {
            return Ok((outcome, request));
        }
    }
}

/// Send BYE and wait for its final response or Timer F. The call has
/// already been moved to `Ended` by the caller.
pub(crate) async fn send_bye(shared: &CallShared) -> Result<(), SipError> {
    let code = send_in_dialog(shared, Method::Bye, "", b"").await?;
    if !(200..300).contains(&code) {
        debug!(call_id = %shared.call_id, code, "BYE answered with a non-2xx");
    }
    Ok(())
}

/// INFO or MESSAGE with a body, from either handle: only in an answered
/// call; `content_type` is checked like any header value.
pub(crate) async fn send_with_body(
    shared: &CallShared,
    method: Method,
    content_type: &str,
    body: &str,
) -> Result<u16, SipError> {
    let content_type = content_type.trim();
    let well_formed = content_type.is_empty()
        || (content_type.contains('/') && !content_type.contains(['\r', '\n', '\0']));
    if !well_formed || (content_type.is_empty() && !body.is_empty()) {
        return Err(SipError::InvalidHeader {
            name: "Content-Type".to_string(),
            reason: "a body needs a media type such as text/plain",
        });
    }
    let operation = if method == Method::Info {
        "send INFO in"
    } else {
        "send MESSAGE in"
    };
    match shared.current() {
        Phase::Answering | Phase::Confirmed => {}
        phase => return Err(shared.phase_error(operation, phase)),
    }
    send_in_dialog(shared, method, content_type, body.as_bytes()).await
}

/// What the peer said to an offer we sent in a re-INVITE.
///
/// - 2xx: the answer is in `answer_sdp` (already acknowledged); the new
///   session applies.
/// - Any other code: the offer was refused and the session stays as it was
///   (RFC 3261 §14.1); 491 glare has already been retried twice.
/// - 408 or 481: the dialog is gone (RFC 3261 §12.2.1.2); the call has been
///   ended with BYE and its event queue reports `Ended`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferAnswer {
    /// The final status code (408 when no answer came within Timer F).
    pub code: u16,
    /// The answer, when a 2xx carried `application/sdp`.
    pub answer_sdp: Option<String>,
}

/// Most 491 Request Pending retries of one offer (RFC 3261 §14.1).
const GLARE_RETRIES: usize = 2;

/// Send a re-INVITE with `offer_sdp` and wait for its answer (see
/// [`OfferAnswer`]); one offer of ours at a time.
pub(crate) async fn reinvite(
    shared: &Arc<CallShared>,
    offer_sdp: &str,
) -> Result<OfferAnswer, SipError> {
    let offer = offer_sdp.to_string();
    let outcome = offer_session(shared, Method::Invite, Some(offer), None).await?;
    Ok(OfferAnswer {
        code: outcome.code,
        answer_sdp: outcome
            .response
            .as_ref()
            .filter(|r| (200..300).contains(&r.status_code.code()))
            .and_then(|r| sdp_of(&r.headers, &r.body)),
    })
}

/// Refresh the session we are the refresher of (RFC 4028 §10): UPDATE
/// without a body when the peer allows UPDATE, else a re-INVITE repeating
/// our last SDP unchanged. A failure other than 408/481 keeps the call; the
/// timer is re-armed so the next attempt comes half an interval later.
pub(crate) async fn refresh_session(shared: &Arc<CallShared>, timer: SessionTimer) {
    let by_update = shared.peer_allows_update.load(Ordering::Acquire);
    let (method, sdp) = if by_update {
        (Method::Update, None)
    } else {
        let sdp = shared
            .local_sdp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (Method::Invite, sdp)
    };
    let refreshing = SessionTimer {
        refresher: Refresher::Us,
        ..timer
    };
    match offer_session(shared, method, sdp, Some(refreshing)).await {
        Ok(outcome) if (200..300).contains(&outcome.code) => {
            debug!(call_id = %shared.call_id, %method, "session refreshed");
        }
        Ok(outcome) => {
            warn!(call_id = %shared.call_id, %method, code = outcome.code, "session refresh refused");
            if !matches!(shared.current(), Phase::Ended(_)) {
                shared.session.send_replace(Some(timer));
            }
        }
        Err(error) => {
            debug!(call_id = %shared.call_id, %error, "session refresh not sent");
            if !matches!(shared.current(), Phase::Ended(_)) {
                shared.session.send_replace(Some(timer));
            }
        }
    }
}

/// Send one offer-carrying (or session-refreshing) INVITE or UPDATE in the
/// confirmed dialog: session-timer headers (RFC 4028), a 422 answered once
/// with the larger Min-SE, 491 retried after a random wait (RFC 3261 §14.1),
/// the 2xx of an INVITE acknowledged, the session timer taken from the 2xx,
/// 408/481 ending the call.
async fn offer_session(
    shared: &Arc<CallShared>,
    method: Method,
    sdp: Option<String>,
    timer: Option<SessionTimer>,
) -> Result<FinalResponse, SipError> {
    let _turn = shared.offering.lock().await;
    let operation = if method == Method::Invite {
        "send a re-INVITE in"
    } else {
        "send UPDATE in"
    };
    match shared.current() {
        Phase::Confirmed => {}
        phase => return Err(shared.phase_error(operation, phase)),
    }
    if shared.reinvite_pending.load(Ordering::Acquire) {
        return Err(SipError::InvalidState {
            call_id: shared.call_id.clone(),
            operation,
            state: "answering the peer's own re-INVITE",
        });
    }
    shared.local_offer_pending.store(true, Ordering::Release);
    let result = offer_attempts(shared, method, sdp, timer).await;
    shared.local_offer_pending.store(false, Ordering::Release);
    let (outcome, request) = result?;
    let code = outcome.code;
    if let Some(response) = outcome
        .response
        .as_ref()
        .filter(|_| (200..300).contains(&code))
    {
        shared.lock_dialog().refresh_target_from(response);
        if method == Method::Invite {
            ack::acknowledge(shared, &request).await;
        }
        if let Some(sdp) = sdp_of(&request.headers, &request.body) {
            shared.sent_sdp(&sdp);
        }
        shared
            .session
            .send_replace(session_timer::from_response(response));
    } else if code == 408 || code == 481 {
        let reason = format!("the dialog is gone: {code} to our {method}");
        if shared.end(EndCause::SessionExpired, Some(CallEvent::Ended { reason })) {
            let _ = send_bye(shared).await;
        }
    }
    Ok(outcome)
}

async fn offer_attempts(
    shared: &Arc<CallShared>,
    method: Method,
    sdp: Option<String>,
    timer: Option<SessionTimer>,
) -> Result<(FinalResponse, Request), SipError> {
    let settings = shared.context.config.session_timer;
    let (content_type, body) = match &sdp {
        Some(sdp) => {
            let body = Body::sdp(sdp.clone());
            (body.content_type, body.bytes)
        }
        None => ("", Vec::new()),
    };
    let mut floor_raised = false;
    let mut glare = 0;
    loop {
        let current = timer.or(*shared.session.borrow());
        let floor = shared.session_floor.load(Ordering::Acquire);
        let contact = shared.contact();
        let extra = || {
            let mut headers = vec![
                Header::Contact(format!("<{contact}>").into()),
                Header::Allow(ALLOW.into()),
            ];
            headers.extend(session_timer::request_headers(current, &settings, floor));
            headers
        };
        let (outcome, request) =
            send_in_dialog_with(shared, method, content_type, &body, extra).await?;
        let Some(response) = outcome.response.as_ref() else {
            return Ok((outcome, request));
        };
        match outcome.code {
            422 if !floor_raised => {
                floor_raised = true;
                match session_timer::min_se(&response.headers) {
                    Some(min_se) => {
                        shared.session_floor.fetch_max(min_se, Ordering::AcqRel);
                    }
                    None => return Ok((outcome, request)),
                }
            }
            491 if glare < GLARE_RETRIES => {
                glare += 1;
                // The Call-ID's owner waits 2.1–4 s, the other side 0–2 s.
                let wait_ms = match shared.role {
                    Role::Client(_) => rand::random_range(2100..=4000),
                    Role::Server { .. } => rand::random_range(0..=2000),
                };
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                if shared.current() != Phase::Confirmed {
                    return Ok((outcome, request));
                }
            }
            _ => return Ok((outcome, request)),
        }
    }
}
