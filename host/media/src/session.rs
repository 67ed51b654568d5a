//! The sans-IO media session core: everything one call's RTP stream does, without sockets or
//! clocks. The driver ([`crate::driver`]) calls [`SessionCore::on_frame`] once per 20 ms
//! deadline, [`SessionCore::on_datagram_at`] / [`SessionCore::on_rtcp_at`] per received
//! datagram (with its arrival time) and [`SessionCore::poll_rtcp`] after each frame, sends what
//! the core returns, and forwards [`SessionCore::poll_event`] results to the call.
//!
//! Receiving (`session/receive.rs`): sequence, loss and jitter accounting ([`reception`]),
//! RFC 4733 digits on arrival, and audio through the adaptive [`JitterBuffer`], released one
//! frame per tick of our own clock. RTCP (`session/control.rs`): SR/RR + SDES reports, BYE,
//! and the peer's reports about us (loss, jitter, round trip) in [`MediaStats::remote`].
//!
//! One SSRC per session; sequence numbers and timestamps are continuous across prompts,
//! silence and DTMF (RFC 3550 §5.1, RFC 4733 §2.5.1.2): the timestamp advances one frame of
//! the codec's RTP clock (160, or 960 for Opus) whether or not a packet goes out, the
//! sequence number advances per packet sent. Telephone-event runs on the codec's clock too
//! (RFC 4733 §2.1), so the sender's 8 kHz durations are scaled to it.
//!
//! Codecs: the session owns one stateful [`Encoder`] and [`Decoder`] for the negotiated codec
//! (replaced when a re-INVITE changes it); the frames they see are always 8 kHz.
//!
//! Bridging ([`bridge`]): with decoding on, received audio comes out as 20 ms frames in playout
//! order ([`SessionCore::poll_decoded_frame`]); while connected, the other leg's frames
//! ([`SessionCore::push_bridged_frame`]) replace silence in our own stream, and a prompt played
//! meanwhile is *mixed* over them. Digits can be forwarded into our stream as RFC 4733 events
//! ([`SessionCore::forward_digit`]).
//! Depends on [`crate::rtp`], [`crate::rtcp`], [`crate::jitter`], [`crate::telephone_event`],
//! [`crate::sdp`], [`crate::prompt`].

pub mod bridge;
mod control;
pub mod latch;
mod receive;
pub mod reception;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::codec::{Codec, Decoder, Encoder, MAX_PAYLOAD_LENGTH};
use crate::inband_dtmf::{self, InbandDtmfDetector};
use crate::jitter::JitterBuffer;
use crate::prompt::Prompt;
use crate::recorder::{
    RecordingCause, RecordingJob, RecordingOutput, RecordingSlot, RecordingSummary,
};
use crate::rtp::{RTP_HEADER_LENGTH, RtpHeader};
use crate::sdp::Negotiated;
use crate::source::AudioSource;
use crate::telephone_event::sender::{DtmfItem, JobFinished};
use crate::telephone_event::{
    EVENT_BLOCK_LENGTH, SenderFrame, TelephoneEventReceiver, TelephoneEventSender, digit_to_event,
    event_to_digit,
};
use bridge::{AudioFrame, BridgeBuffer, DecodedAudio};
use control::RtcpState;
use latch::RemoteAddressLatch;
use reception::ReceptionStatistics;

/// Samples per 20 ms frame at 8 kHz (and G.711/G.722 timestamp units per frame).
pub const FRAME_SAMPLES: usize = 160;

/// RFC 3389 comfort noise: accepted from the peer (it is audio silence), never sent.
const COMFORT_NOISE_PAYLOAD_TYPE: u8 = 13;

/// The frame clock's period.
const FRAME_DURATION: Duration = Duration::from_millis(20);

/// The DTMF job id of digits forwarded from the other leg: their completion is not reported
/// (the handle numbers its own jobs from 1).
pub const FORWARDED_DTMF_ID: u64 = 0;

