//! [`MediaSession`], the handle to one call's media: commands to its driver (on a media thread), events from
//! it, offer/answer state, and bridging to another session.
//!
//! Methods are synchronous and never block: they validate, update the offer/answer state under
//! a short mutex, then send a command to the driver (RFC 3264 §8 re-offers and §8.4 hold).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::signalling::Signalling;
use super::{EngineInner, MediaSockets};
use crate::codec::Codec;
use crate::driver::{self, Command, SessionShared};
use crate::error::MediaError;
use crate::ports::PortLease;
use crate::prompt::Prompt;
use crate::recorder::file::RecordingFile;
use crate::recorder::{
    RecordFormat, RecordedAudio, RecordingCause, RecordingJob, RecordingLimits, RecordingSlot,
};
use crate::session::{MediaEvent, MediaStats, SessionCore, StreamOrigin};
use crate::source::AudioSource;
use crate::telephone_event::sender::parse_digits;
use crate::tone::{SAMPLES_PER_MILLISECOND, ToneSequence};

/// One call's media. Receiving (and DTMF detection) runs from creation; sending starts with
/// [`Self::start_sending`]. Dropping the session stops its driver (at the next tick) and frees its port; a
/// session bridged to it ([`Self::connect`]) then goes back to its own output.
#[derive(Debug)]
pub struct MediaSession {
    commands: driver::CommandSender,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    shared: Arc<SessionShared>,
    signalling: Mutex<Signalling>,
    engine: Arc<EngineInner>,
    local_port: u16,
    next_id: AtomicU64,
}

impl MediaSession {
    /// Hand the driver of a negotiated session to a media thread (recordings' writers go to
    /// `runtime`); it logs in the caller's current span.
    pub(super) fn start(
        engine: Arc<EngineInner>,
        sockets: MediaSockets,
        lease: PortLease,
        signalling: Signalling,
        runtime: &Handle,
    ) -> Self {
        let local_port = lease.port();
        let shared = Arc::new(SessionShared::default());
        let core = SessionCore::new(
            signalling.negotiated().clone(),
            engine.config.symmetric_rtp,
            StreamOrigin::random(),
            Arc::clone(&shared.counters),
        );
        let (command_sender, command_receiver) = driver::command_channel(&shared);
        let (event_sender, event_receiver) = mpsc::unbounded_channel();
        let driver = driver::Driver::new(
            sockets,
            lease,
            core,
            command_receiver,
            event_sender,
            Arc::clone(&shared),
            runtime.clone(),
        );
        if let Err(error) = engine.workers.add(driver) {
            // The session never runs: its commands fail with SessionClosed.
            tracing::error!(%error, "no media thread for the session");
        }
        Self {
            commands: command_sender,
            events: event_receiver,
            shared,
            signalling: Mutex::new(signalling),
            engine,
            local_port,
            // Id 0 is reserved for digits forwarded from a bridged session.
            next_id: AtomicU64::new(1),
        }
    }

    /// Our RTP port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// Our RTP address as advertised in SDP.
    pub fn local_address(&self) -> SocketAddr {
        SocketAddr::new(self.engine.advertised_ip, self.local_port)
    }

    fn signalling(&self) -> MutexGuard<'_, Signalling> {
        // Signalling methods change state only after every fallible step; a poisoned lock
        // (a panic in between) still holds a consistent value.
        self.signalling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The codec currently negotiated (may change on re-offer).
    pub fn codec(&self) -> Codec {
        self.signalling().negotiated().codec
    }

    /// True if the peer accepts RFC 4733 telephone-event (so [`Self::send_dtmf`] can work).
    pub fn telephone_event_negotiated(&self) -> bool {
        self.signalling()
            .negotiated()
            .telephone_event_payload_type
            .is_some()
    }

