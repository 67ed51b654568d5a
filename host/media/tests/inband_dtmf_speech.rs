//! Talk-off: ten minutes of synthetic speech (espeak-ng, several voices and
//! speeds, through µ-law as in a PCMU call) must not make the in-band DTMF
//! detector report a single digit, and digits keyed over the end of it must
//! still be found. The Bellcore/Mitel talk-off tapes are not public
//! (shared/corpora/dtmf/NOTES.md), so generated speech stands in for them.

use std::process::Command;

use callhost_media::g711;
use callhost_media::inband_dtmf::InbandDtmfDetector;
use callhost_media::wav::decode_prompt_samples;

/// A passage with many vowels, nasals and sibilants, so the voices sweep
/// through the DTMF bands.
const PASSAGE: &str = "The quick brown fox jumps over the lazy dog. \
    Peter Piper picked a peck of pickled peppers, nine hundred and ninety nine of them. \
    She sells sea shells by the sea shore, while the bells of the old church ring on and on. \
    Please hold the line; your call is important to us, and an agent will answer shortly. \
    Seven, eight, one, zero, four, star, hash: dial the number you were given. \
    A mellow music of violins and organ filled the evening air above the river. ";

/// Speech from espeak-ng as 8 kHz samples. The test fails (it does not skip)
/// when espeak-ng is missing: `scripts/setup` installs it.
fn speak(voice: &str, words_per_minute: u32, repeats: usize, dir: &std::path::Path) -> Vec<i16> {
    let file = dir.join(format!("{voice}-{words_per_minute}.wav"));
    let text = PASSAGE.repeat(repeats);
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &words_per_minute.to_string(), "-w"])
        .arg(&file)
        .arg(&text)
        .status()
        .expect(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng; scripts/setup does)",
        );
    assert!(status.success(), "espeak-ng failed for voice {voice}");
    let bytes = std::fs::read(&file).expect("read the speech");
    decode_prompt_samples(&bytes).expect("espeak-ng writes a WAV")
}

fn through_ulaw(samples: &[i16]) -> Vec<i16> {
    let mut coded = vec![0u8; samples.len()];
    g711::encode_ulaw(samples, &mut coded);
    coded.into_iter().map(g711::ulaw_to_linear).collect()
}

#[test]
fn ten_minutes_of_speech_make_no_digit() {
    let dir = std::env::temp_dir().join(format!("callhost-talk-off-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut speech = Vec::new();
    // About 10 minutes in all: four voices, slow to fast.
    for (voice, speed, repeats) in [
        ("en", 150, 6),
        ("en-us", 175, 6),
        ("en+f3", 200, 7),
        ("en+m3", 130, 5),
    ] {
        speech.extend(speak(voice, speed, repeats, &dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let minutes = speech.len() as f64 / 8000.0 / 60.0;
    assert!(
        minutes >= 10.0,
        "only {minutes:.1} minutes of speech were generated"
    );

    // Loud speech (peaks near full scale), as a caller close to the microphone.
    let peak = speech
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(1)
        .max(1);
    let gain = 30000.0 / f32::from(peak);
    let loud: Vec<i16> = speech
        .iter()
        .map(|&s| (f32::from(s) * gain) as i16)
        .collect();
    let mut detector = InbandDtmfDetector::new();
    let digits: String = through_ulaw(&loud)
        .chunks(160)
        .flat_map(|frame| detector.push(frame))
        .collect();
    assert_eq!(digits, "", "false digits in {minutes:.1} minutes of speech");

    // The detector still hears digits keyed right after the speech.
    let mut keyed = Vec::new();
    for (low, high) in [(697.0f32, 1209.0f32), (941.0, 1477.0)] {
        keyed.extend((0..480).map(|n| {
            let t = n as f32 / 8000.0;
            (4000.0 * (2.0 * std::f32::consts::PI * low * t).sin()
                + 4000.0 * (2.0 * std::f32::consts::PI * high * t).sin()) as i16
        }));
        keyed.extend(std::iter::repeat_n(0i16, 480));
    }
    let digits: String = through_ulaw(&keyed)
        .chunks(160)
        .flat_map(|frame| detector.push(frame))
        .collect();
    assert_eq!(digits, "1#");
}
