//! The SIP endpoint: listeners, rsipstack's transaction layer, the
//! dispatcher that turns server transactions into calls and answers, and
//! the entry point for outgoing calls.
//!
//! What lives here: [`SipEndpoint`] (bind, drain, shutdown), the shared
//! [`EndpointContext`] (configuration, dialog table, rsipstack endpoint), and
//! the dispatcher task. The dispatcher never waits on the server or the
//! network: new calls go into a bounded queue with `try_send` (full → 503 +
//! Retry-After), and every answer is sent from its own task, so a slow
//! server consumer cannot stall SIP for other calls.
//!
//! Depends on rsipstack (transport layer, endpoint, transactions) and on the
//! sibling modules. RFC 3261 §8.2 (UAS request processing), §11.2 (OPTIONS),
//! §12.2.2 (481 for unknown dialogs), §21.5.4 (503 + Retry-After).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::EndpointBuilder;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Method, Request, Uri};
use rsipstack::transaction::endpoint::{EndpointInnerRef, EndpointOption};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, warn};

use crate::call::in_dialog;
use crate::call::invite::run_invite;
use crate::call::session_timer::{self, UasDecision};
use crate::call::{CallShared, IncomingCall, OutgoingCall, OutgoingRequest, Role, ServerCall};
use crate::dialog::{Dialog, DialogKey};
use crate::locate::{Locator, NextHop};
use crate::message::{
    ResponseSpec, check_offer, header_list, response, sdp_body, to_tag, uri_text,
};
use crate::register::{Registration, RegistrationHandle};
use crate::tcp::{StreamContext, accept_loop};
use crate::tls::{TlsContext, is_tls_flow};
use crate::udp::FilteredUdpSocket;
use crate::validate::{ALLOW, Inspector};
use crate::wire::percent_decode;
use crate::{SipConfig, SipError, Transport};

/// What the endpoint's tasks and calls share.
pub(crate) struct EndpointContext {
    pub stack: EndpointInnerRef,
    pub config: SipConfig,
    /// Cancelled by [`SipEndpoint::shutdown`]; parent of every task's token.
    pub shutdown: CancellationToken,
    accepting: AtomicBool,
    /// Live dialogs. An entry is removed when its call ends (`CallShared::end`).
    dialogs: Mutex<HashMap<DialogKey, Arc<CallShared>>>,
    /// Our UDP address as advertised in Contact and Via.
    udp_contact: Option<SocketAddr>,
    /// Our TCP listener's address, for Contact and Via of outgoing calls.
    tcp_contact: Option<SocketAddr>,
    /// TLS, when configured: the listener's address and what outgoing TLS
    /// connections need.
    tls: Option<TlsOutbound>,
    /// RFC 3263 server location, one resolver (and cache) for every call.
    locator: Locator,
}

/// What dialling a TLS connection needs.
pub(crate) struct TlsOutbound {
    pub contact: SocketAddr,
    pub context: TlsContext,
    pub streams: StreamContext,
}

impl EndpointContext {
    fn lock_dialogs(&self) -> std::sync::MutexGuard<'_, HashMap<DialogKey, Arc<CallShared>>> {
        self.dialogs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn forget_dialog(&self, key: &DialogKey) {
        self.lock_dialogs().remove(key);
    }

    pub(crate) fn register_dialog(&self, key: DialogKey, call: Arc<CallShared>) {
        self.lock_dialogs().insert(key, call);
    }

    /// An outgoing call's draft dialog became `key` (the 2xx set the remote
    /// tag): from now on in-dialog requests find it.
    pub(crate) fn rekey_dialog(&self, draft: &DialogKey, key: DialogKey, call: &Arc<CallShared>) {
        let mut dialogs = self.lock_dialogs();
        dialogs.remove(draft);
        dialogs.insert(key, call.clone());
    }

