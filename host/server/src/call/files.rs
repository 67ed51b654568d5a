//! The app's file manager (WIT `files`, the UAS `file_man`) and the loading of
//! encrypted prompts for `file-player`.
//!
//! Every request acts inside the app's own media directory (`<media root>/<app>/`):
//! names go through [`media_path`], so an absolute name, a `..` component or a
//! symlink leading out is a `call-error::error`, never a trap. Requests run on the
//! blocking pool in their own task, so a slow disk or a large file being validated
//! never stalls the instance's legs; the guest waits for the reply. The host needs
//! write access to the media directory for `delete` and `rename` (the guest's own
//! WASI view of it stays read-only).
//!
//! Encryption is AES-CBC with PKCS#7 padding, file-compatible with `openssl enc`
//! (see `callhost_media::cipher`). Decrypted prompts are not cached. Key material
//! is never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::{Instrument, Span, debug, info};

use callhost_media::prompt::{PromptError, read_prompt_file};
use callhost_media::wav::WavError;
use callhost_media::{AesCbcCipher, MediaEngine, Prompt};
use callhost_runtime::port::{
    CallError, CipherParameters, FileRequest, FileResponse, Reply, ValidateResult,
};

use crate::media_path::{self, MediaPathError};

/// Most entries `list` returns; a larger directory is an error rather than a huge reply.
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// Serve one file request in its own task; the reply goes to the app when done.
pub(crate) fn spawn(media_dir: &Path, request: FileRequest, reply: Reply<FileResponse>) {
    let media_dir = media_dir.to_owned();
    // Both tasks log inside the call's span.
    let span = Span::current();
    let task_span = span.clone();
    let task = async move {
        let result =
            tokio::task::spawn_blocking(move || span.in_scope(|| serve(&media_dir, request)))
                .await
                .unwrap_or_else(|join| {
                    Err(CallError::Error(format!("the file manager failed: {join}")))
                });
        let _ = reply.send(result);
    };
    tokio::spawn(task.instrument(task_span));
}

/// Parse the app's hex key and vector.
pub(crate) fn parse_cipher(cipher: &CipherParameters) -> Result<AesCbcCipher, CallError> {
    AesCbcCipher::from_hex(&cipher.key, &cipher.vector)
        .map_err(|error| CallError::Error(format!("invalid cipher: {error}")))
}

/// Load a prompt to play: through the engine's cache when plain, decrypted (and
/// not cached) when the app gave a key. Blocking.
pub(crate) fn load_prompt(
    engine: &MediaEngine,
    path: &Path,
    cipher: Option<&CipherParameters>,
) -> Result<Arc<Prompt>, String> {
    match cipher {
        None => engine.load_prompt(path).map_err(|error| error.to_string()),
        Some(cipher) => {
            let cipher = AesCbcCipher::from_hex(&cipher.key, &cipher.vector)
                .map_err(|error| format!("invalid cipher: {error}"))?;
            engine
                .load_encrypted_prompt(path, &cipher)
                .map_err(|error| error.to_string())
        }
    }
}

fn path_error(error: MediaPathError) -> CallError {
    CallError::Error(error.to_string())
}

fn io_error(what: &str, name: &str, error: std::io::Error) -> CallError {
    CallError::Error(format!("cannot {what} `{name}`: {error}"))
}

/// Do one request. Blocking.
pub fn serve(media_dir: &Path, request: FileRequest) -> Result<FileResponse, CallError> {
    match request {
        FileRequest::Exists { name } => match media_path::resolve(media_dir, &name) {
            Ok(_) => Ok(FileResponse::Exists(true)),
            Err(MediaPathError::NotFound(_)) => Ok(FileResponse::Exists(false)),
            Err(error) => Err(path_error(error)),
        },
        FileRequest::Delete { name } => {
            let entry = existing_entry(media_dir, &name)?;
            if entry.is_dir() && !entry.is_symlink() {
                return Err(CallError::Error(format!(
                    "cannot delete `{name}`: it is a directory"
                )));
            }
            std::fs::remove_file(&entry).map_err(|error| io_error("delete", &name, error))?;
            info!(file = %name, "the app deleted a file");
            Ok(FileResponse::Done)
        }
        FileRequest::Rename { from, to } => {
            let source = existing_entry(media_dir, &from)?;
            let target = media_path::resolve_entry(media_dir, &to).map_err(path_error)?;
            // Refuse to replace a file; the check and the rename are not atomic, which
            // only matters if something else writes the app's directory meanwhile.
            if target.symlink_metadata().is_ok() {
                return Err(CallError::Error(format!(
                    "cannot rename `{from}` to `{to}`: `{to}` already exists"
                )));
            }
            std::fs::rename(&source, &target).map_err(|error| io_error("rename", &from, error))?;
            info!(%from, %to, "the app renamed a file");
            Ok(FileResponse::Done)
        }
        FileRequest::List { directory } => list(media_dir, directory.as_deref()),
        FileRequest::Validate { name, cipher } => {
            let cipher = cipher.as_ref().map(parse_cipher).transpose()?;
            let result = validate(media_dir, &name, cipher.as_ref())?;
            debug!(file = %name, encrypted = cipher.is_some(), ?result, "validated");
            Ok(FileResponse::Validate(result))
        }
    }
}

