//! hold-resume: holding a caller (seed 001's hold and unhold, from the app's side).
//!
//! An inbound app: answers, puts the caller on hold (a re-INVITE offering
//! `sendonly`; the channel becomes HOLDING) and plays `music.wav` to them as
//! music on hold, takes the call off hold (re-INVITE `sendrecv`; ANSWERED again),
//! plays `hello.wav` and hangs up. Exit codes: 0 when everything happened,
//! 100 after a Hangup, -100 after an Error (e.g. the caller refused the hold),
//! -101 when a state was not the expected one.

use callhost_sdk::{AppContext, CallError, CallState, Channel, Result, log};

fn run(channel: Channel, _context: AppContext) -> i32 {
    let outcome = (|| -> Result<i32> {
        if channel.state() != CallState::CallIncoming {
            return Err(CallError::hangup("No inbound call"));
        }
        channel.ring(0)?;
        channel.answer()?;
        channel.hold()?;
        if channel.state() != CallState::Holding {
            log::error(format!("after hold the state is {}", channel.state()));
            return Ok(-101);
        }
        log::info("the caller is on hold");
        channel.file_player().play("music.wav")?;
        channel.unhold()?;
        if channel.state() != CallState::Answered {
            log::error(format!("after unhold the state is {}", channel.state()));
            return Ok(-101);
        }
        log::info("the caller is back");
        channel.file_player().play("hello.wav")?;
        Ok(0)
    })();
    let code = match outcome {
        Ok(code) => code,
        Err(CallError::Hangup(reason)) => {
            log::info(format!("Hangup exception reports {reason}"));
            100
        }
        Err(CallError::Error(reason)) => {
            log::error(format!("Error exception reports {reason}"));
            -100
        }
    };
    if channel.state() != CallState::Idle {
        let _ = channel.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "1.0.0", main: run);
