//! Recording against a real phone: pjsua2 (PyPI `pjsua2-python`) talks to the
//! `recorder` demo, to `whole-call-record` and to `record-encrypted` (whose file
//! `openssl enc -d` decrypts and `play-encrypted` plays back), and a host killed
//! with SIGKILL in the middle of a recording leaves a playable WAV.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::audio::{best_correlation, envelope, load, sox_tone, tone_share};
use common::{Host, HostOptions, RemoveOnDrop, field, pjsua_call, prompts, scratch};

/// Run sox (installed by scripts/setup) and fail loudly.
fn sox(args: &[&str]) {
    let output = Command::new("sox").args(args).output().expect("run sox");
    assert!(
        output.status.success(),
        "sox {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Spoken words followed by `silence` seconds of silence, 8 kHz mono.
fn speech_then_silence(dir: &Path, silence: u32) -> (PathBuf, PathBuf) {
    let speech = dir.join("speech.wav");
    let output = Command::new("espeak-ng")
        .args(["-w", speech.to_str().unwrap()])
        .arg("Hello, this is a message for the recorder. Please call me back tomorrow morning.")
        .output()
        .expect("run espeak-ng");
    assert!(output.status.success());
    let speech8k = dir.join("speech8k.wav");
    sox(&[
        speech.to_str().unwrap(),
        "-r",
        "8000",
        speech8k.to_str().unwrap(),
    ]);
    let padded = dir.join("speech-then-silence.wav");
    let pad = silence.to_string();
    sox(&[
        speech8k.to_str().unwrap(),
        padded.to_str().unwrap(),
        "pad",
        "0",
        &pad,
    ]);
    (speech8k, padded)
}

/// The header's data size and the file's length agree, and the samples decode.
fn check_wav_is_whole(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let (_, data) = callhost_media::wav::parse(&bytes).expect("a valid WAV");
    let declared = u32::from_le_bytes(bytes[54..58].try_into().unwrap()) as usize;
    assert_eq!(declared, data.len());
    assert_eq!(bytes.len(), 58 + declared, "header and data agree");
    bytes
}

#[test]
fn recorder_stops_on_silence_keeps_the_speech_and_plays_it_back() {
    let dir = scratch("rec-silence");
    let (speech, played) = speech_then_silence(&dir, 8);
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["recorder"],
            config: None,
        },
    );
    let heard = dir.join("heard.wav");
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:recorder@{}", host.sip),
        "--play",
        played.to_str().unwrap(),
        "--record",
        heard.to_str().unwrap(),
        "--timeout",
        "45",
    ]);
    assert_eq!(result["connected"], true, "{result}");
    assert_eq!(result["remote_hangup"], true, "the app hangs up: {result}");
    let log = host.wait_for_log("recorder: playback ended", Duration::from_secs(30));
    assert!(
        log.contains("ended with SILENCE"),
        "the recording ends on silence:\n{log}"
    );
    let finished = log
        .lines()
        .find(|line| line.contains("recording finished") && line.contains("cause="))
        .unwrap();
    assert_eq!(field(finished, "cause"), Some("Silence"), "{finished}");
    assert_eq!(field(finished, "audio"), Some("true"), "{finished}");

    let path = host.recording_path("recorder", "File");
    check_wav_is_whole(&path);
    let recorded = load(&path);
    let spoken = load(&speech);
    let seconds = recorded.len() as f64 / 8000.0;
    let speech_seconds = spoken.len() as f64 / 8000.0;
    // Speech (its first moments pass during answer and beep), then the 2 s of silence
    // that ended it.
    assert!(
        seconds > speech_seconds + 0.5 && seconds < speech_seconds + 2.5,
        "{seconds:.2} s recorded for {speech_seconds:.2} s of speech"
    );
    let (correlation, _) = best_correlation(&envelope(&spoken[8000..]), &envelope(&recorded));
    assert!(
        correlation > 0.8,
        "the recording does not hold the speech: envelope correlation {correlation:.3}"
    );
    let tail = &recorded[recorded.len() - 12_000..];
    assert!(
        envelope(tail).iter().all(|&rms| rms < 100.0),
        "the recording ends in the silence that stopped it"
    );

    // The caller heard the beep first, then its own words played back.
    let heard = load(&heard);
    let beep_at = heard
        .chunks(160)
        .position(|frame| tone_share(frame, 1000.0) > 0.8)
        .expect("the caller hears a 1 kHz beep");
    let (played_back, lag) = best_correlation(&envelope(&spoken), &envelope(&heard));
    assert!(
        played_back > 0.7 && lag > beep_at,
        "the playback follows the beep: correlation {played_back:.3} at frame {lag}, beep at frame {beep_at}"
    );
    let exit = host.exit_records();
    assert!(
        exit.iter()
            .any(|line| field(line, "exit_code") == Some("0")),
        "{exit:?}"
    );
}

