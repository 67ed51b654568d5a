//! prompt-loop: the media benchmarks' service (P2, P4, P5 in BENCHMARKS.md).
//!
//! Answers and plays `prompt.wav` from its media directory over and over until the
//! caller hangs up, so every held call sends a steady RTP stream while it receives
//! the caller's. Exit code 0 when the caller hangs up; -101 if the prompt cannot be
//! played.

use callhost_sdk::{AppContext, CallError, CallState, Channel, PlayerCause, Result};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    while channel.state() == CallState::Answered {
        match channel.file_player().play("prompt.wav")? {
            PlayerCause::Error => return Err(CallError::error("prompt.wav could not be played")),
            PlayerCause::Hangup => break,
            _ => {}
        }
    }
    Ok(0)
}

callhost_sdk::export_app!(main: run);
