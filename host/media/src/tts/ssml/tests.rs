//! The normaliser on the seed's speaking-clock texts and on markup edge cases.

use super::*;

fn english(voice: &str) -> bool {
    matches!(voice, "en-us" | "en-gb")
}

fn plain(text: &str) -> SpeechRequest {
    prepare(text, "en-us", english)
}

#[test]
fn plain_text_is_untouched() {
    let request = plain("Welcome to the speaking clock");
    assert_eq!(request.text, "Welcome to the speaking clock");
    assert!(!request.markup);
    assert_eq!(request.voice, "en-us");
    // A lone "<" is text, not a tag.
    assert_eq!(plain("1 < 2").text, "1 < 2");
}

#[test]
fn the_seed_date_is_said_in_words() {
    let request = plain("The date is <say-as interpret-as='date' format='ymd'>2026/11/23</say-as>");
    assert_eq!(
        request.text,
        "The date is November twenty-third, twenty twenty-six"
    );
    assert!(!request.markup);
}

#[test]
fn the_seed_time_drops_vendor_tags_and_unknown_voices() {
    let request = plain(
        "<acu-engine name='Ivona'><voice name='Brian'>The time is <say-as interpret-as='time' format='hms24'>14:05:09</say-as></voice></acu-engine>",
    );
    assert_eq!(
        request.text,
        "The time is fourteen oh five and nine seconds"
    );
    assert_eq!(request.voice, "en-us", "Brian is no espeak-ng voice");
    assert!(!request.markup);
}

#[test]
fn a_known_voice_is_selected() {
    let request = plain("<speak><voice name=\"en-gb\">Hello</voice></speak>");
    assert_eq!(request.voice, "en-gb");
    assert_eq!(request.text, "Hello");
}

#[test]
fn tags_espeak_knows_are_kept_as_ssml() {
    let request = plain("<speak>Hold on <break time='500ms'/> &amp; wait</speak>");
    assert!(request.markup);
    assert_eq!(
        request.text,
        "<speak>Hold on <break time='500ms'/> &amp; wait</speak>"
    );
    assert!(!is_blank(&request));
    assert!(is_blank(&plain("<speak><break time='1s'/></speak>")));
    assert!(is_blank(&plain("<acu-engine name='x'></acu-engine>")));
}

#[test]
fn other_say_as_kinds() {
    let say = |kind: &str, format: &str, text: &str| {
        plain(&format!(
            "<say-as interpret-as='{kind}' format='{format}'>{text}</say-as>"
        ))
        .text
    };
    assert_eq!(
        say("date", "dmy", "01-02-1999"),
        "February first, nineteen ninety-nine"
    );
    assert_eq!(
        say("date", "mdy", "12/31/2005"),
        "December thirty-first, two thousand and five"
    );
    assert_eq!(
        say("date", "ymd", "20261123"),
        "November twenty-third, twenty twenty-six"
    );
    assert_eq!(say("date", "ym", "1900-07"), "July nineteen hundred");
    assert_eq!(
        say("date", "ymd", "2026/13/01"),
        "2026/13/01",
        "month 13 stays as written"
    );
    assert_eq!(say("time", "hms24", "00:00:00"), "midnight");
    assert_eq!(say("time", "hm24", "09:00"), "nine hundred hours");
    assert_eq!(
        say("time", "hms24", "23:59:01"),
        "twenty-three fifty-nine and one second"
    );
    assert_eq!(say("time", "hm12", "2:30pm"), "two thirty p m");
    assert_eq!(say("time", "hms24", "25:00:00"), "25:00:00");
    assert_eq!(
        say("cardinal", "", "1234567"),
        "one million two hundred and thirty-four thousand five hundred and sixty-seven"
    );
    assert_eq!(say("ordinal", "", "42"), "forty-second");
    assert_eq!(say("characters", "", "AB1"), "A B one");
    assert_eq!(say("digits", "", "911"), "nine one one");
    assert_eq!(say("unknown-kind", "", "as is"), "as is");
}

#[test]
fn numbers_in_words() {
    assert_eq!(cardinal(0), "zero");
    assert_eq!(cardinal(105), "one hundred and five");
    assert_eq!(cardinal(2000), "two thousand");
    assert_eq!(cardinal(1_000_001), "one million and one");
    assert_eq!(ordinal(1), "first");
    assert_eq!(ordinal(12), "twelfth");
    assert_eq!(ordinal(20), "twentieth");
    assert_eq!(ordinal(23), "twenty-third");
    assert_eq!(ordinal(100), "one hundredth");
    assert_eq!(words::year(2026), "twenty twenty-six");
    assert_eq!(words::year(1905), "nineteen oh five");
    assert_eq!(words::year(3000), "three thousand");
}

#[test]
fn an_unclosed_say_as_still_speaks_and_attributes_may_use_either_quote() {
    let request = plain("It is <say-as interpret-as=\"ordinal\">3");
    assert_eq!(request.text, "It is third");
}
