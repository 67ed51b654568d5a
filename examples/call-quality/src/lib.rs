//! call-quality: how does the line sound? Answers, plays the predefined
//! `RINGBACK` tone for the seconds in the application parameters (default 12:
//! long enough for both ends to exchange RTCP reports), then logs the call's audio
//! figures as the app sees them (`channel.media_statistics()`): packets each way,
//! loss and jitter of what it received, the jitter buffer, and what the far end's
//! RTCP says about our stream, round trip included. Hangs up; exit code 0.
//!
//! The host logs the same figures again as `media statistics` when the call ends.

use callhost_sdk::{AppContext, CallError, Channel, MediaStatistics, Result, log};

fn describe(figures: &MediaStatistics) -> String {
    let remote = match &figures.remote {
        Some(remote) => format!(
            "far end: lost {} ({:.1} %), jitter {:.1} ms, round trip {}",
            remote.packets_lost,
            remote.fraction_lost * 100.0,
            remote.jitter.as_secs_f64() * 1000.0,
            remote.round_trip.map_or("unknown".to_owned(), |trip| format!(
                "{:.1} ms",
                trip.as_secs_f64() * 1000.0
            )),
        ),
        None => "far end: no RTCP report".to_owned(),
    };
    format!(
        "call quality: codec {}, sent {}, received {}, lost {}, jitter {:.1} ms, late {}, \
         concealed {}, playout delay {} ms, RTCP sent {} received {}; {remote}",
        figures.codec,
        figures.packets_sent,
        figures.packets_received,
        figures.packets_lost,
        figures.jitter.as_secs_f64() * 1000.0,
        figures.late_packets,
        figures.concealed_frames,
        figures.playout_delay.as_millis(),
        figures.rtcp_packets_sent,
        figures.rtcp_packets_received,
    )
}

fn run(channel: Channel, context: AppContext) -> Result<i32> {
    let seconds = context.application_parameters.trim().parse().unwrap_or(12);
    channel.answer()?;
    channel.tone_player().play("RINGBACK", Some(seconds))?;
    let figures = channel
        .media_statistics()
        .ok_or_else(|| CallError::error("an answered call without media figures"))?;
    log::info(describe(&figures));
    channel.hang_up()?;
    Ok(0)
}

callhost_sdk::export_app!(main: run);
