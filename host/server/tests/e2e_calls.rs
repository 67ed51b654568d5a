//! End to end with SIPp (Debian `sip-tester`) against the real `callhost` binary
//! and the demo apps: many calls to `hello`, digits to `ivr` from SIPp's RFC 4733
//! pcaps, CANCEL before answer, BYE mid-prompt, unknown service, no common codec.

mod common;

use std::time::Duration;

use common::{Host, HostOptions, field, invite, raw_request, scratch, sipp, sipp_dir, sipp_workdir};

#[test]
fn sipp_uac_calls_hello_without_failures() {
    let dir = scratch("uac-hello");
    let host = Host::start(&dir, HostOptions { apps: &["hello"], config: None });
    let work = sipp_workdir(&dir);
    // The built-in uac hangs up right after the ACK: every call ends mid-prompt.
    let run = sipp(&work, host.sip, &["-sn", "uac", "-m", "30", "-r", "10", "-l", "15"], "hello");
    assert_eq!(run.code, 0, "SIPp reported failed calls:\n{}", run.output);
    let log = host.wait_for_log_count("exit record", 30, Duration::from_secs(30));
    assert_eq!(log.matches("incoming call").count(), 30);
    // The app saw each caller's BYE as a Hangup while playing.
    assert_eq!(log.matches("call idle: the caller hung up").count(), 30, "{log}");
}

#[test]
fn hello_plays_its_prompt_and_hangs_up_with_exit_code_zero() {
    let dir = scratch("hello-hangs-up");
    let host = Host::start(&dir, HostOptions { apps: &["hello"], config: None });
    let work = sipp_workdir(&dir);
    let scenario = sipp_dir().join("host-wait-bye.xml");
    let run = sipp(&work, host.sip, &["-sf", scenario.to_str().unwrap(), "-m", "3", "-l", "3"], "hello");
    assert_eq!(run.code, 0, "{}", run.output);
    host.wait_for_log_count("exit record", 3, Duration::from_secs(20));
    for record in host.exit_records() {
        assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
        assert_eq!(field(&record, "app"), Some("hello"), "{record}");
    }
    let log = host.log_text();
    assert_eq!(log.matches("call idle: the app hung up").count(), 3, "{log}");
}

#[test]
fn ivr_receives_rfc4733_digits_from_sipp_pcaps() {
    let dir = scratch("ivr-dtmf");
    let host = Host::start(&dir, HostOptions { apps: &["ivr"], config: None });
    let work = sipp_workdir(&dir);
    let scenario = sipp_dir().join("host-dtmf.xml");
    let run = sipp(&work, host.sip, &["-sf", scenario.to_str().unwrap(), "-m", "1"], "ivr");
    assert_eq!(run.code, 0, "{}", run.output);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert!(log.contains("ivr: collected digits 1479"), "the app did not get 1479#:\n{log}");
    let record = host.exit_records().pop().unwrap();
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
}

#[test]
fn sipp_builtin_uac_pcap_against_ivr_has_no_failures() {
    let dir = scratch("uac-pcap");
    let host = Host::start(&dir, HostOptions { apps: &["ivr"], config: None });
    let work = sipp_workdir(&dir);
    let run = sipp(&work, host.sip, &["-sn", "uac_pcap", "-m", "2", "-l", "2"], "ivr");
    assert_eq!(run.code, 0, "{}", run.output);
    let log = host.wait_for_log_count("exit record", 2, Duration::from_secs(20));
    // SIPp sends '1' after 8 s of audio, then hangs up while the app waits for more.
    assert_eq!(log.matches("DTMF received digit=1").count(), 2, "{log}");
}

#[test]
fn cancel_before_answer_gets_487_and_the_app_sees_hangup() {
    let dir = scratch("cancel");
    let host = Host::start(&dir, HostOptions { apps: &["ivr"], config: None });
    let work = sipp_workdir(&dir);
    let scenario = sipp_dir().join("host-cancel.xml");
    let run = sipp(&work, host.sip, &["-sf", scenario.to_str().unwrap(), "-m", "1"], "ivr");
    assert_eq!(run.code, 0, "{}", run.output);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert!(log.contains("call idle: the caller cancelled"), "{log}");
    assert!(log.contains("raw_cause=Some(487)"), "{log}");
}

#[test]
fn unknown_service_gets_404_and_no_common_codec_gets_488() {
    let dir = scratch("refusals");
    let host = Host::start(&dir, HostOptions { apps: &["hello"], config: None });
    assert_eq!(raw_request(host.sip, &invite("nosuchservice", "refusal-404", "0")), Some(404));
    let g729_only = invite("hello", "refusal-488", "18");
    assert_eq!(raw_request(host.sip, &g729_only), Some(488));
    // And the host still serves a normal call afterwards.
    let work = sipp_workdir(&dir);
    let run = sipp(&work, host.sip, &["-sn", "uac", "-m", "1"], "hello");
    assert_eq!(run.code, 0, "{}", run.output);
}
