//! versioned: a test app whose version is chosen at build time.
//!
//! Built with `CALLHOST_EXAMPLE_VERSION=2.0.0 ./build.sh ...` it reports version
//! 2.0.0 (default 1.0.0), so hot-reload tests can install v1, start a call, install
//! v2 and check that the call in flight finishes on v1 while new calls get v2. It
//! answers, logs its version, plays `hello.wav` (MEDIA_ROOT/versioned/) and hangs up.

use callhost_sdk::{AppContext, Channel, Result, log};

/// The version this build reports (cargo rebuilds when the variable changes).
fn version() -> &'static str {
    option_env!("CALLHOST_EXAMPLE_VERSION").unwrap_or("1.0.0")
}

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.answer()?;
    log::info(format!("versioned: running version {}", version()));
    channel.file_player().play("hello.wav")?;
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(version: version(), main: run);