/// Something the call should hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 digit arrived (reported once, as the event starts).
    Dtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
    },
    /// A prompt ended: `completed` is false if it was replaced or stopped.
    PlayFinished {
        /// The id `play` returned.
        id: u64,
        /// True if every sample was sent.
        completed: bool,
    },
    /// A DTMF string ended: `completed` is false if `stop_dtmf` abandoned it.
    DtmfFinished {
        /// The id `send_dtmf` returned.
        id: u64,
        /// True if every digit was sent.
        completed: bool,
    },
    /// A recording ended and its file is complete on disk.
    RecordingFinished {
        /// The id `start_recording` returned.
        id: u64,
        /// Why it ended and what it holds.
        summary: RecordingSummary,
    },
}

/// Live counters, shared between the driver task (writer) and `MediaSession::stats` (reader).
#[derive(Debug, Default)]
pub struct MediaCounters {
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    audio_packets_sent: AtomicU64,
    telephone_event_packets_sent: AtomicU64,
    packets_received: AtomicU64,
    bytes_received: AtomicU64,
    invalid_packets_received: AtomicU64,
    telephone_event_packets_received: AtomicU64,
    packets_lost: AtomicU64,
    packets_out_of_order: AtomicU64,
    frames_skipped: AtomicU64,
    send_errors: AtomicU64,
    dtmf_digits_received: AtomicU64,
    dtmf_events_dropped: AtomicU64,
    jitter_micros: AtomicU64,
    rtcp_packets_sent: AtomicU64,
    rtcp_packets_received: AtomicU64,
    late_packets_dropped: AtomicU64,
    frames_concealed: AtomicU64,
    playout_delay_micros: AtomicU64,
    /// The peer's latest report about our stream (written at most once per RTCP packet).
    remote: Mutex<Option<RemoteReport>>,
}

/// What the peer's latest RTCP report block about our stream says (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteReport {
    /// Cumulative packets of ours the peer lost (negative with duplicates).
    pub packets_lost: i64,
    /// Fraction lost in the peer's last interval, per 256.
    pub fraction_lost: u8,
    /// The peer's interarrival jitter for our stream.
    pub jitter_micros: u64,
    /// Round-trip time from LSR/DLSR, once the peer has reported on one of our SRs.
    pub round_trip_micros: Option<u64>,
}

/// A snapshot of a session's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets handed to the socket.
    pub packets_sent: u64,
    /// Bytes of those packets (RTP header included).
    pub bytes_sent: u64,
    /// Of `packets_sent`, audio (prompt or silence) packets.
    pub audio_packets_sent: u64,
    /// Of `packets_sent`, telephone-event packets.
    pub telephone_event_packets_sent: u64,
    /// Valid RTP packets received with a negotiated payload type.
    pub packets_received: u64,
    /// Bytes of those packets.
    pub bytes_received: u64,
    /// Datagrams that were not RTP, or had a payload type we did not negotiate.
    pub invalid_packets_received: u64,
    /// Of `packets_received`, telephone-event packets.
    pub telephone_event_packets_received: u64,
    /// Received packets missing from the sequence (RFC 3550 A.3 estimate).
    pub packets_lost: u64,
    /// Received packets that arrived late or duplicated.
    pub packets_out_of_order: u64,
    /// 20 ms frames the driver skipped because it was scheduled too late to send them.
    pub frames_skipped: u64,
    /// Sends the socket refused (buffer full, unreachable, …).
    pub send_errors: u64,
    /// Digits reported by the RFC 4733 receiver.
    pub dtmf_digits_received: u64,
    /// Digits dropped because the call had too many unread events.
    pub dtmf_events_dropped: u64,
    /// Interarrival jitter of the received stream (RFC 3550 A.8).
    pub jitter_micros: u64,
    /// RTCP compound packets sent.
    pub rtcp_packets_sent: u64,
    /// Valid RTCP compound packets received.
    pub rtcp_packets_received: u64,
    /// The peer's view of our stream, from its latest report block about us.
    pub remote: Option<RemoteReport>,
    /// Audio packets the jitter buffer dropped because they arrived after their playout time.
    pub late_packets_dropped: u64,
    /// 20 ms frames of received audio that contained concealment of missing packets.
    pub frames_concealed: u64,
    /// The jitter buffer's current target playout delay.
    pub playout_delay_micros: u64,
}

