//! Integration tests with a raw UDP client on 127.0.0.1: responses the
//! endpoint sends by itself (OPTIONS, 501, 405, 481, 503), robustness against
//! garbage, retransmissions, the ACK timeout, and the call handle API.

mod common;

use std::time::Duration;

use callhost_sip::{CallEvent, SipConfig, SipEndpoint, SipError, SipTimers, Transport};
use common::{ANSWER_SDP, Harness, Policy, RawRequest, RawUdp, header, to_tag_of};

const WAIT: Duration = Duration::from_secs(5);
const OFFER: &str = "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";

fn invite<'a>(call_id: &'a str, branch: &'a str) -> RawRequest<'a> {
    RawRequest {
        method: "INVITE",
        call_id,
        cseq: 1,
        branch,
        from_tag: "raw-from",
        to_tag: None,
        body: Some(("application/sdp", OFFER)),
    }
}

#[tokio::test]
async fn endpoint_answers_options_unknown_methods_and_unknown_dialogs() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let client = RawUdp::new(harness.addr()).await;
    let options = RawRequest {
        method: "OPTIONS",
        body: None,
        ..invite("opt-1", "z9hG4bKopt1")
    };
    client.send(&options.render(&client)).await;
    let ok = client.expect("SIP/2.0 200", WAIT).await;
    assert_eq!(
        header(&ok, "Allow"),
        Some("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, UPDATE"),
        "{ok}"
    );
    assert_eq!(header(&ok, "Accept"), Some("application/sdp"), "{ok}");
    assert_eq!(header(&ok, "Supported"), Some("timer"), "{ok}");
    assert!(
        header(&ok, "Server").is_some_and(|s| s.starts_with("callhost/")),
        "{ok}"
    );

    let foo = RawRequest {
        method: "FOO",
        body: None,
        ..invite("foo-1", "z9hG4bKfoo1")
    };
    client.send(&foo.render(&client)).await;
    let not_implemented = client.expect("SIP/2.0 501", WAIT).await;
    assert!(
        header(&not_implemented, "Allow").is_some(),
        "{not_implemented}"
    );
    assert_eq!(header(&not_implemented, "CSeq"), Some("1 FOO"));

    let register = RawRequest {
        method: "REGISTER",
        body: None,
        ..invite("reg-1", "z9hG4bKreg1")
    };
    client.send(&register.render(&client)).await;
    let not_allowed = client.expect("SIP/2.0 405", WAIT).await;
    assert!(header(&not_allowed, "Allow").is_some(), "{not_allowed}");

    for method in ["BYE", "INFO", "UPDATE"] {
        let branch = format!("z9hG4bKstray{method}");
        let stray = RawRequest {
            method,
            to_tag: Some("nobody"),
            body: None,
            ..invite("stray-1", &branch)
        };
        client.send(&stray.render(&client)).await;
        let gone = client.expect("SIP/2.0 481", WAIT).await;
        assert_eq!(header(&gone, "CSeq"), Some(format!("1 {method}").as_str()));
    }
    assert_eq!(harness.stats().calls, 0);
    harness.shutdown().await;
}

/// A whole call by hand: INVITE, 100, 180, 200 (checked), ACK, BYE, 200.
async fn raw_call(client: &RawUdp, call_id: &str) {
    client
        .send(&invite(call_id, &format!("z9hG4bK{call_id}")).render(client))
        .await;
    client.expect("SIP/2.0 100", WAIT).await;
    client.expect("SIP/2.0 180", WAIT).await;
    let ok = client.expect("SIP/2.0 200", WAIT).await;
    assert_eq!(header(&ok, "Content-Type"), Some("application/sdp"), "{ok}");
    let contact = header(&ok, "Contact").expect("Contact in 200");
    assert!(
        contact.contains(&format!("sip:{}", client.server)),
        "{contact}"
    );
    assert!(ok.ends_with(ANSWER_SDP), "{ok}");
    let tag = to_tag_of(&ok);
    let (ack_branch, bye_branch) = (
        format!("z9hG4bK{call_id}ack"),
        format!("z9hG4bK{call_id}bye"),
    );
    let ack = RawRequest {
        method: "ACK",
        to_tag: Some(&tag),
        body: None,
        ..invite(call_id, &ack_branch)
    };
    client.send(&ack.render(client)).await;
    let bye = RawRequest {
        method: "BYE",
        cseq: 2,
        to_tag: Some(&tag),
        body: None,
        ..invite(call_id, &bye_branch)
    };
    client.send(&bye.render(client)).await;
    client.expect_cseq("SIP/2.0 200", "2 BYE", WAIT).await;
}

