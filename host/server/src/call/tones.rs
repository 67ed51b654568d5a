//! A leg's tones and speech: the `tone-player` commands, the ringtone played
//! as early media by `ring`, and `say` (text rendered by the host's speaker).
//!
//! Tones are synthesised by callhost-media ([`ToneSequence`], checked there);
//! speech is rendered off the async threads (`spawn_blocking`) and played as a
//! prompt, so barge-in, stop and wait work as for files. Early media follows
//! RFC 3960 §3 (the gateway model): 183 Session Progress with our SDP answer,
//! then media before the 200 OK that repeats the same SDP.

use std::sync::Arc;
use std::time::Duration;

use callhost_media::tone::{self, ToneComponent, ToneMix, ToneSegment, ToneSequence};
use callhost_runtime::port::{self, CallError, PlayerCause, Reply, Tone};
use tracing::{debug, info};

use super::leg::{Leg, Signalling};

/// The sequence `tone` names, checked.
pub(crate) fn resolve(tone: &Tone) -> Result<Arc<ToneSequence>, CallError> {
    match tone {
        Tone::Predefined(name) => tone::predefined(name)
            .map(Arc::new)
            .ok_or_else(|| CallError::Error(format!("no predefined tone is called `{name}`"))),
        Tone::Custom {
            name,
            segments,
            repeat,
        } => {
            let segments = segments.iter().map(segment).collect();
            ToneSequence::new(segments, *repeat)
                .map(Arc::new)
                .map_err(|error| CallError::Error(format!("tone `{name}`: {error}")))
        }
    }
}

fn segment(segment: &port::ToneSegment) -> ToneSegment {
    let component = |component: port::ToneComponent| ToneComponent {
        frequency: component.frequency,
        level: component.level,
    };
    ToneSegment {
        first: component(segment.first),
        second: component(segment.second),
        milliseconds: segment.milliseconds,
        mix: match segment.mix {
            port::ToneMix::Summation => ToneMix::Summation,
            port::ToneMix::Modulation => ToneMix::Modulation,
        },
    }
}

/// `tone-player.play`/`start`: play `tone` as the leg's play job.
pub(crate) fn start_tone(
    leg: &mut Leg,
    tone: &Tone,
    limit: Option<Duration>,
) -> Result<(), CallError> {
    leg.require_media("tone play")?;
    let sequence = resolve(tone)?;
    super::play::begin(leg, false, |media| media.play_tone(sequence, limit))?;
    debug!(?limit, "playing a tone");
    Ok(())
}

/// Remember the ringtone `ring` plays (none: plain 180 Ringing).
pub(crate) fn set_ringtone(leg: &mut Leg, tone: Option<&Tone>) -> Result<(), CallError> {
    leg.ringtone = tone.map(resolve).transpose()?;
    Ok(())
}

/// `ring` with a ringtone: 183 with our SDP answer, then the tone as early
/// media until `answer` stops it.
pub(crate) async fn start_early_media(leg: &mut Leg) -> Result<(), CallError> {
    let (Signalling::Inbound(call), Some(ringtone)) = (&leg.signalling, &leg.ringtone) else {
        return Err(CallError::Error(
            "early media needs an incoming call".into(),
        ));
    };
    let Some(media) = &leg.media else {
        return Err(CallError::Error("the media session has stopped".into()));
    };
    call.session_progress(&leg.local_sdp)
        .await
        .map_err(|error| {
            CallError::Error(format!("could not send 183 Session Progress: {error}"))
        })?;
    if !leg.early_media {
        media.start_sending();
        media.play_tone(Arc::clone(ringtone), None);
        leg.early_media = true;
        info!("ringing with early media");
    }
    Ok(())
}

/// While a transfer's service rings, the caller hears the app's default ringtone
/// (the predefined `RINGBACK` when the app set none), as the seed's tone player
/// does during a retrievable transfer. It stops when the transfer resolves.
pub(crate) fn start_transfer_ringback(leg: &Leg) {
    let tone = leg
        .ringtone
        .clone()
        .or_else(|| tone::predefined("RINGBACK").map(Arc::new));
    if let (Some(media), Some(tone)) = (&leg.media, tone) {
        media.play_tone(tone, None);
        debug!("ringback while the transfer's service rings");
    }
}

/// `say`/`start-say`: render `text` and play it as the leg's play job. The
/// reply goes once it plays (or failed).
pub(crate) async fn start_say(leg: &mut Leg, text: String, barge_in: bool, reply: Reply<()>) {
    let _ = reply.send(say(leg, text, barge_in).await);
}

async fn say(leg: &mut Leg, text: String, barge_in: bool) -> Result<(), CallError> {
    leg.require_media("say")?;
    let fail = |leg: &Leg, message: String| {
        leg.update(|snapshot| snapshot.player_cause = PlayerCause::Error);
        Err(CallError::Error(message))
    };
    let Some(speaker) = leg.speech.clone() else {
        return fail(leg, "text to speech is not available on this host".into());
    };
    let rendered = tokio::task::spawn_blocking(move || speaker.speak(&text)).await;
    let prompt = match rendered {
        Ok(Ok(prompt)) => prompt,
        Ok(Err(error)) => return fail(leg, format!("cannot say it: {error}")),
        Err(join) => {
            return fail(
                leg,
                format!("cannot say it: the engine task failed: {join}"),
            );
        }
    };
    // The call may have ended while the speech was rendered.
    leg.require_media("say")?;
    let seconds = prompt.duration().as_secs_f32();
    super::play::begin(leg, barge_in, |media| media.play(prompt))?;
    debug!(seconds, barge_in, "saying");
    Ok(())
}
