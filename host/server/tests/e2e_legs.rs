//! Two-leg apps and the SIP property end to end: a pjsua2 caller bridged by
//! `connect-calls` to a pjsua2 callee (each hears the other's tone), and SIPp
//! exchanging headers, INFO and MESSAGE with `sip-property`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::audio::{load, sox_tone, tone_power, tone_share};
use common::{Host, HostOptions, PjsuaCallee, field, pjsua_call, scratch};

/// A 6 s sine WAV at `frequency`.
fn tone(dir: &Path, frequency: u32) -> String {
    sox_tone(dir, frequency, 6).to_str().unwrap().to_owned()
}

#[test]
fn connect_calls_bridges_a_pjsua_caller_to_a_pjsua_callee() {
    let dir = scratch("connect-calls");
    let callee_port = common::free_port();
    let config = format!(
        "[services.bridge]\napp = \"connect-calls\"\nparameters = \"sip:callee@127.0.0.1:{callee_port}\"\n"
    );
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["connect-calls"],
            config: Some(&config),
        },
    );

    let (low, high) = (tone(&dir, 440), tone(&dir, 1000));
    let (caller_wav, callee_wav) = (dir.join("caller.wav"), dir.join("callee.wav"));
    let callee = PjsuaCallee::start(
        &dir,
        callee_port,
        &[
            "--play",
            &high,
            "--record",
            callee_wav.to_str().unwrap(),
            "--timeout",
            "40",
        ],
    );

    let uri = format!("sip:bridge@{}", host.sip);
    let caller = pjsua_call(&[
        "--uri",
        &uri,
        "--play",
        &low,
        "--record",
        caller_wav.to_str().unwrap(),
        "--hangup-after",
        "6",
        "--timeout",
        "30",
    ]);
    assert_eq!(caller["connected"], true, "{caller}");
    let callee_result = callee.finish();
    assert_eq!(callee_result["connected"], true, "{callee_result}");
    assert_eq!(
        callee_result["remote_hangup"], true,
        "the app hangs the callee up when the caller leaves: {callee_result}"
    );

    let record = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(record.contains("calls connected"), "{record}");
    let exit = host.exit_records().pop().unwrap();
    assert_eq!(field(&exit, "exit_code"), Some("0"), "{exit}");

    // Each side hears the other's tone, not its own.
    let heard_by_caller = load(&caller_wav);
    let heard_by_callee = load(&callee_wav);
    let (caller_high, caller_low) = (
        tone_power(&heard_by_caller, 1000.0),
        tone_power(&heard_by_caller, 440.0),
    );
    let (callee_low, callee_high) = (
        tone_power(&heard_by_callee, 440.0),
        tone_power(&heard_by_callee, 1000.0),
    );
    assert!(
        caller_high > 10.0 * caller_low,
        "the caller should hear 1000 Hz: {caller_high:e} vs {caller_low:e}"
    );
    assert!(
        callee_low > 10.0 * callee_high,
        "the callee should hear 440 Hz: {callee_low:e} vs {callee_high:e}"
    );
}

