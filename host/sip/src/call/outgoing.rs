//! The outgoing side of a call (UAC): [`OutgoingRequest`] in,
//! [`OutgoingCall`] with its [`ClientCall`] handle out.
//!
//! What lives here: validating the request and building the draft dialog
//! and the INVITE ([`start`]), the handle (cancel, hang up, INFO, MESSAGE).
//! The task that drives the INVITE client transactions (responses, digest
//! retry, ACK, CANCEL) lives in `outgoing/invite.rs`.
//!
//! Depends on `address` (targets, headers), `locate` (next hops), `dialog`, `auth` via
//! `requests`, and rsipstack's transaction and transport layers.
//! RFC 3261 §8.1.1 (building the request), §13.2.1 (the INVITE: Contact,
//! Allow, offer), §9.1 (CANCEL only after a provisional response), §15
//! (BYE after the answer), §22.2 (digest retry), RFC 3263 §4 (the next hop
//! and, when the URI names none, the transport come from NAPTR/SRV/A
//! lookups in `locate`; Via, Contact and the default From are built for
//! the transport chosen; a hop that refuses the connection gives way to the
//! next), §26.2 and RFC 5630 (`sips:` and `transport=tls` go over our own
//! TLS client in `tls.rs`, its certificate checked against the URI's host;
//! UDP and TCP use rsipstack's transport layer).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::sip::{Header, Method, Request};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug};

use super::requests::{self, Attempts, add_headers};
use super::{CallEvent, CallShared, EndCause, OwnerGuard, Phase, Role, session_timer};
use crate::address::{check_headers, parse_from, parse_proxy, parse_target};
use crate::auth::Credentials;
use crate::dialog::Dialog;
use crate::endpoint::EndpointContext;
use crate::locate::NextHop;
use crate::message::{Body, uri_text};
use crate::validate::ALLOW;
use crate::{SipError, Transport};

mod invite;

/// What to call and how: the input of [`crate::SipEndpoint::call`].
#[derive(Debug, Clone, Default)]
pub struct OutgoingRequest {
    /// The callee: `sip:bob@127.0.0.1:5070`, optionally with
    /// `;transport=udp|tcp|tls` and URI headers (`?X-Foo=bar&X-Other=a%20b`,
    /// sent as request headers); `sips:bob@example.com` (TLS, port 5061 by
    /// default; needs [`crate::TlsSettings`]); `tel:+441908273800` (needs
    /// `outbound_proxy`); also as a name-addr `"Bob" <sip:…>`. A host name
    /// without a port is located by RFC 3263 (NAPTR, SRV, A/AAAA; see
    /// [`crate::SipEndpoint::locate`]), which also picks the transport when
    /// the URI names none.
    pub target: String,
    /// The caller: `bob@1234` (user@host), a bare user `alice` (at our
    /// address), a URI or name-addr (`sip:…`, `"Name" <sip:…>`).
    /// `None`: `sip:callhost@<our address>`.
    pub from: Option<String>,
    /// Extra headers for the INVITE, after the URI headers. Names must be
    /// tokens; headers the stack writes itself are refused.
    pub headers: Vec<(String, String)>,
    /// The SDP offer (sent as `application/sdp`; empty: no body).
    pub offer_sdp: String,
    /// Digest credentials for 401/407 challenges to this call's requests.
    pub credentials: Option<Credentials>,
    /// Send through this proxy (a `sip:` URI; pre-loaded as a loose Route).
    /// Required for `tel:` targets.
    pub outbound_proxy: Option<String>,
}

/// An outgoing call whose INVITE has been sent. Watch `events`: `Progress`
/// for each provisional response, then `Answered` or `Failed`; once
/// answered, the in-dialog events (`Bye`, `ReInvite`, `Info`, `Message`,
/// `Ended`). The channel closes when the call is over. Dropping every
/// [`ClientCall`] clone of an unfinished call hangs it up (CANCEL or BYE).
#[derive(Debug)]
pub struct OutgoingCall {
    /// Call-ID header value.
    pub call_id: String,
    /// From URI.
    pub from: String,
    /// To URI.
    pub to: String,
    /// Request-URI.
    pub request_uri: String,
    /// Where the INVITE went (the proxy when there is one).
    pub remote: SocketAddr,
    /// The transport it went over.
    pub transport: Transport,
    /// The handle that cancels, hangs up and sends in-dialog requests.
    pub call: ClientCall,
    /// What happens to the call. Closes when the call is over.
    pub events: mpsc::Receiver<CallEvent>,
}