    fn command(&self, command: Command) -> Result<(), MediaError> {
        if self.commands.send(command) {
            Ok(())
        } else {
            Err(MediaError::SessionClosed)
        }
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
    /// While connected to another session the prompt is mixed over the bridged audio.
    /// Returns the id its `PlayFinished` event will carry.
    pub fn play(&self, prompt: Arc<Prompt>) -> u64 {
        let id = self.next_id();
        let _ = self.command(Command::Play { id, prompt });
        id
    }

    /// Play a tone like [`Self::play`] plays a prompt: from its start, for at most `limit`
    /// (none: until it ends, or — a repeating tone — until [`Self::stop_playing`] or the next
    /// play). Nothing is buffered: the tone is rendered 20 ms at a time. Returns the id of
    /// its `PlayFinished` event.
    pub fn play_tone(&self, tone: Arc<ToneSequence>, limit: Option<std::time::Duration>) -> u64 {
        let id = self.next_id();
        let limit_samples = limit.map(|limit| {
            u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) * SAMPLES_PER_MILLISECOND
        });
        let source = AudioSource::tone(tone, limit_samples);
        let _ = self.command(Command::PlaySource {
            id,
            source: Box::new(source),
        });
        id
    }

    /// Stop the current prompt (its `PlayFinished` has `completed: false`).
    pub fn stop_playing(&self) {
        let _ = self.command(Command::StopPlaying);
    }

    /// Record into `file` (created by the caller, header written) in `slot`; a recording
    /// already running there ends ABORTED. Encoded audio reaches the file about once a second;
    /// the end arrives as `RecordingFinished` with the returned id once the file is complete.
    /// Recording follows the 20 ms frame clock, which runs once sending has started.
    pub fn start_recording(
        &self,
        slot: RecordingSlot,
        file: RecordingFile,
        format: RecordFormat,
        audio: RecordedAudio,
        limits: RecordingLimits,
    ) -> Result<u64, MediaError> {
        let id = self.next_id();
        let job = RecordingJob::new(id, format, audio, limits);
        let recording = driver::NewRecording { slot, job, file };
        self.command(Command::StartRecording(Box::new(recording)))?;
        Ok(id)
    }

    /// End the recording in `slot` (no-op when none runs); its `RecordingFinished` follows.
    pub fn stop_recording(&self, slot: RecordingSlot, cause: RecordingCause) {
        let _ = self.command(Command::StopRecording { slot, cause });
    }

    /// Queue digits (`0-9A-D*#`, `,` = 500 ms pause) behind earlier ones: RFC 4733 events,
    /// or tones in the audio when the peer did not negotiate telephone-event. Completion
    /// arrives as `DtmfFinished` with the returned id.
    pub fn send_dtmf(&self, digits: &str) -> Result<u64, MediaError> {
        let items = parse_digits(digits).map_err(|invalid| MediaError::InvalidDtmfDigit {
            digit: invalid.digit,
            position: invalid.position,
        })?;
        let id = self.next_id();
        self.command(Command::SendDtmf { id, items })?;
        Ok(id)
    }

    /// Abandon queued DTMF (`DtmfFinished { completed: false }`); a digit on the wire ends cleanly.
    pub fn stop_dtmf(&self) {
        let _ = self.command(Command::StopDtmf);
    }

    fn local(&self) -> super::LocalAddress {
        self.engine.local_address(self.local_port)
    }

    /// Handle a re-INVITE offer: renegotiate (remote address, codec, direction may change; our
    /// port, SSRC, sequence and timestamps continue) and return the answer with the next
    /// session version. An offer of `sendonly`/`inactive` or `c=0.0.0.0` holds us: we answer
    /// `recvonly`/`inactive`, stop sending and [`Self::is_on_hold`] turns true until an offer
    /// lets us send again. On error the session keeps its previous negotiation.
    pub fn update_offer(&self, offer_sdp: &str) -> Result<String, MediaError> {
        let mut signalling = self.signalling();
        let (answer, negotiated) =
            signalling.update_offer(offer_sdp, &self.engine.config.codecs, self.local())?;
        self.command(Command::Update(Box::new(negotiated)))?;
        Ok(answer)
    }

