//! End-to-end tests against SIPp (Debian `sip-tester`): the built-in `uac`
//! scenario and callhost's scenarios in tests/sipp/sip-*.xml, over UDP and
//! TCP, with a harness server built on the public API.

mod common;

use std::time::Duration;

use callhost_sip::SipConfig;
use common::{Harness, Policy, assert_all_successful, run_sipp, scenario};

fn path(name: &str) -> String {
    scenario(name).to_string_lossy().into_owned()
}

#[tokio::test]
async fn uac_calls_over_udp_all_succeed() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let run = run_sipp(
        harness.addr(),
        &["-sn", "uac", "-m", "20", "-r", "20", "-s", "music"],
    )
    .await;
    assert_all_successful(&run, 20);
    let stats = harness.wait_for("20 BYEs", |s| s.byes == 20).await;
    assert_eq!(stats.calls, 20);
    assert_eq!(stats.answered, 20, "{stats:?}");
    assert_eq!(stats.offers_seen, 20, "every INVITE carried SDP");
    assert!(
        stats.services.iter().all(|s| s == "music"),
        "{:?}",
        stats.services
    );
    harness.wait_for("dialogs gone", |_| true).await;
    harness.shutdown().await;
}

#[tokio::test]
async fn uac_calls_over_tcp_all_succeed() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let run = run_sipp(
        harness.addr(),
        &["-sn", "uac", "-t", "t1", "-m", "10", "-r", "10"],
    )
    .await;
    assert_all_successful(&run, 10);
    let stats = harness.wait_for("10 BYEs", |s| s.byes == 10).await;
    assert_eq!(stats.answered, 10, "{stats:?}");
    harness.shutdown().await;
}

#[tokio::test]
async fn cancel_before_answer_gets_200_and_487() {
    let harness = Harness::start(SipConfig::default(), Policy::RingOnly).await;
    let run = run_sipp(
        harness.addr(),
        &["-sf", &path("sip-cancel.xml"), "-m", "5", "-r", "10"],
    )
    .await;
    assert_all_successful(&run, 5);
    let stats = harness.wait_for("5 cancels", |s| s.cancelled == 5).await;
    assert_eq!(stats.calls, 5);
    assert_eq!(stats.answered, 0);
    harness.shutdown().await;
}

#[tokio::test]
async fn bye_from_us_over_udp_and_tcp() {
    let policy = Policy::AnswerHangUpAfter(Duration::from_millis(300));
    let harness = Harness::start(SipConfig::default(), policy).await;
    let run = run_sipp(
        harness.addr(),
        &["-sf", &path("sip-wait-bye.xml"), "-m", "5", "-r", "10"],
    )
    .await;
    assert_all_successful(&run, 5);
    let tcp = run_sipp(
        harness.addr(),
        &[
            "-sf",
            &path("sip-wait-bye.xml"),
            "-t",
            "t1",
            "-m",
            "3",
            "-r",
            "10",
        ],
    )
    .await;
    assert_all_successful(&tcp, 3);
    // hang_up() resolves once the BYE got its 200.
    let stats = harness.wait_for("8 hang-ups", |s| s.hang_ups == 8).await;
    assert_eq!(stats.byes, 0, "the caller never sent BYE: {stats:?}");
    harness.shutdown().await;
}

#[tokio::test]
async fn reinvite_and_info_in_dialog() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let run = run_sipp(
        harness.addr(),
        &["-sf", &path("sip-reinvite.xml"), "-m", "3", "-r", "10"],
    )
    .await;
    assert_all_successful(&run, 3);
    let stats = harness.wait_for("3 BYEs", |s| s.byes == 3).await;
    assert_eq!(stats.reinvites, 3, "{stats:?}");
    assert_eq!(stats.infos.len(), 3, "{stats:?}");
    let (content_type, body) = &stats.infos[0];
    assert_eq!(content_type, "application/dtmf-relay");
    assert!(body.contains("Signal=5"), "{body:?}");
    harness.shutdown().await;
}

#[tokio::test]
async fn options_gets_200_with_allow_and_accept() {
    let harness = Harness::start(SipConfig::default(), Policy::AnswerWaitBye).await;
    let run = run_sipp(
        harness.addr(),
        &["-sf", &path("sip-options.xml"), "-m", "3", "-r", "10"],
    )
    .await;
    assert_all_successful(&run, 3);
    let tcp = run_sipp(
        harness.addr(),
        &["-sf", &path("sip-options.xml"), "-t", "t1", "-m", "2"],
    )
    .await;
    assert_all_successful(&tcp, 2);
    assert_eq!(harness.stats().calls, 0);
    harness.shutdown().await;
}
