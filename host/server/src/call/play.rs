//! A leg's play jobs (WIT `file-player`, and the tones and speech that run as play
//! jobs) and its DTMF player: starting one (a file resolved inside the app's media
//! directory and loaded off the async threads, decrypted when the app gave a key),
//! stopping, waiting, barge-in by a digit, and the end reported by the media session.
//!
//! One play job runs per leg; a new one replaces the old (which ends ABORTED).

use callhost_media::MediaSession;
use callhost_runtime::port::{
    CallError, CipherParameters, DtmfPlayerCause, PlayerCause, PlayerState, Reply,
};
use tracing::debug;

use super::leg::Leg;
use crate::media_path;

/// The running play job.
pub(crate) struct PlayJob {
    id: u64,
    barge_in: bool,
    /// Why the host stopped it, if it did (a stop request or barge-in).
    stop_cause: Option<PlayerCause>,
}

/// Play `filename` from the app's media directory (decrypted with `cipher`).
pub(crate) async fn start_file(
    leg: &mut Leg,
    filename: &str,
    barge_in: bool,
    cipher: Option<CipherParameters>,
) -> Result<(), CallError> {
    leg.require_media("play")?;
    let fail = |leg: &Leg, message: String| {
        leg.update(|snapshot| snapshot.player_cause = PlayerCause::Error);
        Err(CallError::Error(message))
    };
    let path = match media_path::resolve(&leg.media_dir, filename) {
        Ok(path) => path,
        Err(error) => return fail(leg, error.to_string()),
    };
    let engine = leg.engine.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        super::files::load_prompt(&engine, &path, cipher.as_ref())
    })
    .await;
    let prompt = match loaded {
        Ok(Ok(prompt)) => prompt,
        Ok(Err(error)) => return fail(leg, format!("cannot play `{filename}`: {error}")),
        Err(join) => {
            return fail(
                leg,
                format!("cannot play `{filename}`: loader failed: {join}"),
            );
        }
    };
    begin(leg, barge_in, |media| media.play(prompt))?;
    debug!(file = filename, barge_in, "playing");
    Ok(())
}

/// Start a play job (a file, speech, a tone) with `start`, replacing the current
/// one (which ends ABORTED). Digits typed ahead interrupt a barge-in job at once.
pub(crate) fn begin(
    leg: &mut Leg,
    barge_in: bool,
    start: impl FnOnce(&MediaSession) -> u64,
) -> Result<(), CallError> {
    if let Some(mut old) = leg.play.take() {
        old.stop_cause.get_or_insert(PlayerCause::Aborted);
        finish(leg, old, false);
    }
    let Some(id) = leg.media.as_ref().map(start) else {
        leg.update(|snapshot| snapshot.player_cause = PlayerCause::Error);
        return Err(CallError::Error("the media session has stopped".into()));
    };
    leg.play = Some(PlayJob {
        id,
        barge_in,
        stop_cause: None,
    });
    leg.update(|snapshot| {
        snapshot.player_state = PlayerState::Playing;
        snapshot.player_cause = PlayerCause::None;
    });
    if barge_in && leg.has_buffered_digits() {
        barge_in_now(leg);
    }
    Ok(())
}

/// `stop`: the job ends ABORTED (its end follows from the media session).
pub(crate) fn stop(leg: &mut Leg, reply: Reply<()>) {
    if let Some(job) = &mut leg.play {
        job.stop_cause.get_or_insert(PlayerCause::Aborted);
        if let Some(media) = &leg.media {
            media.stop_playing();
        }
    }
    let _ = reply.send(Ok(()));
}

/// `wait-until-finished`: reply when the job ends, or at once with the last cause.
pub(crate) fn wait(leg: &mut Leg, reply: Reply<PlayerCause>) {
    if leg.play.is_some() {
        leg.play_waiters.push(reply);
    } else if leg.state() == callhost_runtime::port::CallState::Idle
        && leg.snapshot.borrow().player_cause == PlayerCause::Hangup
    {
        let _ = reply.send(Err(CallError::Hangup("the call is idle".into())));
    } else {
        let _ = reply.send(Ok(leg.snapshot.borrow().player_cause));
    }
}

/// A digit arrived: a barge-in job stops (cause BARGEIN).
pub(crate) fn barge_in_now(leg: &mut Leg) {
    if let Some(job) = &mut leg.play
        && job.barge_in
        && job.stop_cause.is_none()
    {
        job.stop_cause = Some(PlayerCause::BargeIn);
        if let Some(media) = &leg.media {
            media.stop_playing();
        }
    }
}

/// The media session reports the end of play job `id`.
pub(crate) fn finished(leg: &mut Leg, id: u64, completed: bool) {
    if leg.play.as_ref().is_some_and(|job| job.id == id)
        && let Some(job) = leg.play.take()
    {
        finish(leg, job, completed);
    }
}

fn finish(leg: &mut Leg, job: PlayJob, completed: bool) {
    let cause = if completed {
        PlayerCause::Normal
    } else {
        job.stop_cause.unwrap_or(PlayerCause::Aborted)
    };
    leg.update(|snapshot| {
        snapshot.player_state = PlayerState::Idle;
        snapshot.player_cause = cause;
    });
    for reply in leg.play_waiters.drain(..) {
        let _ = reply.send(Ok(cause));
    }
}

/// `dtmf-player.play`: send `digits` (RFC 4733, or in band when the peer has no
/// telephone-event); the reply waits for the last digit.
pub(crate) fn play_dtmf(leg: &mut Leg, digits: &str, reply: Reply<DtmfPlayerCause>) {
    if let Err(error) = leg.require_media("DTMF play") {
        let _ = reply.send(Err(error));
        return;
    }
    let Some(media) = &leg.media else {
        let _ = reply.send(Err(CallError::Error(
            "the media session has stopped".into(),
        )));
        return;
    };
    match media.send_dtmf(digits) {
        Ok(id) => {
            leg.update(|snapshot| snapshot.dtmf_player_cause = DtmfPlayerCause::None);
            leg.dtmf = Some((id, reply));
        }
        Err(error) => {
            leg.update(|snapshot| snapshot.dtmf_player_cause = DtmfPlayerCause::Error);
            let _ = reply.send(Err(CallError::Error(error.to_string())));
        }
    }
}
