//! The generator's error type: only local usage and I/O failures end a run with an error;
//! anything the host does wrong is a figure in the report, never an error.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the generator could not run or could not write its report.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A command-line value is out of range.
    #[error("invalid option --{option}: {reason}")]
    Usage {
        /// The option name without dashes.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The signalling socket could not be created or bound.
    #[error("cannot bind the SIP socket on {address}: {source}")]
    BindSignalling {
        /// The address we tried.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A media shard thread or the async runtime could not be started.
    #[error("cannot start {what}: {source}")]
    Start {
        /// Which component.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The report could not be written.
    #[error("cannot write the report to {path}: {source}")]
    WriteReport {
        /// The --json file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
