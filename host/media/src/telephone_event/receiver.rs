//! RFC 4733 §2.5.2 telephone-event receiver: turns a stream of event packets into digits,
//! each reported exactly once, as soon as the event starts (so barge-in is fast).
//!
//! Rules implemented (numbered as in shared/corpora/rtp/RFC4733-receiver-rules.md):
//! - an event is identified by its RTP timestamp and event code; a new timestamp is a new
//!   event even for the same digit (Table 5's "1", "1");
//! - the three E=1 end packets, and any late packet of a finished event, are ignored (rule 3);
//! - a zero-duration report is ignored (§2.3.5), so a first packet with duration 0 — as SIPp's
//!   captures send — does not count, and the event is picked up from the next update;
//! - a packet without M for an unknown event still starts it (rule 4: earlier packets lost);
//! - a segment at `timestamp + 0xFFFF` after a 0xFFFF-long report continues the event (rule 5);
//! - several event blocks in one packet start one after the other (rule 6);
//! - packets timestamped shortly before the newest event are late and ignored;
//! - a new SSRC resets everything.
//!
//! Duplicate sequence numbers (SIPp's repeated end packets) are not an error here.

use super::{EventReport, event_blocks, event_to_digit};
use crate::rtp::RtpHeader;

/// How many finished events are remembered to drop their late retransmissions.
const FINISHED_MEMORY: usize = 8;

/// Packets timestamped up to this far (8 s at 8 kHz) before the newest event are "late";
/// a larger step backwards is treated as a timestamp discontinuity and starts afresh.
const LATE_WINDOW: u32 = 8 * 8000;

/// The segment length of a long event (§2.5.1.3).
const LONG_EVENT_SEGMENT: u32 = 0xFFFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventKey {
    timestamp: u32,
    event: u8,
}

#[derive(Debug, Clone, Copy)]
struct ActiveEvent {
    key: EventKey,
    duration: u16,
}

/// A DTMF digit the receiver has recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// `0-9`, `*`, `#`, `A-D`.
    pub digit: char,
    /// RTP timestamp of the start of the event.
    pub timestamp: u32,
}

/// Receiver state for one RTP stream. Create one per session; feed every telephone-event packet.
#[derive(Debug, Default)]
pub struct TelephoneEventReceiver {
    ssrc: Option<u32>,
    active: Option<ActiveEvent>,
    finished: [Option<EventKey>; FINISHED_MEMORY],
    finished_next: usize,
    newest_timestamp: Option<u32>,
}

impl TelephoneEventReceiver {
    /// A receiver with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Process one telephone-event packet; `report` is called once per newly started digit.
    pub fn on_packet(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
        report: &mut impl FnMut(ReceivedDigit),
    ) {
        if self.ssrc != Some(header.ssrc) {
            *self = Self {
                ssrc: Some(header.ssrc),
                ..Self::default()
            };
        }
        // Rule 6: block k starts where block k-1 ended.
        let mut timestamp = header.timestamp;
        for block in event_blocks(payload) {
            self.on_report(timestamp, block, report);
            timestamp = timestamp.wrapping_add(u32::from(block.duration));
        }
    }

    fn on_report(
        &mut self,
        timestamp: u32,
        block: EventReport,
        report: &mut impl FnMut(ReceivedDigit),
    ) {
        let Some(digit) = event_to_digit(block.event) else {
            return; // not DTMF (flash, tones, …): nothing to report
        };
        if block.duration == 0 {
            return; // §2.3.5: zero duration is reserved for state events
        }
        let key = EventKey {
            timestamp,
            event: block.event,
        };
        if self.finished.contains(&Some(key)) {
            return; // rule 3: retransmitted end packets and late updates of a lapsed event
        }
        if let Some(active) = &mut self.active {
            let continues_long_event = active.key.event == key.event
                && active.duration == u16::MAX
                && key.timestamp == active.key.timestamp.wrapping_add(LONG_EVENT_SEGMENT);
            if active.key == key || continues_long_event {
                active.key = key;
                active.duration = active.duration.max(block.duration);
                self.newest_timestamp = Some(key.timestamp);
                if block.end {
                    self.finish_active();
                }
                return;
            }
        }
        if let Some(newest) = self.newest_timestamp {
            let behind = newest.wrapping_sub(timestamp);
            if behind != 0 && behind < LATE_WINDOW {
                return; // an older event we never saw start: reporting it now would reorder digits
            }
        }
        // A new timestamp ends whatever was playing (rule 2).
        self.finish_active();
        self.newest_timestamp = Some(timestamp);
        self.active = Some(ActiveEvent {
            key,
            duration: block.duration,
        });
        report(ReceivedDigit { digit, timestamp });
        if block.end {
            self.finish_active();
        }
    }

