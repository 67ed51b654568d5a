//! Client registration (REGISTER, RFC 3261 §10): keep one contact of ours
//! bound to an address-of-record at a registrar, refreshed in the
//! background, and removed again on request.
//!
//! What lives here: [`Registration`] (what to register), the
//! [`RegistrationState`] it reports, the [`RegistrationHandle`] that watches
//! and ends it, and the task that drives it. The request itself is built with
//! the UAC's draft dialog (`dialog::Dialog::outgoing`): one Call-ID and one
//! From tag for the registration's lifetime, CSeq counting up by one per
//! REGISTER (§10.2: a UA uses the same Call-ID for all registrations to one
//! registrar, and increments CSeq). Digest challenges (401/407, §22) are
//! answered through `call::requests::AuthState`, as for in-dialog requests.
//!
//! Timing rules (all in whole seconds on the wire):
//! - granted expiry (§10.2.4): the `expires` parameter of the Contact in the
//!   2xx that matches ours, else the 2xx's Expires header, else what we asked;
//! - refresh after half of the granted time, never sooner than 1 s
//!   ([`refresh_delay`]); with 3600 s that is 1800 s, with 2 s it is 1 s;
//! - 423 Interval Too Brief (§10.3 step 7): asked again at once with the
//!   response's Min-Expires, which is kept for later refreshes;
//! - failure (no answer within Timer F, a 3xx–6xx, a challenge we cannot
//!   answer, a transport error): state [`RegistrationState::Failed`] and a new
//!   attempt after 2, 4, 8 … s, at most 300 s; a Retry-After in the response
//!   (seconds, taken up to one hour) replaces the backoff ([`retry_delay`]).
//!   Redirects (3xx) are not followed.
//!
//! The registrar (or proxy) is located by RFC 3263 for the configured
//! transport (`locate`): a host name without a port goes through SRV
//! (`_sip._udp`, `_sip._tcp` or `_sips._tcp`), then A/AAAA; NAPTR is not
//! asked, as the transport is already chosen. Each REGISTER locates again,
//! through the resolver's cache.
//!
//! Not done: RFC 5626 outbound (flows, keep-alives, reg-id), RFC 3327 Path /
//! RFC 3608 Service-Route, several contacts, preemptive credentials on
//! refreshes (every refresh to a challenging registrar costs a 401 round
//! trip, as in RFC 3261's basic model), and following 3xx.
//!
//! Depends on `address` (URI parsing, proxy), `dialog` (request building and
//! client transactions), `call::requests` (digest state) and tokio.

use std::sync::Arc;
use std::time::Duration;

use rsipstack::sip::{Header, Method, Response, StatusCodeKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::address::{parse_proxy, parse_target};
use crate::auth::Credentials;
use crate::call::requests::{Attempts, AuthState, add_headers};
use crate::dialog::{Dialog, send_request};
use crate::endpoint::EndpointContext;
use crate::wire::{header_params, name_addr_uri, param, split_list};
use crate::{SipError, Transport};

/// Most REGISTERs for one refresh: the first, an answer to each kind of
/// challenge, a 423 retry, and a `stale` renewal.
const MOST_ATTEMPTS: usize = 5;

/// Longest backoff between failed attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// Longest Retry-After we honour; a registrar asking for more is asked
/// again after this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What to register: the input of [`crate::SipEndpoint::register`].
#[derive(Debug, Clone)]
pub struct Registration {
    /// The registrar's `sip:` URI, e.g. `sip:127.0.0.1:5070` or
    /// `sip:example.com;transport=tcp`; it is the Request-URI.
    pub registrar: String,
    /// The address-of-record (`sip:alice@example.com`), in From and To.
    pub aor: String,
    /// The user part of our Contact; `None` registers a userless contact
    /// (`sip:<our address>`), which identifies this host by its transport
    /// address.
    pub contact_user: Option<String>,
    /// Digest credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// The expiry to ask for (whole seconds, at least 1); default 3600 s.
    pub expires: Duration,
    /// Send through this proxy (a `sip:` URI, pre-loaded as a loose Route).
    pub outbound_proxy: Option<String>,
    /// The transport to use (its listener must be on); the proxy's or
    /// registrar's `;transport=` parameter, when present, must agree.
    pub transport: Transport,
}

impl Default for Registration {
    fn default() -> Self {
        Registration {
            registrar: String::new(),
            aor: String::new(),
            contact_user: None,
            credentials: None,
            expires: Duration::from_secs(3600),
            outbound_proxy: None,
            transport: Transport::Udp,
        }
    }
}

/// Where a registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// The first REGISTER is under way.
    Registering,
    /// The registrar holds our contact. Refreshes keep this state.
    Registered {
        /// The expiry the registrar granted.
        expires: Duration,
        /// Our contact URI, as registered.
        contact: String,
    },
    /// The last attempt failed; another follows after `retry_in`.
    Failed {
        /// The status code: the registrar's, or 408 when no answer came
        /// within Timer F, or 503 when the request could not be sent.
        code: u16,
        /// The reason phrase, or what went wrong locally.
        reason: String,
        /// Delay until the next attempt.
        retry_in: Duration,
    },
    /// Ended: unregistered, dropped, or the endpoint shut down.
    Unregistered,
}

