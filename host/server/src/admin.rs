//! The admin HTTP API: start outbound calls (`POST /calls`), the accounts'
//! registration states (`GET /registrations`) and a liveness probe (`GET /health`),
//! JSON in and out.
//!
//! The listener knows nothing about calls: every accepted `POST /calls` becomes an
//! [`Originate`] message on an mpsc channel, and the host (server.rs) answers on the
//! enclosed oneshot with the new instance id or an [`OriginateError`]. That keeps this
//! module testable with a fake host and keeps the runtime, SIP and media out of it.
//!
//! Access rule ([`authorize`]): loopback peers need no credentials; other peers need
//! `Authorization: Bearer <token>` (RFC 6750 §2.1) matching the configured token,
//! compared in constant time; with no token configured they are always refused.
//!
//! May depend on hyper (HTTP/1.1 only, RFC 9112), serde_json, tokio,
//! [`crate::status_callback`] and [`crate::accounts`] (registration states).
//! [`http_client`] is the matching outbound client.

pub mod http_client;

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{
    ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::accounts::RegistrationWatch;
use crate::status_callback::{StatusCallbackSpec, StatusEvent};

/// The default admin listen address (loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8089";

/// The largest request body accepted; bigger ones get 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// The longest app name accepted (plugin file stems are short).
const MAX_APP_NAME: usize = 128;

/// Connections served at once; further ones are closed at accept. The API is for a
/// few operators' scripts, not for the public.
const MAX_CONNECTIONS: usize = 256;

/// A client must send its request head within this time (slow-loris guard) …
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// … and its body within this time.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for room on the originate channel before answering 503.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the host may take to start an instance before the client gets 503.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, requests in progress get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The `Retry-After` seconds sent with 503.
const RETRY_AFTER_SECONDS: &str = "5";

/// The `[admin]` settings, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The bearer token non-loopback clients must present; `None` refuses them all.
    pub token: Option<String>,
}

impl fmt::Debug for AdminConfig {
    // The token is a secret: never let it reach a log line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A validated request to start an app instance that places an outbound call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginateRequest {
    /// The app (plugin file stem).
    pub app: String,
    /// Passed to the app's `main` as `application-parameters`.
    pub application_parameters: String,
    /// Passed to the app's `main` as `outbound-parameters` (seed 003 "The outbound
    /// call": typically the destination URI).
    pub outbound_parameters: Option<String>,
    /// Where to report call progress, if anywhere.
    pub status_callback: Option<StatusCallbackSpec>,
}

/// Why the host did not start an instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    /// No plugin by that name (HTTP 404).
    #[error("unknown app `{0}`")]
    UnknownApp(String),
    /// The host cannot start an instance now: pool full, draining (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The request cannot be served as given (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

/// One `POST /calls`, handed to the host.
///
/// The host must answer on `reply` once the instance has started (or failed to):
/// `Ok(instance id)`. If the HTTP client has gone away meanwhile the send fails;
/// the call goes on regardless.
#[derive(Debug)]
pub struct Originate {
    /// What to start.
    pub request: OriginateRequest,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<String, OriginateError>>,
}

/// The JSON body of `POST /calls`. Only `app` is required.
///
/// `status_callback_event` is a list of names or one space-separated string (as in
/// the seed's `statusCallbackEvent="ringing answered"`); it defaults to
/// `["completed"]` when `status_callback` is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsRequest {
    /// The app to start.
    pub app: String,
    /// Its application parameters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub application_parameters: String,
    /// Its outbound parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_parameters: Option<String>,
    /// The status-callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback: Option<String>,
    /// The status-callback events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_event: Option<EventNames>,
}

/// Event names as a JSON list or a space-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventNames {
    /// `["ringing", "answered"]`
    List(Vec<String>),
    /// `"ringing answered"`
    Separated(String),
}

/// The JSON answer to a successful `POST /calls` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallsResponse {
    /// The new app instance's id (the seed's `application_instance_id`).
    pub instance_id: String,
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong, for a human.
    pub error: String,
}

