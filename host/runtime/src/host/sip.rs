//! `callhost:call/sip`: the UAS `channel.SIP` property — header fields to send,
//! received header fields, SIP INFO and MESSAGE. Names, digits and durations are
//! checked here; the call task sends and buffers.

use std::time::Duration;

use wasmtime::component::Resource;

use super::types::invalid_argument;
use crate::bindings::callhost::call::sip as wit;
use crate::bindings::callhost::call::types::CallError;
use crate::host::channel::ChannelHandle;
use crate::port::{self, CallCommand, SipSend};
use crate::store::CallView;

/// Characters the UAS allows in a SIP header field name (seed 000).
const HEADER_NAME_SYMBOLS: &str = "-.!%*_+`'~";
/// Most header fields an app may queue for one call or answer.
const MAX_HEADER_FIELDS: usize = 32;
/// Longest header value or INFO/MESSAGE body accepted from an app.
const MAX_SIP_TEXT: usize = 16 * 1024;
/// The DTMF INFO duration when the app gives none (seed 000).
const DEFAULT_INFO_DTMF_MILLISECONDS: u32 = 250;

/// Headers the host writes itself; an app may not send its own (full and compact forms).
const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "max-forwards",
    "content-length",
    "l",
    "content-type",
    "c",
    "content-encoding",
    "e",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "session-expires",
    "x",
    "min-se",
];