impl MediaCounters {
    /// Read every counter.
    pub fn snapshot(&self) -> MediaStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MediaStats {
            packets_sent: read(&self.packets_sent),
            bytes_sent: read(&self.bytes_sent),
            audio_packets_sent: read(&self.audio_packets_sent),
            telephone_event_packets_sent: read(&self.telephone_event_packets_sent),
            packets_received: read(&self.packets_received),
            bytes_received: read(&self.bytes_received),
            invalid_packets_received: read(&self.invalid_packets_received),
            telephone_event_packets_received: read(&self.telephone_event_packets_received),
            packets_lost: read(&self.packets_lost),
            packets_out_of_order: read(&self.packets_out_of_order),
            frames_skipped: read(&self.frames_skipped),
            send_errors: read(&self.send_errors),
            dtmf_digits_received: read(&self.dtmf_digits_received),
            dtmf_events_dropped: read(&self.dtmf_events_dropped),
            jitter_micros: read(&self.jitter_micros),
            rtcp_packets_sent: read(&self.rtcp_packets_sent),
            rtcp_packets_received: read(&self.rtcp_packets_received),
            remote: *self.remote(),
            late_packets_dropped: read(&self.late_packets_dropped),
            frames_concealed: read(&self.frames_concealed),
            playout_delay_micros: read(&self.playout_delay_micros),
        }
    }

    fn remote(&self) -> MutexGuard<'_, Option<RemoteReport>> {
        // Only a plain value is written under the lock: a poisoned one is still consistent.
        self.remote
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn count_send_error(&self) {
        bump(&self.send_errors, 1);
    }

    pub(crate) fn count_dropped_dtmf(&self) {
        bump(&self.dtmf_events_dropped, 1);
    }
}

fn bump(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

/// The RTP stream's random starting point (RFC 3550 §5.1: random initial values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOrigin {
    /// Our SSRC.
    pub ssrc: u32,
    /// First sequence number.
    pub sequence_number: u16,
    /// First timestamp.
    pub timestamp: u32,
}

impl StreamOrigin {
    /// Fresh random values.
    pub fn random() -> Self {
        Self {
            ssrc: rand::random(),
            sequence_number: rand::random(),
            timestamp: rand::random(),
        }
    }
}

#[derive(Debug)]
struct Playing {
    id: u64,
    source: AudioSource,
}

/// One call's media state. Not `Sync`-shared: owned by the driver task.
#[derive(Debug)]
pub struct SessionCore {
    ssrc: u32,
    sequence_number: u16,
    timestamp: u32,
    negotiated: Negotiated,
    latch: RemoteAddressLatch,
    sending: bool,
    talkspurt_pending: bool,
    playing: Option<Playing>,
    dtmf_sender: TelephoneEventSender,
    dtmf_receiver: TelephoneEventReceiver,
    reception: ReceptionStatistics,
    counters: Arc<MediaCounters>,
    events: VecDeque<MediaEvent>,
    decoded: Option<DecodedAudio>,
    bridge: Option<BridgeBuffer>,
    packet: Box<[u8; RTP_HEADER_LENGTH + MAX_PAYLOAD_LENGTH]>,
    /// The negotiated codec's encoder and decoder (stateful for G.722 and Opus).
    encoder: Encoder,
    decoder: Decoder,
    /// Reused buffer for one received payload's decoded samples.
    received_audio: Vec<i16>,
    /// Digits keyed as tones in the received audio.
    inband: InbandDtmfDetector,
    /// The last digit reported and how, so one key press sent both in band
    /// and as RFC 4733 events is reported once.
    last_digit: Option<ReportedDigit>,
    /// Received audio samples so far: the clock `last_digit` is timed by.
    received_samples: u64,
    /// Running recordings (at most one per slot).
    recordings: Vec<(RecordingSlot, RecordingJob)>,
    /// Received audio waiting for playout on our frame clock (once sending has started).
    jitter: JitterBuffer,
    /// Frames the clock has advanced: the time base `on_datagram` uses.
    frames_advanced: u64,
    /// RTCP reporting state.
    rtcp: RtcpState,
    /// Encoded audio for the recording writers.
    recording_output: VecDeque<RecordingOutput>,
}