    /// Our address for Via and Contact on `transport`, if we listen on it.
    pub(crate) fn contact_address(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Udp => self.udp_contact,
            Transport::Tcp => self.tcp_contact,
            Transport::Tls => self.tls.as_ref().map(|tls| tls.contact),
        }
    }

    /// The transports we have a listener for, in RFC 3263 preference order
    /// (UDP, TCP, TLS).
    pub(crate) fn transports(&self) -> Vec<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .filter(|transport| self.contact_address(*transport).is_some())
            .collect()
    }

    /// The next hops for a request to `uri`, best first (RFC 3263 §4; see
    /// [`Locator::locate`]): `fixed` is a transport already settled (a
    /// dialog's), else the URI or DNS chooses among our listeners.
    pub(crate) async fn locate(
        &self,
        uri: &Uri,
        fixed: Option<Transport>,
    ) -> Result<Vec<NextHop>, SipError> {
        self.locator.locate(uri, fixed, &self.transports()).await
    }

    /// Open a TLS connection to `remote` for `server_name` (see
    /// [`crate::tls::connect`]).
    pub(crate) async fn connect_tls(
        &self,
        remote: SocketAddr,
        server_name: &str,
    ) -> Result<SipConnection, SipError> {
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| SipError::UnsupportedTransport {
                transport: "TLS (not configured)".to_string(),
            })?;
        crate::tls::connect(&tls.context, &tls.streams, remote, server_name).await
    }

    /// How many calls are live (for draining).
    fn live_calls(&self) -> usize {
        self.lock_dialogs().len()
    }
}

/// Places outgoing calls through a [`SipEndpoint`]; see [`SipEndpoint::client`].
#[derive(Clone)]
pub struct SipClient {
    context: Arc<EndpointContext>,
}

impl std::fmt::Debug for SipClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipClient").finish_non_exhaustive()
    }
}

impl SipClient {
    /// Same as [`SipEndpoint::call`].
    pub async fn call(&self, request: OutgoingRequest) -> Result<OutgoingCall, SipError> {
        crate::call::outgoing::start(&self.context, request).await
    }

    /// Same as [`SipEndpoint::locate`].
    pub async fn locate(&self, target: &str) -> Result<Vec<NextHop>, SipError> {
        locate_target(&self.context, target).await
    }

    /// Same as [`SipEndpoint::register`].
    pub fn register(&self, registration: Registration) -> Result<RegistrationHandle, SipError> {
        crate::register::start(&self.context, registration)
    }
}

/// A bound SIP endpoint (inbound and outgoing calls). Dropping it stops the
/// listeners like [`SipEndpoint::shutdown`], without waiting.
pub struct SipEndpoint {
    context: Arc<EndpointContext>,
    local_addr: SocketAddr,
    tls_local_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SipEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipEndpoint")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl SipEndpoint {
    /// Bind the listeners and start the stack. New calls arrive on the
    /// receiver; when it is full, new INVITEs are answered 503 with
    /// Retry-After. With port 0 and both transports, UDP and TCP get the same
    /// (free) port; TLS binds its own [`crate::TlsSettings::listen`]. Errs
    /// with [`SipError::Config`] on a configuration that cannot work,
    /// [`SipError::TlsFile`] when a TLS file is unreadable or invalid (before
    /// any socket is bound), and [`SipError::Bind`] when a listener cannot
    /// bind.
    pub async fn bind(
        config: SipConfig,
    ) -> Result<(SipEndpoint, mpsc::Receiver<IncomingCall>), SipError> {
        config.check()?;
        // Bad certificate files fail the bind before any socket is opened.
        let tls_context = config.tls.as_ref().map(TlsContext::load).transpose()?;
        let (udp, tcp, local_addr) = bind_sockets(&config).await?;
        let tls_listener =
            match &config.tls {
                Some(settings) => {
                    Some(TcpListener::bind(settings.listen).await.map_err(|source| {
                        SipError::Bind {
                            transport: Transport::Tls,
                            address: settings.listen,
                            source,
                        }
                    })?)
                }
                None => None,
            };
        let shutdown = CancellationToken::new();
        let inspector = Inspector::new(&config.user_agent);
        let transport_layer = TransportLayer::new(shutdown.child_token());
        let mut tasks = Vec::new();

        let mut udp_contact = None;
        if let Some(socket) = udp {
            let bound = socket.local_addr().map_err(SipError::stack)?;
            udp_contact = Some(SipConnection::resolve_bind_address(bound));
            let filtered = Arc::new(FilteredUdpSocket::new(socket, inspector.clone()));
            let connection =
                UdpConnection::from_socket(filtered, None, Some(shutdown.child_token()))
                    .await
                    .map_err(SipError::stack)?;
            transport_layer.add_transport(connection.into());
        }

        let tcp_contact = match &tcp {
            Some(listener) => Some(SipConnection::resolve_bind_address(
                listener.local_addr().map_err(SipError::stack)?,
            )),
            None => None,
        };
        let mut injector = None;
        if tcp.is_some() || tls_listener.is_some() {
            let (inject, injected) = mpsc::unbounded_channel();
            let (outgoing, mut unused) = mpsc::unbounded_channel();
            // Nothing is ever addressed to the injector itself: its address
            // is the unspecified 0.0.0.0:0.
            let address = SipAddr {
                r#type: Some(rsipstack::sip::Transport::Tcp),
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0).into(),
            };
            let channel = ChannelConnection::create_connection(injected, outgoing, address, None)
                .await
                .map_err(SipError::stack)?;
            transport_layer.add_connection(channel.into());
            tasks.push(tokio::spawn(async move {
                while unused.recv().await.is_some() {
                    debug!("message addressed to the stream injector dropped");
                }
            }));
            injector = Some(inject);
        }

