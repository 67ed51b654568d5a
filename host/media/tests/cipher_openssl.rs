//! Interoperability of `callhost_media::cipher` with the real `openssl enc` command:
//! files it encrypts decrypt with ours (and parse as WAV), files we encrypt decrypt
//! with it, for AES-128, -192 and -256; a streaming recording cut before `finish`
//! decrypts with `openssl enc -d -nopad` up to its last whole block.
//!
//! Needs the `openssl` binary (scripts/setup installs it); a missing binary fails
//! the test with that hint rather than skipping it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use callhost_media::{AesCbcCipher, CbcEncryptWriter, Prompt};

const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";

/// (openssl cipher name, key hex) for the three key sizes.
fn variants() -> [(&'static str, &'static str); 3] {
    [
        ("-aes-128-cbc", &KEY[..32]),
        ("-aes-192-cbc", &KEY[..48]),
        ("-aes-256-cbc", KEY),
    ]
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "callhost-cipher-openssl-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `openssl enc <args>`; panics with stderr on failure.
fn openssl(args: &[&str], input: &Path, output: &Path) {
    let result = Command::new("openssl")
        .arg("enc")
        .args(args)
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(output)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run openssl ({error}): run scripts/setup, it installs openssl")
        });
    assert!(
        result.status.success(),
        "openssl enc {args:?} failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// A 16-bit mono 8 kHz WAV of a 440 Hz tone, `samples` long.
fn tone_wav(samples: usize) -> (Vec<i16>, Vec<u8>) {
    let tone: Vec<i16> = (0..samples)
        .map(|index| {
            let phase = index as f64 * 440.0 * std::f64::consts::TAU / 8000.0;
            (phase.sin() * 8000.0) as i16
        })
        .collect();
    let data: Vec<u8> = tone
        .iter()
        .flat_map(|sample| sample.to_le_bytes())
        .collect();
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    file.extend_from_slice(
        b"WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data",
    );
    file.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.extend_from_slice(&data);
    (tone, file)
}

#[test]
fn files_encrypted_by_openssl_decrypt_and_parse() {
    let dir = scratch("from-openssl");
    // 1001 samples: 2046 bytes of file, not a multiple of the block size.
    let (tone, wav) = tone_wav(1001);
    let plain = dir.join("tone.wav");
    std::fs::write(&plain, &wav).unwrap();
    for (name, key) in variants() {
        let encrypted = dir.join(format!("tone{name}.enc"));
        openssl(&[name, "-e", "-K", key, "-iv", VECTOR], &plain, &encrypted);
        let cipher = AesCbcCipher::from_hex(key, VECTOR).unwrap();
        let bytes = std::fs::read(&encrypted).unwrap();
        assert_eq!(bytes.len(), 2048, "{name}: PKCS#7 pads 2046 bytes to 2048");
        let decrypted = cipher.decrypt(&bytes).expect(name);
        assert_eq!(decrypted, wav, "{name}");
        let prompt = Prompt::from_wav_bytes(&decrypted).expect(name);
        assert_eq!(prompt.samples(), &tone[..], "{name}");
        let prompt =
            callhost_media::prompt::load_encrypted_prompt(&encrypted, &cipher).expect(name);
        assert_eq!(prompt.samples(), &tone[..], "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_we_encrypt_decrypt_with_openssl() {
    let dir = scratch("to-openssl");
    for length in [0, 15, 16, 17, 2046] {
        let plaintext: Vec<u8> = (0..length).map(|index| (index * 31 % 251) as u8).collect();
        for (name, key) in variants() {
            let cipher = AesCbcCipher::from_hex(key, VECTOR).unwrap();
            let encrypted = dir.join(format!("{length}{name}.enc"));
            std::fs::write(&encrypted, cipher.encrypt(&plaintext)).unwrap();
            let decrypted = dir.join(format!("{length}{name}.dec"));
            openssl(
                &[name, "-d", "-K", key, "-iv", VECTOR],
                &encrypted,
                &decrypted,
            );
            assert_eq!(
                std::fs::read(&decrypted).unwrap(),
                plaintext,
                "{name}, {length} bytes"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_streamed_recording_decrypts_with_openssl_whole_or_cut() {
    let dir = scratch("stream");
    let (_, wav) = tone_wav(4000);
    let cipher = AesCbcCipher::from_hex(KEY, VECTOR).unwrap();
    let mut writer = CbcEncryptWriter::new(&cipher, Vec::new());
    // 160-sample frames, as a recorder writes them, after the 44-byte header.
    writer.write_all(&wav[..44]).unwrap();
    for frame in wav[44..].chunks(320) {
        writer.write_all(frame).unwrap();
    }
    // A crash now leaves the whole blocks written so far.
    let cut = writer.get_ref().clone();
    let whole = writer.finish().unwrap();

    let finished = dir.join("whole.enc");
    std::fs::write(&finished, &whole).unwrap();
    let decrypted = dir.join("whole.wav");
    openssl(
        &["-aes-256-cbc", "-d", "-K", KEY, "-iv", VECTOR],
        &finished,
        &decrypted,
    );
    assert_eq!(std::fs::read(&decrypted).unwrap(), wav);

    let cut_file = dir.join("cut.enc");
    std::fs::write(&cut_file, &cut).unwrap();
    let recovered = dir.join("cut.wav");
    openssl(
        &["-aes-256-cbc", "-d", "-nopad", "-K", KEY, "-iv", VECTOR],
        &cut_file,
        &recovered,
    );
    let recovered = std::fs::read(&recovered).unwrap();
    assert_eq!(recovered.len(), wav.len() / 16 * 16);
    assert_eq!(recovered, &wav[..recovered.len()]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_encrypted_recording_file_decrypts_with_openssl_to_a_sized_wav() {
    use callhost_media::recorder::RecordFormat;
    use callhost_media::recorder::file::RecordingFile;
    let dir = scratch("recording");
    let cipher = AesCbcCipher::from_hex(KEY, VECTOR).unwrap();
    let (tone, wav) = tone_wav(8000);
    let pcm = &wav[44..];
    let path = dir.join("call.wav");
    let mut file = RecordingFile::create_encrypted(&path, RecordFormat::Pcm16, 1, &cipher).unwrap();
    for chunk in pcm.chunks(3200) {
        file.append(chunk).unwrap();
    }
    // What a host killed now would leave: whole blocks, sizes "unknown", no padding.
    let cut = dir.join("cut.wav");
    std::fs::copy(&path, &cut).unwrap();
    let recovered = dir.join("cut.plain.wav");
    openssl(
        &["-aes-256-cbc", "-d", "-nopad", "-K", KEY, "-iv", VECTOR],
        &cut,
        &recovered,
    );
    let recovered = std::fs::read(&recovered).unwrap();
    assert_eq!(&recovered[38..42], b"fact", "our 58-byte header");
    assert_eq!(
        &recovered[4..8],
        &u32::MAX.to_le_bytes(),
        "RIFF size unknown"
    );
    let samples = callhost_media::wav::decode_prompt_samples(&recovered).unwrap();
    assert!(
        samples.len() >= tone.len() - 8,
        "at most one block held back"
    );
    assert_eq!(samples, tone[..samples.len()]);

    assert_eq!(file.finish().unwrap(), pcm.len() as u64);
    assert!(!dir.join("call.wav.partial").exists());
    let decrypted = dir.join("call.plain.wav");
    openssl(
        &["-aes-256-cbc", "-d", "-K", KEY, "-iv", VECTOR],
        &path,
        &decrypted,
    );
    let plain = std::fs::read(&decrypted).unwrap();
    assert_eq!(plain.len(), 58 + pcm.len());
    let riff = u32::from_le_bytes(plain[4..8].try_into().unwrap()) as usize;
    let data = u32::from_le_bytes(plain[54..58].try_into().unwrap()) as usize;
    assert_eq!((riff, data), (plain.len() - 8, pcm.len()));
    assert_eq!(
        callhost_media::wav::decode_prompt_samples(&plain).unwrap(),
        tone
    );
    let _ = std::fs::remove_dir_all(&dir);
}
