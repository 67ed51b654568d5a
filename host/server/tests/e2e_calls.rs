//! End to end with SIPp (Debian `sip-tester`) against the real `callhost` binary
//! and the demo apps: many calls to `hello`, digits to `ivr` from SIPp's RFC 4733
//! pcaps, CANCEL before answer, BYE mid-prompt, unknown service, no common codec.

mod common;

use std::time::Duration;

use common::{Host, field, invite, raw_request};

#[test]
fn sipp_uac_calls_hello_without_failures() {
    let host = Host::with_apps("uac-hello", &["hello"]);
    // The built-in uac hangs up right after the ACK: every call ends mid-prompt.
    let run = host.sipp("hello", &["-sn", "uac", "-m", "30", "-r", "10", "-l", "15"]);
    assert_eq!(run.code, 0, "SIPp reported failed calls:\n{}", run.output);
    let log = host.wait_for_log_count("exit record", 30, Duration::from_secs(30));
    assert_eq!(log.matches("incoming call").count(), 30);
    // The app saw each caller's BYE as a Hangup while playing.
    assert_eq!(
        log.matches("call idle: the caller hung up").count(),
        30,
        "{log}"
    );
    assert_eq!(log.matches("app ended by hangup").count(), 30, "{log}");
}

#[test]
fn hello_plays_its_prompt_and_hangs_up_with_exit_code_zero() {
    let host = Host::with_apps("hello-hangs-up", &["hello"]);
    host.expect_scenario("host-wait-bye.xml", "hello", 3);
    host.wait_for_log_count("exit record", 3, Duration::from_secs(20));
    for record in host.exit_records() {
        assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
        assert_eq!(field(&record, "app"), Some("hello"), "{record}");
    }
    let log = host.log_text();
    assert_eq!(
        log.matches("call idle: the app hung up").count(),
        3,
        "{log}"
    );
}

