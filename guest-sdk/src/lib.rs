//! # callhost-sdk: write callhost call-handling apps in Rust
//!
//! A callhost app is a WebAssembly component that handles **one call**: the host
//! creates a fresh instance for every call, hands it the call's [`Channel`] and
//! waits for `main` to return an exit code. The app is written in plain blocking
//! style — `answer()`, `play()`, `get_digits()` each suspend the app until the host
//! has a result — and the API mirrors the Aculab UAS Python API, so a UAS tutorial
//! program ports almost line for line:
//!
//! | UAS (Python)                                   | callhost-sdk (Rust)                                   |
//! |------------------------------------------------|-------------------------------------------------------|
//! | `channel.state() == channel.State.CALL_INCOMING` | `channel.state() == CallState::CallIncoming`        |
//! | `channel.ring()` / `channel.answer()`          | `channel.ring(2)?` / `channel.answer()?`              |
//! | `channel.FilePlayer.play(filename="x.wav")`    | `channel.file_player().play("x.wav")?`                |
//! | `channel.DTMFDetector.get_digits(count=5, ...)`| `channel.dtmf_detector().get_digits(GetDigits::new().count(5))?` |
//! | `channel.DTMFPlayer.play("1234")`              | `channel.dtmf_player().play("1234")?`                 |
//! | `channel.call(dest, call_from=origin)`        | `channel.call(dest, &CallOptions::new().call_from(origin))?` |
//! | `channel.ExtraChannel[0]` / `connect(out)`     | `channel.extra_channel(0)?` / `channel.connect(&out)?` |
//! | `channel.SIP.send(SIPInfo("text"))`            | `channel.sip().send_info("text")?`                    |
//! | `channel.FilePlayer.say("text")`               | `channel.file_player().say("text")?`                  |
//! | `ToneManager(my_log).create_tone(seq, "X")`    | `ToneManager::new().create_tone("X", &segments, true)?` |
//! | `my_log.info("...")`                           | `log::info("...")`                                    |
//! | `FilePlayer.play(filename=f, cipher=c)`        | `play_with_options(f, PlayOptions::new().cipher(c))?` |
//! | `file_man.validate(filename=f, cipher=c)`      | `files::validate(f, Some(&c))?`                       |
//! | `except Hangup` / `except Error`               | [`CallError::Hangup`] / [`CallError::Error`]          |
//! | `__uas_version__ = "1.0.0"`                    | `export_app!(version: "1.0.0", ...)`                  |
//!
//! ## A complete app
//!
//! ```no_run
//! use callhost_sdk::{AppContext, CallError, CallState, Channel, GetDigits, PlayOptions, Result, log};
//!
//! /// Answers, plays a prompt the caller may interrupt, and reads back the digits.
//! fn run(channel: Channel, context: AppContext) -> Result<i32> {
//!     if channel.state() != CallState::CallIncoming {
//!         // The caller already gave up: end as the UAS `raise Hangup("No call")` would.
//!         return Err(CallError::hangup("No call"));
//!     }
//!     channel.ring(1)?;
//!     channel.answer()?;
//!     log::info(format!("answered call {}", context.instance_id));
//!
//!     channel
//!         .file_player()
//!         .play_with_options("welcome.wav", PlayOptions::new().barge_in(true))?;
//!     let digits = channel.dtmf_detector().get_digits(
//!         GetDigits::new().end("#").count(16).predigits_timeout(10.0).interdigit_timeout(5.0),
//!     )?;
//!     let digits = digits.trim_end_matches('#');
//!     if !digits.is_empty() {
//!         channel.dtmf_player().play(digits)?;
//!     }
//!     channel.hang_up()?;
//!     Ok(0)
//! }
//!
//! callhost_sdk::export_app!(name: "readback", version: "1.0.0", main: run);
//! ```
//!
//! Build it as a `cdylib` with `cargo build --target wasm32-wasip2 --release`; the
//! `.wasm` cargo writes is already a component. Drop it into the host's plugins
//! directory (write a temporary name, then rename) and the host loads it.
//!
//! ## Errors and exit codes
//!
//! Every blocking operation returns [`Result<T>`](Result). Apps usually write their
//! logic in a function returning `Result<i32>` (or `Result<()>`) and use `?`; the
//! [`export_app!`] glue then maps the outcome (see [`IntoExitCode`]):
//!
//! - `Ok(code)` → `code` (0 for `Ok(())`). Return `<= -100` for app failures;
//!   `-1..=-99` are reserved for the host.
//! - `Err(CallError::Hangup(_))` → [`exit_code::HANGUP`] (0: a caller hanging up is
//!   a normal end of a call), logged at info level.
//! - `Err(CallError::Error(_))` → [`exit_code::ERROR`] (-101), logged at error level.
//!
//! An app that wants other codes (the UAS tutorial sometimes returns -102 for a
//! hangup) matches on the error itself and returns an `i32`.
//!
//! There is no `finally` to write: the host hangs up any call that is still up when
//! `main` returns, however it returns.
//!
//! ## Panics
//!
//! A panic ends the app at once: Rust on `wasm32-wasip2` aborts on panic, the panic
//! message goes to stderr, which the host captures into the call's log, and the trap
//! ends that call only (the host hangs it up with cause ERROR and records the trap).
//! Nothing needs to be set up for this; do not rely on `catch_unwind`. Spinning or
//! allocating without bound is stopped the same way by the host's CPU and memory
//! limits.
//!
//! ## Media files
//!
//! Each app has its own media directory on the host; open files by bare name
//! (`"hello.wav"`). Any common WAV format works (PCM 8/16 bit, µ-law, A-law, any
//! rate); the host converts on load. Encrypted files (AES-CBC, as `openssl enc`
//! writes them) play with [`PlayOptions::cipher`]; [`files`] checks, lists, renames
//! and deletes files in the directory.

