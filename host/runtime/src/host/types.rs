//! `callhost:call/types`: conversions between the WIT types and the port's
//! plain-data types.

use crate::bindings::callhost::call::types as wit;
use crate::port;
use crate::store::CallView;

impl wit::Host for CallView<'_> {}

impl From<port::CallState> for wit::CallState {
    fn from(state: port::CallState) -> Self {
        match state {
            port::CallState::Waiting => wit::CallState::Waiting,
            port::CallState::CallIncoming => wit::CallState::CallIncoming,
            port::CallState::RingIncoming => wit::CallState::RingIncoming,
            port::CallState::Answering => wit::CallState::Answering,
            port::CallState::Answered => wit::CallState::Answered,
            port::CallState::CallOutgoing => wit::CallState::CallOutgoing,
            port::CallState::RingOutgoing => wit::CallState::RingOutgoing,
            port::CallState::Holding => wit::CallState::Holding,
            port::CallState::OnHold => wit::CallState::OnHold,
            port::CallState::Transferring => wit::CallState::Transferring,
            port::CallState::Transferred => wit::CallState::Transferred,
            port::CallState::Reconnecting => wit::CallState::Reconnecting,
            port::CallState::Error => wit::CallState::Error,
            port::CallState::Idle => wit::CallState::Idle,
        }
    }
}

impl From<port::CallCause> for wit::CallCause {
    fn from(cause: port::CallCause) -> Self {
        match cause {
            port::CallCause::Timeout => wit::CallCause::Timeout,
            port::CallCause::Error => wit::CallCause::Error,
            port::CallCause::Normal => wit::CallCause::Normal,
            port::CallCause::Busy => wit::CallCause::Busy,
            port::CallCause::NoAnswer => wit::CallCause::Noanswer,
            port::CallCause::Unobtainable => wit::CallCause::Unobtainable,
            port::CallCause::Changed => wit::CallCause::Changed,
            port::CallCause::OutOfOrder => wit::CallCause::Outoforder,
            port::CallCause::Barred => wit::CallCause::Barred,
            port::CallCause::Rejected => wit::CallCause::Rejected,
            port::CallCause::NoChannels => wit::CallCause::Nochannels,
            port::CallCause::Congestion => wit::CallCause::Congestion,
            port::CallCause::Failed => wit::CallCause::Failed,
            port::CallCause::Other => wit::CallCause::Other,
        }
    }
}

impl From<wit::CallCause> for port::CallCause {
    fn from(cause: wit::CallCause) -> Self {
        match cause {
            wit::CallCause::Timeout => port::CallCause::Timeout,
            wit::CallCause::Error => port::CallCause::Error,
            wit::CallCause::Normal => port::CallCause::Normal,
            wit::CallCause::Busy => port::CallCause::Busy,
            wit::CallCause::Noanswer => port::CallCause::NoAnswer,
            wit::CallCause::Unobtainable => port::CallCause::Unobtainable,
            wit::CallCause::Changed => port::CallCause::Changed,
            wit::CallCause::Outoforder => port::CallCause::OutOfOrder,
            wit::CallCause::Barred => port::CallCause::Barred,
            wit::CallCause::Rejected => port::CallCause::Rejected,
            wit::CallCause::Nochannels => port::CallCause::NoChannels,
            wit::CallCause::Congestion => port::CallCause::Congestion,
            wit::CallCause::Failed => port::CallCause::Failed,
            wit::CallCause::Other => port::CallCause::Other,
        }
    }
}

impl From<port::CallError> for wit::CallError {
    fn from(error: port::CallError) -> Self {
        match error {
            port::CallError::Hangup(text) => wit::CallError::Hangup(text),
            port::CallError::Error(text) => wit::CallError::Error(text),
        }
    }
}

/// A `call-error::error` for a bad argument.
pub(crate) fn invalid_argument(text: impl Into<String>) -> wit::CallError {
    wit::CallError::Error(text.into())
}

/// A WIT `seconds` value as a duration; `Err` for negative, NaN, infinite or
/// absurdly large values.
pub(crate) fn seconds(
    what: &str,
    value: Option<f64>,
) -> Result<Option<std::time::Duration>, wit::CallError> {
    // A day is far beyond any sensible telephony timeout; larger values are
    // almost certainly a unit mistake (milliseconds passed as seconds).
    const MAX_SECONDS: f64 = 24.0 * 60.0 * 60.0;
    match value {
        None => Ok(None),
        Some(seconds) if seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds) => {
            Ok(Some(std::time::Duration::from_secs_f64(seconds)))
        }
        Some(seconds) => Err(invalid_argument(format!(
            "{what} must be between 0 and {MAX_SECONDS} seconds, not {seconds}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn causes_round_trip() {
        use port::CallCause::*;
        for cause in [
            Timeout,
            Error,
            Normal,
            Busy,
            NoAnswer,
            Unobtainable,
            Changed,
            OutOfOrder,
            Barred,
            Rejected,
            NoChannels,
            Congestion,
            Failed,
            Other,
        ] {
            assert_eq!(port::CallCause::from(wit::CallCause::from(cause)), cause);
        }
    }

    #[test]
    fn seconds_accepts_sensible_values_only() {
        assert_eq!(seconds("t", None), Ok(None));
        assert_eq!(
            seconds("t", Some(2.5)),
            Ok(Some(Duration::from_millis(2500)))
        );
        assert_eq!(seconds("t", Some(0.0)), Ok(Some(Duration::ZERO)));
        assert!(seconds("t", Some(-1.0)).is_err());
        assert!(seconds("t", Some(f64::NAN)).is_err());
        assert!(seconds("t", Some(f64::INFINITY)).is_err());
        assert!(seconds("t", Some(1e12)).is_err());
    }
}