#[tokio::test]
async fn garbage_is_survived_and_the_next_call_is_served() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let client = RawUdp::new(harness.addr()).await;
    let garbage: [&[u8]; 5] = [
        b"hello world",
        &[0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a],
        b"INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"\r\n\r\n",
    ];
    for datagram in garbage {
        client
            .socket
            .send_to(datagram, harness.addr())
            .await
            .expect("send");
    }
    // Whatever comes back must be a well-formed SIP message (400) or a
    // keepalive answer, never anything else.
    while let Some(reply) = client.recv(Duration::from_millis(300)).await {
        assert!(
            reply.starts_with("SIP/2.0 400") || reply == "\r\n",
            "{reply:?}"
        );
    }
    raw_call(&client, "after-garbage").await;
    let stats = harness.wait_for("one BYE", |s| s.byes == 1).await;
    assert_eq!(stats.calls, 1);
    harness.shutdown().await;
}

#[tokio::test]
async fn retransmitted_invite_is_one_call_and_gets_the_same_response() {
    let harness = Harness::start(SipConfig::default(), Policy::RingOnly).await;
    let client = RawUdp::new(harness.addr()).await;
    let request = invite("retrans-1", "z9hG4bKretrans1").render(&client);
    client.send(&request).await;
    client.expect("SIP/2.0 180", WAIT).await;
    client.send(&request).await;
    client.send(&request).await;
    // Each retransmission is answered with the last provisional response.
    let again = client.expect("SIP/2.0 180", WAIT).await;
    assert_eq!(header(&again, "Call-ID"), Some("retrans-1"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        harness.stats().calls,
        1,
        "a retransmission is not a new call"
    );

    // CANCEL: 200 to the CANCEL, 487 to the INVITE, the server is told.
    let cancel = RawRequest {
        method: "CANCEL",
        body: None,
        ..invite("retrans-1", "z9hG4bKretrans1")
    };
    client.send(&cancel.render(&client)).await;
    client.expect_cseq("SIP/2.0 200", "1 CANCEL", WAIT).await;
    let terminated = client.expect("SIP/2.0 487", WAIT).await;
    let ack = RawRequest {
        method: "ACK",
        to_tag: Some(&to_tag_of(&terminated)),
        body: None,
        ..invite("retrans-1", "z9hG4bKretrans1")
    };
    client.send(&ack.render(&client)).await;
    harness
        .wait_for("the cancel event", |s| s.cancelled == 1)
        .await;
    harness.shutdown().await;
}

#[tokio::test]
async fn missing_ack_retransmits_200_then_ends_the_call_with_bye() {
    // T1 = 40 ms: Timer H = 64*T1 = 2.56 s.
    let config = SipConfig {
        timers: SipTimers {
            t1: Duration::from_millis(40),
            t2: Duration::from_millis(320),
            ..SipTimers::default()
        },
        ..SipConfig::default()
    };
    let harness = Harness::start(config, Policy::AnswerWaitBye).await;
    let client = RawUdp::new(harness.addr()).await;
    client
        .send(&invite("noack-1", "z9hG4bKnoack1").render(&client))
        .await;
    let mut oks = 0;
    let bye = loop {
        let message = client
            .recv(Duration::from_secs(10))
            .await
            .expect("200s, then a BYE");
        if message.starts_with("SIP/2.0 200") {
            oks += 1;
        } else if message.starts_with("BYE ") {
            break message;
        }
    };
    assert!(oks >= 4, "the 200 is retransmitted (Timer G); saw {oks}");
    assert_eq!(header(&bye, "CSeq"), Some("1 BYE"), "{bye}");
    assert!(
        bye.starts_with(&format!("BYE sip:raw@127.0.0.1:{} SIP/2.0", client.port())),
        "{bye}"
    );
    let stats = harness
        .wait_for("the ACK timeout", |s| {
            !s.answer_errors.is_empty() && !s.ended.is_empty()
        })
        .await;
    assert!(stats.answer_errors[0].contains("no ACK"), "{stats:?}");
    assert!(stats.ended[0].contains("no ACK"), "{stats:?}");
    harness.shutdown().await;
}

#[tokio::test]
async fn full_queue_and_stopped_endpoint_answer_503_with_retry_after() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        incoming_call_queue: 1,
        retry_after_seconds: 7,
        ..SipConfig::default()
    };
    // The server never reads its queue: the second call finds it full.
    let (endpoint, _calls) = SipEndpoint::bind(config).await.expect("bind");
    let client = RawUdp::new(endpoint.local_addr()).await;
    client
        .send(&invite("queued-1", "z9hG4bKq1").render(&client))
        .await;
    client.expect("SIP/2.0 100", WAIT).await;
    client
        .send(&invite("queued-2", "z9hG4bKq2").render(&client))
        .await;
    let busy = client.expect("SIP/2.0 503", WAIT).await;
    assert_eq!(header(&busy, "Call-ID"), Some("queued-2"));
    assert_eq!(header(&busy, "Retry-After"), Some("7"), "{busy}");

    endpoint.stop_accepting();
    client
        .send(&invite("drain-1", "z9hG4bKd1").render(&client))
        .await;
    let draining = client.expect("SIP/2.0 503", WAIT).await;
    assert_eq!(header(&draining, "Call-ID"), Some("drain-1"));
    assert!(header(&draining, "Retry-After").is_some(), "{draining}");
    // OPTIONS still works while draining.
    let options = RawRequest {
        method: "OPTIONS",
        body: None,
        ..invite("drain-opt", "z9hG4bKdo")
    };
    client.send(&options.render(&client)).await;
    client.expect("SIP/2.0 200", WAIT).await;
    endpoint.shutdown().await;
}

