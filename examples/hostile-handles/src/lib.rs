//! hostile-handles: a test app that answers and then uses a resource handle it
//! does not own.
//!
//! It works below the SDK, on the raw wit-bindgen bindings, because safe Rust
//! cannot express a dangling handle. The application parameters pick the misuse:
//!
//! - `stale` (the default): take an extra channel, drop it (the host frees the
//!   resource) and call a method on its old handle number;
//! - `forged`: call a method on a handle number the host never handed out.
//!
//! Either way the host must trap this instance only, with a clear message in the
//! exit record. Should the host ever accept the handle, `main` returns -100.
//! Not for production plugin directories.

use callhost_sdk::bindings::Guest;
use callhost_sdk::bindings::callhost::call::channel::Channel;
use callhost_sdk::bindings::callhost::call::log::{Level, write};

/// A handle number far beyond any this instance was given.
const FORGED_HANDLE: u32 = 0x0BAD_F00D;

struct HostileHandles;

impl Guest for HostileHandles {
    fn main(
        channel: Channel,
        _instance_id: String,
        application_parameters: String,
        _outbound_parameters: Option<String>,
    ) -> i32 {
        if channel.answer().is_err() {
            return 0;
        }
        let handle = match application_parameters.trim() {
            "forged" => FORGED_HANDLE,
            _ => {
                let Ok(extra) = channel.extra_channel(0) else {
                    write(Level::Error, "hostile-handles: no extra channel");
                    return -101;
                };
                let stale = extra.handle();
                // Dropping the resource tells the host to free it; the number is stale now.
                drop(extra);
                stale
            }
        };
        write(
            Level::Info,
            &format!("hostile-handles: using handle {handle} that this app does not own"),
        );
        // SAFETY: deliberately unsound: `handle` is stale or forged. This is exactly
        // the guest misuse the host must catch (it traps before the call returns).
        let misused = unsafe { Channel::from_handle(handle) };
        let state = misused.state();
        write(
            Level::Error,
            &format!("hostile-handles: the host accepted handle {handle} (state {state:?})"),
        );
        // Never drop a handle this app does not own.
        std::mem::forget(misused);
        -100
    }

    fn name() -> String {
        env!("CARGO_PKG_NAME").into()
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }
}

#[cfg(target_arch = "wasm32")]
callhost_sdk::__export_app_impl!(HostileHandles with_types_in callhost_sdk::bindings);