        let timers = &config.timers;
        let option = EndpointOption {
            t1: timers.t1,
            t2: timers.t2,
            t4: timers.t4,
            t1x64: timers.t1 * 64,
            // The ACK of a 2xx to our INVITE is the call layer's
            // (call/outgoing/invite.rs), so that it follows our dialog.
            auto_ack_2xx: false,
            ..EndpointOption::default()
        };
        let stack = EndpointBuilder::new()
            .with_user_agent(&config.user_agent)
            .with_transport_layer(transport_layer)
            .with_cancel_token(shutdown.child_token())
            .with_option(option)
            .build();
        let transactions = stack.incoming_transactions().map_err(SipError::stack)?;
        let (calls, incoming) = mpsc::channel(config.incoming_call_queue);
        let partial_timeout = config.timers.t1 * 64;
        let streams = injector.map(|injector| StreamContext {
            inspector,
            injector,
            shutdown: shutdown.clone(),
            partial_timeout,
        });
        let mut tls = None;
        let mut tls_local_addr = None;
        if let (Some(listener), Some(tls_context), Some(streams)) =
            (tls_listener, tls_context, &streams)
        {
            let bound = listener.local_addr().map_err(SipError::stack)?;
            tls_local_addr = Some(bound);
            tasks.push(tokio::spawn(crate::tls::accept_loop(
                listener,
                tls_context.acceptor.clone(),
                streams.clone(),
            )));
            tls = Some(TlsOutbound {
                contact: SipConnection::resolve_bind_address(bound),
                context: tls_context,
                streams: streams.clone(),
            });
        }
        let locator = Locator::new(&config.dns_servers);
        let context = Arc::new(EndpointContext {
            stack: stack.inner.clone(),
            config,
            shutdown: shutdown.clone(),
            accepting: AtomicBool::new(true),
            dialogs: Mutex::new(HashMap::new()),
            udp_contact,
            tcp_contact,
            tls,
            locator,
        });