/// How a digit was heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DigitSource {
    TelephoneEvent,
    InBand,
}

/// A digit reported, for de-duplicating the two ways of sending it.
#[derive(Clone, Copy, Debug)]
struct ReportedDigit {
    digit: char,
    source: DigitSource,
    at: u64,
}

/// A digit heard the other way within this many samples (250 ms) of the
/// same digit is the same key press.
const SAME_KEY_PRESS: u64 = 2000;

/// Report `digit` heard from `source` unless it repeats the last digit
/// heard the other way just now; returns whether it was reported.
fn report_digit(
    last: &mut Option<ReportedDigit>,
    events: &mut VecDeque<MediaEvent>,
    digit: char,
    source: DigitSource,
    at: u64,
) -> bool {
    if let Some(previous) = *last
        && previous.digit == digit
        && previous.source != source
        && at.saturating_sub(previous.at) <= SAME_KEY_PRESS
    {
        tracing::trace!(%digit, ?source, "digit already reported the other way");
        return false;
    }
    *last = Some(ReportedDigit { digit, source, at });
    events.push_back(MediaEvent::Dtmf { digit });
    true
}

impl SessionCore {
    /// A session for a negotiated stream; nothing is sent until [`Self::start_sending`].
    pub fn new(
        negotiated: Negotiated,
        symmetric_rtp: bool,
        origin: StreamOrigin,
        counters: Arc<MediaCounters>,
    ) -> Self {
        let codec = negotiated.codec;
        Self {
            ssrc: origin.ssrc,
            sequence_number: origin.sequence_number,
            timestamp: origin.timestamp,
            latch: RemoteAddressLatch::new(negotiated.remote, symmetric_rtp),
            encoder: Encoder::new(negotiated.codec),
            decoder: Decoder::new(negotiated.codec),
            received_audio: Vec::with_capacity(8 * FRAME_SAMPLES),
            negotiated,
            sending: false,
            talkspurt_pending: true,
            playing: None,
            dtmf_sender: TelephoneEventSender::new(),
            dtmf_receiver: TelephoneEventReceiver::new(),
            reception: ReceptionStatistics::default(),
            counters,
            events: VecDeque::new(),
            decoded: None,
            bridge: None,
            packet: Box::new([0; RTP_HEADER_LENGTH + MAX_PAYLOAD_LENGTH]),
            inband: InbandDtmfDetector::new(),
            last_digit: None,
            received_samples: 0,
            recordings: Vec::new(),
            jitter: JitterBuffer::new(codec),
            frames_advanced: 0,
            rtcp: RtcpState::new(),
            recording_output: VecDeque::new(),
        }
    }

    /// The negotiated codec.
    pub fn codec(&self) -> Codec {
        self.negotiated.codec
    }

    /// Where RTP goes now (SDP address, or the latched source).
    pub fn destination(&self) -> SocketAddr {
        self.latch.destination()
    }

    /// True once [`Self::start_sending`] was called: the driver must then call
    /// [`Self::on_frame`] every 20 ms.
    pub fn is_sending(&self) -> bool {
        self.sending
    }

    /// Begin the 20 ms frame clock (silence when nothing plays). Idempotent.
    pub fn start_sending(&mut self) {
        self.sending = true;
    }

    /// Play `prompt` from its start, replacing (and reporting as incomplete) the current one.
    /// Before [`Self::start_sending`] the prompt waits at its first sample.
    pub fn play(&mut self, id: u64, prompt: Arc<Prompt>) {
        self.play_source(id, AudioSource::prompt(prompt));
    }

