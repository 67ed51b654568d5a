//! call-probe (test app): places one call and logs exactly how it went, for the
//! host's outbound tests.
//!
//! Outbound parameters: the destination URI. Application parameters: space-separated
//! `key=value` options: `timeout=SECONDS`, `from=IDENTITY`, `codec=NAME` (repeatable),
//! `header=Name:value` (repeatable; sent with the INVITE), `start=1` (use
//! `start_call` + `wait_for_outgoing_call`), `info=TEXT` and `message=TEXT` (sent
//! once answered), `stay=SECONDS` (how long to stay up before hanging up; default 1;
//! the far end may hang up first).
//! Logs `call-probe: state=<STATE> cause=<CAUSE> raw=<STATUS>` after the call
//! attempt, `call-probe: header <name>=<value>` for each X- header of the answer
//! it was asked about (`expect-header=Name`), `call-probe: info answered <code>`,
//! `call-probe: message answered <code>`, and received INFO/MESSAGE bodies.
//! Exit code 0 when answered, 1 when not.

use callhost_sdk::{AppContext, CallError, CallOptions, CallState, Channel, HeaderField, Result, log};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let destination = context.outbound_parameters.clone().unwrap_or_default();
    let mut options = CallOptions::new();
    let (mut codecs, mut headers, mut start, mut stay) = (Vec::new(), Vec::new(), false, 1u32);
    let (mut info, mut message, mut expect_headers) = (None, None, Vec::new());
    for option in context.application_parameters.split_whitespace() {
        let (key, value) = option.split_once('=').ok_or_else(|| CallError::error(format!("bad option {option}")))?;
        match key {
            "timeout" => options = options.seconds_timeout(value.parse().map_err(|_| CallError::error("bad timeout"))?),
            "from" => options = options.call_from(value),
            "codec" => codecs.push(value.to_string()),
            "header" => {
                let (name, text) = value.split_once(':').ok_or_else(|| CallError::error("header=Name:value"))?;
                headers.push(HeaderField::new(name, text));
            }
            "start" => start = value == "1",
            "stay" => stay = value.parse().map_err(|_| CallError::error("bad stay"))?,
            "info" => info = Some(value.replace('_', " ")),
            "message" => message = Some(value.replace('_', " ")),
            "expect-header" => expect_headers.push(value.to_string()),
            _ => return Err(CallError::error(format!("unknown option {key}"))),
        }
    }
    let names: Vec<&str> = codecs.iter().map(String::as_str).collect();
    options = options.codecs(&names);
    channel.sip().set_header_fields_to_send(&headers)?;

    let state = if start {
        channel.start_call(&destination, &options)?;
        log::info(format!("call-probe: started, state={}", channel.state()));
        channel.wait_for_outgoing_call()?
    } else {
        channel.call(&destination, &options)?
    };
    let cause = channel.cause().map(|cause| cause.to_string()).unwrap_or_else(|| "none".into());
    let raw = channel.raw_cause().map(|code| code.to_string()).unwrap_or_else(|| "none".into());
    log::info(format!("call-probe: state={state} cause={cause} raw={raw}"));
    if state != CallState::Answered {
        return Ok(1);
    }
    for name in &expect_headers {
        if let Some(field) = channel.sip().request_header_field(name)? {
            for value in field.values() {
                log::info(format!("call-probe: header {name}={value}"));
            }
        }
    }
    if let Some(text) = info {
        log::info(format!("call-probe: info answered {}", channel.sip().send_info(&text)?));
    }
    if let Some(text) = message {
        log::info(format!("call-probe: message answered {}", channel.sip().send_message(&text)?));
    }
    let state = channel.wait_for_idle(Some(stay))?;
    for body in channel.sip().get_infos() {
        log::info(format!("call-probe: got INFO {} {}", body.content_type, body.body.trim()));
    }
    for body in channel.sip().get_messages() {
        log::info(format!("call-probe: got MESSAGE {} {}", body.content_type, body.body.trim()));
    }
    if state != CallState::Idle {
        channel.hang_up()?;
        log::info("call-probe: hung up");
    } else {
        log::info("call-probe: the far end hung up");
    }
    Ok(0)
}

callhost_sdk::export_app!(main: run);
