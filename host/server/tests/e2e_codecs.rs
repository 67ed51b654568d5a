//! Wideband codecs against real phones: pjsua2 offering only G.722 and baresip offering only
//! Opus call `hello`; the host answers with that codec (its log says which) and the phone's
//! recording carries the spoken prompt (envelope correlation). A service limited to PCMU
//! refuses the G.722-only offer with 488, and the host's default codec list is unchanged.
//! The other direction: each phone's own audio reaches the `recorder` demo through the
//! jitter buffer and the codec's decoder (the recording holds the phone's tone), and with
//! G.722 the phone then hears it played back.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::audio::{best_correlation, envelope, load, tone_share};
use common::{Host, HostOptions, field, free_port, pjsua_call, prompts, scratch};

/// Host config: every codec, G.711 first; `narrow` is `hello` limited to PCMU.
const CONFIG: &str = "[media]\ncodecs = [\"PCMU\", \"PCMA\", \"G722\", \"OPUS\"]\n\n\
                      [services.narrow]\napp = \"hello\"\ncodecs = [\"PCMU\"]\n";

/// The phone heard the `hello` prompt: loud enough, and shaped like it.
fn assert_heard_the_prompt(recording: &Path, peer_output: &str) {
    let prompt = load(&prompts().join("hello/hello.wav"));
    let heard = load(recording);
    // Half a second of silence either side: the recording may start before or after the
    // prompt (the phone records from when its media is up; the host plays from the answer).
    let padding = vec![0i16; 4000];
    let heard_envelope = envelope(&[padding.clone(), heard, padding].concat());
    let loudest = heard_envelope.iter().cloned().fold(0.0, f64::max);
    assert!(
        loudest > 500.0,
        "the recording is silent (peak frame RMS {loudest:.0})\n{peer_output}"
    );
    let (correlation, lag) = best_correlation(&envelope(&prompt), &heard_envelope);
    assert!(
        correlation > 0.85,
        "the recording does not match the prompt: best envelope correlation {correlation:.3} at {} ms",
        lag * 20
    );
}

fn prompt_seconds() -> f64 {
    load(&prompts().join("hello/hello.wav")).len() as f64 / 8000.0
}

#[test]
fn pjsua_offering_only_g722_is_answered_in_g722_and_hears_the_prompt() {
    let dir = scratch("codecs-g722");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["hello"],
            config: Some(CONFIG),
        },
    );
    let recording = dir.join("pjsua-g722.wav");
    let timeout = format!("{:.0}", prompt_seconds() + 20.0);
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:hello@{}", host.sip),
        "--codec",
        "G722",
        "--record",
        recording.to_str().unwrap(),
        "--timeout",
        &timeout,
    ]);
    assert_eq!(result["connected"], true, "{result}\n{}", host.log_text());
    assert_eq!(result["codec"], "G722", "pjsua's stream codec: {result}");
    assert_eq!(result["remote_hangup"], true, "hello hangs up: {result}");
    let log = host.wait_for_log("exit record", Duration::from_secs(10));
    assert!(log.contains("answered codec=\"G722\""), "{log}");
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));
    assert_heard_the_prompt(&recording, &result.to_string());

    // A service limited to PCMU has no codec in common with a G.722-only phone.
    let refused = pjsua_call(&[
        "--uri",
        &format!("sip:narrow@{}", host.sip),
        "--codec",
        "G722",
        "--timeout",
        "15",
    ]);
    assert_eq!(refused["connected"], false, "{refused}");
    assert_eq!(refused["last_status"], 488, "{refused}");
}

#[test]
fn the_default_codec_list_stays_g711() {
    let host = Host::with_apps("codecs-default", &["hello"]);
    let refused = pjsua_call(&[
        "--uri",
        &format!("sip:hello@{}", host.sip),
        "--codec",
        "G722",
        "--timeout",
        "15",
    ]);
    assert_eq!(refused["last_status"], 488, "{refused}");
}

