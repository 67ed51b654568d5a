//! `callhost:call/dtmf-detector`: collect DTMF digits (RFC 4733 telephone
//! events, detected by the call task).

use wasmtime::component::Resource;

use super::types::seconds;
use crate::arguments::{MAX_END_DIGITS_BYTES, check_size};
use crate::bindings::callhost::call::dtmf_detector as wit;
use crate::bindings::callhost::call::types::CallError;
use crate::host::channel::ChannelHandle;
use crate::port::{self, CallCommand, GetDigitsOptions};
use crate::store::CallView;

impl From<port::DetectorCause> for wit::DetectorCause {
    fn from(cause: port::DetectorCause) -> Self {
        match cause {
            port::DetectorCause::None => wit::DetectorCause::None,
            port::DetectorCause::Count => wit::DetectorCause::Count,
            port::DetectorCause::End => wit::DetectorCause::End,
            port::DetectorCause::Timeout => wit::DetectorCause::Timeout,
            port::DetectorCause::Hangup => wit::DetectorCause::Hangup,
            port::DetectorCause::Error => wit::DetectorCause::Error,
        }
    }
}

/// The port's options from the WIT record; bad timeouts are the app's error.
pub(crate) fn digits_options(
    options: wit::GetDigitsOptions,
) -> Result<GetDigitsOptions, CallError> {
    check_size("set of end digits", &options.end, MAX_END_DIGITS_BYTES)?;
    Ok(GetDigitsOptions {
        count: options.count,
        end: options.end,
        predigits_timeout: seconds(
            "seconds-predigits-timeout",
            options.seconds_predigits_timeout,
        )?,
        interdigit_timeout: seconds(
            "seconds-interdigit-timeout",
            options.seconds_interdigit_timeout,
        )?,
        overall_timeout: seconds("seconds-timeout", options.seconds_timeout)?,
        clear: options.clear,
    })
}

impl wit::Host for CallView<'_> {
    async fn get_digits(
        &mut self,
        channel: Resource<ChannelHandle>,
        options: wit::GetDigitsOptions,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let port = self.port(&channel)?;
        let options = match digits_options(options) {
            Ok(options) => options,
            Err(error) => return Ok(Err(error)),
        };
        Ok(port
            .request(|reply| CallCommand::GetDigits { options, reply })
            .await
            .map_err(Into::into))
    }

    async fn cause(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<wit::DetectorCause> {
        Ok(self.port(&channel)?.snapshot.borrow().detector_cause.into())
    }

    async fn clear(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<()> {
        let port = self.port(&channel)?;
        // A call task that has gone away has no digits left to clear.
        let _ = port.commands.send(Box::new(CallCommand::ClearDigits)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn options_convert_seconds_to_durations() {
        let options = digits_options(wit::GetDigitsOptions {
            count: Some(4),
            end: "#".into(),
            seconds_predigits_timeout: Some(5.0),
            seconds_interdigit_timeout: None,
            seconds_timeout: Some(0.25),
            clear: true,
        })
        .expect("valid");
        assert_eq!(
            options,
            GetDigitsOptions {
                count: Some(4),
                end: "#".into(),
                predigits_timeout: Some(Duration::from_secs(5)),
                interdigit_timeout: None,
                overall_timeout: Some(Duration::from_millis(250)),
                clear: true,
            }
        );
    }

    #[test]
    fn a_negative_timeout_is_the_apps_error() {
        let result = digits_options(wit::GetDigitsOptions {
            count: None,
            end: String::new(),
            seconds_predigits_timeout: Some(-3.0),
            seconds_interdigit_timeout: None,
            seconds_timeout: None,
            clear: false,
        });
        assert!(
            matches!(result, Err(CallError::Error(text)) if text.contains("seconds-predigits-timeout"))
        );
    }
}
