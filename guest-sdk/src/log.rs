//! The app's logger (the UAS `my_log`): lines go to the host log inside the call's
//! tracing span, tagged with the app name and version.
//!
//! Functions take anything string-like, so both `log::info("answered")` and
//! `log::info(format!("got {digits}"))` work. Never blocks. A panic message, or
//! anything printed to stdout/stderr, also reaches the host log (captured per call),
//! but these functions keep the level. Depends only on the generated bindings.

use crate::bindings::callhost::call::log::{Level, write};

/// Logs at debug level.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message.as_ref());
}

/// Logs at info level.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message.as_ref());
}

/// Logs at warning level (the UAS `my_log.warning`).
pub fn warning(message: impl AsRef<str>) {
    write(Level::Warning, message.as_ref());
}

/// Logs at error level.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message.as_ref());
}
