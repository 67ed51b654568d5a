//! A leg's audio figures (WIT `channel.media-statistics`): read live from the media
//! session while the call has media, kept when the call ends, and logged then as one
//! `media statistics` line per leg (codec, packets each way, loss, jitter, the jitter
//! buffer, RTCP and the far end's last report), for operators and for the app.

use std::time::Duration;

use callhost_media::{MediaSession, MediaStats};
use callhost_runtime::port::{MediaStatistics, RemoteReport};
use tracing::info;

use super::leg::Leg;

/// The figures of `media` now.
pub(crate) fn read(media: &MediaSession) -> MediaStatistics {
    convert(media.codec().encoding_name(), media.stats())
}

fn convert(codec: &str, stats: MediaStats) -> MediaStatistics {
    MediaStatistics {
        codec: codec.to_owned(),
        packets_sent: stats.packets_sent,
        packets_received: stats.packets_received,
        packets_lost: stats.packets_lost,
        jitter: Duration::from_micros(stats.jitter_micros),
        late_packets: stats.late_packets_dropped,
        concealed_frames: stats.frames_concealed,
        playout_delay: Duration::from_micros(stats.playout_delay_micros),
        rtcp_packets_sent: stats.rtcp_packets_sent,
        rtcp_packets_received: stats.rtcp_packets_received,
        remote: stats.remote.map(|remote| RemoteReport {
            packets_lost: remote.packets_lost,
            fraction_lost: f32::from(remote.fraction_lost) / 256.0,
            jitter: Duration::from_micros(remote.jitter_micros),
            round_trip: remote.round_trip_micros.map(Duration::from_micros),
        }),
    }
}

/// What `media-statistics` answers: live figures, or the ones kept at the end.
pub(crate) fn current(leg: &Leg) -> Option<MediaStatistics> {
    match &leg.media {
        Some(media) => Some(read(media)),
        None => leg.final_statistics.clone(),
    }
}

/// The call is over: keep its figures for the app and log them.
pub(crate) fn finish(leg: &mut Leg) {
    let Some(media) = &leg.media else { return };
    let figures = read(media);
    let remote = figures.remote;
    info!(
        leg = leg.id,
        codec = %figures.codec,
        sent = figures.packets_sent,
        received = figures.packets_received,
        lost = figures.packets_lost,
        jitter_ms = format_args!("{:.1}", milliseconds(figures.jitter)),
        late = figures.late_packets,
        concealed = figures.concealed_frames,
        playout_delay_ms = figures.playout_delay.as_millis() as u64,
        rtcp_sent = figures.rtcp_packets_sent,
        rtcp_received = figures.rtcp_packets_received,
        remote_lost = remote.map(|remote| remote.packets_lost),
        remote_fraction_lost = remote.map(|remote| f64::from(remote.fraction_lost)),
        remote_jitter_ms = remote.map(|remote| milliseconds(remote.jitter)),
        round_trip_ms = remote
            .and_then(|remote| remote.round_trip)
            .map(milliseconds),
        "media statistics"
    );
    leg.final_statistics = Some(figures);
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
