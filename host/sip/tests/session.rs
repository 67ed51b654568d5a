//! Session timers (RFC 4028) and re-INVITEs callhost sends, against SIPp on
//! 127.0.0.1: callhost as the refresher (UPDATE when the peer allows it,
//! else re-INVITE), the peer refreshing and then stopping (callhost ends
//! the call with BYE), 422 for a too short interval both ways, and hold /
//! resume offers from an outgoing call. The scenarios check the
//! Session-Expires, Min-SE, Require and SDP they receive and fail the run
//! when something is missing; the intervals are seconds long, so every
//! wait is bounded by SIPp's own timeout.

mod common;

use std::time::Duration;

use callhost_sip::{
    CallEvent, OutgoingCall, OutgoingRequest, SessionTimerSettings, SipConfig, SipEndpoint,
};
use common::callee::Callee;
use common::{
    ANSWER_SDP, Harness, Policy, Stats, assert_all_successful, next_event, run_sipp, scenario,
    wait_answered,
};

fn path(name: &str) -> String {
    scenario(name).to_string_lossy().into_owned()
}

/// Short intervals for tests: ask for `session_expires` (0: none), accept
/// down to `min_se`.
fn timers(session_expires: u64, min_se: u64) -> SipConfig {
    SipConfig {
        session_timer: SessionTimerSettings {
            session_expires: Duration::from_secs(session_expires),
            min_se: Duration::from_secs(min_se),
        },
        ..SipConfig::default()
    }
}

/// Run one call of `scenario` (SIPp as the caller) against a harness with
/// `config`; SIPp must count it successful. Returns the stats once `done` holds.
async fn caller_scenario(
    config: SipConfig,
    scenario: &str,
    done: impl Fn(&Stats) -> bool,
) -> Stats {
    let harness = Harness::start(config, Policy::AnswerWaitBye).await;
    let run = run_sipp(harness.addr(), &["-sf", &path(scenario), "-m", "1"]).await;
    assert_all_successful(&run, 1);
    let stats = harness.wait_for(scenario, done).await;
    harness.shutdown().await;
    stats
}

#[tokio::test]
async fn callhost_refreshes_with_update_when_the_peer_allows_it() {
    let stats = caller_scenario(timers(0, 1), "sip-timer-update.xml", |s| s.byes == 1).await;
    assert!(stats.ended.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn callhost_refreshes_with_reinvite_otherwise() {
    let stats = caller_scenario(timers(0, 1), "sip-timer-reinvite.xml", |s| s.byes == 1).await;
    // The refresh re-INVITE was ours: the server saw no re-INVITE.
    assert_eq!(stats.reinvites, 0, "{stats:?}");
}

#[tokio::test]
async fn a_session_nobody_refreshes_is_ended_with_bye() {
    let stats = caller_scenario(timers(0, 1), "sip-timer-expiry.xml", |s| {
        !s.ended.is_empty()
    })
    .await;
    assert!(
        stats.ended[0].contains("session timer expired"),
        "{stats:?}"
    );
    assert_eq!(stats.byes, 0, "callhost hung up, not the caller: {stats:?}");
}

#[tokio::test]
async fn a_too_short_interval_gets_422_with_min_se() {
    let stats = caller_scenario(timers(0, 2), "sip-timer-422.xml", |s| s.byes == 1).await;
    assert_eq!(
        stats.calls, 1,
        "the refused INVITE never reached the server: {stats:?}"
    );
}

async fn endpoint(config: SipConfig) -> SipEndpoint {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..config
    };
    let (endpoint, _incoming) = SipEndpoint::bind(config).await.expect("bind endpoint");
    endpoint
}

/// An endpoint with `config` calls SIPp running the callee `scenario`; returns
/// them once the call is answered.
async fn answered_call(config: SipConfig, scenario: &str) -> (SipEndpoint, Callee, OutgoingCall) {
    let endpoint = endpoint(config).await;
    let callee = Callee::start(scenario, false).await;
    let mut call = endpoint
        .call(OutgoingRequest {
            target: callee.uri("bob", ""),
            offer_sdp: ANSWER_SDP.to_string(),
            ..OutgoingRequest::default()
        })
        .await
        .expect("call");
    wait_answered(&mut call.events).await;
    (endpoint, callee, call)
}

#[tokio::test]
async fn outgoing_call_retries_after_422_and_refreshes_by_update() {
    let (endpoint, callee, mut call) = answered_call(timers(2, 1), "uas-session-timer.xml").await;
    // The callee hangs up only after our UPDATE refresh reached it.
    assert!(matches!(
        next_event(&mut call.events).await,
        Some(CallEvent::Bye)
    ));
    assert_all_successful(&callee.finish().await, 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn outgoing_call_holds_and_resumes_by_reinvite() {
    let (endpoint, callee, mut call) =
        answered_call(SipConfig::default(), "uas-hold-resume.xml").await;
    let hold = format!("{ANSWER_SDP}a=sendonly\r\n");
    let held = call.call.reinvite(&hold).await.expect("hold re-INVITE");
    assert_eq!(held.code, 200, "{held:?}");
    let answer = held.answer_sdp.expect("answer SDP");
    assert!(answer.contains("a=recvonly"), "{answer}");
    let resume = format!("{ANSWER_SDP}a=sendrecv\r\n");
    let resumed = call.call.reinvite(&resume).await.expect("resume re-INVITE");
    assert_eq!(resumed.code, 200, "{resumed:?}");
    assert!(
        resumed
            .answer_sdp
            .expect("answer SDP")
            .contains("a=sendrecv"),
        "resume answered sendrecv"
    );
    assert!(matches!(
        next_event(&mut call.events).await,
        Some(CallEvent::Bye)
    ));
    assert_all_successful(&callee.finish().await, 1);
    // After the call ended a re-INVITE is refused at once.
    assert!(call.call.reinvite(ANSWER_SDP).await.is_err());
    endpoint.shutdown().await;
}
