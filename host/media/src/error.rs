//! The crate-boundary error type, [`MediaError`].

use std::net::{IpAddr, SocketAddr};

use crate::prompt::PromptError;
use crate::sdp::{NegotiationError, SdpParseError};

/// Everything the media layer's public API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The configured RTP port range holds no even port.
    #[error("RTP port range {start}-{end} contains no even port")]
    InvalidPortRange {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// The bind address is a wildcard and no address to put in SDP was configured.
    #[error("bind address {bind_ip} is unspecified: configure the address to advertise in SDP")]
    NoAdvertisedAddress {
        /// The configured bind address.
        bind_ip: IpAddr,
    },
    /// The codec preference list is empty.
    #[error("no codecs configured")]
    NoCodecs,
    /// The offer (or answer) is not parseable SDP (answer 400 to an offer).
    #[error("malformed SDP: {0}")]
    InvalidSdp(#[from] SdpParseError),
    /// The offer is valid but has nothing we can accept (answer 488 Not Acceptable Here); or
    /// the answer to our offer is unusable (rejected stream, codec we did not offer).
    #[error("offer not acceptable: {0}")]
    NotAcceptable(#[from] NegotiationError),
    /// Every port of the range is in use.
    #[error("no free RTP port in {start}-{end}")]
    NoFreePort {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// Binding an RTP socket failed for a reason other than "in use".
    #[error("cannot bind RTP socket {address}: {source}")]
    Bind {
        /// The address we tried.
        address: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// A character `send_dtmf` cannot send.
    #[error("invalid DTMF character {digit:?} at position {position}")]
    InvalidDtmfDigit {
        /// The character.
        digit: char,
        /// Its character position.
        position: usize,
    },
    /// Loading a prompt failed.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The session's driver has stopped.
    #[error("media session closed")]
    SessionClosed,
    /// `accept_reanswer` without an outstanding `hold_offer`.
    #[error("no offer of ours is waiting for an answer")]
    NoPendingOffer,
    /// `connect` was given the session itself.
    #[error("a media session cannot be connected to itself")]
    ConnectToItself,
}

impl MediaError {
    /// True for offers that are well-formed but unacceptable: the SIP answer is 488.
    pub fn is_not_acceptable(&self) -> bool {
        matches!(self, MediaError::NotAcceptable(_))
    }
}