/// Run baresip with only its Opus codec loaded: dial `uri`, quit after `seconds`. Its
/// `sndfile` module writes what it decodes to a `*-dec.wav` file in `dumps`. Returns its
/// output.
fn baresip_opus_dial(home: &Path, uri: &str, dumps: &Path, seconds: u32) -> String {
    std::fs::create_dir_all(home).unwrap();
    std::fs::create_dir_all(dumps).unwrap();
    // It sends a quiet 440 Hz tone (baresip needs a source) at Opus's native rate.
    let source = home.join("source.wav");
    let sox = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&source)
        .args(["synth", &seconds.to_string(), "sine", "440", "vol", "0.05"])
        .output()
        .expect("run sox (scripts/setup --test installs it)");
    assert!(
        sox.status.success(),
        "{}",
        String::from_utf8_lossy(&sox.stderr)
    );
    let config = format!(
        "sip_listen 127.0.0.1:{port}\nmodule_path /usr/lib/baresip/modules\n\
         module opus.so\nmodule aufile.so\nmodule sndfile.so\nmodule_app account.so\n\
         module_app menu.so\naudio_source aufile,{source}\nsnd_path {dumps}\n\
         ausrc_srate 48000\nausrc_channels 1\nauplay_srate 48000\nauplay_channels 1\n\
         opus_stereo no\nopus_sprop_stereo no\n",
        port = free_port(),
        source = source.display(),
        dumps = dumps.display(),
    );
    std::fs::write(home.join("config"), config).unwrap();
    std::fs::write(home.join("accounts"), "<sip:baresip@127.0.0.1>;regint=0\n").unwrap();
    let output = Command::new("baresip")
        .arg("-f")
        .arg(home)
        .args(["-e", &format!("/dial {uri}"), "-t", &seconds.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run baresip (scripts/setup --test installs baresip-core)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn baresip_offering_only_opus_is_answered_in_opus_and_hears_the_prompt() {
    let dir = scratch("codecs-opus");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["hello"],
            config: Some(CONFIG),
        },
    );
    let dumps = dir.join("baresip-dumps");
    let seconds = (prompt_seconds() + 4.0).ceil() as u32;
    let output = baresip_opus_dial(
        &dir.join("baresip"),
        &format!("sip:hello@{}", host.sip),
        &dumps,
        seconds,
    );
    let log = host.wait_for_log("exit record", Duration::from_secs(30));
    assert!(
        log.contains("answered codec=\"opus\""),
        "{log}\n--- baresip\n{output}"
    );
    assert_eq!(field(&host.exit_records()[0], "exit_code"), Some("0"));
    let heard = std::fs::read_dir(&dumps)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("baresip wrote no decoded audio in {dumps:?}\n{output}"));
    assert_heard_the_prompt(&heard, &output);
}

/// Frames of 20 ms in `samples` that are mostly `frequency`.
fn tone_frames(samples: &[i16], frequency: f64) -> usize {
    samples
        .chunks_exact(160)
        .filter(|frame| tone_share(frame, frequency) > 0.8)
        .count()
}

#[test]
fn a_g722_phone_is_recorded_and_hears_itself_played_back() {
    let dir = scratch("codecs-g722-record");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["recorder"],
            config: Some(CONFIG),
        },
    );
    // 3 s of 600 Hz, then the silence that ends the recording.
    let played = dir.join("tone-then-silence.wav");
    let sox = Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
        .arg(&played)
        .args(["synth", "3", "sine", "600", "vol", "0.5", "pad", "0", "5"])
        .output()
        .expect("run sox");
    assert!(
        sox.status.success(),
        "{}",
        String::from_utf8_lossy(&sox.stderr)
    );
    let heard = dir.join("heard.wav");
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:recorder@{}", host.sip),
        "--codec",
        "G722",
        "--play",
        played.to_str().unwrap(),
        "--record",
        heard.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(result["codec"], "G722", "{result}");
    assert_eq!(result["remote_hangup"], true, "{result}");
    let recording = load(&host.recording_path("recorder", "File"));
    let recorded_tone = tone_frames(&recording, 600.0);
    assert!(
        recorded_tone >= 100,
        "the recording holds {recorded_tone} frames of the phone's 600 Hz (of ~150)"
    );
    let played_back = tone_frames(&load(&heard), 600.0);
    assert!(
        played_back >= 100,
        "the phone heard {played_back} frames of its own tone played back"
    );
}

#[test]
fn an_opus_phone_is_recorded() {
    let dir = scratch("codecs-opus-record");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["recorder"],
            config: Some(CONFIG),
        },
    );
    // baresip sends its 440 Hz tone for 8 s, then hangs up: the recording ends HANGUP.
    let output = baresip_opus_dial(
        &dir.join("baresip"),
        &format!("sip:recorder@{}", host.sip),
        &dir.join("baresip-dumps"),
        8,
    );
    let log = host.wait_for_log("recording finished", Duration::from_secs(30));
    assert!(
        log.contains("answered codec=\"opus\""),
        "{log}\n--- baresip\n{output}"
    );
    let recording = load(&host.recording_path("recorder", "File"));
    let tone = tone_frames(&recording, 440.0);
    assert!(
        tone >= 200,
        "the recording holds {tone} frames of baresip's 440 Hz (of ~350)"
    );
}