/// A running registration. Dropping it ends the registration: the task sends
/// a best-effort unregister (Expires: 0) in the background when a binding may
/// exist, unless the endpoint is shutting down.
#[derive(Debug)]
pub struct RegistrationHandle {
    state: watch::Receiver<RegistrationState>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// Bound on [`RegistrationHandle::unregister`].
    unregister_wait: Duration,
}

impl RegistrationHandle {
    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch(&self) -> watch::Receiver<RegistrationState> {
        self.state.clone()
    }

    /// Remove our contact (REGISTER with Expires: 0, when a binding may
    /// exist) and stop refreshing. Resolves on the registrar's final answer,
    /// or after at most two Timer F periods (64*T1 each) plus 2 s.
    /// Cancel-safety: dropping the future leaves the unregister running in
    /// the background, as dropping the handle does.
    pub async fn unregister(mut self) {
        self.stop.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(self.unregister_wait, &mut task)
                .await
                .is_err()
        {
            warn!("unregister got no final answer in time; giving up");
            task.abort();
        }
    }
}

impl Drop for RegistrationHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// How long to wait before refreshing a binding granted for `granted`:
/// half of it, at least 1 s.
pub fn refresh_delay(granted: Duration) -> Duration {
    (granted / 2).max(Duration::from_secs(1))
}

/// How long to wait before attempt number `failures + 1` after `failures`
/// consecutive failures (at least 1): the registrar's Retry-After when it
/// sent one (1 s to 1 h), else 2^failures seconds up to [`MAX_RETRY_DELAY`].
pub fn retry_delay(failures: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(asked) = retry_after {
        return asked.clamp(Duration::from_secs(1), MAX_RETRY_AFTER);
    }
    let seconds = 2u64.saturating_pow(failures.max(1));
    Duration::from_secs(seconds).min(MAX_RETRY_DELAY)
}