        let inner = stack.inner.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = inner.serve().await {
                warn!(%error, "SIP stack stopped");
            }
        }));
        if let (Some(listener), Some(streams)) = (tcp, streams) {
            tasks.push(tokio::spawn(accept_loop(listener, streams)));
        }
        tasks.push(tokio::spawn(dispatch(context.clone(), transactions, calls)));
        Ok((
            SipEndpoint {
                context,
                local_addr,
                tls_local_addr,
                tasks,
            },
            incoming,
        ))
    }

    /// The bound address of UDP and TCP (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address of the TLS listener, when TLS is configured.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls_local_addr
    }

    /// Stop accepting new calls: new INVITEs get 503 with Retry-After; calls
    /// in progress continue. For graceful drain.
    pub fn stop_accepting(&self) {
        self.context.accepting.store(false, Ordering::Release);
    }

    /// How many calls are in progress (answered or not, both directions).
    pub fn active_calls(&self) -> usize {
        self.context.live_calls()
    }

    /// Place an outgoing call. Resolves once the INVITE has been sent; its
    /// progress and outcome arrive on [`OutgoingCall::events`]. Errs at once,
    /// sending nothing, on a bad target, From, proxy or header
    /// ([`SipError::InvalidAddress`], [`SipError::InvalidHeader`]), an
    /// unsupported transport ([`SipError::UnsupportedTransport`]: a
    /// listener that is off, e.g. `sips:` without [`crate::TlsSettings`]) or
    /// a next hop that cannot be resolved or connected to, including a
    /// failed TLS handshake ([`SipError::Unreachable`]).
    ///
    /// Cancel-safety: dropping the future before it resolves may leave an
    /// INVITE on the wire with nobody to drive it; await it.
    pub async fn call(&self, request: OutgoingRequest) -> Result<OutgoingCall, SipError> {
        crate::call::outgoing::start(&self.context, request).await
    }

    /// Register a contact of ours with a registrar (RFC 3261 §10) and keep
    /// it refreshed in the background until the handle is dropped or
    /// unregistered; see [`crate::register`]'s rules. Errs at once, sending
    /// nothing, on a bad registrar, AOR, proxy or contact user
    /// ([`SipError::InvalidAddress`]), an expiry outside 1 s..2^32 s or a
    /// transport contradicting the URI ([`SipError::Config`]), or a
    /// transport whose listener is off ([`SipError::UnsupportedTransport`]).
    /// Everything later (unreachable registrar, rejections) shows in the
    /// handle's [`crate::RegistrationState`]. Must be called inside a tokio runtime.
    pub fn register(&self, registration: Registration) -> Result<RegistrationHandle, SipError> {
        crate::register::start(&self.context, registration)
    }

    /// Where a request to `target` (a `sip:` or `sips:` URI, as in
    /// [`OutgoingRequest::target`]) would go: the next hops RFC 3263 server
    /// location finds, best first, which [`SipEndpoint::call`] tries in
    /// order until a connection opens. Shows what DNS says (NAPTR, SRV,
    /// A/AAAA) without sending SIP. Errs with [`SipError::InvalidAddress`]
    /// on a target that does not parse or is `tel:`, and
    /// [`SipError::Unreachable`] when no address is found.
    pub async fn locate(&self, target: &str) -> Result<Vec<NextHop>, SipError> {
        locate_target(&self.context, target).await
    }

    /// A cheap, cloneable handle that places calls through this endpoint (for
    /// the per-call tasks); it stops working when the endpoint shuts down.
    pub fn client(&self) -> SipClient {
        SipClient {
            context: self.context.clone(),
        }
    }

    /// Stop everything: listeners close, calls still in progress end with
    /// [`crate::CallEvent::Ended`] (no BYE is sent; drain first to end them
    /// cleanly). Resolves when the endpoint's tasks have stopped.
    pub async fn shutdown(mut self) {
        self.context.accepting.store(false, Ordering::Release);
        self.context.shutdown.cancel();
        for task in self.tasks.drain(..) {
            if tokio::time::timeout(std::time::Duration::from_secs(2), task)
                .await
                .is_err()
            {
                warn!("a SIP task did not stop within 2 s");
            }
        }
        self.context.lock_dialogs().clear();
    }
}

impl Drop for SipEndpoint {
    fn drop(&mut self) {
        self.context.shutdown.cancel();
    }
}

async fn locate_target(context: &EndpointContext, target: &str) -> Result<Vec<NextHop>, SipError> {
    let parsed = crate::address::parse_target(target)?;
    if parsed.is_tel {
        return Err(SipError::InvalidAddress {
            address: target.to_string(),
            reason: "a tel: URI names no host to locate",
        });
    }
    context.locate(&parsed.request_uri, None).await
}

/// Bind UDP and TCP on the configured address; with port 0 both get the same
/// port (retrying when the UDP port is taken for TCP).
async fn bind_sockets(
    config: &SipConfig,
) -> Result<(Option<UdpSocket>, Option<TcpListener>, SocketAddr), SipError> {
    let attempts = if config.listen.port() == 0 && config.udp && config.tcp {
        16
    } else {
        1
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = if config.udp {
            let socket = UdpSocket::bind(config.listen)
                .await
                .map_err(|source| SipError::Bind {
                    transport: Transport::Udp,
                    address: config.listen,
                    source,
                })?;
            Some(socket)
        } else {
            None
        };
        let port = match &udp {
            Some(socket) => socket.local_addr().map_err(SipError::stack)?.port(),
            None => config.listen.port(),
        };
        let address = SocketAddr::new(config.listen.ip(), port);
        if !config.tcp {
            return Ok((udp, None, address));
        }
        match TcpListener::bind(address).await {
            Ok(listener) => {
                let address = listener.local_addr().map_err(SipError::stack)?;
                return Ok((udp, Some(listener), address));
            }
            Err(_) if attempt < attempts => continue,
            Err(source) => {
                return Err(SipError::Bind {
                    transport: Transport::Tcp,
                    address,
                    source,
                });
            }
        }
    }
}

