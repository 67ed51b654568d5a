//! Error types at the crate boundary: engine setup, plugin loading, call start
//! and the plugin registry.
//!
//! wasmtime's own error type is not a `std::error::Error`, so its text (with the
//! whole cause chain) is kept as a `reason` string. Depends on nothing else in
//! this crate.

use std::path::PathBuf;

/// The engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime rejected the engine configuration (pool sizes, memory limits).
    #[error("cannot configure the WebAssembly engine: {reason}")]
    Engine {
        /// wasmtime's explanation.
        reason: String,
    },
    /// The host functions could not be added to the linker (a bug).
    #[error("cannot link the host functions: {reason}")]
    Linker {
        /// wasmtime's explanation.
        reason: String,
    },
    /// The thread that advances the engine's epoch could not be started.
    #[error("cannot start the epoch ticker thread")]
    Ticker(#[source] std::io::Error),
}

/// A plugin file could not be turned into a runnable app.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file name does not give a service name (`<service>.wasm`).
    #[error("{path}: a plugin file must be named <service>.wasm")]
    FileName {
        /// The offending path.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read plugin {path}")]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid WebAssembly component, or it failed to compile.
    #[error("plugin {path} is not a valid WebAssembly component: {reason}")]
    Compile {
        /// The plugin file.
        path: PathBuf,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The component does not implement the `callhost:call/app` world: a missing
    /// or mistyped export, or an import the host does not provide.
    #[error("plugin {path} does not fit the callhost:call@0.1.0 app world: {reason}")]
    Contract {
        /// The plugin file.
        path: PathBuf,
        /// wasmtime's explanation.
        reason: String,
    },
    /// Calling `name()` or `version()` in a throwaway instance failed (trap,
    /// limit, …).
    #[error("plugin {path} failed while reporting its name and version: {reason}")]
    Probe {
        /// The plugin file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The compile task was cancelled or panicked.
    #[error("compiling plugin {path} did not finish: {reason}")]
    Interrupted {
        /// The plugin file.
        path: PathBuf,
        /// The task failure.
        reason: String,
    },
}

/// A call could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Every instance slot is in use. This fails at once, it does not queue:
    /// answer the call 503 with Retry-After.
    #[error("all {limit} call slots are in use")]
    PoolExhausted {
        /// The configured maximum number of concurrent calls.
        limit: u32,
    },
    /// The app's media directory could not be opened for the guest.
    #[error("cannot open media directory {path} for the app: {reason}")]
    MediaDirectory {
        /// The directory.
        path: PathBuf,
        /// Why it could not be opened.
        reason: String,
    },
    /// Instantiation failed (out of memory, a trap in a start function, …).
    #[error("cannot instantiate app {app}: {reason}")]
    Instantiate {
        /// The app's service name.
        app: String,
        /// wasmtime's explanation.
        reason: String,
    },
}

/// The plugin registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The plugins directory could not be listed.
    #[error("cannot list plugins directory {path}")]
    ReadDirectory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file-system watcher could not be set up.
    #[error("cannot watch plugins directory {path}")]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The watcher error.
        #[source]
        source: notify::Error,
    },
}
