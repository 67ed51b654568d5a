//! Requests callhost sends inside a dialog (BYE, INFO, MESSAGE), for both
//! roles, and the digest-challenge bookkeeping shared with the outgoing
//! INVITE.
//!
//! Depends on `dialog` (request building, client transactions) and `auth`.
//! RFC 3261 §12.2.1.1 (requests within a dialog), §15.1.1 (BYE), §22.2–§22.3
//! (a 401/407 is answered by repeating the request, new CSeq, with
//! Authorization/Proxy-Authorization; a second challenge for the same realm
//! means the credentials are wrong unless the nonce was `stale`), RFC 6086
//! §4.2 (INFO), RFC 3428 §4 (MESSAGE).

use rsipstack::sip::{Header, Method, Request, Response};
use tracing::debug;

use super::{CallShared, Phase};
use crate::SipError;
use crate::auth::{Credentials, DigestChallenge, DigestSession};
use crate::dialog::send_request;

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
    let config = &shared.context.config;
    let deadline = config.timers.t1 * 64 + std::time::Duration::from_secs(1);
    let credentials = shared.credentials.as_ref();
    let mut attempts = Attempts::default();
    let mut code = 408;
    for _ in 0..MOST_ATTEMPTS {
        let (mut request, flow, transport) = shared
            .lock_dialog()
            .next_request(method, &config.user_agent);
        set_body(&mut request, content_type, body);
        let auth = shared
            .auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .headers(&request, credentials, &attempts);
        add_headers(&mut request, auth);
        let outcome = send_request(&shared.context, request, flow, transport, deadline).await?;
        code = outcome.code;
        let retry = outcome.response.as_ref().is_some_and(|response| {
            shared
                .auth
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .on_challenge(response, credentials, &mut attempts)
        });
        if !retry {
            break;
        }
    }
    Ok(code)
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
