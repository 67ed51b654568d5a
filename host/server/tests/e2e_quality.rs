//! The call's audio figures against a real phone: pjsua2 (PyPI `pjsua2-python`)
//! calls `call-quality`, which plays a tone for 12 s and then reads
//! `media-statistics`. Both ends exchange RTCP on 127.0.0.1:
//!
//! - pjsua2's own RTCP view shows our reports arrived and made sense to it: its
//!   `txStat` is updated from our receiver report blocks (no loss) and it computed
//!   a round trip from our SR's LSR/DLSR echo (RFC 3550 §6.4.1);
//! - the app sees pjsua2's report about our stream (no loss, a round trip), the
//!   packets each way and no loss of its own;
//! - the host logs the same figures as `media statistics` when the call ends.

mod common;

use std::time::Duration;

use common::{Host, HostOptions, field, pjsua_call, scratch};

#[test]
fn rtcp_reports_flow_both_ways_and_the_app_and_the_log_get_the_figures() {
    let dir = scratch("quality");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["call-quality"],
            config: None,
        },
    );
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:call-quality@{}", host.sip),
        "--timeout",
        "40",
    ]);
    assert_eq!(result["remote_hangup"], true, "{result}");

    // pjsua2 heard our RTCP: report blocks about its stream, and our SR echoed.
    let rtcp = &result["rtcp"];
    assert!(
        rtcp["tx_report_updates"].as_u64().unwrap_or(0) >= 1,
        "pjsua2 got no report block from us: {rtcp}"
    );
    assert_eq!(rtcp["tx_loss"], 0, "{rtcp}");
    assert!(
        rtcp["rtt_count"].as_u64().unwrap_or(0) >= 1,
        "pjsua2 computed no round trip from our reports: {rtcp}"
    );
    let received_by_phone = rtcp["rx_packets"].as_u64().unwrap_or(0);
    assert!(
        received_by_phone > 500,
        "12 s of tone is ~600 packets: {rtcp}"
    );

    // The app's view, logged by call-quality.
    let log = host.wait_for_log("media statistics", Duration::from_secs(20));
    let app_line = log
        .lines()
        .find(|line| line.contains("call quality: codec"))
        .unwrap_or_else(|| panic!("no call-quality line:\n{log}"));
    assert!(app_line.contains(", lost 0,"), "{app_line}");
    assert!(app_line.contains("far end: lost 0 (0.0 %)"), "{app_line}");
    assert!(
        !app_line.contains("round trip unknown"),
        "the app sees the round trip: {app_line}"
    );

    // The host's end-of-call line.
    let line = log
        .lines()
        .find(|line| line.contains("media statistics"))
        .unwrap();
    let number = |name: &str| -> u64 {
        field(line, name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    assert!(number("sent") >= received_by_phone, "{line}");
    assert!(number("received") > 500, "pjsua2 sends audio too: {line}");
    assert_eq!(number("lost"), 0, "{line}");
    assert!(number("rtcp_received") >= 2, "{line}");
    assert!(number("rtcp_sent") >= 2, "{line}");
    // Optional fields print bare when present.
    assert_eq!(field(line, "remote_lost"), Some("0"), "{line}");
    let round_trip: f64 = field(line, "round_trip_ms")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a round trip in {line}"));
    assert!(round_trip < 50.0, "on loopback: {line}");
}
