//! The app's file manager (the UAS `file_man`): files in the app's own media
//! directory.
//!
//! Names are relative to that directory ("hello.wav", "prompts/menu.wav"); a name
//! that would reach outside it (an absolute path, `..`, a symlink pointing out) fails
//! with [`CallError::Error`](crate::CallError::Error). The functions need no channel
//! and work in any call state, also after the caller hung up (to delete an unwanted
//! recording, say). They block until the host has done the work.
//!
//! | UAS (Python)                                         | callhost-sdk (Rust)                          |
//! |------------------------------------------------------|----------------------------------------------|
//! | `file_man.validate(filename=f, cipher=c)`            | `files::validate(f, Some(&c))?`              |
//! | `file_man.ValidateResultType.VALIDATED`              | [`ValidateResult::Validated`]                |
//! | `file_man.delete_file(f)`                            | `files::delete(f)?`                          |
//!
//! ```no_run
//! use callhost_sdk::{files, log, Result};
//!
//! fn tidy() -> Result<()> {
//!     for name in files::list(Some("recordings"))? {
//!         if name.ends_with(".tmp") {
//!             files::delete(&name)?;
//!             log::info(format!("deleted {name}"));
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Depends on the generated bindings and [`AesCbcCipher`].

use crate::bindings::callhost::call::files as raw;
use crate::bindings::callhost::call::files::ValidateResult as RawValidateResult;
use crate::cipher::AesCbcCipher;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// What [`validate`] found (the UAS `file_man.ValidateResultType`).
    pub enum ValidateResult mirrors RawValidateResult {
        /// The file exists, decrypts (with a cipher) and can be played.
        Validated = Validated => "VALIDATED",
        /// No such file.
        NotFound = NotFound => "NOT_FOUND",
        /// Not a WAV file (or a directory).
        NotAudio = NotAudio => "NOT_AUDIO",
        /// The cipher does not decrypt the file: wrong key or vector, or the file
        /// is not encrypted.
        DecryptFailed = DecryptFailed => "DECRYPT_FAILED",
        /// A WAV file the host cannot play (encoding, rate or size).
        UnsupportedFormat = UnsupportedFormat => "UNSUPPORTED_FORMAT",
    }
}

/// Whether a file (or directory) of that name exists.
pub fn exists(name: &str) -> Result<bool> {
    Ok(raw::exists(name)?)
}

/// Deletes a file (a symlink is removed, not its target). Fails if it does not
/// exist or is a directory (the UAS `file_man.delete_file`).
pub fn delete(name: &str) -> Result<()> {
    Ok(raw::delete(name)?)
}

/// Renames (moves) a file within the media directory. Fails if `from` does not
/// exist, `to` already exists, or `to`'s directory does not exist.
pub fn rename(from: &str, to: &str) -> Result<()> {
    Ok(raw::rename(from, to)?)
}

/// The entries of the media directory (`None`) or of a subdirectory of it, sorted,
/// as names relative to the media directory (so each can be passed straight to the
/// other functions); subdirectories end in `/`. Not recursive.
pub fn list(directory: Option<&str>) -> Result<Vec<String>> {
    Ok(raw::list(directory)?)
}

/// Checks that a file can be played, decrypting it with `cipher` first if given (the
/// UAS `file_man.validate`). Validate an encrypted file before answering: a
/// [`ValidateResult`] other than `Validated` says why it would not play. A malformed
/// key or vector is an error.
pub fn validate(name: &str, cipher: Option<&AesCbcCipher>) -> Result<ValidateResult> {
    let cipher = cipher.map(AesCbcCipher::to_raw);
    Ok(raw::validate(name, cipher.as_ref())?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_results_round_trip_and_use_uas_style_names() {
        for &result in ValidateResult::ALL {
            assert_eq!(
                ValidateResult::from(RawValidateResult::from(result)),
                result
            );
        }
        assert_eq!(ValidateResult::Validated.to_string(), "VALIDATED");
        assert_eq!(ValidateResult::DecryptFailed.to_string(), "DECRYPT_FAILED");
    }
}
