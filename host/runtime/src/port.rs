//! The call port: the only view the runtime has of a call.
//!
//! The runtime knows no SIP or RTP type. The server's per-call task owns the SIP
//! dialog and the media session and serves the port: it receives [`CallCommand`]s
//! (each carrying a oneshot reply channel) and publishes a [`CallSnapshot`] through
//! a `watch` channel that the never-blocking WIT functions (`state`, `cause`, …)
//! read. The call task updates the snapshot *before* it replies to a command, so a
//! guest that reads `state()` right after `answer()` returned sees ANSWERED.
//!
//! Everything here is plain data mirroring `wit/callhost.wit`.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Call state (WIT `call-state`, the UAS `channel.State`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    Waiting,
    CallIncoming,
    RingIncoming,
    Answering,
    Answered,
    CallOutgoing,
    RingOutgoing,
    Holding,
    OnHold,
    Transferring,
    Transferred,
    Reconnecting,
    Error,
    Idle,
}

/// Call cause (WIT `call-cause`, the UAS `channel.Cause`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallCause {
    Timeout,
    Error,
    Normal,
    Busy,
    NoAnswer,
    Unobtainable,
    Changed,
    OutOfOrder,
    Barred,
    Rejected,
    NoChannels,
    Congestion,
    Failed,
    Other,
}

/// File player state (WIT `file-player.player-state`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlayerState {
    #[default]
    Idle,
    Playing,
}

/// Why a play job ended (WIT `file-player.player-cause`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlayerCause {
    #[default]
    None,
    Normal,
    BargeIn,
    Aborted,
    Hangup,
    Error,
}

/// Why get-digits ended (WIT `dtmf-detector.detector-cause`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectorCause {
    #[default]
    None,
    Count,
    End,
    Timeout,
    Hangup,
    Error,
}

/// Why a DTMF play job ended (WIT `dtmf-player.dtmf-player-cause`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfPlayerCause {
    #[default]
    None,
    Normal,
    Aborted,
    Hangup,
    Error,
}

/// The UAS `Hangup` / `Error` exceptions (WIT `call-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call is idle.
    #[error("hangup: {0}")]
    Hangup(String),
    /// Anything else the app should hear about.
    #[error("error: {0}")]
    Error(String),
}

/// Facts about the call fixed when it arrived (WIT `channel.call-details`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallDetails {
    pub sip_call_id: String,
    pub call_from: String,
    pub call_to: String,
    pub request_uri: String,
    pub service: String,
    pub remote_address: String,
}

/// How to place a call (WIT `channel.call-options`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOptions {
    /// The From identity; none: the host's default.
    pub from: Option<String>,
    /// How long to wait for an answer.
    pub timeout: Duration,
    /// Codec names to offer, best first; empty: the host's list.
    pub codecs: Vec<String>,
    /// Headers to send with the INVITE (the channel's header fields to send).
    pub headers: Vec<HeaderField>,
}

/// The answer timeout when the app gives none (the UAS default).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A SIP header with all its values (WIT `sip.header-field`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderField {
    /// Header name.
    pub name: String,
    /// One entry per header line.
    pub values: Vec<String>,
}

/// A SIP INFO or MESSAGE body (WIT `sip.sip-body`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipBody {
    /// Body text.
    pub body: String,
    /// Content-Type.
    pub content_type: String,
}

/// Whether an INFO or MESSAGE is being sent (WIT `sip.sip-state`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SipState {
    #[default]
    Idle,
    Busy,
    Error,
}

/// What to send in an INFO or MESSAGE.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipSend {
    /// An INFO; no content type: the host picks one from the body.
    Info {
        body: String,
        content_type: Option<String>,
    },
    /// An INFO carrying one DTMF digit (application/dtmf-relay).
    InfoDtmf { digit: char, duration: Duration },
    /// A MESSAGE; no content type: the host picks one from the body.
    Message {
        body: String,
        content_type: Option<String>,
    },
}

/// get-digits parameters (WIT `dtmf-detector.get-digits-options`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetDigitsOptions {
    /// Stop after this many digits.
    pub count: Option<u32>,
    /// Any of these digits ends collection (and is included in the result).
    pub end: String,
    /// Limit on the wait for the first digit.
    pub predigits_timeout: Option<Duration>,
    /// Limit on the wait between digits.
    pub interdigit_timeout: Option<Duration>,
    /// Overall limit.
    pub overall_timeout: Option<Duration>,
    /// Discard buffered digits first.
    pub clear: bool,
}