#[tokio::test]
async fn call_handle_reports_the_invite_and_sends_decisions() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tcp: false,
        ..SipConfig::default()
    };
    let (endpoint, mut calls) = SipEndpoint::bind(config).await.expect("bind");
    let client = RawUdp::new(endpoint.local_addr()).await;
    let request = invite("handle-1", "z9hG4bKh1")
        .render(&client)
        .replace("sip:svc@", "sip:my%20service@")
        .replace(
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nX-Account: 42\r\n",
        );
    client.send(&request).await;
    let incoming = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    assert_eq!(incoming.call_id, "handle-1");
    assert_eq!(incoming.service, "my service");
    assert_eq!(
        incoming.request_uri,
        format!("sip:my%20service@{}", endpoint.local_addr())
    );
    assert_eq!(incoming.transport, Transport::Udp);
    assert_eq!(incoming.remote, client.socket.local_addr().expect("addr"));
    assert_eq!(
        incoming.from,
        format!("sip:raw@127.0.0.1:{}", client.port())
    );
    assert_eq!(incoming.offer_sdp.as_deref(), Some(OFFER));
    assert!(
        incoming
            .headers
            .contains(&("X-Account".to_string(), "42".to_string()))
    );
    assert_eq!(incoming.headers[0].0, "Via");

    incoming
        .call
        .reject(486, Some("Gone Fishing"), &[("Retry-After", "5")])
        .await
        .expect("reject");
    let busy = client.expect("SIP/2.0 486 Gone Fishing", WAIT).await;
    assert_eq!(header(&busy, "Retry-After"), Some("5"), "{busy}");
    // A second decision is refused; the call is over.
    let again = incoming.call.answer(ANSWER_SDP.to_string()).await;
    assert!(
        matches!(again, Err(SipError::CallEnded { .. })),
        "{again:?}"
    );
    assert!(matches!(
        incoming.call.reject(200, None, &[]).await,
        Err(SipError::InvalidStatus { code: 200, .. })
    ));

    // Dropping the handle of an unanswered call hangs it up with 480.
    client
        .send(&invite("handle-2", "z9hG4bKh2").render(&client))
        .await;
    let second = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    let mut events = second.events;
    drop(second.call);
    client.expect("SIP/2.0 480", WAIT).await;
    let closed = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("events close");
    assert!(closed.is_none(), "{closed:?}");

    // hang_up before answer: 480 as well.
    client
        .send(&invite("handle-3", "z9hG4bKh3").render(&client))
        .await;
    let third = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    third.call.ringing().await.expect("ringing");
    client.expect("SIP/2.0 180", WAIT).await;
    third.call.hang_up().await.expect("hang up");
    client.expect("SIP/2.0 480", WAIT).await;
    third.call.hang_up().await.expect("hang up twice is fine");
    endpoint.shutdown().await;
}

