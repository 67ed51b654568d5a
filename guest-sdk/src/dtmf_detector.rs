//! [`DtmfDetector`] and [`GetDigits`]: collect DTMF digits from the caller.
//!
//! Mirrors the UAS `channel.DTMFDetector`. Digits arrive as RFC 4733
//! telephone-events; the host buffers them from the moment the call is answered, so
//! a digit pressed during a barge-in prompt is the first one `get_digits` returns.
//! Depends on the generated bindings and [`Channel`](crate::Channel).

use crate::bindings::callhost::call::dtmf_detector as raw;
use crate::bindings::callhost::call::dtmf_detector::DetectorCause as RawDetectorCause;
use crate::channel::Channel;
use crate::error::Result;
use crate::mirror::mirror_enum;

mirror_enum! {
    /// Why the last `get_digits` ended (the UAS `DTMFDetector.Cause`).
    pub enum DetectorCause mirrors RawDetectorCause {
        /// No collection has run yet.
        None = None => "NONE",
        /// The requested number of digits arrived ([`GetDigits::count`]).
        Count = Count => "COUNT",
        /// An end digit arrived ([`GetDigits::end`]).
        End = End => "END",
        /// A timeout expired; the digits that did arrive are still returned.
        Timeout = Timeout => "TIMEOUT",
        /// The call went idle.
        Hangup = Hangup => "HANGUP",
        /// Collection failed.
        Error = Error => "ERROR",
    }
}

/// The parameters of one [`DtmfDetector::get_digits`] (the UAS `get_digits`
/// keyword arguments), built with chained setters.
///
/// With no setter at all, collection only ends when the call does; set at least a
/// count, an end digit or a timeout.
///
/// ```
/// use callhost_sdk::GetDigits;
/// // Up to 16 digits or "#", 10 s for the first digit and 5 s between digits.
/// let options = GetDigits::new()
///     .end("#")
///     .count(16)
///     .predigits_timeout(10.0)
///     .interdigit_timeout(5.0);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct GetDigits {
    count: Option<u32>,
    end: String,
    seconds_predigits_timeout: Option<f64>,
    seconds_interdigit_timeout: Option<f64>,
    seconds_timeout: Option<f64>,
    clear: bool,
}

impl GetDigits {
    /// No limits, keep buffered digits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Return once this many digits have arrived (cause [`DetectorCause::Count`]).
    pub fn count(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// Any of these digits ends collection (cause [`DetectorCause::End`]); the end
    /// digit is included in the returned string.
    pub fn end(mut self, end_digits: impl Into<String>) -> Self {
        self.end = end_digits.into();
        self
    }

    /// Give up if no first digit arrives within this many seconds.
    pub fn predigits_timeout(mut self, seconds: f64) -> Self {
        self.seconds_predigits_timeout = Some(seconds);
        self
    }

    /// Give up if no further digit arrives within this many seconds of the last one.
    pub fn interdigit_timeout(mut self, seconds: f64) -> Self {
        self.seconds_interdigit_timeout = Some(seconds);
        self
    }

    /// Overall limit in seconds for the whole collection.
    pub fn timeout(mut self, seconds: f64) -> Self {
        self.seconds_timeout = Some(seconds);
        self
    }

    /// Discard digits buffered before this call (e.g. typed ahead during a prompt).
    pub fn clear(mut self, clear: bool) -> Self {
        self.clear = clear;
        self
    }

    fn to_raw(&self) -> raw::GetDigitsOptions {
        raw::GetDigitsOptions {
            count: self.count,
            end: self.end.clone(),
            seconds_predigits_timeout: self.seconds_predigits_timeout,
            seconds_interdigit_timeout: self.seconds_interdigit_timeout,
            seconds_timeout: self.seconds_timeout,
            clear: self.clear,
        }
    }
}

/// The channel's DTMF detector, borrowed from [`Channel::dtmf_detector`].
#[derive(Debug, Clone, Copy)]
pub struct DtmfDetector<'channel> {
    channel: &'channel Channel,
}

impl<'channel> DtmfDetector<'channel> {
    pub(crate) fn new(channel: &'channel Channel) -> Self {
        DtmfDetector { channel }
    }

    /// Waits for digits as `options` say and returns those collected (possibly
    /// empty on a timeout). Check [`DtmfDetector::cause`] for why it returned.
    ///
    /// Errors: `Hangup` if the call goes idle, `Error` for invalid options.
    pub fn get_digits(&self, options: GetDigits) -> Result<String> {
        Ok(raw::get_digits(self.channel.raw(), &options.to_raw())?)
    }

    /// Why the last [`DtmfDetector::get_digits`] ended. Never blocks.
    pub fn cause(&self) -> DetectorCause {
        raw::cause(self.channel.raw()).into()
    }

    /// Discards buffered digits. Never blocks.
    pub fn clear(&self) {
        raw::clear(self.channel.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_options_have_no_limits() {
        let options = GetDigits::new().to_raw();
        assert_eq!(options.count, None);
        assert_eq!(options.end, "");
        assert_eq!(options.seconds_predigits_timeout, None);
        assert_eq!(options.seconds_interdigit_timeout, None);
        assert_eq!(options.seconds_timeout, None);
        assert!(!options.clear);
    }

    #[test]
    fn every_setter_reaches_the_wit_record() {
        let options = GetDigits::new()
            .end("#*")
            .count(16)
            .predigits_timeout(10.0)
            .interdigit_timeout(5.0)
            .timeout(30.5)
            .clear(true)
            .to_raw();
        assert_eq!(options.count, Some(16));
        assert_eq!(options.end, "#*");
        assert_eq!(options.seconds_predigits_timeout, Some(10.0));
        assert_eq!(options.seconds_interdigit_timeout, Some(5.0));
        assert_eq!(options.seconds_timeout, Some(30.5));
        assert!(options.clear);
    }

    #[test]
    fn causes_round_trip_and_use_uas_names() {
        for &cause in DetectorCause::ALL {
            assert_eq!(DetectorCause::from(RawDetectorCause::from(cause)), cause);
        }
        assert_eq!(DetectorCause::End.to_string(), "END");
    }
}
