//! Outgoing-call details SIPp cannot show: a hand-written callee on a raw
//! 127.0.0.1 UDP socket retransmits its 2xx, and callhost must acknowledge
//! every copy with the same ACK (RFC 3261 §13.2.2.4) while reporting the
//! answer once; and our own UAC calling our own UAS (both callhost
//! endpoints) exercises the inbound side of answer headers, INFO and
//! MESSAGE over UDP and TCP.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use callhost_sip::{
    CallEvent, IncomingCall, OutgoingCall, OutgoingRequest, SipConfig, SipEndpoint, SipError,
};
use common::{ANSWER_SDP, header};
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(20);

async fn endpoint() -> (SipEndpoint, tokio::sync::mpsc::Receiver<IncomingCall>) {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..SipConfig::default()
    };
    SipEndpoint::bind(config).await.expect("bind endpoint")
}

/// The next datagram whose first line starts with `prefix`, and its sender.
async fn receive(socket: &UdpSocket, prefix: &str) -> (String, SocketAddr) {
    let mut buffer = vec![0u8; 65_536];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (length, from) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no {prefix:?} within {WAIT:?}"))
            .expect("recv");
        let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
        if text.starts_with(prefix) {
            return (text, from);
        }
    }
}

async fn event(events: &mut tokio::sync::mpsc::Receiver<CallEvent>) -> Option<CallEvent> {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no call event within 20 s")
}

#[tokio::test]
async fn every_retransmitted_2xx_gets_the_same_ack_and_one_answered_event() {
    let (endpoint, _incoming) = endpoint().await;
    let callee = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let callee_addr = callee.local_addr().expect("address");
    let mut call = endpoint
        .call(OutgoingRequest {
            target: format!("sip:bob@{callee_addr}"),
            offer_sdp: ANSWER_SDP.to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect("call");
    let (invite, caller) = receive(&callee, "INVITE ").await;
    let field = |name: &str| header(&invite, name).expect(name).to_string();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=callee1\r\nCall-ID: {}\r\n\
         CSeq: {}\r\nContact: <sip:bob@{callee_addr}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{ANSWER_SDP}",
        field("Via"),
        field("From"),
        field("To"),
        field("Call-ID"),
        field("CSeq"),
        ANSWER_SDP.len()
    );
    callee
        .send_to(ok.as_bytes(), caller)
        .await
        .expect("send 200");
    let (first_ack, _) = receive(&callee, "ACK ").await;
    assert_eq!(header(&first_ack, "CSeq"), Some("1 ACK"));
    assert!(first_ack.starts_with(&format!("ACK sip:bob@{callee_addr} SIP/2.0\r\n")));
    assert!(header(&first_ack, "To").is_some_and(|to| to.ends_with(";tag=callee1")));
    // Two retransmissions, as Timer G would send them.
    for _ in 0..2 {
        callee
            .send_to(ok.as_bytes(), caller)
            .await
            .expect("send 200 again");
        let (again, _) = receive(&callee, "ACK ").await;
        assert_eq!(again, first_ack, "a retransmitted 2xx gets the same ACK");
    }
    assert!(matches!(
        event(&mut call.events).await,
        Some(CallEvent::Answered { .. })
    ));
    let hang_up = tokio::spawn({
        let handle = call.call.clone();
        async move { handle.hang_up().await }
    });
    let (bye, from) = receive(&callee, "BYE ").await;
    assert_eq!(header(&bye, "CSeq"), Some("2 BYE"));
    let bye_ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        header(&bye, "Via").expect("Via"),
        header(&bye, "From").expect("From"),
        header(&bye, "To").expect("To"),
        header(&bye, "Call-ID").expect("Call-ID"),
    );
    callee
        .send_to(bye_ok.as_bytes(), from)
        .await
        .expect("send 200 to BYE");
    hang_up.await.expect("join").expect("hang up");
    // Answered was reported once: the next thing is the end of the events.
    assert!(event(&mut call.events).await.is_none());
    endpoint.shutdown().await;
}

