//! callhost-sip: the SIP layer of callhost, both call directions.
//!
//! A [`SipEndpoint`] listens on UDP, TCP and/or TLS and hands each new inbound
//! call to the server as an [`IncomingCall`]; the server answers it through
//! the [`ServerCall`] handle and follows it through [`CallEvent`]s. Outgoing
//! calls start with [`SipEndpoint::call`] and an [`OutgoingRequest`]; the
//! [`ClientCall`] handle cancels or hangs them up. Both handles send INFO and
//! MESSAGE inside the dialog. Nothing here knows about WebAssembly or media;
//! bodies are opaque SDP text.
//!
//! Built over rsipstack (pinned `=0.7.14`), used for what it does well: the
//! RFC 3261 §17 transaction layer (retransmissions, Timers A–K, ACK and
//! CANCEL matching, RFC 6026 accepted state) and its transport plumbing. No
//! rsipstack type appears in this crate's public API, so the stack can be
//! replaced. Around it, callhost-sip keeps:
//!
//! - `validate` + `wire`: a validation layer in front of rsipstack's parser
//!   (RFC 3261 §8.2, RFC 4475) that answers 400/405/416/420/501/505/513
//!   itself and canonicalises legal-but-unusual syntax rsipstack rejects;
//! - `udp`: the pre-parse hook for UDP, through rsipstack's socket trait;
//! - `tcp`: our own TCP listener and framing (rsipstack offers no pre-parse
//!   hook for streams), feeding rsipstack through its channel transport;
//! - `tls`: SIP over TLS (RFC 3261 §26.2, `sips:`), through the same stream
//!   framing as TCP, with rustls;
//! - `dialog`, `call`: dialog state for both roles (RFC 3261 §12–§15) and
//!   call policy; `call/outgoing` is the UAC (INVITE, ACK, CANCEL);
//! - `address`: targets, From, outbound proxy, header checks;
//! - `locate`: RFC 3263 server location (NAPTR, SRV, A/AAAA) with one
//!   shared hickory-resolver per endpoint;
//! - `auth`: the digest client (RFC 2617, RFC 7616, RFC 8760), public so
//!   that REGISTER can reuse it;
//! - `register`: the REGISTER client (RFC 3261 §10), refreshing in the
//!   background;
//! - `endpoint`: binding, dispatching, overload (503 + Retry-After).
//!
//! Allowed dependencies: rsipstack, tokio, tracing, md-5 and sha2 (digest),
//! rustls, tokio-rustls and webpki-roots (TLS), hickory-resolver (DNS);
//! nothing from other callhost crates.

mod address;
pub mod auth;
mod call;
mod dialog;
mod endpoint;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod locate;
mod message;
pub mod register;
mod tcp;
mod tls;
mod udp;
mod validate;
mod wire;

use std::net::SocketAddr;
use std::time::Duration;

pub use auth::Credentials;
pub use call::session_timer::{RFC_MIN_SE, SessionTimerSettings};
pub use call::{
    CallEvent, ClientCall, IncomingCall, OfferAnswer, OutgoingCall, OutgoingRequest,
    ReInviteResponder, ServerCall,
};
pub use endpoint::{SipClient, SipEndpoint};
pub use error::SipError;
pub use locate::{NextHop, QUERY_TIMEOUT, RESOLUTION_DEADLINE};
pub use register::{
    MAX_RETRY_DELAY, Registration, RegistrationHandle, RegistrationState, refresh_delay,
    retry_delay,
};
pub use tls::TlsSettings;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2; `sips:` URIs).
    Tls,
}