/// Check a header name against the UAS character set and the host's own headers.
pub(crate) fn check_header_name(name: &str) -> Result<(), CallError> {
    if name.is_empty() || name.len() > 128 {
        return Err(invalid_argument(
            "a header name must hold 1 to 128 characters",
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !HEADER_NAME_SYMBOLS.contains(*c))
    {
        return Err(invalid_argument(format!(
            "{bad:?} is not allowed in a header name (use a-z A-Z 0-9 {HEADER_NAME_SYMBOLS})"
        )));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(invalid_argument(format!(
            "the host writes the {name} header itself"
        )));
    }
    Ok(())
}

fn check_header_fields(fields: Vec<wit::HeaderField>) -> Result<Vec<port::HeaderField>, CallError> {
    if fields.len() > MAX_HEADER_FIELDS {
        return Err(invalid_argument(format!(
            "at most {MAX_HEADER_FIELDS} header fields"
        )));
    }
    fields
        .into_iter()
        .map(|field| {
            check_header_name(&field.name)?;
            if field.values.is_empty() {
                return Err(invalid_argument(format!(
                    "header {} has no value",
                    field.name
                )));
            }
            if let Some(bad) = field
                .values
                .iter()
                .find(|value| value.len() > MAX_SIP_TEXT || value.contains(['\r', '\n', '\0']))
            {
                let shown: String = bad.chars().take(40).collect();
                return Err(invalid_argument(format!(
                    "header {} has a bad value {shown:?} (too long, or a line break)",
                    field.name
                )));
            }
            Ok(port::HeaderField {
                name: field.name,
                values: field.values,
            })
        })
        .collect()
}

fn check_body(body: &str, content_type: &Option<String>) -> Result<(), CallError> {
    if body.len() > MAX_SIP_TEXT {
        return Err(invalid_argument(format!(
            "a SIP body may hold at most {MAX_SIP_TEXT} bytes"
        )));
    }
    if content_type
        .as_ref()
        .is_some_and(|value| value.trim().is_empty() || value.contains(['\r', '\n', '\0']))
    {
        return Err(invalid_argument(
            "a content type must be one non-empty line",
        ));
    }
    Ok(())
}

fn to_wit_field(field: port::HeaderField) -> wit::HeaderField {
    wit::HeaderField {
        name: field.name,
        values: field.values,
    }
}

impl From<port::SipState> for wit::SipState {
    fn from(state: port::SipState) -> Self {
        match state {
            port::SipState::Idle => wit::SipState::Idle,
            port::SipState::Busy => wit::SipState::Busy,
            port::SipState::Error => wit::SipState::Error,
        }
    }
}

impl CallView<'_> {
    async fn sip_send(
        &mut self,
        channel: &Resource<ChannelHandle>,
        what: SipSend,
    ) -> wasmtime::Result<Result<u16, CallError>> {
        let port = self.port(channel)?;
        Ok(port
            .request(|reply| CallCommand::SipSend { what, reply })
            .await
            .map_err(Into::into))
    }

    async fn sip_received(
        &mut self,
        channel: &Resource<ChannelHandle>,
        messages: bool,
    ) -> wasmtime::Result<Vec<wit::SipBody>> {
        let port = self.port(channel)?;
        // A call task that has gone has nothing buffered.
        let bodies = port
            .request(|reply| CallCommand::SipReceived { messages, reply })
            .await
            .unwrap_or_default();
        Ok(bodies
            .into_iter()
            .map(|body| wit::SipBody {
                body: body.body,
                content_type: body.content_type,
            })
            .collect())
    }
}

impl wit::Host for CallView<'_> {
    async fn header_fields_to_send(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Vec<wit::HeaderField>> {
        let port = self.port(&channel)?;
        let fields = port
            .request(|reply| CallCommand::HeaderFields { reply })
            .await
            .unwrap_or_default();
        Ok(fields.into_iter().map(to_wit_field).collect())
    }

    async fn set_header_fields_to_send(
        &mut self,
        channel: Resource<ChannelHandle>,
        fields: Vec<wit::HeaderField>,
    ) -> wasmtime::Result<Result<(), CallError>> {
        let port = self.port(&channel)?;
        let fields = match check_header_fields(fields) {
            Ok(fields) => fields,
            Err(error) => return Ok(Err(error)),
        };
        Ok(port
            .request(|reply| CallCommand::SetHeaderFields { fields, reply })
            .await
            .map_err(Into::into))
    }

    async fn request_header_field(
        &mut self,
        channel: Resource<ChannelHandle>,
        name: String,
    ) -> wasmtime::Result<Result<Option<wit::HeaderField>, CallError>> {
        let port = self.port(&channel)?;
        Ok(port
            .request(|reply| CallCommand::RequestHeader { name, reply })
            .await
            .map(|field| field.map(to_wit_field))
            .map_err(Into::into))
    }

    async fn send_info(
        &mut self,
        channel: Resource<ChannelHandle>,
        body: String,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<u16, CallError>> {
        if let Err(error) = check_body(&body, &content_type) {
            return Ok(Err(error));
        }
        self.sip_send(&channel, SipSend::Info { body, content_type })
            .await
    }

    async fn send_info_dtmf(
        &mut self,
        channel: Resource<ChannelHandle>,
        digit: String,
        milliseconds_duration: Option<u32>,
    ) -> wasmtime::Result<Result<u16, CallError>> {
        let digit = match digit.to_ascii_uppercase().as_str() {
            one if one.len() == 1 && "0123456789ABCD*#".contains(one) => {
                one.chars().next().unwrap_or('0')
            }
            _ => {
                return Ok(Err(invalid_argument(format!(
                    "{digit:?} is not one DTMF digit (0-9 A-D * #)"
                ))));
            }
        };
        let milliseconds = milliseconds_duration.unwrap_or(DEFAULT_INFO_DTMF_MILLISECONDS);
        if !(100..=5000).contains(&milliseconds) {
            return Ok(Err(invalid_argument(format!(
                "a DTMF duration must be 100 to 5000 ms, not {milliseconds}"
            ))));
        }
        let duration = Duration::from_millis(milliseconds.into());
        self.sip_send(&channel, SipSend::InfoDtmf { digit, duration })
            .await
    }

    async fn send_message(
        &mut self,
        channel: Resource<ChannelHandle>,
        body: String,
        content_type: Option<String>,
    ) -> wasmtime::Result<Result<u16, CallError>> {
        if let Err(error) = check_body(&body, &content_type) {
            return Ok(Err(error));
        }
        self.sip_send(&channel, SipSend::Message { body, content_type })
            .await
    }

    async fn get_infos(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Vec<wit::SipBody>> {
        self.sip_received(&channel, false).await
    }

    async fn get_messages(
        &mut self,
        channel: Resource<ChannelHandle>,
    ) -> wasmtime::Result<Vec<wit::SipBody>> {
        self.sip_received(&channel, true).await
    }

    async fn state(&mut self, channel: Resource<ChannelHandle>) -> wasmtime::Result<wit::SipState> {
        Ok(self.port(&channel)?.snapshot.borrow().sip_state.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_follow_the_uas_rules() {
        assert!(check_header_name("X-Authorization").is_ok());
        assert!(
            check_header_name("P-Asserted-Identity").is_ok(),
            "any non-core header, not only x-"
        );
        assert!(check_header_name("x.a!b%c*d_e+f`g'h~i").is_ok());
        assert!(check_header_name("").is_err());
        assert!(check_header_name("X Foo").is_err());
        assert!(check_header_name("X:Foo").is_err());
        assert!(check_header_name("Call-ID").is_err(), "reserved");
        assert!(check_header_name("CONTACT").is_err(), "reserved, any case");
        assert!(check_header_name("m").is_err(), "compact Contact");
    }

    #[test]
    fn header_fields_need_values_without_line_breaks() {
        let field = |name: &str, values: &[&str]| wit::HeaderField {
            name: name.into(),
            values: values.iter().map(|value| value.to_string()).collect(),
        };
        assert_eq!(
            check_header_fields(vec![field("X-A", &["1", "2"])]).expect("valid"),
            vec![port::HeaderField {
                name: "X-A".into(),
                values: vec!["1".into(), "2".into()]
            }]
        );
        assert!(check_header_fields(vec![field("X-A", &[])]).is_err());
        assert!(check_header_fields(vec![field("X-A", &["a\r\nVia: evil"])]).is_err());
        assert!(
            check_header_fields(
                (0..=MAX_HEADER_FIELDS)
                    .map(|_| field("X-A", &["1"]))
                    .collect()
            )
            .is_err()
        );
    }
}