    /// Play any [`AudioSource`] (a prompt, a repeating tone) like [`Self::play`]: it
    /// replaces the current one and reports `PlayFinished` when it runs out or is stopped.
    pub fn play_source(&mut self, id: u64, source: AudioSource) {
        self.stop_playing();
        self.playing = Some(Playing { id, source });
    }

    /// Stop the current prompt, if any (`PlayFinished { completed: false }`).
    pub fn stop_playing(&mut self) {
        if let Some(playing) = self.playing.take() {
            self.events.push_back(MediaEvent::PlayFinished {
                id: playing.id,
                completed: false,
            });
        }
    }

    /// Queue DTMF behind earlier strings. The caller has checked telephone-event was negotiated.
    pub fn send_dtmf(&mut self, id: u64, items: Vec<DtmfItem>) {
        self.dtmf_sender.enqueue(id, items);
    }

    /// Abandon queued DTMF; a digit on the wire is ended cleanly.
    pub fn stop_dtmf(&mut self) {
        let events = &mut self.events;
        self.dtmf_sender
            .stop(&mut |job| report_dtmf_job(events, job));
    }

    /// True if the peer negotiated telephone-event (digits can be sent or forwarded).
    pub fn telephone_event_negotiated(&self) -> bool {
        self.negotiated.telephone_event_payload_type.is_some()
    }

    /// Send a digit received on the other leg as an RFC 4733 event (standard 100 ms length),
    /// queued behind any DTMF in progress. Ignored if telephone-event was not negotiated or
    /// `digit` is not a DTMF character. No `DtmfFinished` is reported for it.
    pub fn forward_digit(&mut self, digit: char) {
        if let (true, Some(event)) = (self.telephone_event_negotiated(), digit_to_event(digit)) {
            self.dtmf_sender
                .enqueue(FORWARDED_DTMF_ID, vec![DtmfItem::Digit(event)]);
        }
    }

    /// Turn the decoded-frame output on or off (off drops frames not yet taken).
    pub fn set_decoding(&mut self, enabled: bool) {
        match (enabled, self.decoded.is_some()) {
            (true, false) => self.decoded = Some(DecodedAudio::new()),
            (false, true) => self.decoded = None,
            _ => {}
        }
    }

    /// The next 20 ms of received audio, decoded to linear samples (only with decoding on):
    /// once sending has started, the frames the jitter buffer released on the frame clock;
    /// before, packets decoded on arrival.
    pub fn poll_decoded_frame(&mut self) -> Option<AudioFrame> {
        self.decoded.as_mut()?.pop_frame()
    }

    /// Start playing frames from another leg ([`Self::push_bridged_frame`]) in place of
    /// silence, and decode received audio for the other leg. Restarts the playout buffer.
    pub fn connect_bridge(&mut self) {
        self.bridge = Some(BridgeBuffer::new());
        self.set_decoding(true);
    }

    /// Back to our own output (silence or prompt); decoding stops.
    pub fn disconnect_bridge(&mut self) {
        self.bridge = None;
        self.set_decoding(false);
    }

    /// True between [`Self::connect_bridge`] and [`Self::disconnect_bridge`].
    pub fn is_bridged(&self) -> bool {
        self.bridge.is_some()
    }

    /// A frame from the other leg, for playout in our stream (ignored when not bridged).
    pub fn push_bridged_frame(&mut self, frame: AudioFrame) {
        if let Some(bridge) = &mut self.bridge {
            bridge.push(frame);
        }
    }

    /// Apply a renegotiation (re-INVITE): codec, payload types, direction and address may change;
    /// SSRC, sequence and timestamp continue.
    pub fn update(&mut self, negotiated: Negotiated) {
        self.latch.set_signalled(negotiated.remote);
        if negotiated.telephone_event_payload_type.is_none() {
            self.stop_dtmf();
        }
        if !negotiated.may_send() {
            self.talkspurt_pending = true;
        }
        if negotiated.codec != self.negotiated.codec {
            self.encoder = Encoder::new(negotiated.codec);
            self.decoder = Decoder::new(negotiated.codec);
            self.jitter.reset(negotiated.codec);
        }
        self.negotiated = negotiated;
    }

