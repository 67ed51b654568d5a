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
}

impl CallSnapshot {
    /// The snapshot of a call that has just arrived.
    pub fn incoming() -> Self {
        CallSnapshot {
            state: CallState::CallIncoming,
            cause: None,
            raw_cause: None,
            player_state: PlayerState::Idle,
            player_cause: PlayerCause::None,
            detector_cause: DetectorCause::None,
            dtmf_player_cause: DtmfPlayerCause::None,
        }
    }
}

/// The reply half of a command.
pub type Reply<T> = oneshot::Sender<Result<T, CallError>>;

/// A request from the app to the call task. Blocking WIT functions send one and
/// await the reply; a reply channel dropped unanswered reads as `Error`.
#[allow(missing_docs)]
#[derive(Debug)]
pub enum CallCommand {
    Ring { seconds: u32, reply: Reply<()> },
    Answer { reply: Reply<()> },
    Reject { cause: CallCause, reply: Reply<()> },
    HangUp { reply: Reply<CallState> },
    WaitForIdle { timeout: Option<Duration>, reply: Reply<CallState> },
    /// Start a play job; replies once the file is loaded and playing (or failed to).
    PlayStart { filename: String, barge_in: bool, reply: Reply<()> },
    /// Stop the play job (cause ABORTED); replies at once.
    PlayStop { reply: Reply<()> },
    /// Wait for the current (or last) play job to end.
    PlayWait { reply: Reply<PlayerCause> },
    GetDigits { options: GetDigitsOptions, reply: Reply<String> },
    ClearDigits,
    DtmfPlay { digits: String, reply: Reply<DtmfPlayerCause> },
}

/// The runtime's end of one call.
#[derive(Debug, Clone)]
pub struct CallPort {
    /// Where commands go. The call task ends when every sender is dropped.
    pub commands: mpsc::Sender<CallCommand>,
    /// The latest snapshot.
    pub snapshot: watch::Receiver<CallSnapshot>,
    /// Fixed facts about the call.
    pub details: CallDetails,
}

impl CallPort {
    /// Send a command built around a fresh reply channel and await the reply.
    /// A call task that has gone away reads as `Hangup`.
    pub async fn request<T>(&self, build: impl FnOnce(Reply<T>) -> CallCommand) -> Result<T, CallError> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(build(reply)).await.is_err() {
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