impl CallsRequest {
    /// Check the fields and build the host's request.
    pub fn validate(self) -> Result<OriginateRequest, OriginateError> {
        let app = self.app;
        if app.is_empty()
            || app.len() > MAX_APP_NAME
            || !app
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(OriginateError::Invalid(format!(
                "app name `{}` may use only letters, digits, '-', '_' and '.' (at most {MAX_APP_NAME})",
                app.chars().take(MAX_APP_NAME).collect::<String>()
            )));
        }
        let events = match self.status_callback_event {
            None => None,
            Some(EventNames::List(names)) => Some(names),
            Some(EventNames::Separated(text)) => {
                Some(text.split_whitespace().map(str::to_owned).collect())
            }
        };
        let status_callback = match (self.status_callback, events) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(OriginateError::Invalid(
                    "status_callback_event given without status_callback".into(),
                ));
            }
            (Some(url), names) => {
                let events = match names {
                    None => vec![StatusEvent::Completed],
                    Some(names) => names
                        .iter()
                        .map(|name| name.parse::<StatusEvent>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| OriginateError::Invalid(error.to_string()))?,
                };
                Some(
                    StatusCallbackSpec::new(url, events)
                        .map_err(|error| OriginateError::Invalid(error.to_string()))?,
                )
            }
        };
        Ok(OriginateRequest {
            app,
            application_parameters: self.application_parameters,
            outbound_parameters: self.outbound_parameters,
            status_callback,
        })
    }
}

/// The outcome of the access rule for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Serve it.
    Allowed,
    /// 401: credentials missing or wrong.
    Unauthorized,
    /// 403: no token is configured, so only loopback clients are served.
    Forbidden,
}

/// The access rule: loopback peers (including IPv4-mapped `::ffff:127.0.0.1`) are
/// allowed; others need `authorization` to be `Bearer <token>` with the configured
/// `token` (compared in constant time); with no token configured they are forbidden.
pub fn authorize(peer: IpAddr, authorization: Option<&[u8]>, token: Option<&str>) -> Access {
    if peer.to_canonical().is_loopback() {
        return Access::Allowed;
    }
    let Some(token) = token else {
        return Access::Forbidden;
    };
    match authorization.and_then(bearer_credentials) {
        Some(presented) if constant_time_eq(presented, token.as_bytes()) => Access::Allowed,
        _ => Access::Unauthorized,
    }
}

/// The credentials of `Bearer <credentials>` (scheme case-insensitive, RFC 9110 §11.1).
fn bearer_credentials(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let credentials = rest.trim_ascii();
    (!credentials.is_empty()).then_some(credentials)
}

/// Equality whose running time depends only on the lengths, not on where the first
/// difference is: a remote client must not be able to guess the token byte by byte.
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut difference = presented.len() ^ expected.len();
    for index in 0..presented.len().max(expected.len()) {
        let left = presented.get(index).copied().unwrap_or(0);
        let right = expected.get(index).copied().unwrap_or(0);
        difference |= usize::from(left ^ right);
    }
    std::hint::black_box(difference) == 0
}

struct State {
    token: Option<String>,
    originate: mpsc::Sender<Originate>,
    registrations: Vec<RegistrationWatch>,
}