    /// Start recording into `slot`; a recording already running there ends ABORTED. Recording
    /// follows the frame clock: nothing is recorded before [`Self::start_sending`].
    pub fn start_recording(&mut self, slot: RecordingSlot, job: RecordingJob) {
        self.stop_recording(slot, RecordingCause::Aborted);
        self.recordings.push((slot, job));
    }

    /// End the recording in `slot`, if one runs, with `cause`.
    pub fn stop_recording(&mut self, slot: RecordingSlot, cause: RecordingCause) {
        if let Some(index) = self.recordings.iter().position(|(s, _)| *s == slot) {
            let (_, mut job) = self.recordings.remove(index);
            self.recording_output.push_back(job.finish(cause));
        }
    }

    /// True while `slot` records.
    pub fn is_recording(&self, slot: RecordingSlot) -> bool {
        self.recordings.iter().any(|(s, _)| *s == slot)
    }

    /// The next chunk of encoded audio (or a recording's end) for the writers.
    pub fn poll_recording_output(&mut self) -> Option<RecordingOutput> {
        self.recording_output.pop_front()
    }

    /// A digit arrived: recordings with barge-in end.
    fn end_recordings_on_digit(&mut self) {
        let barge_in: Vec<RecordingSlot> = self
            .recordings
            .iter()
            .filter(|(_, job)| job.ends_on_digit())
            .map(|(slot, _)| *slot)
            .collect();
        for slot in barge_in {
            self.stop_recording(slot, RecordingCause::BargeIn);
        }
    }

    /// Give this frame to every recording (beeps are mixed into `sent` first); `received` is
    /// the frame the jitter buffer released for this tick.
    fn record_frame(&mut self, sent: &mut [i16; FRAME_SAMPLES], received: &AudioFrame) {
        let mut beeping = Vec::new();
        for (slot, job) in &mut self.recordings {
            if job.beep_into(sent) {
                beeping.push(*slot);
            }
        }
        let mut ended = Vec::new();
        for (slot, job) in &mut self.recordings {
            if beeping.contains(slot) {
                continue;
            }
            if let Some(output) = job.on_frame(received, sent) {
                if output.end.is_some() {
                    ended.push(*slot);
                }
                self.recording_output.push_back(output);
            }
        }
        self.recordings.retain(|(slot, _)| !ended.contains(slot));
    }

    /// The next event for the call, if any.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Advance the clock by frames the driver could not send in time: prompt and DTMF timing
    /// move on (nothing is sent), so the stream stays in step with real time.
    pub fn skip_frames(&mut self, frames: u64) {
        for _ in 0..frames {
            self.advance_frame();
        }
        bump(&self.counters.frames_skipped, frames);
    }