    /// True while the peer holds us (its last offer did not let us send).
    pub fn is_on_hold(&self) -> bool {
        self.signalling().is_on_hold()
    }

    /// True while we hold the peer (a [`Self::hold_offer`]`(true)` was answered and not yet
    /// resumed).
    pub fn is_holding(&self) -> bool {
        self.signalling().is_holding()
    }

    /// Build a re-offer (RFC 3264 §8.4) for a re-INVITE: `hold` = true offers `a=sendonly`
    /// (`inactive` if the peer holds us), false resumes with `a=sendrecv` (`recvonly` if the
    /// peer holds us). The `o=` version increments; codec and payload types stay as agreed.
    /// Nothing changes until [`Self::accept_reanswer`]; a newer `hold_offer` replaces this one.
    pub fn hold_offer(&self, hold: bool) -> String {
        self.signalling().hold_offer(hold, self.local())
    }

    /// Apply the peer's answer to the last [`Self::hold_offer`]. Our sending follows it: a
    /// `recvonly` answer to a hold lets us keep sending (silence, or music on hold the
    /// application plays), `inactive` pauses sending, `sendrecv` resumes.
    ///
    /// Errors: [`MediaError::NoPendingOffer`], [`MediaError::InvalidSdp`],
    /// [`MediaError::NotAcceptable`] (then the session keeps its previous negotiation).
    pub fn accept_reanswer(&self, answer_sdp: &str) -> Result<(), MediaError> {
        let mut signalling = self.signalling();
        let negotiated = signalling.accept_reanswer(answer_sdp, self.local())?;
        self.command(Command::Update(Box::new(negotiated)))
    }

    /// Bridge this session's audio with `other`'s: audio received from each peer is decoded and
    /// sent to the other peer in that session's codec (PCMU⇄PCMA transcoding included), inside
    /// the receiving session's own continuous RTP stream and 20 ms pacing; when nothing
    /// arrives, silence is sent. Digits received as RFC 4733 events are still reported to
    /// their own session's owner and are also sent on to the other peer when it negotiated
    /// telephone-event. A prompt played while connected is mixed over the bridged audio.
    ///
    /// Any earlier connection of either session is replaced (its other leg goes back to its
    /// own output). Connecting does not start sending: that still needs
    /// [`Self::start_sending`] on each session. Errors: [`MediaError::ConnectToItself`],
    /// [`MediaError::SessionClosed`].
    pub fn connect(&self, other: &MediaSession) -> Result<(), MediaError> {
        if Arc::ptr_eq(&self.shared, &other.shared) {
            return Err(MediaError::ConnectToItself);
        }
        let (mine, theirs) = driver::bridge_pair();
        // If either command fails, the other driver finds its bridge closed and undoes it.
        self.command(Command::Connect(mine))?;
        other.command(Command::Connect(theirs))?;
        self.shared.connected.store(true, Ordering::Relaxed);
        other.shared.connected.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// End this session's bridge in both directions; both sessions go back to their own output
    /// (silence or prompt). Safe on either side, twice, or when not connected. The other
    /// session notices within a few milliseconds.
    pub fn disconnect(&self) {
        self.shared.connected.store(false, Ordering::Relaxed);
        let _ = self.command(Command::Disconnect);
    }

    /// True while connected to another session. Turns false shortly after the other session
    /// disconnects, is connected elsewhere, or is dropped.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Poll for the next event, for a server that polls several sessions in one `select`.
    /// `Ready(None)` once the driver has stopped. Registers `cx`'s waker when pending.
    pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<MediaEvent>> {
        let poll = self.events.poll_recv(cx);
        if let Poll::Ready(Some(MediaEvent::Dtmf { .. })) = poll {
            self.shared.pending_dtmf.fetch_sub(1, Ordering::Relaxed);
        }
        poll
    }

    /// The next event; `None` once the driver has stopped. Cancel-safe: dropping the future
    /// loses no event.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Packet, byte, loss and timing counters.
    pub fn stats(&self) -> MediaStats {
        self.shared.counters.snapshot()
    }
}
