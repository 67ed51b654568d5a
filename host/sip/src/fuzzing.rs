//! Entry points for the fuzz targets in `fuzz/` and their replay tests
//! (`tests/fuzz_regressions.rs`). Compiled only with the `fuzzing` feature and
//! hidden from the docs: this is not API for the server.
//!
//! What lives here: [`receive`] runs one received message through exactly the
//! pure steps the endpoint runs on it — the validator ([`crate::validate`],
//! RFC 3261 §8.2 / §18.3, RFC 4475), then for accepted messages rsipstack's
//! parse, the Via `received`/`rport` update (RFC 3261 §18.2.1, RFC 3581) and
//! the transaction key (§17.2.3), then the request and response readers the
//! call layer applies (tags, Content-Type, offer checks, dialog state of
//! §12.1.1 / §12.1.2, the response we would send, §8.2.6). Sockets, timers and
//! the transaction layer's state machines are left out.
//!
//! It checks the validator's contract on the way and panics (the fuzzer's
//! crash signal) when it is broken: accepted bytes must parse and get a
//! transaction key, and a stateless reply must start with its status line.
//!
//! Depends on the crate's internal modules only; nothing else in the crate
//! depends on it.

use std::net::SocketAddr;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Method, Request, Response, SipMessage, ToTypedHeader};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::SipConnection;

use crate::Transport;
use crate::dialog::{Dialog, DialogKey};
use crate::message::{
    ResponseSpec, check_offer, content_type, from_tag, full_content_type, header_list, response,
    sdp_body, to_tag, uri_text,
};
use crate::validate::{Inspector, Verdict};

/// What happened to one received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handed to rsipstack (a request, a response, or a keepalive).
    Accepted,
    /// Answered statelessly with this status.
    Replied {
        /// The status code of the stateless response.
        status: u16,
    },
    /// Dropped without an answer.
    Discarded,
}

/// The address every fuzzed message comes from (TEST-NET-1, RFC 5737).
fn source() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5060))
}

/// The address our side of a fuzzed dialog has.
fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}

/// Run `bytes`, received over `transport` (one UDP datagram, or one message
/// already framed from a stream), through the endpoint's receive path and
/// report the verdict.
///
/// Panics only when the validator's contract is broken (see the module
/// docs); any input is fine otherwise. Blocking and cheap: no I/O.
pub fn receive(bytes: &[u8], transport: Transport) -> Outcome {
    // Every datagram the host sends goes through this, and it holds header
    // values a peer chose; one of ours must go, and only ours.
    let sent = crate::wire::strip_rfc2543_tags(bytes);
    let stand_in = crate::wire::RFC2543_TAG_PARAM_LENGTH;
    assert!(
        sent.len() <= bytes.len() && (bytes.len() - sent.len()).is_multiple_of(stand_in),
        "the send-path strip removes whole stand-in tags only"
    );
    let inspector = Inspector::new("callhost-fuzz");
    match inspector.inspect(bytes, transport, source()) {
        Verdict::Accept(accepted) => {
            // Keepalives pass the validator; rsipstack answers or skips them
            // before its parser.
            if !accepted.iter().all(u8::is_ascii_whitespace) {
                after_acceptance(&accepted, transport);
            }
            Outcome::Accepted
        }
        Verdict::Reply(rejection) => {
            let status_line = format!("SIP/2.0 {} ", rejection.status);
            assert!(
                rejection.response.starts_with(status_line.as_bytes()),
                "a stateless reply must start with its status line"
            );
            if transport == Transport::Udp {
                // Large messages meet the UDP receiver's second check too.
                let _ = inspector.too_large(bytes, source());
            }
            Outcome::Replied {
                status: rejection.status,
            }
        }
        Verdict::Discard(_) => Outcome::Discarded,
    }
}

/// What rsipstack's receive loop and then the call layer do with accepted
/// bytes.
fn after_acceptance(accepted: &[u8], transport: Transport) {
    let parsed = SipMessage::try_from(accepted)
        .unwrap_or_else(|error| panic!("accepted message does not parse: {error}"));
    let parsed = SipConnection::update_msg_received(parsed, source(), transport.to_rsip())
        .unwrap_or_else(|error| panic!("accepted message gets no received/rport: {error}"));
    match parsed {
        SipMessage::Request(request) => {
            TransactionKey::from_request(&request, TransactionRole::Server)
                .unwrap_or_else(|error| panic!("accepted request has no transaction key: {error}"));
            read_request(&request, transport);
        }
        SipMessage::Response(response) => read_response(&response, transport),
    }
}

/// The request readers of the endpoint and the call layer.
fn read_request(request: &Request, transport: Transport) {
    let _ = DialogKey::of_request(request);
    let _ = (to_tag(request), from_tag(request));
    let _ = (content_type(request), full_content_type(request));
    let _ = sdp_body(request);
    let _ = header_list(&request.headers);
    // The From and To URIs the server shows the app.
    if let Some(typed) = request.from_header().ok().and_then(|h| h.typed().ok()) {
        let _ = uri_text(&typed.uri);
    }
    if let Some(typed) = request.to_header().ok().and_then(|h| h.typed().ok()) {
        let _ = uri_text(&typed.uri);
    }
    // The response the endpoint sends: an error response if the offer is
    // refused, else a dialog-creating 200 with our tag, Contact and body.
    let answer = match check_offer(request) {
        Some(refusal) => refusal,
        None => ResponseSpec::new(200)
            .tag("fuzztag")
            .contact("sip:127.0.0.1:5060")
            .allow(),
    };
    let built = response(request, answer, "callhost-fuzz");
    let _ = SipMessage::try_from(built.to_string().as_bytes());
    if request.method == Method::Invite
        && let Ok(mut dialog) = Dialog::new(request, "fuzztag", transport, None, local())
    {
        dialog.refresh_target(request);
        let (bye, _, _) = dialog.next_request(Method::Bye, "callhost-fuzz");
        let _ = TransactionKey::from_request(&bye, TransactionRole::Client);
        let _ = bye.to_string();
    }
}

/// The response readers of an outgoing call (RFC 3261 §12.1.2).
fn read_response(response: &Response, transport: Transport) {
    let mut dialog = Dialog::outgoing(
        "fuzz-call-id",
        "fuzztag",
        "<sip:fuzz@127.0.0.1>;tag=fuzztag".to_string(),
        "<sip:peer@192.0.2.1>".to_string(),
        rsipstack::sip::Uri::try_from("sip:peer@192.0.2.1").expect("a valid URI"),
        Vec::new(),
        transport,
        None,
        local(),
    );
    if dialog.confirm(response).is_ok() {
        dialog.refresh_target_from(response);
        let ack = dialog.ack(1, "callhost-fuzz");
        let _ = TransactionKey::from_request(&ack, TransactionRole::Client);
        let _ = ack.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKabc\r\n\
From: <sip:a@127.0.0.1>;tag=1\r\n\
To: <sip:svc@127.0.0.1>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn outcomes_follow_the_validator() {
        assert_eq!(receive(OPTIONS, Transport::Udp), Outcome::Accepted);
        assert_eq!(receive(b"\r\n\r\n", Transport::Udp), Outcome::Accepted);
        assert_eq!(receive(b"hello", Transport::Udp), Outcome::Discarded);
        let bad_version = String::from_utf8_lossy(OPTIONS).replace("SIP/2.0\r\n", "SIP/7.0\r\n");
        assert_eq!(
            receive(bad_version.as_bytes(), Transport::Udp),
            Outcome::Replied { status: 505 }
        );
    }
}
