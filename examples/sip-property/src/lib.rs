//! sip-property: the UAS tutorial's "SIP Headers, INFO and MESSAGE" snippets as one
//! inbound app.
//!
//! Sends the header `x-aculab_header` (two values) with its answer, logs every
//! value of the caller's `x-aculab_header`, sends an INFO, a MESSAGE and a DTMF
//! INFO (`#`, 250 ms), then, for up to 10 s, logs each INFO and MESSAGE the caller
//! sends (`sip-property: INFO <content type> <body>`) and ends after the first
//! MESSAGE or when the caller hangs up. Exit code 0.

use callhost_sdk::{AppContext, CallState, Channel, HeaderField, Result, log};

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    let sip = channel.sip();
    // A header field object can hold more than one value.
    let mut header_field = HeaderField::new("x-aculab_header", "a test header value");
    header_field.add_value("another test header value");
    sip.add_header_field_to_send(header_field)?;

    if let Some(received) = sip.request_header_field("x-aculab_header")? {
        for value in received.values() {
            log::info(format!("sip-property: header value {value}"));
        }
    }
    channel.answer()?;

    let code = sip.send_info_with_type(
        "Alexey Fyodorovitch Karamazov was the third son of Fyodor Pavlovitch Karamazov.",
        "text/plain; charset=ascii",
    )?;
    log::info(format!("sip-property: INFO answered {code}"));
    let code = sip.send_message_with_type("Call me Ishmael.", "text/plain; charset=ascii")?;
    log::info(format!("sip-property: MESSAGE answered {code}"));
    let code = sip.send_info_dtmf('#', 250)?;
    log::info(format!("sip-property: DTMF INFO answered {code}"));

    for _ in 0..10 {
        for info in sip.get_infos() {
            log::info(format!("sip-property: INFO {} {}", info.content_type, info.body));
        }
        let messages = sip.get_messages();
        for message in &messages {
            log::info(format!("sip-property: MESSAGE {} {}", message.content_type, message.body));
        }
        if !messages.is_empty() || channel.wait_for_idle(Some(1))? == CallState::Idle {
            break;
        }
    }
    if channel.state() != CallState::Idle {
        channel.hang_up()?;
    }
    Ok(0)
}

callhost_sdk::export_app!(main: run);
