//! hello: the smallest useful callhost service.
//!
//! Answers the call, plays the spoken prompt `hello.wav` from the app's media
//! directory (MEDIA_ROOT/hello/, made by `prompts.sh`), then hangs up. Exit code 0;
//! -101 if the prompt cannot be played. Operators use it as a smoke test and the
//! host's end-to-end tests rely on exactly this behaviour.

use callhost_sdk::{AppContext, CallError, Channel, PlayerCause, Result, log};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    match channel.file_player().play("hello.wav")? {
        PlayerCause::Error => return Err(CallError::error("hello.wav could not be played")),
        PlayerCause::Normal => {}
        // The caller hung up or the play was cut short: still a normal call.
        other => log::info(format!("hello: prompt ended with {other}")),
    }
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
