//! Recording against a real phone: pjsua2 (PyPI `pjsua2-python`) talks to the
//! `recorder` demo and to `whole-call-record`, and a host killed with SIGKILL in
//! the middle of a recording leaves a playable WAV.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::audio::{best_correlation, envelope, load, sox_tone, tone_share};
use common::{Host, HostOptions, field, pjsua_call, prompts, scratch};

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

/// The file a recording was written to, from the host's "recording" log line.
fn recording_path(host: &Host, app: &str, recorder: &str) -> PathBuf {
    let log = host.wait_for_log(&format!("recorder={recorder}"), Duration::from_secs(30));
    let line = log
        .lines()
        .find(|line| line.contains(&format!("recorder={recorder}")) && line.contains(" recording "))
        .expect("a recording log line");
    let file = field(line, "file").expect("file= in the recording line");
    prompts().join(app).join(file)
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

    let path = recording_path(&host, "recorder", "File");
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
    let path = recording_path(&host, "recorder", "File");
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
    let path = recording_path(&host, "whole-call-record", "WholeCall");
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
