//! Encrypted media and the file manager end to end, on the real `callhost` binary:
//!
//! - a WAV file encrypted by `openssl enc -aes-256-cbc` in the app's media
//!   directory is validated and played by `play-encrypted` to a pjsua2 phone, which
//!   records the prompt (non-silent, matching the plain file's envelope);
//! - with a file encrypted under another key, validation reports DECRYPT_FAILED and
//!   the app refuses the call without a trap;
//! - the `file-manager` app checks, lists, renames and deletes a file in its media
//!   directory, and a name escaping the directory is an Error it logs, not a trap.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::audio::{best_correlation, envelope, load};
use common::{
    Host, HostOptions, RemoveOnDrop, field, invite, pjsua_call, prompts, raw_request, scratch,
};

/// The UAS tutorial's example key and vector (also built into `play-encrypted`).
const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";

/// Encrypt `input` into `output` with the `openssl` command line.
fn openssl_encrypt(input: &Path, output: &Path, key: &str) {
    let result = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-K", key, "-iv", VECTOR, "-in"])
        .arg(input)
        .arg("-out")
        .arg(output)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run openssl ({error}): run scripts/setup, it installs openssl")
        });
    assert!(
        result.status.success(),
        "openssl enc failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// The media directory of `app` (created), shared by this process's hosts.
fn media_of(app: &str) -> PathBuf {
    let dir = prompts().join(app);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_openssl_encrypted_prompt_is_validated_and_played_to_pjsua() {
    let hello = prompts().join("hello/hello.wav");
    let name = format!("e2e-encrypted-{}.wav", std::process::id());
    let encrypted = media_of("play-encrypted").join(&name);
    let _cleanup = RemoveOnDrop(vec![encrypted.clone()]);
    openssl_encrypt(&hello, &encrypted, KEY);

    let dir = scratch("files-play-encrypted");
    let config = format!("[services.secret]\napp = \"play-encrypted\"\nparameters = \"{name}\"\n");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["play-encrypted"],
            config: Some(&config),
        },
    );
    let recording = dir.join("pjsua-heard.wav");
    let uri = format!("sip:secret@{}", host.sip);
    let result = pjsua_call(&[
        "--uri",
        &uri,
        "--record",
        recording.to_str().unwrap(),
        "--timeout",
        "40",
    ]);
    assert_eq!(result["connected"], true, "{result}\n{}", host.log_text());
    assert_eq!(
        result["remote_hangup"], true,
        "the host must hang up after the prompt: {result}"
    );

    let log = host.wait_for_log("exit record", Duration::from_secs(10));
    assert!(
        log.contains(&format!("validated encrypted file {name}")),
        "{log}"
    );
    assert!(log.contains(&format!("played {name}: NORMAL")), "{log}");
    assert_eq!(
        field(&host.exit_records()[0], "exit_code"),
        Some("0"),
        "{log}"
    );
    assert!(!log.contains(KEY), "the key must never be logged");

    let heard = envelope(&load(&recording));
    let loudest = heard.iter().cloned().fold(0.0, f64::max);
    assert!(
        loudest > 500.0,
        "the recording is silent (peak frame RMS {loudest:.0})"
    );
    // The host hangs up right after the last frame, so the phone's recording may
    // lose the prompt's tail: match the first three quarters.
    let prompt = envelope(&load(&hello));
    let (correlation, _) = best_correlation(&prompt[..prompt.len() * 3 / 4], &heard);
    assert!(
        correlation > 0.9,
        "what pjsua heard does not match the decrypted prompt: envelope correlation {correlation:.3}"
    );
}

#[test]
fn a_file_encrypted_with_another_key_fails_validation_without_a_trap() {
    let hello = prompts().join("hello/hello.wav");
    let name = format!("e2e-wrong-key-{}.wav", std::process::id());
    let encrypted = media_of("play-encrypted").join(&name);
    let _cleanup = RemoveOnDrop(vec![encrypted.clone()]);
    openssl_encrypt(&hello, &encrypted, &KEY.replace('3', "5"));

    let dir = scratch("files-wrong-key");
    let config = format!("[services.wrong]\napp = \"play-encrypted\"\nparameters = \"{name}\"\n");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["play-encrypted"],
            config: Some(&config),
        },
    );
    let status = raw_request(host.sip, &invite("wrong", "files-wrong-key-1", "0"));
    assert!(
        status.is_some_and(|code| code >= 400),
        "the app refuses the call before answering: {status:?}\n{}",
        host.log_text()
    );
    let log = host.wait_for_log("exit record", Duration::from_secs(10));
    assert!(
        log.contains(&format!(
            "Could not validate encrypted file {name}: DECRYPT_FAILED"
        )),
        "{log}"
    );
    let record = &host.exit_records()[0];
    assert_eq!(field(record, "exit_code"), Some("-101"), "{record}");
    assert!(record.contains("returned -101"), "not a trap: {record}");
}

#[test]
fn the_file_manager_app_checks_lists_renames_and_deletes_inside_its_directory() {
    let media = media_of("file-manager");
    let name = format!("e2e-scratch-{}.wav", std::process::id());
    let scratch_file = media.join(&name);
    std::fs::write(&scratch_file, b"RIFF not really audio").unwrap();
    let _cleanup = RemoveOnDrop(vec![scratch_file.clone()]);
    // A file beside the media directory that the app must not be able to reach.
    let outside = prompts().join("outside.wav");
    std::fs::write(&outside, b"outside").unwrap();

    let dir = scratch("files-manager");
    let config = format!("[services.files]\napp = \"file-manager\"\nparameters = \"{name}\"\n");
    let host = Host::start(
        &dir,
        HostOptions {
            apps: &["file-manager"],
            config: Some(&config),
        },
    );
    host.expect_scenario("host-wait-bye.xml", "files", 1);
    let log = host.wait_for_log("exit record", Duration::from_secs(10));

    let record = &host.exit_records()[0];
    assert_eq!(field(record, "exit_code"), Some("0"), "{log}");
    assert!(
        log.contains(&format!("file-manager: {name} exists")),
        "{log}"
    );
    let listings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("file-manager: listing:"))
        .collect();
    assert_eq!(listings.len(), 2, "{log}");
    assert!(
        listings[0].contains(&name),
        "the first listing names the file: {log}"
    );
    let renamed = format!("file-manager: renamed {name} to ");
    let moved = log
        .lines()
        .find_map(|line| {
            Some(
                line.split_once(&renamed)?
                    .1
                    .split_whitespace()
                    .next()?
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| panic!("no rename logged: {log}"));
    assert!(
        moved.starts_with("moved-") && moved.ends_with(".wav"),
        "{moved}"
    );
    assert!(
        listings[1].contains(&moved) && !listings[1].contains(&name),
        "{log}"
    );
    assert!(
        log.contains(&format!("file-manager: deleted {moved}")),
        "{log}"
    );
    assert!(
        log.contains("file-manager: escaping name refused: `../outside.wav` is not a plain relative file name"),
        "{log}"
    );
    assert!(log.contains("file-manager: all steps done"), "{log}");
    assert!(!scratch_file.exists(), "the file was moved away");
    assert!(!media.join(&moved).exists(), "the moved file was deleted");
    assert_eq!(std::fs::read(&outside).unwrap(), b"outside");
}