/// Which of a channel's two recorders (WIT `file-recorder`, `whole-call-recorder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorder {
    /// The far end's audio, ended by silence, size, time or a digit.
    File,
    /// Both directions of the call.
    WholeCall,
}

/// Recorder state (WIT `file-recorder.recorder-state`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecorderState {
    #[default]
    Idle,
    Recording,
}

/// Why a recording ended (WIT `file-recorder.recorder-cause`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecorderCause {
    #[default]
    None,
    Silence,
    Size,
    Timeout,
    BargeIn,
    Aborted,
    Hangup,
    Error,
}

/// How recorded samples are stored (WIT `file-recorder.record-format`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordFormat {
    #[default]
    Pcm16,
    Mulaw,
    Alaw,
}

/// Which audio a recording takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordLayout {
    /// The far end only (file recorder).
    #[default]
    Received,
    /// Both directions as two channels.
    Stereo,
    /// Both directions mixed.
    Mixed,
}

/// A recording job's parameters, defaults already applied; `None` is no limit.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordOptions {
    pub max_duration: Option<Duration>,
    pub max_silence: Option<Duration>,
    pub initial_silence: Option<Duration>,
    pub max_bytes: Option<u64>,
    pub barge_in: bool,
    pub beep: bool,
    pub format: RecordFormat,
    pub layout: RecordLayout,
    /// Encrypt the file with this key.
    pub cipher: Option<CipherParameters>,
}

/// How a finished recording turned out (WIT `file-recorder.recording-summary`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingSummary {
    pub cause: RecorderCause,
    pub duration: Duration,
    pub data_bytes: u64,
    pub audio_detected: bool,
}

/// One recorder as the never-blocking WIT functions see it.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStatus {
    pub state: RecorderState,
    pub cause: RecorderCause,
    /// The last finished recording.
    pub last: Option<RecordingSummary>,
}

/// One sine of a tone segment (WIT `tone-player.tone-component`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneComponent {
    /// Hz; 0 is silence.
    pub frequency: u32,
    /// dBm0.
    pub level: f32,
}

/// How a segment's components combine (WIT `tone-player.tone-mix`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneMix {
    Summation,
    Modulation,
}

/// One step of a tone cadence (WIT `tone-player.tone-segment`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSegment {
    pub first: ToneComponent,
    pub second: ToneComponent,
    pub milliseconds: u32,
    pub mix: ToneMix,
}

/// A tone to play: one the host predefines, by name, or the app's own.
#[derive(Debug, Clone, PartialEq)]
pub enum Tone {
    /// "RINGBACK_EU", "RINGBACK_UK" or "RINGBACK".
    Predefined(String),
    /// Segments from `create-tone` (checked by the call task, which owns the synthesis rules).
    Custom {
        /// The tone's name, for logs.
        name: String,
        /// Its segments.
        segments: Vec<ToneSegment>,
        /// Whether the cadence repeats.
        repeat: bool,
    },
}

/// The names of the tones the host predefines (WIT `tone-player`).
pub const PREDEFINED_TONES: [&str; 3] = ["RINGBACK_EU", "RINGBACK_UK", "RINGBACK"];
/// An AES-CBC key and vector as the app gave them (WIT `types.aes-cbc-cipher`):
/// hex strings the server parses. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct CipherParameters {
    /// Hex key: 32, 48 or 64 digits.
    pub key: String,
    /// Hex initialisation vector: 32 digits.
    pub vector: String,
}

impl std::fmt::Debug for CipherParameters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CipherParameters { <redacted> }")
    }
}

/// A request on the app's media directory (WIT `files`). Names are as the app
/// wrote them; the server refuses any that escape the directory.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRequest {
    Exists {
        name: String,
    },
    Delete {
        name: String,
    },
    Rename {
        from: String,
        to: String,
    },
    List {
        directory: Option<String>,
    },
    Validate {
        name: String,
        cipher: Option<CipherParameters>,
    },
}

/// The outcome of a `validate` request (WIT `files.validate-result`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateResult {
    Validated,
    NotFound,
    NotAudio,
    DecryptFailed,
    UnsupportedFormat,
}

/// The answer to a [`FileRequest`], one variant per request kind.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileResponse {
    /// For `Exists`.
    Exists(bool),
    /// For `Delete` and `Rename`.
    Done,
    /// For `List`: sorted names relative to the media directory.
    List(Vec<String>),
    /// For `Validate`.
    Validate(ValidateResult),
}

