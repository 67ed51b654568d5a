use super::*;

const SILENT: AudioFrame = [0; FRAME_SAMPLES];

/// A 440 Hz frame at about −15 dBm0 (speech-like level), phase-continuous by frame index.
fn tone(frame_index: u64) -> AudioFrame {
    let mut frame = [0i16; FRAME_SAMPLES];
    for (n, sample) in frame.iter_mut().enumerate() {
        let t = (frame_index as usize * FRAME_SAMPLES + n) as f32 / 8000.0;
        *sample = (4000.0 * (std::f32::consts::TAU * 440.0 * t).sin()) as i16;
    }
    frame
}

fn limits() -> RecordingLimits {
    RecordingLimits {
        max_duration: Some(Duration::from_secs(30)),
        max_silence: Some(Duration::from_secs(2)),
        ..RecordingLimits::default()
    }
}

/// Run frames through a job until it ends; returns every byte handed out and the summary.
fn run(
    job: &mut RecordingJob,
    frames: impl IntoIterator<Item = (AudioFrame, AudioFrame)>,
) -> (Vec<u8>, Option<RecordingSummary>, usize) {
    let mut bytes = Vec::new();
    let mut chunks = 0;
    for (received, sent) in frames {
        if let Some(output) = job.on_frame(&received, &sent) {
            chunks += 1;
            bytes.extend(output.bytes);
            if output.end.is_some() {
                return (bytes, output.end, chunks);
            }
        }
    }
    (bytes, None, chunks)
}

#[test]
fn levels_are_in_dbm0() {
    // A full-scale µ-law sine is +3.17 dBm0.
    let mut frame = [0i16; FRAME_SAMPLES];
    for (n, sample) in frame.iter_mut().enumerate() {
        *sample = (32767.0 * (std::f32::consts::TAU * n as f32 / 16.0).sin()) as i16;
    }
    assert!(
        (level_dbm0(&frame) - 3.17).abs() < 0.1,
        "{}",
        level_dbm0(&frame)
    );
    assert!(level_dbm0(&SILENT).is_infinite());
    assert!((level_dbm0(&tone(0)) - -15.1).abs() < 0.5);
}

