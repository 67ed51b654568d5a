//! Outgoing calls (UAC) against SIPp as the callee, over UDP and TCP on
//! 127.0.0.1: answer and BYE either way, busy, cancel, digest challenges
//! (401 and a stale 407), INFO and MESSAGE both ways, custom headers, and
//! the errors `call` returns at once. The SIPp scenarios (tests/sipp/uas-*)
//! check what they receive (headers, CSeq, Route, credentials) and fail the
//! run when something is missing.

mod common;

use std::time::Duration;

use callhost_sip::{
    CallEvent, Credentials, OutgoingCall, OutgoingRequest, SipConfig, SipEndpoint, SipError,
    SipTimers,
};
use common::callee::Callee;
use common::{ANSWER_SDP, SippRun, assert_all_successful};

/// Longest wait for any one event.
const EVENT_WAIT: Duration = Duration::from_secs(20);

async fn endpoint(config: SipConfig) -> SipEndpoint {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..config
    };
    // Nothing calls in; the receiver can go.
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind endpoint");
    endpoint
}

fn request(target: String) -> OutgoingRequest {
    OutgoingRequest {
        target,
        offer_sdp: ANSWER_SDP.to_string(),
        ..OutgoingRequest::default()
    }
}

fn alice(password: &str) -> Option<Credentials> {
    Some(Credentials {
        username: "alice".to_string(),
        password: password.to_string(),
        realm: None,
    })
}

async fn next_event(call: &mut OutgoingCall) -> Option<CallEvent> {
    common::next_event(&mut call.events).await
}

/// Events until `Answered` (skipping progress); panics on anything else.
async fn expect_answered(call: &mut OutgoingCall) -> (Option<String>, Vec<(String, String)>) {
    common::wait_answered(&mut call.events).await
}

/// Events until `Failed` (skipping progress); returns its code and headers.
async fn expect_failed(call: &mut OutgoingCall) -> (u16, String, Vec<(String, String)>) {
    loop {
        match next_event(call).await {
            Some(CallEvent::Progress { .. }) => continue,
            Some(CallEvent::Failed {
                code,
                reason,
                headers,
            }) => return (code, reason, headers),
            other => panic!("expected Failed, got {other:?}"),
        }
    }
}

async fn expect_closed(call: &mut OutgoingCall) {
    match next_event(call).await {
        None => {}
        Some(other) => panic!("expected the event channel to close, got {other:?}"),
    }
}

fn check_sipp(run: &SippRun) {
    assert_all_successful(run, 1);
}