mod app;
mod channel;
mod cipher;
mod dtmf_detector;
mod dtmf_player;
mod error;
mod file_player;
pub mod files;
pub mod log;
mod mirror;
mod recorder;
mod sip;
mod statistics;
mod tone_player;

pub use app::{AppContext, IntoExitCode};
pub use channel::{CallCause, CallDetails, CallOptions, CallState, Channel};
pub use cipher::AesCbcCipher;
pub use dtmf_detector::{DetectorCause, DtmfDetector, GetDigits};
pub use dtmf_player::{DtmfPlayer, DtmfPlayerCause};
pub use error::{CallError, Result, exit_code};
pub use file_player::{FilePlayer, PlayOptions, PlayerCause, PlayerState};
pub use files::ValidateResult;
pub use recorder::{
    FileRecorder, RecordFormat, RecordOptions, RecorderCause, RecorderState, RecordingSummary,
    WholeCallLayout, WholeCallOptions, WholeCallRecorder,
};
pub use sip::{HeaderField, Sip, SipBody, SipState};
pub use statistics::{MediaStatistics, RemoteReport};
pub use tone_player::{
    RINGBACK, RINGBACK_EU, RINGBACK_UK, ToneComponent, ToneManager, ToneMix, TonePlayer,
    ToneSegment,
};

/// The wit-bindgen bindings for `callhost:call/app`. Not part of the SDK's API:
/// public only so that [`export_app!`] can reach them from the app's crate.
#[doc(hidden)]
// The generated export glue for `main` takes the flattened arguments (8 words).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "app",
        path: "../wit",
        // The export macro must be usable from the app's crate, and must find these
        // bindings there through `$crate`, whatever name the app gives this crate.
        pub_export_macro: true,
        export_macro_name: "__export_app_bindings",
        default_bindings_module: "$crate::bindings",
    });
}

/// Support for [`export_app!`]; not part of the SDK's API.
#[doc(hidden)]
pub mod __private {
    pub use crate::app::run_main;
}

/// Exports an app: wires the component's `main`, `name` and `version` exports to a
/// main function.
///
/// Use it once, at the top level of the app's `cdylib` crate:
///
/// ```no_run
/// use callhost_sdk::{AppContext, Channel, Result};
///
/// fn run(channel: Channel, _context: AppContext) -> Result<()> {
///     channel.answer()?;
///     channel.file_player().play("hello.wav")?;
///     channel.hang_up()?;
///     Ok(())
/// }
///
/// callhost_sdk::export_app!(name: "hello", version: "1.0.0", main: run);
/// ```
///
/// Forms (the keys must come in this order):
///
/// - `export_app!(name: EXPR, version: EXPR, main: FUNCTION)`
/// - `export_app!(version: EXPR, main: FUNCTION)` — name defaults to the crate's
///   package name (`CARGO_PKG_NAME`)
/// - `export_app!(main: FUNCTION)` — name and version from `Cargo.toml`
///   (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`)
///
/// `name` and `version` are any expressions convertible into a `String` (e.g.
/// `option_env!("MY_VERSION").unwrap_or("1.0.0")`). `FUNCTION` is a function or
/// closure taking `(Channel, AppContext)` and returning anything that implements
/// [`IntoExitCode`]: `i32`, `()`, `Result<i32>` or `Result<()>`.
///
/// The exports are only emitted when compiling for `wasm32`; on other targets the
/// macro still type-checks the app (so doctests and `cargo check` on the host work)
/// but exports nothing. The expansion contains `unsafe` glue generated by
/// wit-bindgen, so the app crate must not use `#![forbid(unsafe_code)]`.
#[macro_export]
macro_rules! export_app {
    (name: $name:expr, version: $version:expr, main: $main:expr $(,)?) => {
        const _: () = {
            struct CallhostSdkApp;

            impl $crate::bindings::Guest for CallhostSdkApp {
                fn main(
                    channel: $crate::bindings::Channel,
                    instance_id: ::std::string::String,
                    application_parameters: ::std::string::String,
                    outbound_parameters: ::std::option::Option<::std::string::String>,
                ) -> i32 {
                    $crate::__private::run_main(
                        channel,
                        instance_id,
                        application_parameters,
                        outbound_parameters,
                        $main,
                    )
                }

                fn name() -> ::std::string::String {
                    ::std::convert::Into::into($name)
                }

                fn version() -> ::std::string::String {
                    ::std::convert::Into::into($version)
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::__export_app_impl!(CallhostSdkApp with_types_in $crate::bindings);
        };
    };
    (version: $version:expr, main: $main:expr $(,)?) => {
        $crate::export_app!(name: ::std::env!("CARGO_PKG_NAME"), version: $version, main: $main);
    };
    (main: $main:expr $(,)?) => {
        $crate::export_app!(
            name: ::std::env!("CARGO_PKG_NAME"),
            version: ::std::env!("CARGO_PKG_VERSION"),
            main: $main
        );
    };
}