/// The far end's latest RTCP report about our stream (WIT `channel.remote-report`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteReport {
    pub packets_lost: i64,
    /// 0.0–1.0 since its previous report.
    pub fraction_lost: f32,
    pub jitter: Duration,
    pub round_trip: Option<Duration>,
}

/// A leg's audio figures (WIT `channel.media-statistics`).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStatistics {
    pub codec: String,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub jitter: Duration,
    pub late_packets: u64,
    pub concealed_frames: u64,
    pub playout_delay: Duration,
    pub rtcp_packets_sent: u64,
    pub rtcp_packets_received: u64,
    pub remote: Option<RemoteReport>,
}

/// Everything the never-blocking WIT functions read.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSnapshot {
    pub state: CallState,
    pub cause: Option<CallCause>,
    pub raw_cause: Option<u16>,
    pub player_state: PlayerState,
    pub player_cause: PlayerCause,
    pub detector_cause: DetectorCause,
    pub dtmf_player_cause: DtmfPlayerCause,
    pub sip_state: SipState,
    pub file_recorder: RecorderStatus,
    pub whole_call_recorder: RecorderStatus,
    /// Facts about the call; for an outbound leg, filled in when it is placed.
    pub details: Arc<CallDetails>,
}

impl CallSnapshot {
    /// The status of one recorder.
    pub fn recorder(&self, recorder: Recorder) -> &RecorderStatus {
        match recorder {
            Recorder::File => &self.file_recorder,
            Recorder::WholeCall => &self.whole_call_recorder,
        }
    }

    /// The status of one recorder, to change.
    pub fn recorder_mut(&mut self, recorder: Recorder) -> &mut RecorderStatus {
        match recorder {
            Recorder::File => &mut self.file_recorder,
            Recorder::WholeCall => &mut self.whole_call_recorder,
        }
    }

    /// The snapshot of a call that has just arrived.
    pub fn incoming(details: CallDetails) -> Self {
        CallSnapshot {
            state: CallState::CallIncoming,
            ..CallSnapshot::idle()
        }
        .with_details(details)
    }

    /// The snapshot of a channel with no call yet (an outbound app's channel, an
    /// extra channel): IDLE with no cause.
    pub fn idle() -> Self {
        CallSnapshot {
            state: CallState::Idle,
            cause: None,
            raw_cause: None,
            player_state: PlayerState::Idle,
            player_cause: PlayerCause::None,
            detector_cause: DetectorCause::None,
            dtmf_player_cause: DtmfPlayerCause::None,
            sip_state: SipState::Idle,
            file_recorder: RecorderStatus::default(),
            whole_call_recorder: RecorderStatus::default(),
            details: Arc::new(CallDetails::default()),
        }
    }

    /// The same snapshot with other details.
    pub fn with_details(mut self, details: CallDetails) -> Self {
        self.details = Arc::new(details);
        self
    }
}

/// The reply half of a command.
pub type Reply<T> = oneshot::Sender<Result<T, CallError>>;