async fn answered_then_callee_hangs_up(tcp: bool) {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-answer-bye.xml", tcp).await;
    let transport = if tcp { ";transport=tcp" } else { "" };
    let mut outgoing = request(callee.uri("bob", &format!("{transport}?X-Foo=bar&X-Other=a%20b")));
    outgoing.headers = vec![("X-Authorization".to_string(), "me@my.place".to_string())];
    outgoing.from = Some("alice".to_string());
    let mut call = endpoint.call(outgoing).await.expect("call");
    assert_eq!(call.remote, callee.addr());
    assert_eq!(call.transport.to_string(), if tcp { "TCP" } else { "UDP" });
    assert!(
        call.from.starts_with("sip:alice@127.0.0.1:"),
        "{}",
        call.from
    );
    match next_event(&mut call).await {
        Some(CallEvent::Progress { code, reason, sdp }) => {
            assert_eq!((code, reason.as_str(), sdp), (180, "Ringing", None));
        }
        other => panic!("expected 180 progress, got {other:?}"),
    }
    let (answer_sdp, headers) = expect_answered(&mut call).await;
    let answer_sdp = answer_sdp.expect("answer SDP");
    assert!(
        answer_sdp.contains("m=audio 40002 RTP/AVP 0"),
        "{answer_sdp}"
    );
    assert!(
        headers.contains(&("X-Answered-By".to_string(), "sipp".to_string())),
        "{headers:?}"
    );
    assert!(matches!(next_event(&mut call).await, Some(CallEvent::Bye)));
    expect_closed(&mut call).await;
    check_sipp(&callee.finish().await);
    assert_eq!(endpoint.active_calls(), 0);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn answered_then_callee_hangs_up_udp() {
    answered_then_callee_hangs_up(false).await;
}

#[tokio::test]
async fn answered_then_callee_hangs_up_tcp() {
    answered_then_callee_hangs_up(true).await;
}

/// We end the answered call: with `hang_up`, or by dropping the handle.
async fn answered_then_we_hang_up(tcp: bool, by_drop: bool) {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-answer-wait-bye.xml", tcp).await;
    let transport = if tcp { ";transport=tcp" } else { "" };
    let OutgoingCall {
        call: handle,
        mut events,
        ..
    } = endpoint
        .call(request(callee.uri("bob", transport)))
        .await
        .expect("call");
    match tokio::time::timeout(EVENT_WAIT, events.recv()).await {
        Ok(Some(CallEvent::Answered { .. })) => {}
        other => panic!("expected Answered, got {other:?}"),
    }
    assert_eq!(endpoint.active_calls(), 1);
    if by_drop {
        drop(handle);
    } else {
        handle.hang_up().await.expect("hang up");
        // Idempotent once over.
        handle.hang_up().await.expect("second hang up");
    }
    match tokio::time::timeout(EVENT_WAIT, events.recv()).await {
        Ok(None) => {}
        other => panic!("expected the events to close, got {other:?}"),
    }
    check_sipp(&callee.finish().await);
    assert_eq!(endpoint.active_calls(), 0);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn answered_then_we_hang_up_udp() {
    answered_then_we_hang_up(false, false).await;
}

#[tokio::test]
async fn answered_then_we_hang_up_tcp() {
    answered_then_we_hang_up(true, false).await;
}

#[tokio::test]
async fn dropping_the_handle_of_an_answered_call_sends_bye() {
    answered_then_we_hang_up(false, true).await;
}

#[tokio::test]
async fn busy_fails_with_486() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-busy.xml", false).await;
    let mut call = endpoint
        .call(request(callee.uri("bob", "")))
        .await
        .expect("call");
    let (code, reason, headers) = expect_failed(&mut call).await;
    assert_eq!((code, reason.as_str()), (486, "Busy Here"));
    assert!(
        headers.contains(&("X-Reason".to_string(), "busy-test".to_string())),
        "{headers:?}"
    );
    expect_closed(&mut call).await;
    check_sipp(&callee.finish().await);
    assert_eq!(endpoint.active_calls(), 0);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn cancel_after_ringing_fails_with_487() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-ring-cancel.xml", false).await;
    let mut call = endpoint
        .call(request(callee.uri("bob", "")))
        .await
        .expect("call");
    match next_event(&mut call).await {
        Some(CallEvent::Progress { code: 180, .. }) => {}
        other => panic!("expected 180, got {other:?}"),
    }
    call.call.cancel().await.expect("cancel");
    let (code, _, _) = expect_failed(&mut call).await;
    assert_eq!(code, 487);
    expect_closed(&mut call).await;
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn hang_up_before_any_response_cancels_once_ringing() {
    // hang_up right after the INVITE went out: the CANCEL waits for the
    // 180 (RFC 3261 §9.1), then the 487 ends the call.
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-ring-cancel.xml", false).await;
    let mut call = endpoint
        .call(request(callee.uri("bob", "")))
        .await
        .expect("call");
    call.call.hang_up().await.expect("hang up");
    let (code, _, _) = expect_failed(&mut call).await;
    assert_eq!(code, 487);
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn digest_401_retry_is_answered() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-auth-401.xml", false).await;
    let mut outgoing = request(callee.uri("bob", ""));
    outgoing.credentials = alice("secret");
    let mut call = endpoint.call(outgoing).await.expect("call");
    expect_answered(&mut call).await;
    call.call.hang_up().await.expect("hang up");
    expect_closed(&mut call).await;
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn digest_401_with_a_wrong_password_fails_after_the_second_challenge() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-auth-401.xml", false).await;
    let mut outgoing = request(callee.uri("bob", ""));
    outgoing.credentials = alice("wrong");
    let mut call = endpoint.call(outgoing).await.expect("call");
    let (code, _, headers) = expect_failed(&mut call).await;
    assert_eq!(code, 401);
    assert!(
        headers.iter().any(|(name, _)| name == "WWW-Authenticate"),
        "{headers:?}"
    );
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn digest_401_in_another_realm_is_not_answered() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-busy.xml", false).await;
    // Only checks that credentials for another realm do not break a plain
    // failure; the realm rule itself is unit-tested in auth.rs.
    let mut outgoing = request(callee.uri("bob", ""));
    outgoing.credentials = Some(Credentials {
        realm: Some("elsewhere".to_string()),
        ..alice("secret").expect("credentials")
    });
    let mut call = endpoint.call(outgoing).await.expect("call");
    assert_eq!(expect_failed(&mut call).await.0, 486);
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn digest_407_with_a_stale_nonce_is_answered_twice() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-auth-407.xml", false).await;
    let mut outgoing = request(callee.uri("bob", ""));
    outgoing.credentials = alice("secret");
    let mut call = endpoint.call(outgoing).await.expect("call");
    expect_answered(&mut call).await;
    assert!(matches!(next_event(&mut call).await, Some(CallEvent::Bye)));
    expect_closed(&mut call).await;
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn info_and_message_both_ways() {
    let endpoint = endpoint(SipConfig::default()).await;
    let callee = Callee::start("uas-info-message.xml", false).await;
    let mut call = endpoint
        .call(request(callee.uri("bob", "")))
        .await
        .expect("call");
    expect_answered(&mut call).await;
    let status = call
        .call
        .send_info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
        .await
        .expect("INFO");
    assert_eq!(status, 200);
    match next_event(&mut call).await {
        Some(CallEvent::Message { content_type, body }) => {
            assert_eq!(content_type, "text/plain");
            assert!(body.contains("hello from sipp"), "{body:?}");
        }
        other => panic!("expected MESSAGE, got {other:?}"),
    }
    let status = call
        .call
        .send_message("text/plain", "hello from callhost")
        .await
        .expect("MESSAGE");
    assert_eq!(status, 200);
    call.call.hang_up().await.expect("hang up");
    check_sipp(&callee.finish().await);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn nobody_answering_fails_with_408_after_timer_b() {
    let timers = SipTimers {
        t1: Duration::from_millis(20),
        t2: Duration::from_millis(160),
        t4: Duration::from_millis(200),
    };
    let endpoint = endpoint(SipConfig {
        timers,
        ..SipConfig::default()
    })
    .await;
    // A socket that reads nothing: the INVITE is never answered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = format!("sip:nobody@{}", silent.local_addr().expect("address"));
    let mut call = endpoint.call(request(target)).await.expect("call");
    let (code, _, headers) = expect_failed(&mut call).await;
    assert_eq!(code, 408);
    assert!(headers.is_empty() || headers.iter().all(|(n, _)| n != "Contact"));
    expect_closed(&mut call).await;
    endpoint.shutdown().await;
}

#[tokio::test]
async fn bad_requests_fail_at_once() {
    let endpoint = endpoint(SipConfig::default()).await;
    let target = "sip:bob@127.0.0.1:9".to_string();
    let with_header = |name: &str| OutgoingRequest {
        headers: vec![(name.to_string(), "x".to_string())],
        ..request(target.clone())
    };
    for name in [
        "X Bad", "X-Bad:", "", "Via", "call-id", "i", "Contact", "Route",
    ] {
        let error = endpoint.call(with_header(name)).await.expect_err(name);
        assert!(
            matches!(error, SipError::InvalidHeader { .. }),
            "{name}: {error}"
        );
    }
    let error = endpoint
        .call(request("sip:bob@127.0.0.1:9?Max-Forwards=1".to_string()))
        .await
        .expect_err("URI header");
    assert!(matches!(error, SipError::InvalidHeader { .. }), "{error}");
    for target in ["sips:bob@127.0.0.1", "sip:bob@127.0.0.1;transport=tls"] {
        let error = endpoint
            .call(request(target.to_string()))
            .await
            .expect_err(target);
        assert!(
            matches!(error, SipError::UnsupportedTransport { .. }),
            "{error}"
        );
    }
    for target in ["tel:+441908273800", "bob", "mailto:bob@example.com"] {
        let error = endpoint
            .call(request(target.to_string()))
            .await
            .expect_err(target);
        assert!(
            matches!(error, SipError::InvalidAddress { .. }),
            "{target}: {error}"
        );
    }
    let error = endpoint
        .call(OutgoingRequest {
            from: Some("bad\r\nVia: x".to_string()),
            ..request(target.clone())
        })
        .await
        .expect_err("from");
    assert!(matches!(error, SipError::InvalidAddress { .. }), "{error}");
    let error = endpoint
        .call(request("sip:bob@no-such-host.invalid".to_string()))
        .await
        .expect_err("unresolvable");
    assert!(matches!(error, SipError::Unreachable { .. }), "{error}");
    assert_eq!(endpoint.active_calls(), 0);
    endpoint.shutdown().await;

    let udp_only = self::endpoint(SipConfig {
        tcp: false,
        ..SipConfig::default()
    })
    .await;
    let error = udp_only
        .call(request("sip:bob@127.0.0.1:9;transport=tcp".to_string()))
        .await
        .expect_err("tcp off");
    assert!(
        matches!(error, SipError::UnsupportedTransport { .. }),
        "{error}"
    );
    udp_only.shutdown().await;
}