#[test]
fn sip_property_exchanges_headers_info_and_message_with_sipp() {
    let host = Host::with_apps("sip-property", &["sip-property"]);
    host.expect_scenario("host-sip-property.xml", "sip-property", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    for line in [
        "sip-property: header value from sipp one",
        "sip-property: header value from sipp two",
        "sip-property: INFO answered 200",
        "sip-property: MESSAGE answered 200",
        "sip-property: DTMF INFO answered 200",
        "sip-property: INFO text/plain hello from sipp",
        "sip-property: MESSAGE text/plain; charset=UTF-8 bye now",
    ] {
        assert!(log.contains(line), "missing `{line}`:\n{log}");
    }
    let exit = host.exit_records().pop().unwrap();
    assert_eq!(field(&exit, "exit_code"), Some("0"), "{exit}");
}

/// A pjsua caller calls service `front` = `app` with parameters `hello`; `app`
/// hands the call to the hello app, whose prompt the caller must hear, and when
/// hello hangs up `app` hangs the caller up. Returns the host log after both exit
/// records (each with exit code 0).
fn caller_hears_hello_through(app: &str) -> String {
    let dir = scratch(app);
    let config = format!("[services.front]\napp = \"{app}\"\nparameters = \"hello\"\n");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &[app, "hello"],
            config: Some(&config),
        },
    );
    let heard = dir.join("heard.wav");
    let uri = format!("sip:front@{}", host.sip);
    let caller = pjsua_call(&[
        "--uri",
        &uri,
        "--record",
        heard.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(caller["connected"], true, "{caller}");
    assert_eq!(caller["remote_hangup"], true, "{caller}");
    let log = host.wait_for_log_count("exit record", 2, Duration::from_secs(30));
    for record in host.exit_records() {
        assert_eq!(field(&record, "exit_code"), Some("0"), "{record}");
    }
    // The caller heard the hello prompt through the bridge: several seconds of speech.
    let samples = load(&heard);
    let loud = samples
        .chunks(160)
        .filter(|frame| frame.iter().map(|&s| i64::from(s).abs()).sum::<i64>() / 160 > 300)
        .count();
    assert!(
        loud > 50,
        "only {loud} loud 20 ms frames in what the caller heard"
    );
    log
}

#[test]
fn call_inbound_service_connects_a_pjsua_caller_to_the_hello_app() {
    let log = caller_hears_hello_through("call-service");
    assert!(log.contains("local call from another app"), "{log}");
    assert!(log.contains("connected to service hello"), "{log}");
}

#[test]
fn a_caller_transferred_to_another_service_is_retrieved_when_it_hangs_up() {
    let log = caller_hears_hello_through("transfer-service");
    let transferred = log.find("call transferred").expect("transfer logged");
    let retrieved = log
        .find("the transferred call is retrieved")
        .expect("retrieval logged");
    assert!(transferred < retrieved, "{log}");
    assert!(log.contains("transferred to service hello"), "{log}");
    assert!(log.contains("the call was retrieved"), "{log}");
}

#[test]
fn a_caller_hears_the_apps_ringtone_while_the_transfer_target_rings() {
    let dir = scratch("transfer-ringback");
    // The target rings 4 s (plain 180 on a local call) before it answers and speaks.
    let config = "[services.front]\napp = \"transfer-service\"\nparameters = \"ringing\"\n\
                  [services.ringing]\napp = \"ringback-tone\"\nparameters = \"4\"\n";
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["transfer-service", "ringback-tone"],
            config: Some(config),
        },
    );
    let heard = dir.join("heard.wav");
    let caller = pjsua_call(&[
        "--uri",
        &format!("sip:front@{}", host.sip),
        "--record",
        heard.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(caller["connected"], true, "{caller}");
    let log = host.wait_for_log("call transferred", Duration::from_secs(30));
    let samples = load(&heard);
    // Both frequencies of the pair, each with a good share of the block's power.
    let is_ringtone =
        |block: &[i16]| tone_share(block, 400.0) > 0.3 && tone_share(block, 600.0) > 0.3;
    // MY_RING_TONE: 400 + 600 Hz for 3 s, within the first 4 s of the call.
    let ringing = samples[..(4 * 8000).min(samples.len())]
        .chunks(1600)
        .filter(|block| is_ringtone(block))
        .count();
    assert!(
        ringing >= 10,
        "only {ringing} of the first 20 blocks of 200 ms hold the ringtone:\n{log}"
    );
    // Then the ringtone stops and the target's greeting comes through the bridge.
    let after = &samples[(6 * 8000).min(samples.len())..];
    assert!(
        !after.chunks(1600).any(is_ringtone),
        "the ringtone went on after the answer"
    );
    let loud = after
        .chunks(160)
        .filter(|frame| frame.iter().map(|&s| i64::from(s).abs()).sum::<i64>() / 160 > 300)
        .count();
    assert!(
        loud > 50,
        "the caller hears the greeting: {loud} loud frames"
    );
}
