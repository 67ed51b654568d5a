//! pjsua2 (PyPI `pjsua2-python`, a real SIP phone) calls `ivr`: what it records
//! is the prompt, it sends 4711# as RFC 4733 and hears 4711 back as RFC 4733, and
//! the host hangs up.

mod common;

use std::path::Path;
use std::time::Duration;

use common::audio::{best_correlation, envelope, load};
use common::{Host, HostOptions, field, pjsua_call, prompts, scratch};

#[test]
fn pjsua_hears_the_prompt_and_gets_its_digits_back() {
    let dir = scratch("pjsua-ivr");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["ivr"],
            config: None,
        },
    );
    let welcome = load(&prompts().join("ivr/welcome.wav"));
    let welcome_seconds = welcome.len() as f64 / 8000.0;
    let recording = dir.join("pjsua-heard.wav");
    let uri = format!("sip:ivr@{}", host.sip);
    // Send the digits once the whole prompt has played (it starts ~1 s after connect).
    let dtmf_after = format!("{:.1}", welcome_seconds + 1.5);
    let result = pjsua_call(&[
        "--uri",
        &uri,
        "--record",
        recording.to_str().unwrap(),
        "--send-dtmf",
        "4711#",
        "--dtmf-after",
        &dtmf_after,
        "--timeout",
        "40",
    ]);
    assert_eq!(result["connected"], true, "{result}");
    assert_eq!(
        result["dtmf_received"],
        "4711",
        "{result}\n{}",
        host.log_text()
    );
    assert_eq!(
        result["remote_hangup"], true,
        "the host must hang up: {result}"
    );
    assert_eq!(result["timed_out"], false, "{result}");

    let log = host.wait_for_log("exit record", Duration::from_secs(10));
    assert!(log.contains("ivr: collected digits 4711"), "{log}");
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));

    let heard = load(&recording);
    let heard_envelope = envelope(&heard);
    let loudest = heard_envelope.iter().cloned().fold(0.0, f64::max);
    assert!(
        loudest > 500.0,
        "the recording is silent (peak frame RMS {loudest:.0})"
    );
    let (correlation, lag) = best_correlation(&envelope(&welcome), &heard_envelope);
    assert!(
        correlation > 0.9,
        "the recording does not match the welcome prompt: best envelope correlation {correlation:.3} at {} ms",
        lag * 20
    );
}

/// A 16-bit mono 8 kHz WAV file of `samples`.
fn write_wav(path: &Path, samples: &[i16]) {
    let data_bytes = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&16000u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_bytes.to_le_bytes());
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write the tone file");
}

/// `digits` as DTMF tone pairs (-10 dBm0 per tone, 100 ms on, 100 ms off)
/// after `lead_seconds` of silence.
fn dtmf_tones(digits: &str, lead_seconds: f64) -> Vec<i16> {
    let pair = |digit: char| match digit {
        '1' => (697.0, 1209.0),
        '4' => (770.0, 1209.0),
        '7' => (852.0, 1209.0),
        '#' => (941.0, 1477.0),
        other => panic!("no tones for {other} in this test"),
    };
    let mut samples = vec![0i16; (lead_seconds * 8000.0) as usize];
    for digit in digits.chars() {
        let (low, high) = pair(digit);
        samples.extend((0..800).map(|n| {
            let t = f64::from(n) / 8000.0;
            let tau = 2.0 * std::f64::consts::PI;
            (7200.0 * (tau * low * t).sin() + 7200.0 * (tau * high * t).sin()) as i16
        }));
        samples.extend(std::iter::repeat_n(0i16, 800));
    }
    samples.extend(std::iter::repeat_n(0i16, 8000 * 3));
    samples
}

#[test]
fn ivr_collects_digits_pjsua_keys_in_band() {
    let dir = scratch("pjsua-inband");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["ivr"],
            config: None,
        },
    );
    // The digits go as audio only (no RFC 4733 events, no INFO): the host must
    // hear the tones in the caller's PCMU stream.
    let tones = dir.join("keyed.wav");
    write_wav(&tones, &dtmf_tones("147#", 2.0));
    let uri = format!("sip:ivr@{}", host.sip);
    let result = pjsua_call(&[
        "--uri",
        &uri,
        "--play",
        tones.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(result["connected"], true, "{result}");
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(log.contains("ivr: collected digits 147"), "{log}");
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));
    // The digits were played back to pjsua as RFC 4733 events.
    assert_eq!(result["dtmf_received"], "147", "{result}");
}
