//! Size limits on the strings a guest passes to host functions.
//!
//! A guest can hand any host function a string as large as its own memory cap
//! (tens of MiB). Functions that can fail refuse an oversized string here, with a
//! short `call-error::error` that quotes sizes, never the string itself, before
//! it reaches the call task (where a file name would otherwise be resolved,
//! logged and echoed back in the error). Functions that cannot fail (`log.write`)
//! cut the string short instead (see the output module). Depends on the
//! generated bindings only.

use crate::bindings::callhost::call::types::CallError;

/// Longest file name for a play, a recording or the file manager (Linux's
/// PATH_MAX; no real media path comes near it).
pub(crate) const MAX_FILE_NAME_BYTES: usize = 4096;
/// Longest text for `say` and `start-say` (several minutes of speech).
pub(crate) const MAX_SPEECH_TEXT_BYTES: usize = 16 * 1024;
/// Longest set of end digits for `get-digits` (each of the 16 DTMF digits once).
pub(crate) const MAX_END_DIGITS_BYTES: usize = 16;
/// Longest tone name.
pub(crate) const MAX_TONE_NAME_BYTES: usize = 128;

/// `Ok` if `value` holds at most `limit` bytes, else the app's error naming
/// `what` (e.g. "file name") and both sizes.
pub(crate) fn check_size(what: &str, value: &str, limit: usize) -> Result<(), CallError> {
    if value.len() <= limit {
        return Ok(());
    }
    Err(CallError::Error(format!(
        "argument too large: the {what} has {} bytes, the limit is {limit}",
        value.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_up_to_the_limit_pass() {
        assert_eq!(check_size("file name", "", 4), Ok(()));
        assert_eq!(check_size("file name", "abcd", 4), Ok(()));
    }

    #[test]
    fn an_oversized_argument_is_refused_without_being_echoed() {
        let huge = "n".repeat(10 * 1024 * 1024);
        let Err(CallError::Error(message)) = check_size("file name", &huge, MAX_FILE_NAME_BYTES)
        else {
            panic!("a 10 MiB file name must be refused");
        };
        assert_eq!(
            message,
            "argument too large: the file name has 10485760 bytes, the limit is 4096"
        );
    }
}