#[test]
fn a_host_killed_mid_recording_leaves_a_playable_wav() {
    let dir = scratch("rec-sigkill");
    let played = sox_tone(&dir, 440, 60);
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["recorder"],
            config: None,
        },
    );
    let uri = format!("sip:recorder@{}", host.sip);
    let played_path = played.to_str().unwrap().to_owned();
    let phone = std::thread::spawn(move || {
        pjsua_call(&["--uri", &uri, "--play", &played_path, "--timeout", "20"])
    });
    let path = host.recording_path("recorder", "File");
    // Six seconds into the recording, the host dies without any chance to clean up.
    std::thread::sleep(Duration::from_secs(6));
    drop(host); // SIGKILL
    let bytes = check_wav_is_whole(&path);
    let seconds = (bytes.len() - 58) as f64 / 16_000.0;
    assert!(
        (4.0..=7.5).contains(&seconds),
        "{seconds:.2} s survived of about 6 s recorded"
    );
    let samples = load(&path);
    let loud = envelope(&samples)
        .iter()
        .filter(|&&rms| rms > 1000.0)
        .count();
    assert!(
        loud as f64 > seconds * 50.0 * 0.8,
        "the surviving audio is the tone ({loud} loud frames)"
    );
    assert!(tone_share(&samples[8000..16_000], 440.0) > 0.8);
    let result = phone.join().unwrap();
    assert_eq!(result["connected"], true, "{result}");
}

#[test]
fn whole_call_recording_holds_both_directions_and_ends_aborted() {
    let dir = scratch("rec-whole-call");
    let played = sox_tone(&dir, 600, 30);
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["whole-call-record"],
            config: None,
        },
    );
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:whole-call-record@{}", host.sip),
        "--play",
        played.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(result["remote_hangup"], true, "{result}");
    let log = host.wait_for_log("whole call recording", Duration::from_secs(30));
    assert!(log.contains("caller recording ended with TIMEOUT"), "{log}");
    let exit = host.exit_records();
    assert!(
        exit.iter()
            .any(|line| field(line, "exit_code") == Some("0")),
        "the whole-call recording ended ABORTED: {exit:?}\n{log}"
    );
    let path = host.recording_path("whole-call-record", "WholeCall");
    let bytes = check_wav_is_whole(&path);
    let (format, data) = callhost_media::wav::parse(&bytes).unwrap();
    assert_eq!(format.channels, 2);
    let (mut caller, mut app) = (Vec::new(), Vec::new());
    for frame in data.chunks_exact(4) {
        caller.push(i16::from_le_bytes([frame[0], frame[1]]));
        app.push(i16::from_le_bytes([frame[2], frame[3]]));
    }
    let hello = load(&prompts().join("hello/hello.wav"));
    assert!(
        app.len() >= hello.len() + 2 * 8000,
        "the prompt and the 3 s recording fit in {} samples",
        app.len()
    );
    // Right: what the caller heard, the hello prompt. Left: the caller's 600 Hz tone.
    let (correlation, _) = best_correlation(&envelope(&hello), &envelope(&app));
    assert!(
        correlation > 0.9,
        "right channel vs hello prompt: {correlation:.3}"
    );
    let middle = caller.len() / 2;
    assert!(tone_share(&caller[middle..middle + 8000], 600.0) > 0.8);
    assert!(
        tone_share(&app[middle..middle + 8000], 600.0) < 0.1,
        "no echo of the caller on the right"
    );
}

