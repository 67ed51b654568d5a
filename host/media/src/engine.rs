//! The public handles: [`MediaEngine`] (one per server: configuration, port allocator, prompt
//! cache), [`PendingMedia`] (an outbound call's offer waiting for its answer) and
//! [`MediaSession`] (one per call: a handle to that call's driver on a media thread, in `engine/session.rs`).
//!
//! Offer/answer state lives in the handle (`engine/signalling.rs`) under a mutex, so re-offers are
//! answered at once; media state lives in the driver, on a media thread. Depends on every other module.

mod session;
mod signalling;

pub use session::MediaSession;

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use std::net::UdpSocket;

use tokio::runtime::Handle;

use crate::cipher::AesCbcCipher;
use crate::codec::Codec;
use crate::error::MediaError;
use crate::ports::{PortAllocator, PortLease};
use crate::prompt::{Prompt, PromptCache};
use crate::sdp::{AnswerOrigin, LocalOffer, SessionDescription, build_offer, negotiate};
use signalling::{LocalAddress, Signalling, new_origin};

/// Media configuration for the whole server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address RTP sockets bind to.
    pub bind_ip: IpAddr,
    /// Address written into SDP (`c=`, `o=`); required when `bind_ip` is a wildcard, defaults to `bind_ip`.
    pub advertised_ip: Option<IpAddr>,
    /// RTP ports; only the even ones are used.
    pub rtp_ports: RangeInclusive<u16>,
    /// Send to where the peer's RTP comes from (NAT traversal), instead of only the SDP address.
    pub symmetric_rtp: bool,
    /// Codec preference, best first.
    pub codecs: Vec<Codec>,
}

impl MediaConfig {
    /// Defaults: ports 10000-20000, symmetric RTP on, codecs [PCMU, PCMA].
    pub fn new(bind_ip: IpAddr) -> Self {
        Self {
            bind_ip,
            advertised_ip: None,
            rtp_ports: 10_000..=20_000,
            symmetric_rtp: true,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
        }
    }
}

/// A session's two sockets: RTP on the even port, RTCP on the odd one.
#[derive(Debug)]
pub(crate) struct MediaSockets {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
}

#[derive(Debug)]
struct EngineInner {
    config: MediaConfig,
    advertised_ip: IpAddr,
    ports: PortAllocator,
    prompts: PromptCache,
    /// The media threads that drive every session.
    workers: crate::driver::Workers,
}

impl EngineInner {
    fn local_address(&self, port: u16) -> LocalAddress {
        LocalAddress {
            bind_ip: self.config.bind_ip,
            advertised_ip: self.advertised_ip,
            port,
        }
    }

    /// Bind an even port of the range and the odd one above it as non-blocking sockets that
    /// stamp each datagram with its arrival time (`SO_TIMESTAMPNS`). (The kernel switches
    /// stamping on from a work queue after the first such socket in the system, so the first
    /// few datagrams after start may be stamped when read, at most one tick late.)
    fn bind(&self) -> Result<(MediaSockets, PortLease), MediaError> {
        let (rtp, rtcp, lease) = self.ports.bind(self.config.bind_ip)?;
        let convert = |socket: UdpSocket, port: u16| {
            let bind_error = |source| MediaError::Bind {
                address: SocketAddr::new(self.config.bind_ip, port),
                source,
            };
            socket.set_nonblocking(true).map_err(bind_error)?;
            nix::sys::socket::setsockopt(
                &socket,
                nix::sys::socket::sockopt::ReceiveTimestampns,
                &true,
            )
            .map_err(|errno| bind_error(errno.into()))?;
            Ok::<_, MediaError>(socket)
        };
        let sockets = MediaSockets {
            rtp: convert(rtp, lease.port())?,
            rtcp: convert(rtcp, lease.port() + 1)?,
        };
        Ok((sockets, lease))
    }
}

/// The media layer of a server. Cheap to clone; all clones share the port allocator and the
/// prompt cache.
#[derive(Debug, Clone)]
pub struct MediaEngine {
    inner: Arc<EngineInner>,
}