/// A request from the app to the call task. Blocking WIT functions send one and
/// await the reply; a reply channel dropped unanswered reads as `Error`.
#[allow(missing_docs)]
#[derive(Debug)]
pub enum CallCommand {
    /// The leg's audio figures (live, or the final ones after the call ended).
    MediaStatistics {
        reply: Reply<Option<MediaStatistics>>,
    },
    Ring {
        seconds: u32,
        reply: Reply<()>,
    },
    Answer {
        reply: Reply<()>,
    },
    Reject {
        cause: CallCause,
        reply: Reply<()>,
    },
    HangUp {
        reply: Reply<CallState>,
    },
    WaitForIdle {
        timeout: Option<Duration>,
        reply: Reply<CallState>,
    },
    /// Start a play job; replies once the file is loaded and playing (or failed to).
    PlayStart {
        filename: String,
        barge_in: bool,
        /// Decrypt the file with this key first.
        cipher: Option<CipherParameters>,
        reply: Reply<()>,
    },
    /// Stop the play job (cause ABORTED); replies at once.
    PlayStop {
        reply: Reply<()>,
    },
    /// Wait for the current (or last) play job to end.
    PlayWait {
        reply: Reply<PlayerCause>,
    },
    /// Start speaking `text` (plain or SSML) as a play job: replies once the speech
    /// is rendered and playing (or failed to be); `PlayWait` waits for it.
    SayStart {
        text: String,
        barge_in: bool,
        reply: Reply<()>,
    },
    /// Check a tone the app defines; replies with the reason it cannot be played.
    ToneCheck {
        tone: Tone,
        reply: Reply<()>,
    },
    /// Start playing a tone as a play job (for at most `limit`); `PlayWait` waits for it.
    ToneStart {
        tone: Tone,
        limit: Option<Duration>,
        reply: Reply<()>,
    },
    /// The tone `Ring` plays as early media (none: plain 180 Ringing).
    SetRingtone {
        tone: Option<Tone>,
        reply: Reply<()>,
    },
    GetDigits {
        options: GetDigitsOptions,
        reply: Reply<String>,
    },
    ClearDigits,
    DtmfPlay {
        digits: String,
        reply: Reply<DtmfPlayerCause>,
    },
    /// Place a call from this (idle) leg. With `wait`, reply once it is answered or
    /// idle; without, once the INVITE is sent.
    Call {
        destination: String,
        options: CallOptions,
        wait: bool,
        reply: Reply<CallState>,
    },
    /// Call a service of this host from this (idle) leg; replies once it is
    /// answered or idle.
    CallService {
        service: String,
        options: CallOptions,
        reply: Reply<CallState>,
    },
    /// Wait for the outgoing call to be answered or idle.
    WaitForOutgoing {
        reply: Reply<CallState>,
    },
    /// The port of the app's extra channel `index`.
    ExtraChannel {
        index: u32,
        reply: Reply<CallPort>,
    },
    /// Bridge this leg's audio with leg `other` (a [`CallPort::leg`]).
    Connect {
        other: u32,
        reply: Reply<()>,
    },
    Disconnect {
        reply: Reply<()>,
    },
    /// Hold (`on`) or take off hold this leg's call with a re-INVITE.
    Hold {
        on: bool,
        reply: Reply<()>,
    },
    /// Hand this leg's call to `service` through leg `via`; replies TRANSFERRED
    /// once connected, ANSWERED when the service did not answer.
    Transfer {
        via: u32,
        service: String,
        options: CallOptions,
        reply: Reply<CallState>,
    },
    /// Wait until this TRANSFERRED leg is retrieved (ANSWERED) or idle.
    WaitForRetrieval {
        reply: Reply<CallState>,
    },
    SetHeaderFields {
        fields: Vec<HeaderField>,
        reply: Reply<()>,
    },
    HeaderFields {
        reply: Reply<Vec<HeaderField>>,
    },
    /// Every value of a received header, by name (case-insensitive).
    RequestHeader {
        name: String,
        reply: Reply<Option<HeaderField>>,
    },
    /// Send an INFO or MESSAGE; replies with the final SIP status code.
    SipSend {
        what: SipSend,
        reply: Reply<u16>,
    },
    /// Start a recording; replies once the file exists and recording has begun.
    RecordStart {
        recorder: Recorder,
        filename: String,
        options: RecordOptions,
        reply: Reply<()>,
    },
    /// Stop a recording (cause ABORTED); replies at once.
    RecordStop {
        recorder: Recorder,
        reply: Reply<()>,
    },
    /// Wait for the current (or last) recording to end and its file to be complete.
    RecordWait {
        recorder: Recorder,
        reply: Reply<RecorderCause>,
    },
    /// Take the buffered INFO (`messages == false`) or MESSAGE bodies.
    SipReceived {
        messages: bool,
        reply: Reply<Vec<SipBody>>,
    },
    /// A file-manager request on the app's media directory (sent on the
    /// primary channel's port; served in any call state).
    Files {
        request: FileRequest,
        reply: Reply<FileResponse>,
    },
}

/// The runtime's end of one call leg (a `channel`).
#[derive(Debug, Clone)]
pub struct CallPort {
    /// Which leg of the app instance this is (0: the primary channel); what
    /// [`CallCommand::Connect`] names.
    pub leg: u32,
    /// Where commands go. The call task ends when every sender is dropped. Boxed: the
    /// channel allocates room for 32 commands per leg, and a command is a few hundred bytes.
    pub commands: mpsc::Sender<Box<CallCommand>>,
    /// The latest snapshot.
    pub snapshot: watch::Receiver<CallSnapshot>,
}

impl CallPort {
    /// Send a command built around a fresh reply channel and await the reply.
    /// A call task that has gone away reads as `Hangup`.
    pub async fn request<T>(
        &self,
        build: impl FnOnce(Reply<T>) -> CallCommand,
    ) -> Result<T, CallError> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Box::new(build(reply))).await.is_err() {
            return Err(CallError::Hangup("the call has ended".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(CallError::Hangup("the call has ended".into())))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> CallSnapshot {
        self.snapshot.borrow().clone()
    }
}