#[test]
fn ivr_receives_rfc4733_digits_from_sipp_pcaps() {
    let host = Host::with_apps("ivr-dtmf", &["ivr"]);
    host.expect_scenario("host-dtmf.xml", "ivr", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert!(
        log.contains("ivr: collected digits 1479"),
        "the app did not get 1479#:\n{log}"
    );
    let record = host.exit_records().pop().unwrap();
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
}

#[test]
fn sipp_builtin_uac_pcap_against_ivr_has_no_failures() {
    let host = Host::with_apps("uac-pcap", &["ivr"]);
    let run = host.sipp("ivr", &["-sn", "uac_pcap", "-m", "2", "-l", "2"]);
    assert_eq!(run.code, 0, "{}", run.output);
    let log = host.wait_for_log_count("exit record", 2, Duration::from_secs(20));
    // SIPp sends '1' after 8 s of audio, then hangs up while the app waits for more.
    assert_eq!(log.matches("DTMF received digit=1").count(), 2, "{log}");
}

#[test]
fn cancel_before_answer_gets_487_and_the_app_sees_hangup() {
    let host = Host::with_apps("cancel", &["ivr"]);
    host.expect_scenario("host-cancel.xml", "ivr", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert!(log.contains("call idle: the caller cancelled"), "{log}");
    assert!(log.contains("raw_cause=Some(487)"), "{log}");
}

/// A request without a body from a raw socket (see [`raw_request`]).
fn bodyless(method: &str, call_id: &str) -> String {
    format!(
        "{method} sip:hello@HOST SIP/2.0\r\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK{call_id}\r\nFrom: <sip:t@LOCAL>;tag=1\r\n\
         To: <sip:hello@HOST>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn refusals_and_odd_requests_get_the_right_answers() {
    let host = Host::with_apps("refusals", &["hello"]);
    assert_eq!(
        raw_request(host.sip, &invite("nosuchservice", "refusal-404", "0")),
        Some(404)
    );
    let g729_only = invite("hello", "refusal-488", "18");
    assert_eq!(raw_request(host.sip, &g729_only), Some(488));
    assert_eq!(
        raw_request(host.sip, &bodyless("OPTIONS", "options-1")),
        Some(200)
    );
    assert_eq!(
        raw_request(host.sip, &bodyless("FOO", "unknown-method-1")),
        Some(501)
    );
    let no_call_id = bodyless("OPTIONS", "malformed-1").replace("Call-ID: malformed-1\r\n", "");
    assert_eq!(raw_request(host.sip, &no_call_id), Some(400));
    let garbage = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [
        &b"\x00\x01\x02 not sip at all"[..],
        b"INVITE\r\n\r\n",
        &[0xff; 1400],
    ] {
        garbage.send_to(junk, host.sip).unwrap();
    }
    // And the host still serves a normal call afterwards.
    let run = host.sipp("hello", &["-sn", "uac", "-m", "1"]);
    assert_eq!(run.code, 0, "{}", run.output);
}

#[test]
fn reinvite_info_and_tcp_reach_the_host() {
    let host = Host::with_apps("reinvite-tcp", &["hello", "ivr"]);
    // re-INVITE with the same SDP, then INFO, then the caller's BYE, during ivr's prompt.
    host.expect_scenario("sip-reinvite.xml", "ivr", 1);
    // The built-in uac over TCP.
    let run = host.sipp("hello", &["-sn", "uac", "-t", "t1", "-m", "5", "-l", "5"]);
    assert_eq!(run.code, 0, "{}", run.output);
    let log = host.wait_for_log_count("exit record", 6, Duration::from_secs(30));
    assert_eq!(
        log.matches("call idle: the caller hung up").count(),
        6,
        "{log}"
    );
}

/// The seed tutorial's inbound programs, each called once; their exit codes are the tutorial's.
#[test]
fn tutorial_programs_run_as_the_tutorial_says() {
    let apps = [
        "basic-inbound",
        "check-state",
        "hangup-exception",
        "error-exception",
        "logger",
    ];
    let host = Host::with_apps("tutorial", &apps);
    for app in apps {
        // The caller hangs up 3 s after the ACK if the app has not ended the call by then;
        // SIPp's verdict depends on the app, the exit records below are what is checked.
        let _ = host.sipp(app, &["-sn", "uac", "-m", "1", "-d", "3000"]);
    }
    host.wait_for_log_count("exit record", apps.len(), Duration::from_secs(30));
    let records = host.exit_records();
    let exit_code = |app: &str| {
        let record = records.iter().find(|line| field(line, "app") == Some(app));
        record
            .and_then(|line| field(line, "exit_code"))
            .unwrap_or_else(|| panic!("no exit record for {app}: {records:?}"))
    };
    // ring, answer, wait_for_idle until the caller's BYE.
    assert_eq!(exit_code("basic-inbound"), "0");
    // The state is CALL_INCOMING, so it rings, answers and waits: 0.
    assert_eq!(exit_code("check-state"), "0");
    // Answers, waits, catches nothing: 0.
    assert_eq!(exit_code("hangup-exception"), "0");
    // FilePlayer.start of a missing file raises Error: -101.
    assert_eq!(exit_code("error-exception"), "-101");
    // The logger answers, logs at info and waits for the caller's BYE: 0.
    assert_eq!(exit_code("logger"), "0");
    let log = host.log_text();
    assert!(log.contains("Answered an inbound call"), "{log}");
    assert!(
        log.contains("was not found in the app's media directory"),
        "{log}"
    );
}

#[test]
fn ivr_without_digits_says_goodbye_and_hangs_up() {
    let host = Host::with_apps("ivr-goodbye", &["ivr"]);
    // The scenario waits for the host's BYE: the app must hang up by itself.
    host.expect_scenario("host-wait-bye.xml", "ivr", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert!(
        log.contains("get-digits finished digits= cause=Timeout"),
        "{log}"
    );
    assert!(log.contains("ivr: collected no digits"), "{log}");
    assert!(log.contains(r#"playing file="goodbye.wav""#), "{log}");
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));
}

#[test]
fn ivr_takes_digits_sent_as_sip_info() {
    let host = Host::with_apps("ivr-info", &["ivr"]);
    host.expect_scenario("host-info-dtmf.xml", "ivr", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(20));
    assert_eq!(log.matches(r#"method="SIP INFO""#).count(), 3, "{log}");
    assert!(log.contains("ivr: collected digits 25"), "{log}");
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));
}

#[test]
fn a_caller_holding_the_call_puts_it_on_hold_and_back() {
    let host = Host::with_apps("remote-hold", &["ivr"]);
    // ivr's prompt is playing while the caller holds and resumes; SIPp checks the
    // answers say recvonly, then sendrecv.
    host.expect_scenario("host-hold.xml", "ivr", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    let held = log
        .find("the far end put the call on hold")
        .expect("hold seen");
    let resumed = log
        .find("the far end took the call off hold")
        .expect("resume seen");
    assert!(held < resumed, "{log}");
    assert!(log.contains("call idle: the caller hung up"), "{log}");
}

#[test]
fn the_app_holds_the_caller_and_resumes() {
    let host = Host::with_apps("app-hold", &["hold-resume"]);
    // SIPp checks the host's re-INVITEs offer sendonly, then sendrecv, and ACK
    // its answers; the app checks its channel went HOLDING and back to ANSWERED.
    host.expect_scenario("host-app-hold.xml", "hold-resume", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    let held = log.find("call held").expect("hold logged");
    let resumed = log.find("call resumed").expect("resume logged");
    assert!(held < resumed, "{log}");
    assert!(log.contains("the caller is on hold"), "{log}");
    let record = host.exit_records().pop().unwrap();
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
}

#[test]
fn a_service_answers_with_its_own_codec_preference() {
    let config = "[services.hello-alaw]\napp = \"hello\"\ncodecs = [\"PCMA\"]\n";
    let host = common::Host::start(
        &common::scratch("service-codecs"),
        common::HostOptions {
            apps: &["hello"],
            config: Some(config),
        },
    );
    // SIPp offers PCMU first and PCMA second; its scenario checks the answer
    // names PCMA (payload type 8) only.
    host.expect_scenario("host-codec-pcma.xml", "hello-alaw", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(log.contains("app=hello"), "{log}");
}

#[test]
fn a_service_with_a_realm_challenges_callers_and_lets_the_right_password_in() {
    let config = "[services.secure]\napp = \"hello\"\nauth_realm = \"callhost.test\"\n\n[services.secure.users]\nalice = \"s3cret\"\n";
    let host = common::Host::start(
        &common::scratch("inbound-auth"),
        common::HostOptions {
            apps: &["hello"],
            config: Some(config),
        },
    );
    // Without credentials: 401 (the raw INVITE never retries).
    assert_eq!(
        raw_request(host.sip, &invite("secure", "auth-none", "0")),
        Some(401)
    );
    // SIPp answers the challenge with alice / s3cret and gets the hello app.
    host.expect_scenario("host-auth.xml", "secure", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(log.contains("caller authenticated username=alice"), "{log}");
    let record = host.exit_records().pop().unwrap();
    assert_eq!(field(&record, "app"), Some("hello"), "{record}");
    assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
}