/// Serve the admin API on `listener` until `shutdown` is cancelled; then stop
/// accepting, let requests in progress finish (up to a few seconds) and return.
///
/// `originate` is where `POST /calls` goes; if the host drops its receiver, requests
/// are answered 503. Run it as its own task.
pub async fn serve(
    listener: TcpListener,
    token: Option<String>,
    originate: mpsc::Sender<Originate>,
    registrations: Vec<RegistrationWatch>,
    shutdown: CancellationToken,
) {
    if let Ok(address) = listener.local_addr() {
        info!(admin = %address, "admin API listening");
    }
    let state = Arc::new(State {
        token,
        originate,
        registrations,
    });
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if connections.len() >= MAX_CONNECTIONS {
                        debug!(%peer, "admin API: too many connections; closing this one");
                        continue;
                    }
                    connections.spawn(serve_connection(stream, peer, state.clone(), shutdown.clone()));
                }
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    warn!(%error, "admin API cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
    debug!("admin API stopped");
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, peer.ip(), request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        debug!(%peer, %error, "admin API connection ended with an error");
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(state: &State, peer: IpAddr, request: Request<Incoming>) -> Answer {
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match authorize(peer, authorization, state.token.as_deref()) {
        Access::Allowed => {}
        Access::Unauthorized => {
            debug!(%peer, "admin API: missing or wrong bearer token");
            let mut answer = error(StatusCode::UNAUTHORIZED, "a bearer token is required");
            answer.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"callhost\""),
            );
            return answer;
        }
        Access::Forbidden => {
            debug!(%peer, "admin API: refused a non-loopback client (no token configured)");
            return error(
                StatusCode::FORBIDDEN,
                "only local clients are served (no admin token is configured)",
            );
        }
    }
    match (request.uri().path(), request.method()) {
        ("/health", &Method::GET | &Method::HEAD) => {
            json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
        }
        ("/health", _) => not_allowed("GET, HEAD"),
        ("/calls", &Method::POST) => post_calls(state, request).await,
        ("/calls", _) => not_allowed("POST"),
        ("/registrations", &Method::GET | &Method::HEAD) => {
            let registrations: Vec<_> = state
                .registrations
                .iter()
                .map(RegistrationWatch::to_json)
                .collect();
            json(
                StatusCode::OK,
                &serde_json::json!({ "registrations": registrations }),
            )
        }
        ("/registrations", _) => not_allowed("GET, HEAD"),
        _ => error(
            StatusCode::NOT_FOUND,
            "no such resource (try POST /calls, GET /registrations or GET /health)",
        ),
    }
}

async fn post_calls(state: &State, request: Request<Incoming>) -> Answer {
    let body = request.into_body();
    if body.size_hint().lower() > MAX_REQUEST_BODY as u64 {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is over 64 KiB",
        );
    }
    let bytes = match tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(body, MAX_REQUEST_BODY).collect(),
    )
    .await
    {
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            );
        }
        Ok(Err(failure)) if failure.is::<http_body_util::LengthLimitError>() => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over 64 KiB",
            );
        }
        Ok(Err(failure)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body: {failure}"),
            );
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let parsed: CallsRequest = match serde_json::from_slice(&bytes) {
        Ok(parsed) => parsed,
        Err(failure) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid JSON body: {failure}"),
            );
        }
    };
    let request = match parsed.validate() {
        Ok(request) => request,
        Err(failure) => return originate_error(&failure),
    };
    let app = request.app.clone();

    let permit = match tokio::time::timeout(ENQUEUE_TIMEOUT, state.originate.reserve()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return unavailable("the host is shutting down"),
        Err(_) => return unavailable("the host is busy; try again"),
    };
    let (reply, outcome) = oneshot::channel();
    permit.send(Originate { request, reply });
    match tokio::time::timeout(REPLY_TIMEOUT, outcome).await {
        Ok(Ok(Ok(instance_id))) => {
            info!(app, instance_id, "admin API started an instance");
            json(StatusCode::CREATED, &CallsResponse { instance_id })
        }
        Ok(Ok(Err(failure))) => {
            debug!(app, %failure, "admin API: instance not started");
            originate_error(&failure)
        }
        Ok(Err(_)) => unavailable("the host did not start the instance"),
        Err(_) => unavailable("the host did not answer in time"),
    }
}

fn originate_error(failure: &OriginateError) -> Answer {
    match failure {
        OriginateError::UnknownApp(_) => error(StatusCode::NOT_FOUND, &failure.to_string()),
        OriginateError::Invalid(_) => error(StatusCode::BAD_REQUEST, &failure.to_string()),
        OriginateError::Unavailable(message) => unavailable(message),
    }
}

fn unavailable(message: &str) -> Answer {
    let mut answer = error(StatusCode::SERVICE_UNAVAILABLE, message);
    answer
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    answer
}

