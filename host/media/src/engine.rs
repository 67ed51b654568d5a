//! The public handles: [`MediaEngine`] (one per server: configuration, port allocator, prompt
//! cache) and [`MediaSession`] (one per call: a handle to that call's driver task).
//!
//! `MediaSession` methods are synchronous and never block: they validate, then send a command
//! to the driver. Offer/answer state (session version, current negotiation) lives here, under
//! a mutex, so `update_offer` can answer at once. Depends on every other module.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracing::Instrument;

use crate::codec::Codec;
use crate::driver::{self, Command, SessionShared};
use crate::error::MediaError;
use crate::ports::PortAllocator;
use crate::prompt::{Prompt, PromptCache};
use crate::sdp::{AnswerOrigin, Negotiated, SessionDescription, build_answer, negotiate};
use crate::session::{MediaEvent, MediaStats, SessionCore, StreamOrigin};
use crate::telephone_event::sender::parse_digits;

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

#[derive(Debug)]
struct EngineInner {
    config: MediaConfig,
    advertised_ip: IpAddr,
    ports: PortAllocator,
    prompts: PromptCache,
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
            }),
        })
    }

    /// The configuration the engine was built with.
    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }

    /// Parse the offer, choose the codec, bind an RTP socket (an even port from the range,
    /// released when the session drops), start the session's driver task and build the answer.
    ///
    /// Must be called inside a tokio runtime. The driver task is instrumented with the
    /// caller's current tracing span. Errors: [`MediaError::InvalidSdp`] (answer 400),
    /// [`MediaError::NotAcceptable`] (answer 488), port or socket errors (answer 500/503).
    pub async fn accept_offer(
        &self,
        offer_sdp: &str,
    ) -> Result<(MediaSession, String), MediaError> {
        let inner = &self.inner;
        let offer = SessionDescription::parse(offer_sdp)?;
        let negotiated = negotiate(&offer, &inner.config.codecs, inner.config.bind_ip)?;
        let (std_socket, lease) = inner.ports.bind(inner.config.bind_ip)?;
        let local_port = lease.port();
        let bind_error = |source| MediaError::Bind {
            address: SocketAddr::new(inner.config.bind_ip, local_port),
            source,
        };
        std_socket.set_nonblocking(true).map_err(bind_error)?;
        let socket = tokio::net::UdpSocket::from_std(std_socket).map_err(bind_error)?;

        let origin = AnswerOrigin {
            session_id: u64::from(rand::random::<u32>()) + 1,
            session_version: 1,
        };
        let answer = build_answer(&offer, &negotiated, origin, inner.advertised_ip, local_port);
        let shared = Arc::new(SessionShared::default());
        let core = SessionCore::new(
            negotiated.clone(),
            inner.config.symmetric_rtp,
            StreamOrigin::random(),
            Arc::clone(&shared.counters),
        );
        let (command_sender, command_receiver) = mpsc::unbounded_channel();
        let (event_sender, event_receiver) = mpsc::unbounded_channel();
        tokio::spawn(
            driver::run(
                socket,
                lease,
                core,
                command_receiver,
                event_sender,
                Arc::clone(&shared),
            )
            .instrument(tracing::Span::current()),
        );
        let session = MediaSession {
            commands: command_sender,
            events: event_receiver,
            shared,
            signalling: Mutex::new(Signalling { origin, negotiated }),
            engine: Arc::clone(inner),
            local_port,
            next_id: AtomicU64::new(1),
        };
        Ok((session, answer))
    }

    /// Load a prompt through the shared cache (converted once, then shared by every call).
    /// Blocking file I/O: call it from `spawn_blocking` on an async runtime.
    pub fn load_prompt(&self, path: &Path) -> Result<Arc<Prompt>, MediaError> {
        Ok(self.inner.prompts.load(path)?)
    }
}

#[derive(Debug)]
struct Signalling {
    origin: AnswerOrigin,
    negotiated: Negotiated,
}

/// One call's media. Receiving (and DTMF detection) runs from creation; sending starts with
/// [`Self::start_sending`]. Dropping the session stops its driver task and frees its port.
#[derive(Debug)]
pub struct MediaSession {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    shared: Arc<SessionShared>,
    signalling: Mutex<Signalling>,
    engine: Arc<EngineInner>,
    local_port: u16,
    next_id: AtomicU64,
}

