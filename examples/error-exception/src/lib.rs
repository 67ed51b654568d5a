//! error-exception: the UAS tutorial's "the Error exception".
//!
//! `CallError::Error` means the app met something it cannot carry on from. Here the
//! app answers and starts playing `playfile.wav`, a file its media directory does
//! not contain, so starting the player fails with an Error and the app returns
//! -101. A hangup along the way returns -102, as in the tutorial.

use callhost_sdk::{AppContext, CallError, CallState, Channel, Result, log};

fn handle_call(channel: &Channel) -> Result<()> {
    if channel.state() == CallState::CallIncoming {
        channel.ring(2)?;
        channel.answer()?;
    } else {
        return Err(CallError::hangup("No call"));
    }

    // If the file will not play, give up with an Error that says what failed.
    channel
        .file_player()
        .start("playfile.wav")
        .map_err(|error| match error {
            CallError::Error(reason) => {
                CallError::error(format!("playback failed to start: {reason}"))
            }
            hangup => hangup,
        })?;

    channel.wait_for_idle(None)?;
    Ok(())
}

fn run(channel: Channel, _context: AppContext) -> i32 {
    let code = match handle_call(&channel) {
        Ok(()) => 0,
        Err(CallError::Hangup(reason)) => {
            log::info(format!("caught Hangup: {reason}"));
            -102
        }
        // Log the error and pick a return code that says "the app failed".
        Err(CallError::Error(reason)) => {
            log::error(format!("caught Error: {reason}"));
            -101
        }
    };

    if channel.state() != CallState::Idle {
        let _ = channel.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "0.0.2b", main: run);
