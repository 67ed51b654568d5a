//! ivr: a tiny interactive voice response service.
//!
//! Rings for about a second, answers, and plays `welcome.wav` with barge-in (a key
//! press cuts the prompt short and counts as the first digit). It then collects
//! digits until `#`: at most 16, waiting 10 s for the first digit and 5 s between
//! digits. The collected digits (without the `#`) are played back to the caller as
//! DTMF, then the call is hung up; with no digits at all it plays `goodbye.wav`
//! instead. Prompts live in MEDIA_ROOT/ivr/ (made by `prompts.sh`). The host's
//! end-to-end tests rely on exactly this behaviour and on the log line
//! `ivr: collected digits <digits>`.

use callhost_sdk::{
    AppContext, CallError, Channel, GetDigits, PlayOptions, PlayerCause, Result, log,
};

/// Plays a prompt; a prompt that cannot be played is an app failure.
fn play_prompt(channel: &Channel, filename: &str, options: PlayOptions) -> Result<PlayerCause> {
    let cause = channel.file_player().play_with_options(filename, options)?;
    if cause == PlayerCause::Error {
        return Err(CallError::error(format!("{filename} could not be played")));
    }
    Ok(cause)
}

fn run(channel: Channel, _context: AppContext) -> Result<i32> {
    channel.ring(1)?;
    channel.answer()?;

    let cause = play_prompt(&channel, "welcome.wav", PlayOptions::new().barge_in(true))?;
    log::debug(format!("ivr: welcome prompt ended with {cause}"));

    let detector = channel.dtmf_detector();
    let collected = detector.get_digits(
        GetDigits::new()
            .end("#")
            .count(16)
            .predigits_timeout(10.0)
            .interdigit_timeout(5.0),
    )?;
    // The end digit is part of what get_digits returns; it is not part of the answer.
    let digits = collected.strip_suffix('#').unwrap_or(&collected);
    log::debug(format!("ivr: digit collection ended with {}", detector.cause()));

    if digits.is_empty() {
        log::info("ivr: collected no digits");
        play_prompt(&channel, "goodbye.wav", PlayOptions::new())?;
    } else {
        log::info(format!("ivr: collected digits {digits}"));
        channel.dtmf_player().play(digits)?;
    }
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