/// Route every new server transaction until shutdown.
async fn dispatch(
    context: Arc<EndpointContext>,
    mut transactions: rsipstack::transaction::TransactionReceiver,
    calls: mpsc::Sender<IncomingCall>,
) {
    loop {
        let transaction = tokio::select! {
            biased;
            () = context.shutdown.cancelled() => return,
            transaction = transactions.recv() => match transaction {
                Some(transaction) => transaction,
                None => return,
            },
        };
        route(&context, &calls, transaction);
    }
}

fn route(
    context: &Arc<EndpointContext>,
    calls: &mpsc::Sender<IncomingCall>,
    transaction: Transaction,
) {
    let method = transaction.original.method;
    let in_dialog = to_tag(&transaction.original).is_some();
    match method {
        Method::Invite if !in_dialog => new_call(context, calls, transaction),
        Method::Options => {
            let spec = ResponseSpec::new(200)
                .allow()
                .header(Header::Accept("application/sdp".into()))
                .header(Header::Supported(session_timer::TIMER.into()))
                .header(Header::AcceptEncoding("identity".into()))
                .header(Header::AcceptLanguage("en".into()));
            tokio::spawn(answer(context.clone(), transaction, spec));
        }
        // rsipstack matches these to their INVITE transaction; strays need
        // no answer (an ACK never gets one).
        Method::Ack | Method::Cancel => {}
        // RFC 3428 pager-mode MESSAGE is not offered; MESSAGE inside a
        // call is. The 405's Allow lists what this address accepts.
        Method::Message if !in_dialog => {
            let allow = ALLOW.replace(", MESSAGE", "");
            let spec = ResponseSpec::new(405).header(Header::Allow(allow.into()));
            tokio::spawn(answer(context.clone(), transaction, spec));
        }
        Method::Bye | Method::Info | Method::Message | Method::Invite | Method::Update => {
            let call = DialogKey::of_request(&transaction.original)
                .and_then(|key| context.lock_dialogs().get(&key).cloned());
            match call {
                Some(call) => {
                    let span = call.span.clone();
                    tokio::spawn(in_dialog::handle(call, transaction).instrument(span));
                }
                None => {
                    tokio::spawn(answer(context.clone(), transaction, ResponseSpec::new(481)));
                }
            }
        }
        _ => {
            tokio::spawn(answer(
                context.clone(),
                transaction,
                ResponseSpec::new(405).allow(),
            ));
        }
    }
}

/// 503 with Retry-After: not taking calls now.
fn unavailable(context: &EndpointContext) -> ResponseSpec<'static> {
    let seconds = context.config.retry_after_seconds.to_string();
    ResponseSpec::new(503).header(Header::RetryAfter(seconds.into()))
}

/// Answer a transaction that belongs to no call, and for an INVITE keep the
/// transaction running until its ACK or Timer H (RFC 3261 §17.2.1).
async fn answer(
    context: Arc<EndpointContext>,
    mut transaction: Transaction,
    spec: ResponseSpec<'_>,
) {
    let tag = crate::random_token(10);
    let reply = response(
        &transaction.original,
        spec.tag(&tag),
        &context.config.user_agent,
    );
    if let Err(error) = transaction.respond(reply).await {
        debug!(%error, "could not answer a request");
        return;
    }
    if transaction.original.method == Method::Invite {
        loop {
            tokio::select! {
                () = context.shutdown.cancelled() => return,
                message = transaction.receive() => if message.is_none() { return },
            }
        }
    }
}

