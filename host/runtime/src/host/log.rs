//! `callhost:call/log`: the app's logger. Lines go to `tracing` (target
//! `callhost::app`) at the matching level, inside the call's span, tagged with
//! the app's service name.

use crate::bindings::callhost::call::log as wit;
use crate::output::LineLevel;
use crate::store::CallView;

impl wit::Host for CallView<'_> {
    async fn write(&mut self, level: wit::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            wit::Level::Debug => LineLevel::Debug,
            wit::Level::Info => LineLevel::Info,
            wit::Level::Warning => LineLevel::Warning,
            wit::Level::Error => LineLevel::Error,
        };
        self.log.write_line(level, &message);
        Ok(())
    }
}