/// How one REGISTER exchange (with its challenge and 423 retries) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Registered {
        granted: Duration,
    },
    Failed {
        code: u16,
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// The registration task's state.
struct Registrar {
    context: Arc<EndpointContext>,
    dialog: Dialog,
    /// Our contact URI (no brackets).
    contact: String,
    credentials: Option<Credentials>,
    auth: AuthState,
    /// Seconds to ask for; raised by a 423.
    requested: u32,
    aor: String,
    state: watch::Sender<RegistrationState>,
}

/// Check `registration` and start its task. Must run inside a tokio runtime.
pub(crate) fn start(
    context: &Arc<EndpointContext>,
    registration: Registration,
) -> Result<RegistrationHandle, SipError> {
    let registrar = parse_target(&registration.registrar)?;
    if registrar.is_tel || !registrar.headers.is_empty() {
        return Err(SipError::InvalidAddress {
            address: registration.registrar.clone(),
            reason: "the registrar must be a sip: URI without headers",
        });
    }
    let aor = parse_target(&registration.aor)?;
    if aor.is_tel || !aor.headers.is_empty() {
        return Err(SipError::InvalidAddress {
            address: registration.aor.clone(),
            reason: "the address-of-record must be a sip: URI without headers",
        });
    }
    let proxy = registration
        .outbound_proxy
        .as_deref()
        .map(parse_proxy)
        .transpose()?;
    let transport = registration.transport;
    let asked = proxy
        .as_ref()
        .map_or(registrar.transport, |proxy| proxy.transport);
    if asked.is_some_and(|asked| asked != transport) {
        return Err(SipError::Config {
            reason: format!("the next hop's transport parameter contradicts {transport}"),
        });
    }
    if let Some(user) = &registration.contact_user
        && (user.is_empty() || !user.chars().all(is_contact_user_char))
    {
        return Err(SipError::InvalidAddress {
            address: user.clone(),
            reason: "a contact user may hold only letters, digits and -_.!~*'()&=+$,",
        });
    }
    let requested = u32::try_from(registration.expires.as_secs())
        .ok()
        .filter(|seconds| *seconds >= 1)
        .ok_or_else(|| SipError::Config {
            reason: "registration expires must be between 1 s and 2^32-1 s".to_string(),
        })?;
    let local_addr =
        context
            .contact_address(transport)
            .ok_or_else(|| SipError::UnsupportedTransport {
                transport: format!("{transport} (its listener is off)"),
            })?;

    let user = registration
        .contact_user
        .as_deref()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let contact = match transport {
        Transport::Udp => format!("sip:{user}{local_addr}"),
        Transport::Tcp => format!("sip:{user}{local_addr};transport=tcp"),
        Transport::Tls => format!("sip:{user}{local_addr};transport=tls"),
    };
    let call_id = format!("{}@{}", crate::random_token(20), local_addr.ip());
    let local_tag = crate::random_token(10);
    let dialog = Dialog::outgoing(
        &call_id,
        &local_tag,
        format!("{};tag={local_tag}", aor.to),
        aor.to.clone(),
        registrar.request_uri.clone(),
        proxy.iter().map(|p| p.route.clone()).collect(),
        transport,
        None,
        local_addr,
    );
    let (state, receiver) = watch::channel(RegistrationState::Registering);
    let aor_text = crate::message::uri_text(&aor.request_uri);
    let task = Registrar {
        context: context.clone(),
        dialog,
        contact,
        credentials: registration.credentials,
        auth: AuthState::default(),
        requested,
        aor: aor_text.clone(),
        state,
    };
    let stop = CancellationToken::new();
    let span = info_span!("register", aor = %aor_text, %call_id);
    let handle = tokio::spawn(run(task, stop.clone()).instrument(span));
    let timer_f = context.config.timers.t1 * 64;
    Ok(RegistrationHandle {
        state: receiver,
        stop,
        task: Some(handle),
        unregister_wait: timer_f * 2 + Duration::from_secs(2),
    })
}

fn is_contact_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,".contains(c)
}

