//! The `sip` interface of a leg (the UAS `channel.SIP` property): header fields
//! to send, received headers, sending SIP INFO and MESSAGE, and the buffers of
//! received ones.
//!
//! Sending runs in its own task so a slow peer (up to Timer F, 32 s) never
//! stalls the instance's other legs; the task keeps the snapshot's `sip-state`
//! (BUSY while sending, ERROR after a failure) and replies to the app.
//! Content types default as seed 000 describes. RFC 6086 (INFO), RFC 3428
//! (MESSAGE).

use tracing::{debug, info};

use callhost_runtime::port::{CallCommand, CallError, CallState, HeaderField, SipSend, SipState};

use super::leg::Leg;

/// Header fields as one `(name, value)` line per value.
pub(crate) fn header_lines(fields: &[HeaderField]) -> Vec<(String, String)> {
    fields
        .iter()
        .flat_map(|field| {
            field
                .values
                .iter()
                .map(|value| (field.name.clone(), value.clone()))
        })
        .collect()
}

/// The seed's default content type for text: ascii when the text is, else UTF-8.
pub fn text_content_type(body: &str) -> &'static str {
    if body.is_ascii() {
        "text/plain; charset=ascii"
    } else {
        "text/plain; charset=UTF-8"
    }
}

/// The body of a DTMF INFO (application/dtmf-relay, the de-facto format).
pub fn dtmf_relay_body(digit: char, milliseconds: u128) -> String {
    format!("Signal={digit}\r\nDuration={milliseconds}\r\n")
}

/// The method, content type and body an app's send request puts on the wire.
pub fn wire_form(what: SipSend) -> (&'static str, String, String) {
    match what {
        SipSend::Info {
            body,
            content_type: Some(content_type),
        } => ("INFO", content_type, body),
        SipSend::Info {
            body,
            content_type: None,
        } => {
            let mut characters = body.chars();
            match (characters.next(), characters.next()) {
                (Some(digit), None) if "0123456789ABCD*#".contains(digit.to_ascii_uppercase()) => (
                    "INFO",
                    "application/dtmf-relay".into(),
                    dtmf_relay_body(digit.to_ascii_uppercase(), 250),
                ),
                _ => ("INFO", text_content_type(&body).into(), body),
            }
        }
        SipSend::InfoDtmf { digit, duration } => (
            "INFO",
            "application/dtmf-relay".into(),
            dtmf_relay_body(digit, duration.as_millis()),
        ),
        SipSend::Message { body, content_type } => {
            let content_type = content_type.unwrap_or_else(|| text_content_type(&body).into());
            ("MESSAGE", content_type, body)
        }
    }
}

/// The `sip` commands of one leg.
pub(crate) fn command(leg: &mut Leg, command: CallCommand) {
    match command {
        CallCommand::SetHeaderFields { fields, reply } => {
            leg.headers_to_send = fields;
            let _ = reply.send(Ok(()));
        }
        CallCommand::HeaderFields { reply } => {
            let _ = reply.send(Ok(leg.headers_to_send.clone()));
        }
        CallCommand::RequestHeader { name, reply } => {
            let state = leg.state();
            let result = match state {
                CallState::CallIncoming
                | CallState::RingIncoming
                | CallState::Answered
                | CallState::OnHold
                | CallState::Holding
                | CallState::Transferred => {
                    let values: Vec<String> = leg
                        .received_headers
                        .iter()
                        .filter(|(header, _)| header.eq_ignore_ascii_case(&name))
                        .map(|(_, value)| value.clone())
                        .collect();
                    Ok((!values.is_empty()).then_some(HeaderField { name, values }))
                }
                other => Err(CallError::Error(format!(
                    "request headers can be read in CALL_INCOMING, RING_INCOMING or ANSWERED (state is {other:?})"
                ))),
            };
            let _ = reply.send(result);
        }
        CallCommand::SipReceived { messages, reply } => {
            let buffer = if messages {
                &mut leg.messages
            } else {
                &mut leg.infos
            };
            let _ = reply.send(Ok(buffer.drain(..).collect()));
        }
        CallCommand::SipSend { what, reply } => {
            if !matches!(
                leg.state(),
                CallState::Answered
                    | CallState::OnHold
                    | CallState::Holding
                    | CallState::Transferred
            ) {
                let _ = reply.send(Err(CallError::Hangup(format!(
                    "INFO and MESSAGE need an answered call (state is {:?})",
                    leg.state()
                ))));
                return;
            }
            let (method, content_type, body) = wire_form(what);
            let signalling = leg.signalling.clone();
            let snapshot = leg.snapshot.clone();
            snapshot.send_modify(|snapshot| snapshot.sip_state = SipState::Busy);
            tokio::spawn(async move {
                let sent = if method == "INFO" {
                    signalling.send_info(&content_type, &body).await
                } else {
                    signalling.send_message(&content_type, &body).await
                };
                let (state, result) = match sent {
                    Ok(code) => {
                        info!(method, %content_type, code, "sent");
                        let state = if (200..300).contains(&code) {
                            SipState::Idle
                        } else {
                            SipState::Error
                        };
                        (state, Ok(code))
                    }
                    Err(error) => {
                        debug!(method, %error, "send failed");
                        (
                            SipState::Error,
                            Err(CallError::Error(format!(
                                "could not send the {method}: {error}"
                            ))),
                        )
                    }
                };
                snapshot.send_modify(|snapshot| snapshot.sip_state = state);
                let _ = reply.send(result);
            });
        }
        other => debug!(?other, "command not for a single leg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn content_types_default_as_the_seed_says() {
        let info = |body: &str| {
            wire_form(SipSend::Info {
                body: body.into(),
                content_type: None,
            })
        };
        assert_eq!(
            info("hello"),
            ("INFO", "text/plain; charset=ascii".into(), "hello".into())
        );
        assert_eq!(
            info("héllo"),
            ("INFO", "text/plain; charset=UTF-8".into(), "héllo".into())
        );
        assert_eq!(
            info("5"),
            (
                "INFO",
                "application/dtmf-relay".into(),
                "Signal=5\r\nDuration=250\r\n".into()
            )
        );
        assert_eq!(
            info("b"),
            (
                "INFO",
                "application/dtmf-relay".into(),
                "Signal=B\r\nDuration=250\r\n".into()
            )
        );
        assert_eq!(info("55").1, "text/plain; charset=ascii");
        let typed = wire_form(SipSend::Info {
            body: "{}".into(),
            content_type: Some("application/json".into()),
        });
        assert_eq!(typed, ("INFO", "application/json".into(), "{}".into()));
        let dtmf = wire_form(SipSend::InfoDtmf {
            digit: '#',
            duration: Duration::from_millis(500),
        });
        assert_eq!(dtmf.2, "Signal=#\r\nDuration=500\r\n");
        let message = wire_form(SipSend::Message {
            body: "5".into(),
            content_type: None,
        });
        assert_eq!(
            message,
            ("MESSAGE", "text/plain; charset=ascii".into(), "5".into()),
            "no DTMF rule for MESSAGE"
        );
    }

    #[test]
    fn header_fields_become_one_line_per_value() {
        let fields = [HeaderField {
            name: "X-A".into(),
            values: vec!["1".into(), "2".into()],
        }];
        assert_eq!(
            header_lines(&fields),
            [
                ("X-A".to_string(), "1".to_string()),
                ("X-A".to_string(), "2".to_string())
            ]
        );
    }
}