/// The UAS tutorial's example key and vector (built into `record-encrypted` and
/// `play-encrypted`).
const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";

#[test]
fn an_encrypted_recording_decrypts_with_openssl_and_plays_back_decrypted() {
    let dir = scratch("rec-encrypted");
    let (speech, played) = speech_then_silence(&dir, 6);
    let name = format!("e2e-encrypted-recording-{}.wav", std::process::id());
    let config = format!(
        "[services.secret-record]\napp = \"record-encrypted\"\nparameters = \"{name}\"\n\
         [services.secret-play]\napp = \"play-encrypted\"\nparameters = \"{name}\"\n"
    );
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["record-encrypted", "play-encrypted"],
            config: Some(&config),
        },
    );
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:secret-record@{}", host.sip),
        "--play",
        played.to_str().unwrap(),
        "--timeout",
        "45",
    ]);
    assert_eq!(result["remote_hangup"], true, "{result}");
    let log = host.wait_for_log("recorded ", Duration::from_secs(30));
    assert!(
        log.contains(&format!("recorded {name} encrypted: SILENCE")),
        "{log}"
    );
    let encrypted = prompts().join("record-encrypted").join(&name);
    let _cleanup = RemoveOnDrop(vec![encrypted.clone()]);
    let raw = std::fs::read(&encrypted).unwrap();
    assert!(
        callhost_media::wav::parse(&raw).is_err(),
        "the file on disk is ciphertext, not a WAV"
    );

    // openssl reads it back as an ordinary, exactly sized WAV holding the speech.
    let plain = dir.join("decrypted.wav");
    let output = Command::new("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-K", KEY, "-iv", VECTOR, "-in"])
        .arg(&encrypted)
        .arg("-out")
        .arg(&plain)
        .output()
        .expect("run openssl (scripts/setup installs it)");
    assert!(
        output.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    check_wav_is_whole(&plain);
    let recorded = load(&plain);
    let spoken = load(&speech);
    let (correlation, _) = best_correlation(&envelope(&spoken[8000..]), &envelope(&recorded));
    assert!(
        correlation > 0.8,
        "the decrypted recording does not hold the speech: {correlation:.3}"
    );

    // play-encrypted validates the recording, decrypts it and plays it to the phone.
    std::fs::create_dir_all(prompts().join("play-encrypted")).unwrap();
    std::fs::copy(&encrypted, prompts().join("play-encrypted").join(&name)).unwrap();
    let _cleanup_played = RemoveOnDrop(vec![prompts().join("play-encrypted").join(&name)]);
    let heard = dir.join("heard.wav");
    let result = pjsua_call(&[
        "--uri",
        &format!("sip:secret-play@{}", host.sip),
        "--record",
        heard.to_str().unwrap(),
        "--timeout",
        "45",
    ]);
    assert_eq!(result["remote_hangup"], true, "{result}");
    let log = host.wait_for_log(&format!("played {name}: NORMAL"), Duration::from_secs(30));
    assert!(
        log.contains(&format!("validated encrypted file {name}")),
        "{log}"
    );
    // The recording without the silence that ended it, within what the phone heard.
    let spoken_part = &recorded[..recorded.len() - 16_000];
    let (played_back, _) = best_correlation(&envelope(spoken_part), &envelope(&load(&heard)));
    assert!(
        played_back > 0.8,
        "the phone hears the recording: {played_back:.3}"
    );
}
