//! hangup-exception: the UAS tutorial's "the Hangup exception".
//!
//! `ring` and `answer` fail with `CallError::Hangup` when the call goes idle under
//! them, so the call handling sits in its own function and `main` looks at how it
//! ended (the tutorial's `try`/`except Hangup`). The app can also produce a Hangup
//! itself to end early when the call is not in the expected state; that does not
//! hang the call up by itself. Finally, like the tutorial's `finally:` block, the app
//! makes sure the call is hung up before it returns (the host would do it anyway).

use callhost_sdk::{AppContext, CallError, CallState, Channel, Result, exit_code, log};

fn handle_call(channel: &Channel) -> Result<()> {
    if channel.state() == CallState::CallIncoming {
        channel.ring(2)?; // may fail with Hangup
        channel.answer()?; // may fail with Hangup
    } else {
        // Most likely the call is already idle: end the way a hangup would.
        return Err(CallError::hangup("No call"));
    }

    // Interesting call handling would go here; this app just waits for the caller.
    channel.wait_for_idle(None)?;
    Ok(())
}

fn run(channel: Channel, _context: AppContext) -> i32 {
    let code = match handle_call(&channel) {
        Ok(()) => exit_code::SUCCESS,
        // A hangup is an expected way for a call to end: note it and carry on.
        Err(CallError::Hangup(reason)) => {
            log::info(format!("caught Hangup: {reason}"));
            exit_code::SUCCESS
        }
        // The tutorial does not catch Error here; it would end the app as a failure.
        Err(CallError::Error(reason)) => {
            log::error(format!("unexpected Error: {reason}"));
            exit_code::ERROR
        }
    };

    // hang_up waits for IDLE but may time out, so IDLE is not guaranteed after it.
    if channel.state() != CallState::Idle {
        let _ = channel.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "0.0.2b", main: run);
