//! callhost-runtime: runs call-handling apps (WebAssembly components of the
//! `callhost:call@0.1.0` world `app`), one fresh instance per call.
//!
//! - [`Runtime`]: the wasmtime engine with a pooling allocator, epoch-based
//!   preemption and CPU accounting, memory caps, and the linker holding WASI
//!   and the `callhost:call` host functions ([`host`], one module per WIT
//!   interface, generated [`bindings`]).
//! - [`App`]: a loaded plugin version (compiled once, cached on disk as
//!   `.cwasm`, pre-instantiated); [`check`] describes one for `callhost check`.
//! - [`RunningCall`]: one call's instance; [`RunningCall::run`] runs `main` and
//!   returns an [`ExitRecord`].
//! - [`PluginRegistry`]: the plugins directory, hot-reloaded.
//!
//! The runtime sees a call only through the plain-data [`port`]: no SIP or RTP
//! type appears here. Unsafe code is denied except in the `.cwasm` loader
//! (`cache`), the one place wasmtime requires it.
#![deny(unsafe_code)]

mod app;
mod arguments;
pub mod bindings;
mod cache;
mod call;
mod error;
pub mod host;
mod output;
pub mod port;
mod registry;
mod runtime;
mod store;

pub use app::{App, AppInfo, check};
pub use cache::{CacheStatistics, CodeSource};
pub use call::{ExitOutcome, ExitRecord, Invocation, MEDIA_GUEST_PATH, RunningCall};
pub use error::{LoadError, RegistryError, RuntimeError, StartError};
pub use output::APP_LOG_TARGET;
pub use registry::{DEBOUNCE, PluginRegistry, RegistryEvent};
pub use runtime::{Runtime, RuntimeConfig};
pub use store::CallView;
