//! answer-hangup: the call-rate benchmark's service (P1 and P6 in BENCHMARKS.md).
//!
//! Answers and hangs up at once: the whole cost of a call is the host's SIP work
//! plus one fresh instance. Exit code 0. Like `versioned`, it reports the version
//! in CALLHOST_EXAMPLE_VERSION at build time (default 1.0.0), so the hot-reload
//! benchmark can swap in a second build under load and see which calls got it.

use callhost_sdk::{AppContext, Channel, Result};

/// The version this build reports (cargo rebuilds when the variable changes).
fn version() -> &'static str {
    option_env!("CALLHOST_EXAMPLE_VERSION").unwrap_or("1.0.0")
}

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(version: version(), main: run);
