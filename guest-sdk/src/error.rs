//! `CallError` and `Result`: the UAS `Hangup` and `Error` exceptions as a Rust error.
//!
//! Every blocking call in the SDK returns [`Result<T>`]. Where a UAS program would
//! write `try: ... except Hangup: ... except Error: ...`, a Rust app uses `?` and a
//! `match` on [`CallError`] (or lets [`export_app!`](crate::export_app) map it to an
//! exit code, see [`CallError::exit_code`]). Depends only on the generated bindings.

use crate::bindings::callhost::call::types::CallError as RawCallError;

/// The result of every call-control and media operation.
pub type Result<T> = std::result::Result<T, CallError>;

/// Exit codes an app returns from `main` (the UAS convention: 0 for success,
/// `<= -100` for app failures; `-1..=-99` are reserved for the host).
pub mod exit_code {
    /// The app did what it set out to do.
    pub const SUCCESS: i32 = 0;
    /// The call went idle under the app ([`CallError::Hangup`](super::CallError::Hangup)).
    ///
    /// A caller hanging up is a normal way for a call to end, not an app failure,
    /// so it maps to success (as the later UAS tutorial programs do). The SDK logs
    /// the hangup reason at info level, so the host log still tells the two apart.
    pub const HANGUP: i32 = 0;
    /// The app failed with [`CallError::Error`](super::CallError::Error) (the UAS
    /// tutorial's `except Error: return_code = -101`).
    pub const ERROR: i32 = -101;

    // The host treats -1..=-99 as its own codes; an app failure must stay below.
    const _: () = assert!(ERROR <= -100);
}

/// Why a blocking operation did not complete: the UAS `Hangup` and `Error` exceptions.
///
/// Operations return it; apps may also construct one themselves to end early, just as
/// a UAS program does `raise Hangup("No call")` — see [`CallError::hangup`] and
/// [`CallError::error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call is idle: the caller hung up or cancelled, or the call never existed.
    /// Raising it does not hang the call up by itself.
    #[error("hangup: {0}")]
    Hangup(String),
    /// Anything else went wrong: a missing file, bad arguments, or an operation that
    /// is not valid in the call's current state.
    #[error("error: {0}")]
    Error(String),
}

impl CallError {
    /// A [`CallError::Hangup`] with the given reason (the UAS `raise Hangup(...)`).
    pub fn hangup(reason: impl Into<String>) -> Self {
        CallError::Hangup(reason.into())
    }

    /// A [`CallError::Error`] with the given reason (the UAS `raise Error(...)`).
    pub fn error(reason: impl Into<String>) -> Self {
        CallError::Error(reason.into())
    }

    /// True for [`CallError::Hangup`].
    pub fn is_hangup(&self) -> bool {
        matches!(self, CallError::Hangup(_))
    }

    /// The reason text, without the `hangup:`/`error:` prefix `Display` adds.
    pub fn reason(&self) -> &str {
        match self {
            CallError::Hangup(reason) | CallError::Error(reason) => reason,
        }
    }

    /// The exit code [`export_app!`](crate::export_app) returns when `main` ends with
    /// this error: [`exit_code::HANGUP`] or [`exit_code::ERROR`].
    pub fn exit_code(&self) -> i32 {
        match self {
            CallError::Hangup(_) => exit_code::HANGUP,
            CallError::Error(_) => exit_code::ERROR,
        }
    }
}

impl From<RawCallError> for CallError {
    fn from(raw: RawCallError) -> Self {
        match raw {
            RawCallError::Hangup(reason) => CallError::Hangup(reason),
            RawCallError::Error(reason) => CallError::Error(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_and_keeps_the_reason() {
        assert_eq!(CallError::hangup("No call").to_string(), "hangup: No call");
        assert_eq!(
            CallError::error("playback failed to start").to_string(),
            "error: playback failed to start"
        );
    }

    #[test]
    fn exit_codes_follow_the_documented_convention() {
        assert_eq!(CallError::hangup("gone").exit_code(), exit_code::HANGUP);
        assert_eq!(CallError::error("broken").exit_code(), -101);
    }

    #[test]
    fn raw_errors_convert_kind_for_kind() {
        assert_eq!(
            CallError::from(RawCallError::Hangup("bye".into())),
            CallError::hangup("bye")
        );
        let converted = CallError::from(RawCallError::Error("no such file".into()));
        assert!(!converted.is_hangup());
        assert_eq!(converted.reason(), "no such file");
    }

    #[test]
    fn call_error_is_a_std_error() {
        fn boxed(error: CallError) -> Box<dyn std::error::Error> {
            Box::new(error)
        }
        assert_eq!(boxed(CallError::hangup("x")).to_string(), "hangup: x");
    }
}
