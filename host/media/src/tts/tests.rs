//! The speaker and its cache, with a counting fake engine.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// An engine that "speaks" one sample per byte of text and counts its calls.
#[derive(Debug, Default)]
struct CountingEngine {
    calls: AtomicUsize,
}

impl SpeechEngine for CountingEngine {
    fn name(&self) -> &str {
        "counting"
    }
    fn has_voice(&self, voice: &str) -> bool {
        voice == "en-us" || voice == "en-gb"
    }
    fn synthesize(&self, request: &SpeechRequest) -> Result<Prompt, SpeechError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(Prompt::from_samples(vec![1i16; request.text.len()]))
    }
}

fn speaker(capacity: usize) -> (Arc<CountingEngine>, Speaker) {
    let engine = Arc::new(CountingEngine::default());
    let speaker = Speaker::new(
        engine.clone(),
        "en-us".into(),
        SpeechCache::with_capacity(capacity),
    );
    (engine, speaker)
}

#[test]
fn the_same_text_is_synthesized_once() {
    let (engine, speaker) = speaker(1000);
    let first = speaker.speak("hello there").expect("speech");
    let second = speaker.speak("hello there").expect("speech");
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(engine.calls.load(Ordering::Relaxed), 1);
    // Another voice is another entry.
    speaker
        .speak("<voice name='en-gb'>hello there</voice>")
        .expect("speech");
    assert_eq!(engine.calls.load(Ordering::Relaxed), 2);
    assert_eq!(speaker.cache().len(), 2);
}

#[test]
fn the_cache_stays_within_its_budget_dropping_the_least_recently_used() {
    let (engine, speaker) = speaker(25);
    speaker.speak("aaaaaaaaaa").expect("speech"); // 10 samples
    speaker.speak("bbbbbbbbbb").expect("speech"); // 20
    speaker.speak("aaaaaaaaaa").expect("speech"); // a used again
    speaker.speak("cccccccccc").expect("speech"); // 30 > 25: b goes
    assert_eq!(speaker.cache().samples(), 20);
    assert_eq!(engine.calls.load(Ordering::Relaxed), 3);
    speaker.speak("aaaaaaaaaa").expect("speech");
    assert_eq!(engine.calls.load(Ordering::Relaxed), 3, "a was kept");
    speaker.speak("bbbbbbbbbb").expect("speech");
    assert_eq!(engine.calls.load(Ordering::Relaxed), 4, "b was dropped");
    // Too large for the whole budget: spoken, not kept.
    speaker.speak(&"x".repeat(30)).expect("speech");
    assert!(speaker.cache().samples() <= 25);
}

#[test]
fn empty_and_oversized_text_is_refused() {
    let (engine, speaker) = speaker(1000);
    assert!(matches!(
        speaker.speak("   "),
        Err(SpeechError::BadText { .. })
    ));
    assert!(matches!(
        speaker.speak("<acu-engine name='x'/>"),
        Err(SpeechError::BadText { .. })
    ));
    assert!(matches!(
        speaker.speak(&"a".repeat(MAX_TEXT_BYTES + 1)),
        Err(SpeechError::BadText { .. })
    ));
    assert_eq!(engine.calls.load(Ordering::Relaxed), 0);
}