fn not_allowed(allow: &'static str) -> Answer {
    let mut answer = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed (allowed: {allow})"),
    );
    answer
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    answer
}

fn error(status: StatusCode, message: &str) -> Answer {
    json(
        status,
        &ErrorResponse {
            error: message.to_owned(),
        },
    )
}

fn json(status: StatusCode, value: &impl Serialize) -> Answer {
    // Serializing these plain structs cannot fail; an empty object is a safe fallback.
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cret-token";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_needs_no_credentials() {
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(authorize(ip(peer), None, None), Access::Allowed, "{peer}");
            assert_eq!(
                authorize(ip(peer), None, Some(TOKEN)),
                Access::Allowed,
                "{peer}"
            );
        }
    }

    #[test]
    fn remote_peers_need_the_token() {
        for peer in [
            "192.0.2.7",
            "10.0.0.1",
            "2001:db8::1",
            "::ffff:192.0.2.7",
            "0.0.0.0",
        ] {
            let peer = ip(peer);
            assert_eq!(
                authorize(peer, Some(b"Bearer s3cret-token"), Some(TOKEN)),
                Access::Allowed
            );
            assert_eq!(
                authorize(peer, Some(b"bearer  s3cret-token "), Some(TOKEN)),
                Access::Allowed
            );
            assert_eq!(authorize(peer, None, Some(TOKEN)), Access::Unauthorized);
            assert_eq!(
                authorize(peer, Some(b"Bearer s3cret-tokem"), Some(TOKEN)),
                Access::Unauthorized
            );
            assert_eq!(
                authorize(peer, Some(b"Bearer s3cret-token2"), Some(TOKEN)),
                Access::Unauthorized
            );
            assert_eq!(
                authorize(peer, Some(b"Bearer "), Some(TOKEN)),
                Access::Unauthorized
            );
            assert_eq!(
                authorize(peer, Some(b"Basic czNjcmV0LXRva2Vu"), Some(TOKEN)),
                Access::Unauthorized
            );
            assert_eq!(
                authorize(peer, Some(b"s3cret-token"), Some(TOKEN)),
                Access::Unauthorized
            );
        }
    }

    #[test]
    fn without_a_token_remote_peers_are_forbidden() {
        assert_eq!(authorize(ip("192.0.2.7"), None, None), Access::Forbidden);
        assert_eq!(
            authorize(ip("192.0.2.7"), Some(b"Bearer anything"), None),
            Access::Forbidden
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn calls_requests_are_validated() {
        let parse = |text: &str| {
            serde_json::from_str::<CallsRequest>(text)
                .unwrap()
                .validate()
        };
        let request =
            parse(r#"{"app":"dialer","status_callback":"http://127.0.0.1:9000/cb"}"#).unwrap();
        assert_eq!(
            request.status_callback.unwrap().events,
            vec![StatusEvent::Completed]
        );
        assert_eq!(request.application_parameters, "");

        let request =
            parse(r#"{"app":"dialer","status_callback":"http://h/cb","status_callback_event":"ringing answered"}"#)
                .unwrap();
        assert_eq!(
            request.status_callback.unwrap().events,
            vec![StatusEvent::Ringing, StatusEvent::Answered]
        );

        for bad in [
            r#"{"app":""}"#,
            r#"{"app":"../etc"}"#,
            r#"{"app":"x","status_callback":"http://h/cb","status_callback_event":["rung"]}"#,
            r#"{"app":"x","status_callback":"https://h/cb"}"#,
            r#"{"app":"x","status_callback":"http://h/cb","status_callback_event":[]}"#,
            r#"{"app":"x","status_callback_event":["completed"]}"#,
        ] {
            assert!(
                matches!(parse(bad), Err(OriginateError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<CallsRequest>(r#"{"app":"x","colour":"red"}"#).is_err());
        assert!(serde_json::from_str::<CallsRequest>(r#"{"application_parameters":"x"}"#).is_err());
    }
}