#[tokio::test]
async fn unsupported_offers_and_in_dialog_events() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let client = RawUdp::new(harness.addr()).await;
    let odd = RawRequest {
        body: Some(("application/unknownformat", "<xml/>")),
        ..invite("odd-1", "z9hG4bKodd1")
    };
    client.send(&odd.render(&client)).await;
    let unsupported = client.expect("SIP/2.0 415", WAIT).await;
    assert_eq!(
        header(&unsupported, "Accept"),
        Some("application/sdp"),
        "{unsupported}"
    );

    let with_require = invite("req-1", "z9hG4bKreq1").render(&client).replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nRequire: 100rel\r\n",
    );
    client.send(&with_require).await;
    let bad_extension = client.expect("SIP/2.0 420", WAIT).await;
    assert_eq!(header(&bad_extension, "Unsupported"), Some("100rel"));
    assert_eq!(harness.stats().calls, 0);

    // BYE before the ACK is fine (RFC 3261 §15); the call ends with Bye.
    client
        .send(&invite("early-bye", "z9hG4bKeb").render(&client))
        .await;
    let ok = client.expect("SIP/2.0 200", WAIT).await;
    let tag = to_tag_of(&ok);
    let info = RawRequest {
        method: "INFO",
        cseq: 2,
        to_tag: Some(&tag),
        body: Some(("application/dtmf-relay", "Signal=1\r\nDuration=100\r\n")),
        ..invite("early-bye", "z9hG4bKebinfo")
    };
    client.send(&info.render(&client)).await;
    client.expect_cseq("SIP/2.0 200", "2 INFO", WAIT).await;
    let bye = RawRequest {
        method: "BYE",
        cseq: 3,
        to_tag: Some(&tag),
        body: None,
        ..invite("early-bye", "z9hG4bKebbye")
    };
    client.send(&bye.render(&client)).await;
    client.expect_cseq("SIP/2.0 200", "3 BYE", WAIT).await;
    let stats = harness.wait_for("the BYE", |s| s.byes == 1).await;
    assert_eq!(stats.infos.len(), 1, "{stats:?}");
    // A BYE after the end of the dialog: 481.
    let late = RawRequest {
        branch: "z9hG4bKeblate",
        cseq: 4,
        ..bye
    };
    client.send(&late.render(&client)).await;
    client.expect_cseq("SIP/2.0 481", "4 BYE", WAIT).await;
    harness.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_calls_in_progress() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..SipConfig::default()
    };
    let (endpoint, mut calls) = SipEndpoint::bind(config).await.expect("bind");
    let client = RawUdp::new(endpoint.local_addr()).await;
    client
        .send(&invite("shut-1", "z9hG4bKs1").render(&client))
        .await;
    let incoming = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    assert_eq!(endpoint.active_calls(), 1);
    let mut events = incoming.events;
    endpoint.shutdown().await;
    let event = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event");
    assert!(matches!(event, Some(CallEvent::Ended { .. })), "{event:?}");
    let error = incoming.call.answer(ANSWER_SDP.to_string()).await;
    assert!(error.is_err());
}

#[tokio::test]
async fn a_server_that_does_not_read_events_does_not_stall_sip() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        tcp: false,
        call_event_queue: 2,
        ..SipConfig::default()
    };
    let (endpoint, mut calls) = SipEndpoint::bind(config).await.expect("bind");
    let client = RawUdp::new(endpoint.local_addr()).await;
    client
        .send(&invite("slow-1", "z9hG4bKslow1").render(&client))
        .await;
    let incoming = tokio::time::timeout(WAIT, calls.recv())
        .await
        .expect("call")
        .expect("open");
    let call = incoming.call.clone();
    let answered = tokio::spawn(async move { call.answer(ANSWER_SDP.to_string()).await });
    let ok = client.expect_cseq("SIP/2.0 200", "1 INVITE", WAIT).await;
    let tag = to_tag_of(&ok);
    let ack = RawRequest {
        method: "ACK",
        to_tag: Some(&tag),
        body: None,
        ..invite("slow-1", "z9hG4bKslow1ack")
    };
    client.send(&ack.render(&client)).await;
    answered
        .await
        .expect("join")
        .expect("answered after the ACK");

    // Nobody reads the events: INFOs are still answered at once.
    for cseq in 2..=4u32 {
        let branch = format!("z9hG4bKslowinfo{cseq}");
        let info = RawRequest {
            method: "INFO",
            cseq,
            to_tag: Some(&tag),
            body: Some(("application/dtmf-relay", "Signal=2\r\n")),
            ..invite("slow-1", &branch)
        };
        client.send(&info.render(&client)).await;
        client
            .expect_cseq("SIP/2.0 200", &format!("{cseq} INFO"), WAIT)
            .await;
    }
    // The queue is full, so a re-INVITE cannot be decided: 500.
    let reinvite = RawRequest {
        cseq: 5,
        to_tag: Some(&tag),
        ..invite("slow-1", "z9hG4bKslowre")
    };
    client.send(&reinvite.render(&client)).await;
    client.expect_cseq("SIP/2.0 500", "5 INVITE", WAIT).await;
    let bye = RawRequest {
        method: "BYE",
        cseq: 6,
        to_tag: Some(&tag),
        body: None,
        ..invite("slow-1", "z9hG4bKslowbye")
    };
    client.send(&bye.render(&client)).await;
    client.expect_cseq("SIP/2.0 200", "6 BYE", WAIT).await;

    // The final event still fits: one INFO, then BYE, then the end.
    let mut events = incoming.events;
    assert!(matches!(events.recv().await, Some(CallEvent::Info { .. })));
    assert!(matches!(events.recv().await, Some(CallEvent::Bye)));
    assert!(events.recv().await.is_none());
    endpoint.shutdown().await;
}