impl MediaEngine {
    /// Validate `config` and create the engine (no sockets are opened yet).
    pub fn new(config: MediaConfig) -> Result<Self, MediaError> {
        if config.codecs.is_empty() {
            return Err(MediaError::NoCodecs);
        }
        let advertised_ip = match config.advertised_ip {
            Some(ip) => ip,
            None if config.bind_ip.is_unspecified() => {
                return Err(MediaError::NoAdvertisedAddress {
                    bind_ip: config.bind_ip,
                });
            }
            None => config.bind_ip,
        };
        let ports = PortAllocator::new(config.rtp_ports.clone())?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                config,
                advertised_ip,
                ports,
                prompts: PromptCache::new(),
                workers: crate::driver::Workers::default(),
            }),
        })
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }

    /// Parse the offer, choose the codec, bind an RTP socket (an even port from the range,
    /// released when the session drops), hand the session's driver to a media thread and
    /// build the answer.
    ///
    /// Must be called inside a tokio runtime. The driver logs in the caller's current tracing
    /// span. Errors: [`MediaError::InvalidSdp`] (answer 400),
    /// [`MediaError::NotAcceptable`] (answer 488), port or socket errors (answer 500/503).
    pub async fn accept_offer(
        &self,
        offer_sdp: &str,
    ) -> Result<(MediaSession, String), MediaError> {
        self.accept_offer_with(offer_sdp, None).await
    }

    /// [`Self::accept_offer`] with the codecs this call may use, in preference order
    /// (`None`: the configured list), e.g. a service's own codec list.
    pub async fn accept_offer_with(
        &self,
        offer_sdp: &str,
        codecs: Option<&[Codec]>,
    ) -> Result<(MediaSession, String), MediaError> {
        let inner = &self.inner;
        let offer = SessionDescription::parse(offer_sdp)?;
        let preferences = codecs.unwrap_or(&inner.config.codecs);
        let negotiated = negotiate(&offer, preferences, inner.config.bind_ip)?;
        let (sockets, lease) = inner.bind()?;
        let (signalling, answer) =
            Signalling::answering(&offer, negotiated, inner.local_address(lease.port()));
        let session = MediaSession::start(
            Arc::clone(inner),
            sockets,
            lease,
            signalling,
            &Handle::current(),
        );
        Ok((session, answer))
    }

    /// For an outbound call: bind an RTP port and build the SDP offer (RFC 3264 §5): one
    /// `m=audio` with `codecs` in preference order (`None`: the configured list), plus
    /// telephone-event/8000 as payload type 101 (events 0-16), `a=ptime:20`, `a=sendrecv`.
    ///
    /// Must be called inside a tokio runtime. The port is held until the [`PendingMedia`] is
    /// dropped or becomes a session. Errors: [`MediaError::NoCodecs`] for an empty list,
    /// port or socket errors.
    pub async fn create_offer(
        &self,
        codecs: Option<&[Codec]>,
    ) -> Result<(PendingMedia, String), MediaError> {
        let inner = &self.inner;
        let codecs = codecs.unwrap_or(&inner.config.codecs);
        let offer = LocalOffer::initial(codecs).ok_or(MediaError::NoCodecs)?;
        let (sockets, lease) = inner.bind()?;
        let origin = new_origin();
        let sdp = build_offer(&offer, origin, inner.advertised_ip, lease.port());
        let pending = PendingMedia {
            engine: Arc::clone(inner),
            sockets,
            lease,
            offer,
            origin,
            runtime: Handle::current(),
        };
        Ok((pending, sdp))
    }

    /// Load a prompt through the shared cache (converted once, then shared by every call).
    /// Blocking file I/O: call it from `spawn_blocking` on an async runtime.
    pub fn load_prompt(&self, path: &Path) -> Result<Arc<Prompt>, MediaError> {
        Ok(self.inner.prompts.load(path)?)
    }

    /// Load an AES-CBC encrypted prompt (decrypted and converted on every call, not cached; see
    /// [`crate::prompt::load_encrypted_prompt`]). Blocking file I/O: call it from
    /// `spawn_blocking` on an async runtime.
    pub fn load_encrypted_prompt(
        &self,
        path: &Path,
        cipher: &AesCbcCipher,
    ) -> Result<Arc<Prompt>, MediaError> {
        Ok(Arc::new(crate::prompt::load_encrypted_prompt(
            path, cipher,
        )?))
    }
}

/// An outbound call's media before the answer: the bound port and what we offered. Dropping it
/// frees the port. Packets arriving before [`Self::accept_answer`] wait in the socket buffer.
#[derive(Debug)]
pub struct PendingMedia {
    engine: Arc<EngineInner>,
    sockets: MediaSockets,
    lease: PortLease,
    offer: LocalOffer,
    origin: AnswerOrigin,
    runtime: Handle,
}

impl PendingMedia {
    /// Our RTP port (as written in the offer).
    pub fn local_port(&self) -> u16 {
        self.lease.port()
    }

    /// Our RTP address as advertised in the offer.
    pub fn local_address(&self) -> SocketAddr {
        SocketAddr::new(self.engine.advertised_ip, self.lease.port())
    }

    /// The answer arrived (the 2xx's SDP, or a reliable provisional's): choose the first codec
    /// the answer lists that we offered, its payload type and telephone-event's from the
    /// answer, the remote address and direction, and start the driver (logging in the
    /// caller's span; recordings' writers run on the runtime `create_offer` ran on). Like an inbound session,
    /// nothing is sent until [`MediaSession::start_sending`].
    ///
    /// Errors: [`MediaError::InvalidSdp`]; [`MediaError::NotAcceptable`] when the answer
    /// rejects the stream, names no codec we offered, or has an unusable address. On error
    /// the port is freed.
    pub fn accept_answer(self, answer_sdp: &str) -> Result<MediaSession, MediaError> {
        let local = self.engine.local_address(self.lease.port());
        let signalling = Signalling::offered(&self.offer, self.origin, answer_sdp, local)?;
        Ok(MediaSession::start(
            self.engine,
            self.sockets,
            self.lease,
            signalling,
            &self.runtime,
        ))
    }
}