/// Register, refresh and retry until stopped or the endpoint shuts down;
/// then unregister if a binding may exist.
async fn run(mut registrar: Registrar, stop: CancellationToken) {
    let shutdown = registrar.context.shutdown.clone();
    let mut failures = 0u32;
    // Whether the registrar may hold our contact: after a 2xx, or when an
    // exchange was cut short (its REGISTER may have arrived).
    let mut maybe_bound = false;
    loop {
        let expires = registrar.requested;
        let outcome = tokio::select! {
            biased;
            () = shutdown.cancelled() => return registrar.publish(RegistrationState::Unregistered),
            () = stop.cancelled() => {
                maybe_bound = true;
                break;
            }
            outcome = registrar.exchange(expires) => outcome,
        };
        let wait = match outcome {
            Outcome::Registered { granted } => {
                maybe_bound = true;
                failures = 0;
                info!(aor = %registrar.aor, expires = granted.as_secs(), "registered");
                registrar.publish(RegistrationState::Registered {
                    expires: granted,
                    contact: registrar.contact.clone(),
                });
                refresh_delay(granted)
            }
            Outcome::Failed {
                code,
                reason,
                retry_after,
            } => {
                failures = failures.saturating_add(1);
                let retry_in = retry_delay(failures, retry_after);
                warn!(
                    aor = %registrar.aor,
                    code,
                    %reason,
                    retry_in = retry_in.as_secs(),
                    "registration failed"
                );
                registrar.publish(RegistrationState::Failed {
                    code,
                    reason,
                    retry_in,
                });
                retry_in
            }
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return registrar.publish(RegistrationState::Unregistered),
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    if maybe_bound {
        tokio::select! {
            () = shutdown.cancelled() => {}
            outcome = registrar.exchange(0) => match outcome {
                Outcome::Registered { .. } => info!(aor = %registrar.aor, "unregistered"),
                Outcome::Failed { code, reason, .. } => {
                    warn!(aor = %registrar.aor, code, %reason, "unregister failed");
                }
            },
        }
    }
    registrar.publish(RegistrationState::Unregistered);
}

impl Registrar {
    fn publish(&self, state: RegistrationState) {
        self.state.send_replace(state);
    }

    /// One logical REGISTER asking for `expires` seconds (0: remove our
    /// contact), repeated for digest challenges and a 423.
    async fn exchange(&mut self, mut expires: u32) -> Outcome {
        let config = &self.context.config;
        let deadline = config.timers.t1 * 64 + Duration::from_secs(1);
        let mut attempts = Attempts::default();
        // Replaced by every final response; kept when the attempts run out.
        let mut outcome = Outcome::Failed {
            code: 408,
            reason: "no answer".to_string(),
            retry_after: None,
        };
        for _ in 0..MOST_ATTEMPTS {
            let (mut request, _, transport) = self
                .dialog
                .next_request(Method::Register, &config.user_agent);
            let mut headers = vec![
                Header::Contact(format!("<{}>", self.contact).into()),
                Header::Expires(expires.to_string().into()),
            ];
            headers.extend(
                self.auth
                    .headers(&request, self.credentials.as_ref(), &attempts),
            );
            add_headers(&mut request, headers);
            debug!(expires, "sending REGISTER");
            let sent = send_request(&self.context, request, None, transport, deadline).await;
            let response = match sent {
                Ok(answer) => match answer.response {
                    Some(response) => response,
                    None => {
                        return Outcome::Failed {
                            code: 408,
                            reason: "no answer within Timer F".to_string(),
                            retry_after: None,
                        };
                    }
                },
                Err(error) => {
                    return Outcome::Failed {
                        code: 503,
                        reason: error.to_string(),
                        retry_after: None,
                    };
                }
            };
            if response.status_code.kind() == StatusCodeKind::Successful {
                let granted = granted_expiry(&response, &self.contact, expires);
                return Outcome::Registered {
                    granted: Duration::from_secs(granted.into()),
                };
            }
            let code = response.status_code.code();
            outcome = Outcome::Failed {
                code,
                reason: reason_of(&response),
                retry_after: header_seconds(&response, "Retry-After")
                    .map(|seconds| Duration::from_secs(seconds.into())),
            };
            if self
                .auth
                .on_challenge(&response, self.credentials.as_ref(), &mut attempts)
            {
                continue;
            }
            if code == 423
                && expires > 0
                && let Some(minimum) = header_seconds(&response, "Min-Expires")
                && minimum > expires
            {
                debug!(minimum, "423 Interval Too Brief; asking for Min-Expires");
                expires = minimum;
                self.requested = minimum;
                continue;
            }
            break;
        }
        outcome
    }
}

fn reason_of(response: &Response) -> String {
    response
        .wire_reason
        .clone()
        .unwrap_or_else(|| response.status_code.text().to_string())
}

/// The leading whole number of seconds of header `name` (Expires,
/// Min-Expires, Retry-After: `120 (comment);duration=…` reads as 120).
fn header_seconds(response: &Response, name: &str) -> Option<u32> {
    response
        .headers
        .iter()
        .find(|header| header.name().eq_ignore_ascii_case(name))
        .and_then(|header| leading_seconds(header.value()))
}

fn leading_seconds(value: &str) -> Option<u32> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    value[..digits].parse().ok()
}

/// The expiry a 2xx grants our `contact` (RFC 3261 §10.2.4): the matching
/// Contact's `expires` parameter, else the Expires header, else `requested`.
fn granted_expiry(response: &Response, contact: &str, requested: u32) -> u32 {
    let from_contact = response
        .headers
        .iter()
        .filter(|header| {
            header.name().eq_ignore_ascii_case("Contact") || header.name().eq_ignore_ascii_case("m")
        })
        .flat_map(|header| split_list(header.value()))
        .find(|entry| same_contact(name_addr_uri(entry), contact))
        .and_then(|entry| param(header_params(entry), "expires"))
        .and_then(leading_seconds);
    from_contact
        .or_else(|| header_seconds(response, "Expires"))
        .unwrap_or(requested)
}

/// Whether two SIP URIs name the same contact: same scheme, user and
/// host:port (host case-insensitive); URI parameters are not compared, so a
/// registrar that drops or adds `;transport=` still matches.
fn same_contact(left: &str, right: &str) -> bool {
    fn parts(uri: &str) -> Option<(String, &str, String)> {
        let (scheme, rest) = uri.trim().split_once(':')?;
        let address = rest.split([';', '?']).next()?;
        let (user, host) = match address.rsplit_once('@') {
            Some((user, host)) => (user, host),
            None => ("", address),
        };
        Some((scheme.to_ascii_lowercase(), user, host.to_ascii_lowercase()))
    }
    match (parts(left), parts(right)) {
        (Some(left), Some(right)) => left == right,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