impl MediaSession {
    /// Our RTP port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// Our RTP address as advertised in SDP.
    pub fn local_address(&self) -> SocketAddr {
        SocketAddr::new(self.engine.advertised_ip, self.local_port)
    }

    fn signalling(&self) -> std::sync::MutexGuard<'_, Signalling> {
        // Only whole-value assignments happen under the lock; a poisoned one is still consistent.
        self.signalling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The codec currently negotiated (may change on re-offer).
    pub fn codec(&self) -> Codec {
        self.signalling().negotiated.codec
    }

    /// True if the peer accepts RFC 4733 telephone-event (so [`Self::send_dtmf`] can work).
    pub fn telephone_event_negotiated(&self) -> bool {
        self.signalling()
            .negotiated
            .telephone_event_payload_type
            .is_some()
    }

    fn command(&self, command: Command) -> Result<(), MediaError> {
        self.commands
            .send(command)
            .map_err(|_| MediaError::SessionClosed)
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Start sending RTP (comfort silence when nothing plays): call when the call is answered.
    pub fn start_sending(&self) {
        // A closed driver only happens at runtime shutdown; `next_event` then returns None.
        let _ = self.command(Command::StartSending);
    }

    /// Play a prompt from its start; a prompt already playing ends with `completed: false`.
    /// Returns the id its `PlayFinished` event will carry.
    pub fn play(&self, prompt: Arc<Prompt>) -> u64 {
        let id = self.next_id();
        let _ = self.command(Command::Play { id, prompt });
        id
    }

    /// Stop the current prompt (its `PlayFinished` has `completed: false`).
    pub fn stop_playing(&self) {
        let _ = self.command(Command::StopPlaying);
    }

    /// Queue RFC 4733 digits (`0-9A-D*#`, `,` = 500 ms pause) behind earlier ones. Completion
    /// arrives as `DtmfFinished` with the returned id.
    pub fn send_dtmf(&self, digits: &str) -> Result<u64, MediaError> {
        let items = parse_digits(digits).map_err(|invalid| MediaError::InvalidDtmfDigit {
            digit: invalid.digit,
            position: invalid.position,
        })?;
        if !self.telephone_event_negotiated() {
            return Err(MediaError::TelephoneEventNotNegotiated);
        }
        let id = self.next_id();
        self.command(Command::SendDtmf { id, items })?;
        Ok(id)
    }

    /// Abandon queued DTMF (`DtmfFinished { completed: false }`); a digit on the wire ends cleanly.
    pub fn stop_dtmf(&self) {
        let _ = self.command(Command::StopDtmf);
    }

    /// Handle a re-INVITE offer: renegotiate (remote address, codec, direction may change; our
    /// port, SSRC, sequence and timestamps continue) and return the answer with the next
    /// session version. On error the session keeps its previous negotiation.
    pub fn update_offer(&self, offer_sdp: &str) -> Result<String, MediaError> {
        let offer = SessionDescription::parse(offer_sdp)?;
        let negotiated = negotiate(
            &offer,
            &self.engine.config.codecs,
            self.engine.config.bind_ip,
        )?;
        let mut signalling = self.signalling();
        let origin = AnswerOrigin {
            session_version: signalling.origin.session_version + 1,
            ..signalling.origin
        };
        let answer = build_answer(
            &offer,
            &negotiated,
            origin,
            self.engine.advertised_ip,
            self.local_port,
        );
        self.command(Command::Update(Box::new(negotiated.clone())))?;
        *signalling = Signalling { origin, negotiated };
        Ok(answer)
    }

    /// The next event; `None` once the driver has stopped. Cancel-safe: dropping the future
    /// loses no event.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        let event = self.events.recv().await;
        if let Some(MediaEvent::Dtmf { .. }) = event {
            self.shared.pending_dtmf.fetch_sub(1, Ordering::Relaxed);
        }
        event
    }

    /// Packet, byte, loss and timing counters.
    pub fn stats(&self) -> MediaStats {
        self.shared.counters.snapshot()
    }
}
