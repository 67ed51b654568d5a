//! dialer: the demo outbound service.
//!
//! Started by `callhost originate --app dialer --outbound-params sip:bob@127.0.0.1:5070`
//! (or `POST /calls` on the admin API). Calls the URI given in the outbound
//! parameters, from the application parameters when there are any. When the call is
//! answered it plays the `hello` prompt (MEDIA_ROOT/dialer/hello.wav) and hangs up,
//! exit code 0. When it is not answered it logs the cause and exits with -100 - the
//! SIP status (e.g. -586 for 486 Busy), or -100 when there was no status (timeout).
//! Operators and the host's tests rely on exactly this behaviour.

use callhost_sdk::{AppContext, CallError, CallOptions, CallState, Channel, PlayerCause, Result, log};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let destination = context.outbound_parameters.as_deref().map(str::trim).unwrap_or_default();
    if destination.is_empty() {
        return Err(CallError::error("dialer needs a destination URI in its outbound parameters"));
    }
    let mut options = CallOptions::new();
    let from = context.application_parameters.trim();
    if !from.is_empty() {
        options = options.call_from(from);
    }
    log::info(format!("dialer: calling {destination}"));
    if channel.call(destination, &options)? != CallState::Answered {
        let cause = channel.cause().map(|cause| cause.to_string()).unwrap_or_else(|| "none".into());
        let status = channel.raw_cause();
        log::warning(format!(
            "dialer: {destination} did not answer: cause {cause}, SIP status {}",
            status.map(|code| code.to_string()).unwrap_or_else(|| "none".into())
        ));
        return Ok(-100 - i32::from(status.unwrap_or(0)));
    }
    log::info(format!("dialer: {destination} answered"));
    match channel.file_player().play("hello.wav")? {
        PlayerCause::Error => return Err(CallError::error("hello.wav could not be played")),
        other => log::info(format!("dialer: prompt ended with {other}")),
    }
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