    fn finish_active(&mut self) {
        if let Some(active) = self.active.take() {
            self.finished[self.finished_next] = Some(active.key);
            self.finished_next = (self.finished_next + 1) % FINISHED_MEMORY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Row {
        marker: bool,
        timestamp: u32,
        sequence: u16,
        event: u8,
        duration: u16,
        end: bool,
    }

    fn packet(row: &Row, ssrc: u32) -> (RtpHeader, [u8; 4]) {
        let header = RtpHeader {
            marker: row.marker,
            payload_type: 101,
            sequence_number: row.sequence,
            timestamp: row.timestamp,
            ssrc,
        };
        let payload = EventReport {
            event: row.event,
            end: row.end,
            volume: 10,
            duration: row.duration,
        }
        .to_bytes();
        (header, payload)
    }

    fn feed(receiver: &mut TelephoneEventReceiver, rows: &[Row], ssrc: u32) -> String {
        let mut digits = String::new();
        for row in rows {
            let (header, payload) = packet(row, ssrc);
            receiver.on_packet(&header, &payload, &mut |received| {
                digits.push(received.digit)
            });
        }
        digits
    }

    fn corpus_tsv(name: &str) -> Vec<Vec<String>> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/rtp")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        text.lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.split('\t').map(str::to_owned).collect())
            .collect()
    }

    fn row(
        marker: bool,
        timestamp: u32,
        sequence: u16,
        event: u8,
        duration: u16,
        end: bool,
    ) -> Row {
        Row {
            marker,
            timestamp,
            sequence,
            event,
            duration,
            end,
        }
    }

    #[test]
    fn rfc4733_table5_yields_9_1_1() {
        // send_time_ms marker rtp_timestamp rtp_seq event_code duration end_bit row_source
        let rows: Vec<Row> = corpus_tsv("rfc4733_table5_example.tsv")
            .iter()
            .map(|f| {
                row(
                    f[1] == "1",
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                    f[6] == "1",
                )
            })
            .collect();
        assert_eq!(rows.len(), 20);
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(feed(&mut receiver, &rows, 0x1234), "911");
    }

    #[test]
    fn each_sipp_capture_yields_exactly_its_digit() {
        // pcap pkt rel_time_ms rtp_seq rtp_ts marker pt event end_bit volume duration
        let fields = corpus_tsv("sipp_dtmf_2833_packets.tsv");
        let mut captures: Vec<(String, Vec<Row>)> = Vec::new();
        for f in &fields {
            let parsed = row(
                f[5] == "1",
                f[4].parse().unwrap(),
                f[3].parse().unwrap(),
                f[7].parse().unwrap(),
                f[10].parse().unwrap(),
                f[8] == "1",
            );
            match captures.last_mut() {
                Some((name, rows)) if *name == f[0] => rows.push(parsed),
                _ => captures.push((f[0].clone(), vec![parsed])),
            }
        }
        assert_eq!(captures.len(), 12);
        for (name, rows) in &captures {
            let expected = match name
                .trim_start_matches("dtmf_2833_")
                .trim_end_matches(".pcap")
            {
                "star" => "*".to_owned(),
                "pound" => "#".to_owned(),
                digit => digit.to_owned(),
            };
            let mut receiver = TelephoneEventReceiver::new();
            assert_eq!(feed(&mut receiver, rows, 7), expected, "{name}");
            // Replaying the same capture (all late now) must not report again.
            assert_eq!(feed(&mut receiver, rows, 7), "", "{name} replayed");
        }
    }

    #[test]
    fn zero_duration_first_packet_reports_on_the_next_update() {
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, &[row(true, 100, 1, 5, 0, false)], 1),
            ""
        );
        assert_eq!(
            feed(&mut receiver, &[row(false, 100, 2, 5, 320, false)], 1),
            "5"
        );
        assert_eq!(
            feed(&mut receiver, &[row(false, 100, 3, 5, 640, true)], 1),
            ""
        );
    }

    #[test]
    fn only_end_packets_still_report_once() {
        // Rule 4: everything before the end was lost; the event is still a digit.
        let rows = [
            row(false, 800, 9, 3, 800, true),
            row(false, 800, 10, 3, 800, true),
            row(false, 800, 11, 3, 800, true),
        ];
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(feed(&mut receiver, &rows, 1), "3");
    }

    #[test]
    fn late_packets_of_an_earlier_event_are_ignored() {
        let mut receiver = TelephoneEventReceiver::new();
        let first = [
            row(true, 1000, 1, 1, 160, false),
            row(false, 1000, 2, 1, 320, false),
        ];
        let second = [row(true, 3000, 5, 2, 160, false)];
        // The first event's end packets arrive after the second event started.
        let late_end = [
            row(false, 1000, 3, 1, 480, true),
            row(false, 1000, 4, 1, 480, true),
        ];
        // An event older than the newest that we never saw start (reordered or spoofed).
        let older_unknown = [row(true, 2000, 4, 9, 160, false)];
        assert_eq!(feed(&mut receiver, &first, 1), "1");
        assert_eq!(feed(&mut receiver, &second, 1), "2");
        assert_eq!(feed(&mut receiver, &late_end, 1), "");
        assert_eq!(feed(&mut receiver, &older_unknown, 1), "");
    }

    #[test]
    fn long_event_segments_are_one_digit() {
        let mut receiver = TelephoneEventReceiver::new();
        let rows = [
            row(true, 500, 1, 0, 30_000, false),
            row(false, 500, 2, 0, 0xFFFF, false),
            row(false, 500 + 0xFFFF, 3, 0, 400, false),
            row(false, 500 + 0xFFFF, 4, 0, 800, true),
            row(false, 500 + 0xFFFF, 5, 0, 800, true),
        ];
        assert_eq!(feed(&mut receiver, &rows, 1), "0");
    }

    #[test]
    fn several_events_in_one_packet_start_back_to_back() {
        let mut receiver = TelephoneEventReceiver::new();
        let header = RtpHeader {
            marker: true,
            payload_type: 101,
            sequence_number: 1,
            timestamp: 0,
            ssrc: 1,
        };
        let mut payload = Vec::new();
        payload.extend_from_slice(
            &EventReport {
                event: 4,
                end: true,
                volume: 10,
                duration: 800,
            }
            .to_bytes(),
        );
        payload.extend_from_slice(
            &EventReport {
                event: 7,
                end: false,
                volume: 10,
                duration: 160,
            }
            .to_bytes(),
        );
        let mut got = Vec::new();
        receiver.on_packet(&header, &payload, &mut |digit| got.push(digit));
        assert_eq!(
            got,
            vec![
                ReceivedDigit {
                    digit: '4',
                    timestamp: 0
                },
                ReceivedDigit {
                    digit: '7',
                    timestamp: 800
                }
            ]
        );
        // The same packet retransmitted reports nothing new.
        receiver.on_packet(&header, &payload, &mut |digit| got.push(digit));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_new_ssrc_starts_afresh_and_non_dtmf_events_are_ignored() {
        let mut receiver = TelephoneEventReceiver::new();
        let rows = [row(true, 100, 1, 8, 160, true)];
        assert_eq!(feed(&mut receiver, &rows, 1), "8");
        assert_eq!(feed(&mut receiver, &rows, 1), "");
        assert_eq!(
            feed(&mut receiver, &rows, 2),
            "8",
            "a different source is a different stream"
        );
        assert_eq!(
            feed(&mut receiver, &[row(true, 9000, 2, 16, 160, false)], 2),
            "",
            "flash"
        );
    }
}