    /// Produce this 20 ms frame. Returns the packet and its destination, or `None` when nothing
    /// may be sent (not started, on hold, remote address unspecified).
    pub fn on_frame(&mut self) -> Option<(SocketAddr, &[u8])> {
        if !self.sending {
            return None;
        }
        let (frame_timestamp, samples, action) = self.advance_frame();
        if !self.negotiated.may_send() {
            return None;
        }
        let mut samples = samples;
        let telephone_event = match action {
            SenderFrame::Event {
                marker,
                timestamp,
                report,
            } => match self.negotiated.telephone_event_payload_type {
                Some(payload_type) => Some((payload_type, marker, timestamp, report)),
                None => {
                    // No telephone-event: the digit goes as tones in the audio
                    // (silence while the sender repeats its end packets).
                    let digit = event_to_digit(report.event).filter(|_| !report.end);
                    let elapsed = frame_timestamp.wrapping_sub(timestamp) / self.clock_factor();
                    inband_dtmf::synthesize(digit.unwrap_or(' '), elapsed, &mut samples);
                    None
                }
            },
            SenderFrame::Audio => None,
        };
        let clock_factor = self.clock_factor();
        let payload = &mut self.packet[RTP_HEADER_LENGTH..];
        let (header, payload_length) = match telephone_event {
            Some((payload_type, marker, timestamp, mut report)) => {
                // The sender counts 8 kHz samples; the event clock is the codec's.
                report.duration = report
                    .duration
                    .saturating_mul(u16::try_from(clock_factor).unwrap_or(u16::MAX));
                payload[..EVENT_BLOCK_LENGTH].copy_from_slice(&report.to_bytes());
                bump(&self.counters.telephone_event_packets_sent, 1);
                (
                    self.header(marker, payload_type, timestamp),
                    EVENT_BLOCK_LENGTH,
                )
            }
            None => {
                let length = match self.encoder.encode(&samples, payload) {
                    Ok(length) => length,
                    Err(error) => {
                        tracing::warn!(%error, codec = ?self.negotiated.codec, "frame not encoded");
                        return None;
                    }
                };
                bump(&self.counters.audio_packets_sent, 1);
                let marker = std::mem::take(&mut self.talkspurt_pending);
                (
                    self.header(marker, self.negotiated.codec_payload_type, frame_timestamp),
                    length,
                )
            }
        };
        self.packet[..RTP_HEADER_LENGTH].copy_from_slice(&header.to_bytes());
        let length = RTP_HEADER_LENGTH + payload_length;
        self.sequence_number = self.sequence_number.wrapping_add(1);
        bump(&self.counters.packets_sent, 1);
        bump(&self.counters.bytes_sent, length as u64);
        Some((self.latch.destination(), &self.packet[..length]))
    }

    /// RTP clock ticks per 8 kHz sample: 1, or 6 for Opus.
    fn clock_factor(&self) -> u32 {
        self.negotiated.codec.clock_rate() / 8000
    }

    fn header(&self, marker: bool, payload_type: u8, timestamp: u32) -> RtpHeader {
        RtpHeader {
            marker,
            payload_type,
            sequence_number: self.sequence_number,
            timestamp,
            ssrc: self.ssrc,
        }
    }

    /// Move prompt, DTMF and timestamp on by one frame; returns the frame's start timestamp,
    /// its audio and what the DTMF sender wants in it.
    fn advance_frame(&mut self) -> (u32, [i16; FRAME_SAMPLES], SenderFrame) {
        self.frames_advanced += 1;
        let received = self.release_received_frame();
        let frame_timestamp = self.timestamp;
        self.timestamp = self
            .timestamp
            .wrapping_add(self.negotiated.codec.timestamp_increment());
        let mut samples = self
            .bridge
            .as_mut()
            .and_then(BridgeBuffer::next_frame)
            .unwrap_or([0; FRAME_SAMPLES]);
        if let Some(playing) = &mut self.playing {
            let mut played = [0; FRAME_SAMPLES];
            let count = playing.source.read(&mut played);
            bridge::mix_into(&mut samples, &played[..count]);
            if playing.source.is_finished() {
                self.events.push_back(MediaEvent::PlayFinished {
                    id: playing.id,
                    completed: true,
                });
                self.playing = None;
            }
        }
        if !self.recordings.is_empty() {
            self.record_frame(&mut samples, &received.unwrap_or([0; FRAME_SAMPLES]));
        }
        let events = &mut self.events;
        let action = self
            .dtmf_sender
            .on_frame(frame_timestamp, &mut |job| report_dtmf_job(events, job));
        (frame_timestamp, samples, action)
    }
}

fn report_dtmf_job(events: &mut VecDeque<MediaEvent>, job: JobFinished) {
    if job.id != FORWARDED_DTMF_ID {
        events.push_back(MediaEvent::DtmfFinished {
            id: job.id,
            completed: job.completed,
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod codec_tests;