/// UAC-only state of a call.
pub(crate) struct ClientState {
    /// The connection INVITE and CANCEL go out on (the UDP listener, or the
    /// TCP connection to the next hop) and the next hop's address.
    connection: SipConnection,
    destination: SipAddr,
    /// URI headers, then the request's headers, for every INVITE attempt.
    extra_headers: Vec<(String, String)>,
    offer: String,
    /// The INVITE of the current attempt (what a CANCEL copies).
    in_flight: Mutex<Request>,
    /// The application asked to cancel (CANCEL goes out once a provisional
    /// response has arrived, RFC 3261 §9.1).
    cancel_requested: AtomicBool,
    /// A CANCEL has been sent.
    cancel_sent: watch::Sender<bool>,
}

/// Cheap handle to one outgoing call. Clone freely; when the last clone is
/// dropped while the call is unfinished, the call is hung up.
#[derive(Clone)]
pub struct ClientCall {
    shared: Arc<CallShared>,
    _owner: Arc<OwnerGuard>,
}

impl std::fmt::Debug for ClientCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCall")
            .field("call_id", &self.shared.call_id)
            .field("phase", &self.shared.current())
            .finish()
    }
}

impl ClientCall {
    /// The call's Call-ID.
    pub fn call_id(&self) -> &str {
        &self.shared.call_id
    }

    /// Cancel the unanswered call. A CANCEL goes out at once if a
    /// provisional response has arrived, else as soon as one does (RFC 3261
    /// §9.1); the outcome arrives as events (`Failed` with 487, or, if the
    /// callee answered meanwhile, `Ended` after our BYE). Answered: errs
    /// with [`SipError::InvalidState`] (use [`ClientCall::hang_up`]). Over:
    /// nothing. Cancel-safe: the request to cancel is recorded before the
    /// first await.
    pub async fn cancel(&self) -> Result<(), SipError> {
        cancel(&self.shared).await
    }

    /// End the call from our side: CANCEL before the answer (see
    /// [`ClientCall::cancel`]), BYE after it (resolving on the BYE's final
    /// response or Timer F). Already over: nothing. Idempotent.
    pub async fn hang_up(&self) -> Result<(), SipError> {
        hang_up(&self.shared).await
    }

    /// Send INFO in the answered call (RFC 6086); returns the final status
    /// code (408 when no answer came within Timer F). A 401/407 is answered
    /// with the call's credentials.
    pub async fn send_info(&self, content_type: &str, body: &str) -> Result<u16, SipError> {
        requests::send_with_body(&self.shared, Method::Info, content_type, body).await
    }

