//! The figures of a call's audio: RTP counts, the received stream's loss and
//! jitter (RFC 3550 A.3, A.8), the jitter buffer, and the far end's last RTCP
//! report about our stream. Read them with [`crate::Channel::media_statistics`].

use std::time::Duration;

use crate::bindings::callhost::call::channel as raw;

/// What the far end last reported about the audio we send (its RTCP report block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteReport {
    /// Our packets it never received (cumulative; negative after duplicates).
    pub packets_lost: i64,
    /// The share of our packets lost since its previous report, 0.0–1.0.
    pub fraction_lost: f32,
    /// The interarrival jitter it measured on our stream.
    pub jitter: Duration,
    /// The round-trip time, once it has seen one of our sender reports.
    pub round_trip: Option<Duration>,
}

/// A call's audio figures so far (or the final ones, after the call ended).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStatistics {
    /// The codec in use: `"PCMU"`, `"PCMA"`, `"G722"` or `"opus"`.
    pub codec: String,
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP packets received.
    pub packets_received: u64,
    /// Packets the far end sent that never arrived.
    pub packets_lost: u64,
    /// Interarrival jitter of the received stream.
    pub jitter: Duration,
    /// Packets that came too late for the jitter buffer.
    pub late_packets: u64,
    /// 20 ms frames made up for lost or late audio.
    pub concealed_frames: u64,
    /// The jitter buffer's playout delay now.
    pub playout_delay: Duration,
    /// RTCP packets sent.
    pub rtcp_packets_sent: u64,
    /// RTCP packets received.
    pub rtcp_packets_received: u64,
    /// The far end's latest report about our stream.
    pub remote: Option<RemoteReport>,
}

fn from_milliseconds(milliseconds: f32) -> Duration {
    Duration::from_secs_f32(milliseconds.max(0.0) / 1000.0)
}

impl From<raw::MediaStatistics> for MediaStatistics {
    fn from(figures: raw::MediaStatistics) -> Self {
        MediaStatistics {
            codec: figures.codec,
            packets_sent: figures.packets_sent,
            packets_received: figures.packets_received,
            packets_lost: figures.packets_lost,
            jitter: from_milliseconds(figures.jitter_ms),
            late_packets: figures.late_packets,
            concealed_frames: figures.concealed_frames,
            playout_delay: Duration::from_millis(u64::from(figures.playout_delay_ms)),
            rtcp_packets_sent: figures.rtcp_packets_sent,
            rtcp_packets_received: figures.rtcp_packets_received,
            remote: figures.remote.map(|remote| RemoteReport {
                packets_lost: remote.packets_lost,
                fraction_lost: remote.fraction_lost,
                jitter: from_milliseconds(remote.jitter_ms),
                round_trip: remote.round_trip_ms.map(from_milliseconds),
            }),
        }
    }
}