/// Our UAC calls our UAS: the answer's extra headers, INFO and MESSAGE both
/// ways, and a hang-up from `hang_up_side` (true: the callee).
async fn callhost_calls_callhost(transport: &str, callee_hangs_up: bool) {
    let (caller, _unused) = endpoint().await;
    let (callee, mut incoming) = endpoint().await;
    let mut call: OutgoingCall = caller
        .call(OutgoingRequest {
            target: format!("sip:svc@{}{transport}", callee.local_addr()),
            from: Some("alice".to_string()),
            headers: vec![("X-Seed".to_string(), "1".to_string())],
            offer_sdp: ANSWER_SDP.to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect("call");
    let inbound = tokio::time::timeout(WAIT, incoming.recv())
        .await
        .expect("no incoming call")
        .expect("incoming call");
    assert_eq!(inbound.service, "svc");
    assert_eq!(inbound.call_id, call.call_id);
    assert!(
        inbound
            .headers
            .contains(&("X-Seed".to_string(), "1".to_string()))
    );
    assert!(inbound.offer_sdp.is_some());
    let IncomingCall {
        call: server,
        events: mut server_events,
        ..
    } = inbound;
    server.ringing().await.expect("ringing");
    match event(&mut call.events).await {
        Some(CallEvent::Progress { code: 180, .. }) => {}
        other => panic!("expected 180, got {other:?}"),
    }
    let refused = server
        .answer_with_headers(ANSWER_SDP.to_string(), &[("Contact".into(), "x".into())])
        .await;
    assert!(
        matches!(refused, Err(SipError::InvalidHeader { .. })),
        "{refused:?}"
    );
    let extra = [("X-Answer".to_string(), "yes".to_string())];
    let (answered, caller_event) = tokio::join!(
        server.answer_with_headers(ANSWER_SDP.to_string(), &extra),
        event(&mut call.events)
    );
    answered.expect("answer");
    match caller_event {
        Some(CallEvent::Answered {
            answer_sdp,
            headers,
        }) => {
            assert_eq!(answer_sdp.as_deref(), Some(ANSWER_SDP));
            assert!(headers.contains(&extra[0]), "{headers:?}");
        }
        other => panic!("expected Answered, got {other:?}"),
    }

    let status = call
        .call
        .send_message("text/plain", "hi callee")
        .await
        .expect("MESSAGE");
    assert_eq!(status, 200);
    match event(&mut server_events).await {
        Some(CallEvent::Message { content_type, body }) => {
            assert_eq!(
                (content_type.as_str(), body.as_str()),
                ("text/plain", "hi callee")
            );
        }
        other => panic!("expected Message at the callee, got {other:?}"),
    }
    let status = server
        .send_info("application/dtmf-relay", "Signal=7\r\nDuration=100\r\n")
        .await
        .expect("INFO");
    assert_eq!(status, 200);
    match event(&mut call.events).await {
        Some(CallEvent::Info { content_type, body }) => {
            assert_eq!(content_type, "application/dtmf-relay");
            assert!(body.contains("Signal=7"), "{body:?}");
        }
        other => panic!("expected Info at the caller, got {other:?}"),
    }
    let status = server
        .send_message("text/plain", "hi caller")
        .await
        .expect("MESSAGE");
    assert_eq!(status, 200);
    assert!(matches!(
        event(&mut call.events).await,
        Some(CallEvent::Message { .. })
    ));
    let empty_info = call.call.send_info("", "").await.expect("empty INFO");
    assert_eq!(empty_info, 200);
    assert!(matches!(
        event(&mut server_events).await,
        Some(CallEvent::Info { .. })
    ));
    let bad = call.call.send_info("", "body without a type").await;
    assert!(
        matches!(bad, Err(SipError::InvalidHeader { .. })),
        "{bad:?}"
    );

    if callee_hangs_up {
        server.hang_up().await.expect("callee hangs up");
        assert!(matches!(
            event(&mut call.events).await,
            Some(CallEvent::Bye)
        ));
        assert!(event(&mut call.events).await.is_none());
    } else {
        call.call.hang_up().await.expect("caller hangs up");
        assert!(matches!(
            event(&mut server_events).await,
            Some(CallEvent::Bye)
        ));
        assert!(event(&mut server_events).await.is_none());
    }
    let after = call.call.send_info("text/plain", "late").await;
    assert!(
        matches!(after, Err(SipError::CallEnded { .. })),
        "{after:?}"
    );
    assert_eq!(caller.active_calls(), 0);
    caller.shutdown().await;
    callee.shutdown().await;
}

#[tokio::test]
async fn callhost_calls_callhost_over_udp() {
    callhost_calls_callhost("", true).await;
}

#[tokio::test]
async fn callhost_calls_callhost_over_tcp() {
    callhost_calls_callhost(";transport=tcp", false).await;
}