    /// Send MESSAGE in the answered call (RFC 3428), otherwise as
    /// [`ClientCall::send_info`].
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

/// Record the wish to cancel; send the CANCEL if a provisional response
/// has been seen.
async fn cancel(shared: &CallShared) -> Result<(), SipError> {
    let Some(client) = shared.client() else {
        return Ok(());
    };
    match shared.current() {
        Phase::Ended(_) => return Ok(()),
        Phase::Calling { .. } => {}
        phase => return Err(shared.phase_error("cancel", phase)),
    }
    // SeqCst pairs with the INVITE task: it marks the provisional, then
    // reads this flag; we set the flag, then read the phase. One of the two
    // sees the other, and `invite::send_cancel` sends at most once.
    client.cancel_requested.store(true, Ordering::SeqCst);
    if matches!(shared.current(), Phase::Calling { provisional: true }) {
        invite::send_cancel(shared, client).await;
    }
    Ok(())
}

/// Hang up an outgoing call (see [`ClientCall::hang_up`]).
pub(crate) async fn hang_up(shared: &CallShared) -> Result<(), SipError> {
    loop {
        match shared.current() {
            Phase::Ended(_) => return Ok(()),
            Phase::Calling { .. } => return cancel(shared).await,
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
            // Inbound phases never occur on an outgoing call.
            Phase::Incoming { .. } | Phase::Answering => return Ok(()),
        }
    }
}

/// Build the next INVITE attempt from the (draft) dialog: CSeq counts up,
/// new branch, same Call-ID and From tag (RFC 3261 §22.2).
fn build_invite(
    dialog: &mut Dialog,
    user_agent: &str,
    extra_headers: &[(String, String)],
    offer: &str,
    session: Vec<Header>,
) -> Request {
    let (mut invite, _, _) = dialog.next_request(Method::Invite, user_agent);
    let mut headers = vec![
        Header::Contact(format!("<{}>", dialog.contact_uri()).into()),
        Header::Allow(ALLOW.into()),
    ];
    headers.extend(session);
    headers.extend(
        extra_headers
            .iter()
            .map(|(name, value)| Header::Other(name.clone(), value.clone())),
    );
    if !offer.is_empty() {
        let body = Body::sdp(offer.to_string());
        headers.push(Header::ContentType(body.content_type.into()));
        invite.body = body.bytes;
    }
    add_headers(&mut invite, headers);
    invite
        .headers
        .unique_push(Header::ContentLength((invite.body.len() as u32).into()));
    invite
}

impl CallShared {
    /// The next INVITE attempt with credentials for the challenges in
    /// `attempts`, sent in a new client transaction.
    async fn send_invite(&self, attempts: &Attempts) -> Result<Transaction, SipError> {
        let client = self.client().ok_or(SipError::InvalidState {
            call_id: self.call_id.clone(),
            operation: "send an INVITE for",
            state: "an inbound call",
        })?;
        let user_agent = &self.context.config.user_agent;
        let session = session_timer::request_headers(
            None,
            &self.context.config.session_timer,
            self.session_floor.load(Ordering::Acquire),
        );
        let mut invite = build_invite(
            &mut self.lock_dialog(),
            user_agent,
            &client.extra_headers,
            &client.offer,
            session,
        );
        let auth = self.auth.lock().unwrap_or_else(|p| p.into_inner()).headers(
            &invite,
            self.credentials.as_ref(),
            attempts,
        );
        add_headers(&mut invite, auth);
        send_invite_transaction(&self.context, client, invite).await
    }
}

async fn send_invite_transaction(
    context: &EndpointContext,
    client: &ClientState,
    invite: Request,
) -> Result<Transaction, SipError> {
    let key =
        TransactionKey::from_request(&invite, TransactionRole::Client).map_err(SipError::stack)?;
    *client.in_flight.lock().unwrap_or_else(|p| p.into_inner()) = invite.clone();
    let mut transaction = Transaction::new_client(
        key,
        invite,
        context.stack.clone(),
        Some(client.connection.clone()),
    );
    transaction.destination = Some(client.destination.clone());
    transaction.send().await.map_err(SipError::stack)?;
    Ok(transaction)
}

/// The connection an outgoing call's INVITE goes out on.
struct Connected {
    /// The next hop it reaches.
    hop: NextHop,
    /// Our address on its transport (Via, Contact, default From).
    local_addr: SocketAddr,
    destination: SipAddr,
    connection: SipConnection,
}

/// Connect to the first of `hops` (best first, from RFC 3263 location)
/// whose transport we listen on and that accepts a connection: a TCP or
/// TLS connection that is refused, or fails its handshake, moves on to the
/// next hop. All tries together are bounded by Timer B (64*T1), the time an
/// INVITE is given. UDP needs no connection, so the first UDP hop is taken
/// as it is (failover after a timeout or 503 is not done).
async fn connect_first(
    context: &EndpointContext,
    uri: &rsipstack::sip::Uri,
    hops: &[NextHop],
) -> Result<Connected, SipError> {
    let timer_b = context.config.timers.t1 * 64;
    let deadline = tokio::time::Instant::now() + timer_b;
    let mut failure = None;
    for hop in hops {
        let Some(local_addr) = context.contact_address(hop.transport) else {
            failure.get_or_insert(SipError::UnsupportedTransport {
                transport: format!("{} (its listener is off)", hop.transport),
            });
            continue;
        };
        let destination = SipAddr {
            r#type: Some(hop.transport.to_rsip()),
            addr: hop.address.into(),
        };
        let attempt = async {
            if hop.transport == Transport::Tls {
                // Our own TLS client, so responses pass the validator like
                // inbound TLS; the certificate must name the URI's host
                // (not an SRV target's).
                let host = uri.host_with_port.host.to_string();
                context.connect_tls(hop.address, &host).await
            } else {
                context
                    .stack
                    .transport_layer
                    .lookup(&destination, None)
                    .await
                    .map(|(connection, _)| connection)
                    .map_err(|error| SipError::Unreachable {
                        destination: format!("{} over {}", hop.address, hop.transport),
                        reason: error.to_string(),
                    })
            }
        };
        let outcome = tokio::time::timeout_at(deadline, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(SipError::Unreachable {
                    destination: format!("{} over {}", hop.address, hop.transport),
                    reason: format!("no connection within Timer B ({} ms)", timer_b.as_millis()),
                })
            });
        match outcome {
            Ok(connection) => {
                return Ok(Connected {
                    hop: *hop,
                    local_addr,
                    destination,
                    connection,
                });
            }
            Err(error) => {
                debug!(
                    %error,
                    hop = %hop.address,
                    transport = %hop.transport,
                    "next hop failed; trying the next"
                );
                // A connection failure says more than a missing listener.
                if !matches!(failure, Some(SipError::Unreachable { .. })) {
                    failure = Some(error);
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    Err(failure.unwrap_or_else(|| SipError::Unreachable {
        destination: crate::message::uri_text(uri),
        reason: "no next hop".to_string(),
    }))
}

/// Place an outgoing call: check everything, find the next hop, send the
/// INVITE, and leave a task driving it. Errs at once (sending nothing) on a
/// bad target, From, proxy or header, an unsupported transport, or an
/// unreachable next hop (no address, or none of them accepts a connection).
pub(crate) async fn start(
    context: &Arc<EndpointContext>,
    request: OutgoingRequest,
) -> Result<OutgoingCall, SipError> {
    let target = parse_target(&request.target)?;
    check_headers(&request.headers)?;
    let proxy = request
        .outbound_proxy
        .as_deref()
        .map(parse_proxy)
        .transpose()?;
    if target.is_tel && proxy.is_none() {
        return Err(SipError::InvalidAddress {
            address: request.target.clone(),
            reason: "a tel: target needs an outbound proxy",
        });
    }
    // A transport the next hop's URI names (or `sips:`) needs its listener;
    // refuse before asking DNS.
    let asked = match &proxy {
        Some(proxy) => proxy.transport,
        None => target.transport,
    };
    if let Some(transport) = asked
        && context.contact_address(transport).is_none()
    {
        return Err(SipError::UnsupportedTransport {
            transport: format!("{transport} (its listener is off)"),
        });
    }
    // Checked before any lookup; the real value needs our address on the
    // transport DNS picks.
    parse_from(request.from.as_deref(), "invalid")?;
    let hop = proxy
        .as_ref()
        .map(|p| p.uri.clone())
        .unwrap_or_else(|| target.request_uri.clone());
    // RFC 3263 §4: without a transport parameter DNS picks the transport,
    // so Contact, Via and From follow from the chosen hop.
    let hops = context.locate(&hop, None).await?;
    let Connected {
        hop: next_hop,
        local_addr,
        destination,
        connection,
    } = connect_first(context, &hop, &hops).await?;
    let (remote, transport) = (next_hop.address, next_hop.transport);
    let (from_value, from_uri) = parse_from(request.from.as_deref(), &local_addr.to_string())?;

    let call_id = format!("{}@{}", crate::random_token(20), local_addr.ip());
    let local_tag = crate::random_token(10);
    let flow = (transport != Transport::Udp).then(|| connection.clone());
    let mut dialog = Dialog::outgoing(
        &call_id,
        &local_tag,
        format!("{from_value};tag={local_tag}"),
        target.to.clone(),
        target.request_uri.clone(),
        proxy.iter().map(|p| p.route.clone()).collect(),
        transport,
        flow,
        local_addr,
    );
    dialog.secure = target.secure;
    let mut extra_headers = target.headers.clone();
    extra_headers.extend(request.headers.iter().cloned());
    let invite = build_invite(
        &mut dialog,
        &context.config.user_agent,
        &extra_headers,
        &request.offer_sdp,
        session_timer::request_headers(None, &context.config.session_timer, 0),
    );
    let client = ClientState {
        connection,
        destination,
        extra_headers,
        offer: request.offer_sdp,
        in_flight: Mutex::new(invite.clone()),
        cancel_requested: AtomicBool::new(false),
        cancel_sent: watch::Sender::new(false),
    };
    let (events, event_receiver) = mpsc::channel(context.config.call_event_queue);
    let draft_key = dialog.key.clone();
    let shared = Arc::new(CallShared::new(
        context.clone(),
        invite.clone(),
        Role::Client(Box::new(client)),
        dialog,
        events,
        request.credentials,
    ));
    let Some(client) = shared.client() else {
        return Err(SipError::stack("outgoing call without client state"));
    };
    if !client.offer.is_empty() {
        shared.sent_sdp(&client.offer);
    }
    let transaction = send_invite_transaction(context, client, invite).await?;
    // Counted as a live call from now on; re-keyed when answered.
    context.register_dialog(draft_key, shared.clone());
    debug!(%call_id, %remote, %transport, "INVITE sent");
    let span = shared.span.clone();
    tokio::spawn(invite::run(shared.clone(), transaction).instrument(span));
    Ok(OutgoingCall {
        call_id,
        from: from_uri,
        to: uri_text(&target.request_uri),
        request_uri: uri_text(&target.request_uri),
        remote,
        transport,
        call: ClientCall {
            _owner: OwnerGuard::new(shared.clone()),
            shared,
        },
        events: event_receiver,
    })
}
