//! The crate's error type: what callers of callhost-sip can see go wrong.
//!
//! Depends on nothing but `thiserror`; rsipstack errors are flattened to text
//! so no rsipstack type crosses the crate boundary.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::Transport;

/// Errors from the SIP endpoint and from call handles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SipError {
    /// A listener could not be bound.
    #[error("cannot bind the SIP {transport} listener on {address}: {source}")]
    Bind {
        /// Which listener.
        transport: Transport,
        /// The address asked for.
        address: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The configuration cannot work.
    #[error("invalid SIP configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A TLS certificate, private key or trust anchor file cannot be used
    /// (unreadable, no PEM content, or a key that does not fit the chain).
    #[error("cannot use the TLS file {}: {reason}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The SIP stack refused an operation (the text comes from the stack).
    #[error("SIP stack error: {reason}")]
    Stack {
        /// The stack's own description.
        reason: String,
    },
    /// The caller cancelled the call (CANCEL) before it was answered.
    #[error("call {call_id} was cancelled by the caller")]
    Cancelled {
        /// Call-ID of the call.
        call_id: String,
    },
    /// The call is already over.
    #[error("call {call_id} has ended")]
    CallEnded {
        /// Call-ID of the call.
        call_id: String,
    },
    /// No ACK arrived for our 2xx within Timer H (RFC 3261 §13.3.1.4).
    #[error("no ACK for the 200 OK of call {call_id} within Timer H")]
    AckTimeout {
        /// Call-ID of the call.
        call_id: String,
    },
    /// The operation does not fit the call's current state.
    #[error("cannot {operation} call {call_id} while it is {state}")]
    InvalidState {
        /// Call-ID of the call.
        call_id: String,
        /// What was attempted.
        operation: &'static str,
        /// The state the call is in.
        state: &'static str,
    },
    /// A status code that the operation cannot send.
    #[error("status code {code} cannot be used to {operation}")]
    InvalidStatus {
        /// The code given.
        code: u16,
        /// What was attempted.
        operation: &'static str,
    },
    /// A target, From or proxy address that cannot be used.
    #[error("invalid SIP address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header that may not be sent: a name that is not an RFC 3261 token
    /// (letters, digits and `-.!%*_+'~` or the backquote), a header the stack owns (Via, From, To,
    /// Call-ID, CSeq, Contact, Max-Forwards, Content-Length, Content-Type,
    /// Route, Record-Route, or a compact form of one), or a value with a
    /// line break.
    #[error("header {name:?} cannot be sent: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The address asks for a transport this endpoint does not offer
    /// (SCTP, WebSocket, or UDP/TCP/TLS when that listener is off).
    #[error("transport {transport} is not supported for outgoing requests")]
    UnsupportedTransport {
        /// The transport asked for.
        transport: String,
    },
    /// The next hop could not be resolved or connected to.
    #[error("cannot reach {destination}: {reason}")]
    Unreachable {
        /// The host (and port) we tried.
        destination: String,
        /// What went wrong.
        reason: String,
    },
}

impl SipError {
    pub(crate) fn stack(error: impl std::fmt::Display) -> Self {
        SipError::Stack {
            reason: error.to_string(),
        }
    }
}
