//! play-encrypted: the UAS tutorial's "plays audio from an encrypted file".
//!
//! The file named by the application parameters (default `encrypted.wav`) is
//! AES-256-CBC encrypted with the tutorial's example key and vector, as
//!
//! ```sh
//! openssl enc -aes-256-cbc -in hello.wav -out encrypted.wav \
//!     -K 3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3 \
//!     -iv 9b0ef243445da908976b7dc9c247c29e
//! ```
//!
//! writes it. The app validates the file before it answers (as the tutorial says it
//! must), then rings, answers, plays it decrypted and hangs up. A file that does not
//! validate is an Error: the app returns -101 without answering (the host then
//! rejects the call). The key and vector are examples: do not use them.

use callhost_sdk::{AesCbcCipher, AppContext, CallError, CallState, Channel, PlayOptions, Result};
use callhost_sdk::{files, log};

/// The tutorial's example key (AES-256) and initialisation vector.
const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";
/// Played when the service gives no file name.
const DEFAULT_FILE: &str = "encrypted.wav";

fn handle_call(channel: &Channel, file_name: &str) -> Result<()> {
    let cipher = AesCbcCipher::new(KEY, VECTOR);

    // Validate before answering: a caller should not be answered into silence.
    let validated = files::validate(file_name, Some(&cipher))?;
    if validated != files::ValidateResult::Validated {
        return Err(CallError::error(format!(
            "Could not validate encrypted file {file_name}: {validated}"
        )));
    }
    log::info(format!("validated encrypted file {file_name}"));

    if channel.state() == CallState::CallIncoming {
        channel.ring(1)?;
        channel.answer()?;
    } else {
        return Err(CallError::hangup("No call"));
    }

    let cause = channel
        .file_player()
        .play_with_options(file_name, PlayOptions::new().cipher(cipher))?;
    log::info(format!("played {file_name}: {cause}"));
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