#[test]
fn speech_then_silence_ends_with_silence_and_keeps_the_speech() {
    let mut job = RecordingJob::new(1, RecordFormat::Pcm16, RecordedAudio::Received, limits());
    let speech = (0..150).map(|i| (tone(i), SILENT)); // 3 s
    let silence = std::iter::repeat_n((SILENT, SILENT), 500);
    let (bytes, end, chunks) = run(&mut job, speech.chain(silence));
    let end = end.expect("silence ends it");
    assert_eq!(end.cause, RecordingCause::Silence);
    // 3 s of speech then exactly the 2 s of silence that ended it.
    assert_eq!(end.duration, Duration::from_secs(5));
    assert_eq!(end.data_bytes, 5 * 16_000);
    assert_eq!(
        bytes.len() as u64,
        end.data_bytes,
        "every byte was handed out"
    );
    assert!(end.audio_detected);
    assert_eq!(chunks, 5, "four full seconds, then the last chunk");
    let first: Vec<i16> = bytes[..320]
        .chunks(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    assert_eq!(first, tone(0).to_vec());
}

#[test]
fn initial_silence_has_its_own_limit_and_no_audio_is_detected() {
    let mut job = RecordingJob::new(
        1,
        RecordFormat::Mulaw,
        RecordedAudio::Received,
        RecordingLimits {
            initial_silence: Some(Duration::from_secs(5)),
            ..limits()
        },
    );
    let (_, end, _) = run(&mut job, std::iter::repeat_n((SILENT, SILENT), 1000));
    let end = end.unwrap();
    assert_eq!(end.cause, RecordingCause::Silence);
    assert_eq!(end.duration, Duration::from_secs(5));
    assert_eq!(end.data_bytes, 5 * 8000, "µ-law: a byte a sample");
    assert!(!end.audio_detected);
}

#[test]
fn a_short_click_is_not_audio() {
    let mut job = RecordingJob::new(1, RecordFormat::Pcm16, RecordedAudio::Received, limits());
    let frames = (0..200).map(|i| (if i < 3 { tone(i) } else { SILENT }, SILENT));
    let (_, end, _) = run(&mut job, frames);
    let end = end.unwrap();
    assert!(
        !end.audio_detected,
        "60 ms of sound is below the 100 ms needed"
    );
    // Three voiced frames count as speech: the 2 s silence limit applies after them.
    assert_eq!(end.duration, Duration::from_millis(60 + 2000));
}

#[test]
fn time_and_size_limits() {
    let mut job = RecordingJob::new(
        1,
        RecordFormat::Pcm16,
        RecordedAudio::Received,
        RecordingLimits {
            max_duration: Some(Duration::from_secs(3)),
            ..RecordingLimits::default()
        },
    );
    let (_, end, _) = run(&mut job, (0..1000).map(|i| (tone(i), SILENT)));
    assert_eq!(end.unwrap().cause, RecordingCause::Timeout);
    assert_eq!(end.unwrap().duration, Duration::from_secs(3));

    let mut job = RecordingJob::new(
        2,
        RecordFormat::Alaw,
        RecordedAudio::Received,
        RecordingLimits {
            max_bytes: Some(1000),
            ..RecordingLimits::default()
        },
    );
    let (bytes, end, _) = run(&mut job, (0..1000).map(|i| (tone(i), SILENT)));
    let end = end.unwrap();
    assert_eq!(end.cause, RecordingCause::Size);
    assert_eq!(end.data_bytes, 960, "six whole frames fit in 1000 bytes");
    assert_eq!(bytes.len(), 960);
}

#[test]
fn stereo_interleaves_received_left_and_sent_right() {
    let mut job = RecordingJob::new(
        1,
        RecordFormat::Pcm16,
        RecordedAudio::Stereo,
        RecordingLimits::default(),
    );
    let received = tone(0);
    let sent = [-7; FRAME_SAMPLES];
    assert!(job.on_frame(&received, &sent).is_none());
    let last = job.finish(RecordingCause::Aborted);
    let samples: Vec<i16> = last
        .bytes
        .chunks(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    assert_eq!(samples.len(), 2 * FRAME_SAMPLES);
    for (n, pair) in samples.chunks(2).enumerate() {
        assert_eq!(pair, [received[n], -7]);
    }
    let end = last.end.unwrap();
    assert_eq!((end.cause, end.data_bytes), (RecordingCause::Aborted, 640));
}

#[test]
fn mixed_adds_both_directions() {
    let mut job = RecordingJob::new(
        1,
        RecordFormat::Pcm16,
        RecordedAudio::Mixed,
        RecordingLimits::default(),
    );
    job.on_frame(&[100; FRAME_SAMPLES], &[23; FRAME_SAMPLES]);
    let last = job.finish(RecordingCause::Hangup);
    assert!(
        last.bytes
            .chunks(2)
            .all(|pair| i16::from_le_bytes([pair[0], pair[1]]) == 123)
    );
}

#[test]
fn the_beep_comes_first_and_is_not_recorded() {
    let mut job = RecordingJob::new(
        1,
        RecordFormat::Pcm16,
        RecordedAudio::Received,
        RecordingLimits {
            beep: true,
            ..limits()
        },
    );
    let mut beep_frames = 0;
    loop {
        let mut sent = SILENT;
        if !job.beep_into(&mut sent) {
            break;
        }
        beep_frames += 1;
        assert!(
            (level_dbm0(&sent) - -10.0).abs() < 0.3,
            "{}",
            level_dbm0(&sent)
        );
        assert!(beep_frames < 100);
    }
    assert_eq!(beep_frames, 15, "300 ms");
    let end = job.finish(RecordingCause::Aborted).end.unwrap();
    assert_eq!(end.data_bytes, 0);
}
