//! file-manager: a small demo of the file manager (the UAS `file_man`).
//!
//! For each call: lists the media directory, moves the file
//! named by the application parameters (default `scratch.wav`) to
//! `moved-<instance id>.wav`, lists again, deletes the moved file and checks it is
//! gone. It also asks about `../outside.wav` to show that a name escaping the media
//! directory is an Error, not a crash. Every step is logged with a `file-manager:`
//! prefix. Then it answers and hangs up.
//!
//! Exit code 0 when every step did what it should, -101 otherwise (the failed step
//! is logged).

use callhost_sdk::{AppContext, CallError, CallState, Channel, Result};
use callhost_sdk::{files, log};

/// Used when the service gives no file name.
const DEFAULT_FILE: &str = "scratch.wav";

fn say(message: impl AsRef<str>) {
    log::info(format!("file-manager: {}", message.as_ref()));
}

fn manage(file_name: &str, instance_id: &str) -> Result<()> {
    say(format!("listing: {:?}", files::list(None)?));
    if !files::exists(file_name)? {
        return Err(CallError::error(format!("{file_name} does not exist")));
    }
    say(format!("{file_name} exists"));

    let moved = format!("moved-{instance_id}.wav");
    files::rename(file_name, &moved)?;
    say(format!("renamed {file_name} to {moved}"));
    say(format!("listing: {:?}", files::list(None)?));
    if files::exists(file_name)? || !files::exists(&moved)? {
        return Err(CallError::error("the rename did not move the file"));
    }

    files::delete(&moved)?;
    if files::exists(&moved)? {
        return Err(CallError::error(format!("{moved} is still there")));
    }
    say(format!("deleted {moved}"));

    match files::exists("../outside.wav") {
        Err(CallError::Error(reason)) => say(format!("escaping name refused: {reason}")),
        other => {
            return Err(CallError::error(format!(
                "an escaping name was not refused: {other:?}"
            )));
        }
    }
    Ok(())
}

fn run(channel: Channel, context: AppContext) -> i32 {
    let file_name = match context.application_parameters.trim() {
        "" => DEFAULT_FILE,
        name => name,
    };
    let code = match manage(file_name, &context.instance_id) {
        Ok(()) => {
            say("all steps done");
            0
        }
        Err(error) => {
            log::error(format!("file-manager: {error}"));
            -101
        }
    };
    if channel.state() == CallState::CallIncoming && channel.answer().is_ok() {
        let _ = channel.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "1.0.0", main: run);
