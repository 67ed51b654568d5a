//! ringback-tone: the UAS tutorial's custom ringtone (version 0.0.9b, without the
//! transfer): defines MY_RING_TONE (400+600 Hz, 3 s on, 3 s off), makes it the
//! default ringtone, rings for the seconds in the application parameters (default
//! 4) so the caller hears it as early media (183 Session Progress), answers, says
//! hello (a DTMF digit cuts it short: barge-in) and hangs up.

use callhost_sdk::{
    AppContext, CallError, CallState, Channel, PlayOptions, Result, ToneComponent, ToneManager,
    ToneSegment, log,
};

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    if channel.state() != CallState::CallIncoming {
        return Err(CallError::hangup("No inbound call"));
    }
    let tone_manager = ToneManager::new();
    // First tone pair: 400 and 600 Hz for 3 s; second: 3 s of silence.
    let sequence = [
        ToneSegment::sum(
            ToneComponent::new(400, -19.0),
            ToneComponent::new(600, -19.0),
            3000,
        ),
        ToneSegment::silence(3000),
    ];
    tone_manager
        .create_tone("MY_RING_TONE", &sequence, true)
        .map_err(|error| CallError::error(format!("Failed to create the ringtone: {error}")))?;
    // The new tone is what the caller hears while the call rings.
    tone_manager.set_default("MY_RING_TONE")?;
    let seconds = context.application_parameters.trim().parse().unwrap_or(4);
    channel.ring(seconds)?;
    channel.answer()?;
    log::info("Answered an inbound call");
    let cause = channel.file_player().say_with_options(
        "Hello. Thank you for waiting while the phone rang with my own ring tone. Press any key to skip this message.",
        PlayOptions::new().barge_in(true),
    )?;
    log::info(format!("greeting ended: {cause}"));
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(version: "0.0.9b", main: run);