/// An entry that exists (a file, a directory or a symlink itself); a symlink whose
/// target is outside the media directory is refused like any other escape.
fn existing_entry(media_dir: &Path, name: &str) -> Result<PathBuf, CallError> {
    let entry = media_path::resolve_entry(media_dir, name).map_err(path_error)?;
    let metadata = entry
        .symlink_metadata()
        .map_err(|_| path_error(MediaPathError::NotFound(name.to_owned())))?;
    if metadata.is_symlink() {
        // A dangling link may be removed or renamed: it reaches nothing.
        match media_path::resolve(media_dir, name) {
            Ok(_) | Err(MediaPathError::NotFound(_)) => {}
            Err(error) => return Err(path_error(error)),
        }
    }
    Ok(entry)
}

fn list(media_dir: &Path, directory: Option<&str>) -> Result<FileResponse, CallError> {
    let (path, prefix) = match directory {
        // A media directory that does not exist (yet) holds nothing.
        None => match media_dir.canonicalize() {
            Ok(root) => (root, String::new()),
            Err(_) => return Ok(FileResponse::List(Vec::new())),
        },
        Some(name) => {
            let path = media_path::resolve(media_dir, name).map_err(path_error)?;
            if !path.is_dir() {
                return Err(CallError::Error(format!("`{name}` is not a directory")));
            }
            let root = media_dir
                .canonicalize()
                .map_err(|error| io_error("list", name, error))?;
            let relative = path.strip_prefix(&root).unwrap_or(Path::new(""));
            let prefix = relative
                .to_str()
                .filter(|text| !text.is_empty())
                .map(|text| format!("{text}/"))
                .unwrap_or_default();
            (path, prefix)
        }
    };
    let shown = directory.unwrap_or(".");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(|error| io_error("list", shown, error))? {
        let entry = entry.map_err(|error| io_error("list", shown, error))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            debug!(entry = ?entry.file_name(), "a name that is not UTF-8 is not listed");
            continue;
        };
        if names.len() == MAX_LIST_ENTRIES {
            return Err(CallError::Error(format!(
                "`{shown}` has more than {MAX_LIST_ENTRIES} entries"
            )));
        }
        // Follows symlinks: a link to a directory lists as one.
        let suffix = if entry.path().is_dir() { "/" } else { "" };
        names.push(format!("{prefix}{name}{suffix}"));
    }
    names.sort();
    Ok(FileResponse::List(names))
}

/// Whether `name` can be played (after decrypting with `cipher`).
fn validate(
    media_dir: &Path,
    name: &str,
    cipher: Option<&AesCbcCipher>,
) -> Result<ValidateResult, CallError> {
    let path = match media_path::resolve(media_dir, name) {
        Ok(path) => path,
        Err(MediaPathError::NotFound(_)) => return Ok(ValidateResult::NotFound),
        Err(error) => return Err(path_error(error)),
    };
    if path.is_dir() {
        return Ok(ValidateResult::NotAudio);
    }
    let bytes = match read_prompt_file(&path) {
        Ok((_, bytes)) => bytes,
        Err(PromptError::TooLarge { .. }) => return Ok(ValidateResult::UnsupportedFormat),
        Err(error) => return Err(CallError::Error(error.to_string())),
    };
    let plain = match cipher {
        None => bytes,
        Some(cipher) => match cipher.decrypt(&bytes) {
            Ok(plain) => plain,
            Err(_) => return Ok(ValidateResult::DecryptFailed),
        },
    };
    Ok(match Prompt::from_wav_bytes(&plain) {
        Ok(_) => ValidateResult::Validated,
        // Decrypted bytes that are not even RIFF: a wrong vector (it garbles the first
        // block only) or a wrong key that slipped past the padding check (1 in 256).
        Err(WavError::NotRiff) if cipher.is_some() => ValidateResult::DecryptFailed,
        Err(
            WavError::NotRiff
            | WavError::NotWave
            | WavError::TruncatedHeader
            | WavError::MissingFormatChunk
            | WavError::MissingDataChunk
            | WavError::FormatChunkTooShort { .. },
        ) => ValidateResult::NotAudio,
        Err(
            WavError::UnsupportedFormat { .. }
            | WavError::UnsupportedBitsPerSample { .. }
            | WavError::InvalidChannelCount { .. }
            | WavError::InvalidSampleRate { .. },
        ) => ValidateResult::UnsupportedFormat,
    })
}

#[cfg(test)]
mod tests;
