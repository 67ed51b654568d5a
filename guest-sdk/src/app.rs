//! The app entry point: [`AppContext`], [`IntoExitCode`] and the glue that
//! [`export_app!`](crate::export_app) expands to.
//!
//! The host calls the component's exported `main` once per call; the SDK wraps the
//! channel, builds an [`AppContext`] from the other arguments, runs the app's
//! function and turns what it returns into the exit code. Depends on the generated
//! bindings, [`Channel`] and the logger.

use crate::bindings;
use crate::channel::Channel;
use crate::error::{CallError, Result, exit_code};
use crate::log;

/// Everything `main` receives besides the channel (the UAS `main` arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppContext {
    /// Names this run of the app (the UAS `application_instance_id`); unique per
    /// call, handy in file names and log lines.
    pub instance_id: String,
    /// The service's configured parameters (the UAS `application_parameters`);
    /// empty when the service sets none.
    pub application_parameters: String,
    /// For outbound apps, the parameters of the outbound request; `None` for
    /// inbound calls.
    pub outbound_parameters: Option<String>,
}

/// What an app's main function may return; [`export_app!`](crate::export_app)
/// turns it into the exit code the host records.
///
/// - `i32`: returned as is (0 success, `<= -100` app failures; `-1..=-99` are
///   reserved for the host).
/// - `()`: [`exit_code::SUCCESS`].
/// - `Result<T>` with `T` one of the above: `Ok` as above; `Err` is logged
///   (`Hangup` at info level, `Error` at error level) and becomes
///   [`CallError::exit_code`].
pub trait IntoExitCode {
    /// The exit code, or the error the app ended with.
    fn into_exit_code(self) -> Result<i32>;
}

impl IntoExitCode for i32 {
    fn into_exit_code(self) -> Result<i32> {
        Ok(self)
    }
}

impl IntoExitCode for () {
    fn into_exit_code(self) -> Result<i32> {
        Ok(exit_code::SUCCESS)
    }
}

impl<T: IntoExitCode> IntoExitCode for Result<T> {
    fn into_exit_code(self) -> Result<i32> {
        self.and_then(IntoExitCode::into_exit_code)
    }
}

/// The log line for an app that ended with `error`, and whether it is an error.
fn describe_ending(error: &CallError) -> (bool, String) {
    match error {
        CallError::Hangup(reason) => (false, format!("app ended by hangup: {reason}")),
        CallError::Error(reason) => (true, format!("app failed: {reason}")),
    }
}

/// The exit code for what the app returned (pure: the logging happens in `run_main`).
fn exit_code_for(outcome: &Result<i32>) -> i32 {
    match outcome {
        Ok(code) => *code,
        Err(error) => error.exit_code(),
    }
}

/// Runs an app's main function for one call. Called by the code `export_app!`
/// expands to; not for apps.
#[doc(hidden)]
pub fn run_main<Main, Returned>(
    channel: bindings::Channel,
    instance_id: String,
    application_parameters: String,
    outbound_parameters: Option<String>,
    main: Main,
) -> i32
where
    Main: FnOnce(Channel, AppContext) -> Returned,
    Returned: IntoExitCode,
{
    let context = AppContext {
        instance_id,
        application_parameters,
        outbound_parameters,
    };
    let outcome = main(Channel::from_raw(channel), context).into_exit_code();
    if let Err(error) = &outcome {
        match describe_ending(error) {
            (true, line) => log::error(line),
            (false, line) => log::info(line),
        }
    }
    exit_code_for(&outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_codes_pass_through() {
        assert_eq!(exit_code_for(&0.into_exit_code()), 0);
        assert_eq!(exit_code_for(&(-101).into_exit_code()), -101);
        assert_eq!(exit_code_for(&().into_exit_code()), exit_code::SUCCESS);
    }

    #[test]
    fn results_map_errors_to_their_documented_codes() {
        let ok: Result<i32> = Ok(-150);
        assert_eq!(exit_code_for(&ok.into_exit_code()), -150);
        let unit: Result<()> = Ok(());
        assert_eq!(exit_code_for(&unit.into_exit_code()), 0);
        let hung_up: Result<i32> = Err(CallError::hangup("caller left"));
        assert_eq!(exit_code_for(&hung_up.into_exit_code()), exit_code::HANGUP);
        let failed: Result<()> = Err(CallError::error("no such file"));
        assert_eq!(exit_code_for(&failed.into_exit_code()), exit_code::ERROR);
    }

    #[test]
    fn endings_are_logged_at_the_right_level_with_the_reason() {
        let (is_error, line) = describe_ending(&CallError::hangup("No call"));
        assert!(!is_error);
        assert_eq!(line, "app ended by hangup: No call");
        let (is_error, line) = describe_ending(&CallError::error("playback failed"));
        assert!(is_error);
        assert_eq!(line, "app failed: playback failed");
    }
}
