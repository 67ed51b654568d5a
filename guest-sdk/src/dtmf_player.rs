//! [`DtmfPlayer`]: send DTMF digits to the caller (RFC 4733 telephone-events).
//!
//! Mirrors the UAS `channel.DTMFPlayer`. Depends on the generated bindings and
//! [`Channel`](crate::Channel).

use crate::bindings::callhost::call::dtmf_player as raw;
use crate::bindings::callhost::call::dtmf_player::DtmfPlayerCause as RawDtmfPlayerCause;
use crate::channel::Channel;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// Why the last DTMF play job ended (the UAS `DTMFPlayer.Cause`).
    pub enum DtmfPlayerCause mirrors RawDtmfPlayerCause {
        /// No job has run yet, or one is still running.
        None = None => "NONE",
        /// Every digit was sent.
        Normal = Normal => "NORMAL",
        /// The job was stopped.
        Aborted = Aborted => "ABORTED",
        /// The call went idle while sending.
        Hangup = Hangup => "HANGUP",
        /// The digits could not be sent.
        Error = Error => "ERROR",
    }
}

/// The channel's DTMF player, borrowed from [`Channel::dtmf_player`].
#[derive(Debug, Clone, Copy)]
pub struct DtmfPlayer<'channel> {
    channel: &'channel Channel,
}

impl<'channel> DtmfPlayer<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        DtmfPlayer { channel }
    }

    /// Sends `digits` from `"0123456789ABCD*#"` (`","` is a 0.5 s pause) and waits
    /// until they have all been sent; returns why the job ended.
    ///
    /// Errors: `Error` for a character outside that set, `Hangup` if the call is idle.
    pub fn play(&self, digits: &str) -> Result<DtmfPlayerCause> {
        Ok(raw::play(self.channel.raw(), digits)?.into())
    }

    /// Why the last DTMF play job ended. Never blocks.
    pub fn cause(&self) -> DtmfPlayerCause {
        raw::cause(self.channel.raw()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_and_use_uas_names() {
        for &cause in DtmfPlayerCause::ALL {
            assert_eq!(
                DtmfPlayerCause::from(RawDtmfPlayerCause::from(cause)),
                cause
            );
        }
        assert_eq!(DtmfPlayerCause::Normal.to_string(), "NORMAL");
    }
}