impl Transport {
    /// The transport token of a Via header.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    pub(crate) fn to_rsip(self) -> rsipstack::sip::Transport {
        match self {
            Transport::Udp => rsipstack::sip::Transport::Udp,
            Transport::Tcp => rsipstack::sip::Transport::Tcp,
            Transport::Tls => rsipstack::sip::Transport::Tls,
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// RFC 3261 timer base values (§17.1.1.1, Table 4). Every other timer
/// derives from these: Timer H, F, B and L are 64*T1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    /// Round-trip estimate; default 500 ms.
    pub t1: Duration,
    /// Longest retransmission interval; default 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network; default 5 s.
    pub t4: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// How to run the endpoint. Use `..SipConfig::default()` for the rest.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// Where to listen (UDP and TCP share it); default 127.0.0.1:5060.
    pub listen: SocketAddr,
    /// Listen on UDP.
    pub udp: bool,
    /// Listen on TCP.
    pub tcp: bool,
    /// Listen on TLS (its own address) and allow `sips:` and
    /// `;transport=tls` targets. The files are read when the endpoint
    /// binds. Default: off.
    pub tls: Option<TlsSettings>,
    /// `Server` header of responses and `User-Agent` of requests.
    pub user_agent: String,
    /// Room for new calls the server has not taken yet; beyond it, new
    /// INVITEs are answered 503 with Retry-After. Default 64.
    pub incoming_call_queue: usize,
    /// Room for each call's unread events (at least 2; one slot is kept for
    /// the final event, and an outgoing call's progress events leave one
    /// more for `Answered`). Default 16. When full, INFO, MESSAGE and
    /// progress events are dropped (the requests are still answered 200) and
    /// re-INVITEs answered 500.
    pub call_event_queue: usize,
    /// The Retry-After value (seconds) of our 503s. Default 5.
    pub retry_after_seconds: u32,
    /// How long a re-INVITE may wait for the server's decision before it is
    /// answered 500. Default 30 s.
    pub reinvite_answer_timeout: Duration,
    /// RFC 3261 timer values.
    pub timers: SipTimers,
    /// RFC 4028 session timers: the interval asked for and the Min-SE.
    pub session_timer: SessionTimerSettings,
    /// The DNS servers for RFC 3263 server location (NAPTR, SRV, A/AAAA of
    /// host names in targets, proxies and registrars), asked over UDP (TCP
    /// for truncated answers). Empty (the default): the system's
    /// `/etc/resolv.conf`; if that cannot be read, host names go to the
    /// system resolver for A/AAAA only. Each query times out after
    /// [`QUERY_TIMEOUT`] (one retry), a whole lookup after
    /// [`RESOLUTION_DEADLINE`].
    pub dns_servers: Vec<SocketAddr>,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            udp: true,
            tcp: true,
            tls: None,
            user_agent: concat!("callhost/", env!("CARGO_PKG_VERSION")).to_string(),
            incoming_call_queue: 64,
            call_event_queue: 16,
            retry_after_seconds: 5,
            reinvite_answer_timeout: Duration::from_secs(30),
            timers: SipTimers::default(),
            session_timer: SessionTimerSettings::default(),
            dns_servers: Vec::new(),
        }
    }
}

impl SipConfig {
    fn check(&self) -> Result<(), SipError> {
        let problem = if !self.udp && !self.tcp && self.tls.is_none() {
            Some("no transport (UDP, TCP or TLS) is enabled")
        } else if self.incoming_call_queue == 0 {
            Some("incoming_call_queue must be at least 1")
        } else if self.call_event_queue < 2 {
            Some("call_event_queue must be at least 2")
        } else if self.timers.t1.is_zero() || self.timers.t2 < self.timers.t1 {
            Some("timers: T1 must be positive and T2 at least T1")
        } else if self.session_timer.min_se.as_secs() == 0 {
            Some("session_timer.min_se must be at least 1 s (RFC 4028 wants 90 s)")
        } else if self.user_agent.contains(['\r', '\n']) {
            Some("user_agent must be a single line")
        } else if self.dns_servers.iter().any(|server| server.port() == 0) {
            Some("dns_servers: every DNS server needs a port (53 as a rule)")
        } else {
            None
        };
        match problem {
            Some(reason) => Err(SipError::Config {
                reason: reason.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// Random alphanumeric text for tags and branches (RFC 3261 §19.3: at least
/// 32 bits of randomness).
pub(crate) fn random_token(length: usize) -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}
