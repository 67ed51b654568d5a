//! record-encrypted: the UAS tutorial's "records audio to an encrypted file".
//!
//! Rings, answers, and records the caller with the file recorder's default limits
//! (3 s of silence after speech, 120 s at most) to `my_encrypted.wav` in the app's
//! media directory (the application parameters may name another file), encrypted with
//! AES-256-CBC under the tutorial's example key and vector. The finished file is what
//!
//! ```sh
//! openssl enc -aes-256-cbc -d -in my_encrypted.wav -out plain.wav \
//!     -K 3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3 \
//!     -iv 9b0ef243445da908976b7dc9c247c29e
//! ```
//!
//! turns back into an ordinary WAV file, and what `play-encrypted` plays. The key and
//! vector are examples: do not use them.

use callhost_sdk::{AesCbcCipher, AppContext, CallError, CallState, Channel, RecordOptions, Result};
use callhost_sdk::log;

/// The tutorial's example key (AES-256) and initialisation vector.
const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";
/// Recorded to when the service gives no file name.
const DEFAULT_FILE: &str = "my_encrypted.wav";

fn handle_call(channel: &Channel, file_name: &str) -> Result<()> {
    if channel.state() == CallState::CallIncoming {
        channel.ring(0)?;
        channel.answer()?;
    } else {
        return Err(CallError::hangup("No call"));
    }
    // The call has been answered: record some audio and encrypt it.
    let cipher = AesCbcCipher::new(KEY, VECTOR);
    let recorder = channel.file_recorder();
    let cause = recorder.record_with_options(file_name, RecordOptions::new().cipher(cipher))?;
    let summary = recorder.last_recording();
    log::info(format!(
        "recorded {file_name} encrypted: {cause}, {} ms, {} bytes",
        summary.map_or(0, |summary| summary.duration.as_millis()),
        summary.map_or(0, |summary| summary.data_bytes),
    ));
    Ok(())
}

fn run(channel: Channel, context: AppContext) -> i32 {
    let file_name = match context.application_parameters.trim() {
        "" => DEFAULT_FILE,
        name => name,
    };
    let code = match handle_call(&channel, file_name) {
        Ok(()) => 0,
        Err(CallError::Hangup(reason)) => {
            log::warning(format!("Caught a Hangup exception: {reason}"));
            0
        }
        Err(CallError::Error(reason)) => {
            log::error(format!("Caught an Error exception: {reason}"));
            -101
        }
    };
    if channel.state() != CallState::Idle {
        log::info("Hang up the call");
        let _ = channel.hang_up();
    }
    code
}

callhost_sdk::export_app!(version: "0.0.6b", main: run);