/// A dialog-creating INVITE: queue it for the server as an [`IncomingCall`].
fn new_call(
    context: &Arc<EndpointContext>,
    calls: &mpsc::Sender<IncomingCall>,
    transaction: Transaction,
) {
    if !context.accepting.load(Ordering::Acquire) {
        tokio::spawn(answer(context.clone(), transaction, unavailable(context)));
        return;
    }
    if let Some(refusal) = check_offer(&transaction.original) {
        tokio::spawn(answer(context.clone(), transaction, refusal));
        return;
    }
    if let UasDecision::TooSmall { min_se } =
        session_timer::as_uas(&transaction.original, &context.config.session_timer)
    {
        let mut spec = ResponseSpec::new(422);
        spec.headers
            .extend(session_timer::too_small_headers(min_se));
        tokio::spawn(answer(context.clone(), transaction, spec));
        return;
    }
    let connection = transaction.connection.clone();
    let transport = match &connection {
        Some(flow) if is_tls_flow(flow) => Transport::Tls,
        Some(flow) if flow.transport() == rsipstack::sip::Transport::Tcp => Transport::Tcp,
        _ => Transport::Udp,
    };
    let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let remote = connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(|address| address.get_socketaddr().ok())
        .unwrap_or(unspecified);
    let (flow, local_addr) = match (transport, &connection) {
        (Transport::Tcp, Some(flow)) => {
            let local = flow.get_addr().get_socketaddr().unwrap_or(unspecified);
            (Some(flow.clone()), local)
        }
        // A TLS flow's channel knows only the peer: we are the listener.
        (Transport::Tls, Some(flow)) => (
            Some(flow.clone()),
            context
                .contact_address(Transport::Tls)
                .unwrap_or(unspecified),
        ),
        _ => (None, context.udp_contact.unwrap_or(unspecified)),
    };
    let local_tag = crate::random_token(10);
    let request = &transaction.original;
    let dialog = match Dialog::new(request, &local_tag, transport, flow, local_addr) {
        Ok(dialog) => dialog,
        Err(phrase) => {
            let mut spec = ResponseSpec::new(400);
            spec.reason = Some(phrase);
            tokio::spawn(answer(context.clone(), transaction, spec));
            return;
        }
    };
    let key = dialog.key.clone();
    let (events, event_receiver) = mpsc::channel(context.config.call_event_queue);
    let shared = Arc::new(CallShared::new(
        context.clone(),
        request.clone(),
        Role::Server {
            invite_events: transaction.tu_sender.clone(),
        },
        dialog,
        events,
        None,
    ));
    let incoming = IncomingCall {
        call_id: key.call_id.clone(),
        from: party_uri(request, true),
        to: party_uri(request, false),
        request_uri: uri_text(&request.uri),
        service: request.uri.user().map(percent_decode).unwrap_or_default(),
        remote,
        transport,
        offer_sdp: sdp_body(request),
        headers: header_list(&request.headers),
        call: ServerCall::new(shared.clone()),
        events: event_receiver,
    };
    context.lock_dialogs().insert(key.clone(), shared.clone());
    match calls.try_send(incoming) {
        Ok(()) => {
            debug!(call_id = %key.call_id, %remote, "new call queued");
            let span = shared.span.clone();
            tokio::spawn(run_invite(shared, transaction).instrument(span));
        }
        Err(refused) => {
            // Queue full (or the server is gone): overload answer.
            let incoming = refused.into_inner();
            incoming.call.disarm();
            context.forget_dialog(&key);
            warn!(call_id = %key.call_id, "incoming call queue full; answering 503");
            tokio::spawn(answer(context.clone(), transaction, unavailable(context)));
        }
    }
}

/// The From (`from == true`) or To URI of a request.
fn party_uri(request: &Request, from: bool) -> String {
    let typed = if from {
        request
            .from_header()
            .ok()
            .and_then(|h| h.typed().ok())
            .map(|t| t.uri)
    } else {
        request
            .to_header()
            .ok()
            .and_then(|h| h.typed().ok())
            .map(|t| t.uri)
    };
    match typed {
        Some(uri) => uri_text(&uri),
        None if from => request
            .from_header()
            .map(|h| h.value().to_string())
            .unwrap_or_default(),
        None => request
            .to_header()
            .map(|h| h.value().to_string())
            .unwrap_or_default(),
    }
}
