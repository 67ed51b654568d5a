//! RFC 4733 §2.5.1 telephone-event sender, stepped once per 20 ms frame by the session core.
//!
//! Per digit: the first packet has M=1 and duration one frame; an update follows every frame
//! with a growing duration, all with the event's start timestamp; the final duration is sent
//! three times with E=1 (§2.5.1.4), one per frame, so a short burst of loss cannot drop all
//! three. The retransmissions fall inside the inter-digit gap, during which (and during `,`
//! pauses) the session sends ordinary audio. Sequence numbers and timestamps are the audio
//! stream's (§2.5.1.2): the core owns them and this module only says what to send.

use std::collections::VecDeque;

use super::{DTMF_VOLUME, EventReport, digit_to_event};

/// Samples per 20 ms frame at the telephone-event clock rate.
const FRAME_SAMPLES: u16 = 160;

/// Tone-on time of a digit: 100 ms.
pub const DIGIT_FRAMES: u16 = 5;
/// Time from the end of one tone to the start of the next: 80 ms.
pub const INTER_DIGIT_GAP_FRAMES: u16 = 4;
/// Length of a `,` pause: 500 ms.
pub const PAUSE_FRAMES: u16 = 25;
/// Number of E=1 packets sent per event (§2.5.1.4).
pub const END_PACKET_COUNT: u8 = 3;

/// One step of a DTMF string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfItem {
    /// A digit, as its event code.
    Digit(u8),
    /// A 500 ms pause (`,`).
    Pause,
}

/// A character that is not `0-9`, `A-D`, `*`, `#` or `,`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDigit {
    /// The offending character.
    pub digit: char,
    /// Its character position in the string.
    pub position: usize,
}

/// Parse a DTMF string (`0-9A-D*#`, lower-case `a-d`, `,` = pause).
pub fn parse_digits(digits: &str) -> Result<Vec<DtmfItem>, InvalidDigit> {
    digits
        .chars()
        .enumerate()
        .map(|(position, digit)| match digit {
            ',' => Ok(DtmfItem::Pause),
            _ => digit_to_event(digit)
                .map(DtmfItem::Digit)
                .ok_or(InvalidDigit { digit, position }),
        })
        .collect()
}

/// What the session should send in this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderFrame {
    /// Ordinary audio (prompt or silence).
    Audio,
    /// A telephone-event packet instead of audio.
    Event {
        /// M bit: first packet of the event.
        marker: bool,
        /// RTP timestamp: the start of the event.
        timestamp: u32,
        /// The payload.
        report: EventReport,
    },
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    Tone {
        event: u8,
        timestamp: u32,
        frames: u16,
    },
    Ending {
        event: u8,
        timestamp: u32,
        duration: u16,
        remaining: u8,
    },
    Pause {
        remaining: u16,
    },
}

#[derive(Debug)]
struct Job {
    id: u64,
    items: Vec<DtmfItem>,
    next: usize,
}

/// A completed or abandoned DTMF job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFinished {
    /// The id given to [`TelephoneEventSender::enqueue`].
    pub id: u64,
    /// `false` when [`TelephoneEventSender::stop`] abandoned it.
    pub completed: bool,
}

/// The DTMF sender state: a FIFO of digit strings and the event in progress.
#[derive(Debug)]
pub struct TelephoneEventSender {
    jobs: VecDeque<Job>,
    state: State,
    gap_remaining: u16,
}

impl Default for TelephoneEventSender {
    fn default() -> Self {
        Self {
            jobs: VecDeque::new(),
            state: State::Idle,
            gap_remaining: 0,
        }
    }
}

impl TelephoneEventSender {
    /// An idle sender.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue a parsed digit string behind any earlier ones. An empty job finishes on the next frame.
    pub fn enqueue(&mut self, id: u64, items: Vec<DtmfItem>) {
        self.jobs.push_back(Job { id, items, next: 0 });
    }

    /// True while a job is queued or an event (including its end packets) is in progress.
    pub fn is_busy(&self) -> bool {
        !self.jobs.is_empty() || !matches!(self.state, State::Idle)
    }

    /// Abandon all queued jobs. A tone already on the wire is ended properly (three E=1
    /// packets over the next frames) so the far end never hears a stuck digit.
    pub fn stop(&mut self, finished: &mut impl FnMut(JobFinished)) {
        self.state = match self.state {
            State::Tone {
                event,
                timestamp,
                frames,
            } if frames > 0 => State::Ending {
                event,
                timestamp,
                duration: frames * FRAME_SAMPLES,
                remaining: END_PACKET_COUNT,
            },
            ending @ State::Ending { .. } => ending,
            _ => State::Idle,
        };
        for job in self.jobs.drain(..) {
            finished(JobFinished {
                id: job.id,
                completed: false,
            });
        }
    }

    /// Advance one 20 ms frame whose first sample has RTP timestamp `frame_timestamp`.
    pub fn on_frame(
        &mut self,
        frame_timestamp: u32,
        finished: &mut impl FnMut(JobFinished),
    ) -> SenderFrame {
        if let State::Idle = self.state {
            if self.gap_remaining > 0 {
                self.gap_remaining -= 1;
                return SenderFrame::Audio;
            }
            self.start_next_item(frame_timestamp, finished);
        }
        match &mut self.state {
            State::Idle => SenderFrame::Audio,
            State::Pause { remaining } => {
                *remaining -= 1;
                if *remaining == 0 {
                    self.state = State::Idle;
                    self.complete_item(finished);
                }
                SenderFrame::Audio
            }
            State::Tone {
                event,
                timestamp,
                frames,
            } => {
                *frames += 1;
                let (event, timestamp, frames) = (*event, *timestamp, *frames);
                let duration = frames * FRAME_SAMPLES;
                let end = frames >= DIGIT_FRAMES;
                if end {
                    self.state = State::Ending {
                        event,
                        timestamp,
                        duration,
                        remaining: END_PACKET_COUNT - 1,
                    };
                }
                let report = EventReport {
                    event,
                    end,
                    volume: DTMF_VOLUME,
                    duration,
                };
                SenderFrame::Event {
                    marker: frames == 1,
                    timestamp,
                    report,
                }
            }
            State::Ending {
                event,
                timestamp,
                duration,
                remaining,
            } => {
                *remaining -= 1;
                let report = EventReport {
                    event: *event,
                    end: true,
                    volume: DTMF_VOLUME,
                    duration: *duration,
                };
                let frame = SenderFrame::Event {
                    marker: false,
                    timestamp: *timestamp,
                    report,
                };
                if *remaining == 0 {
                    self.state = State::Idle;
                    // The two retransmissions already used two frames of the gap.
                    self.gap_remaining =
                        INTER_DIGIT_GAP_FRAMES.saturating_sub(u16::from(END_PACKET_COUNT - 1));
                    self.complete_item(finished);
                }
                frame
            }
        }
    }

    fn start_next_item(&mut self, frame_timestamp: u32, finished: &mut impl FnMut(JobFinished)) {
        while let Some(job) = self.jobs.front() {
            match job.items.get(job.next) {
                Some(DtmfItem::Digit(event)) => {
                    self.state = State::Tone {
                        event: *event,
                        timestamp: frame_timestamp,
                        frames: 0,
                    };
                    return;
                }
                Some(DtmfItem::Pause) => {
                    self.state = State::Pause {
                        remaining: PAUSE_FRAMES,
                    };
                    return;
                }
                None => {
                    finished(JobFinished {
                        id: job.id,
                        completed: true,
                    });
                    self.jobs.pop_front();
                }
            }
        }
    }

    fn complete_item(&mut self, finished: &mut impl FnMut(JobFinished)) {
        // `stop` may have emptied the queue while the end packets were still going out.
        let Some(job) = self.jobs.front_mut() else {
            return;
        };
        job.next += 1;
        if job.next >= job.items.len() {
            finished(JobFinished {
                id: job.id,
                completed: true,
            });
            self.jobs.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpHeader;
    use crate::telephone_event::TelephoneEventReceiver;

    /// Run the sender for `frames` frames starting at timestamp `start`, collecting output.
    fn run(
        sender: &mut TelephoneEventSender,
        start: u32,
        frames: u32,
    ) -> (Vec<SenderFrame>, Vec<JobFinished>) {
        let mut output = Vec::new();
        let mut done = Vec::new();
        for frame in 0..frames {
            output.push(sender.on_frame(
                start.wrapping_add(frame * u32::from(FRAME_SAMPLES)),
                &mut |f| done.push(f),
            ));
        }
        (output, done)
    }

    fn event(marker: bool, timestamp: u32, code: u8, duration: u16, end: bool) -> SenderFrame {
        SenderFrame::Event {
            marker,
            timestamp,
            report: EventReport {
                event: code,
                end,
                volume: 10,
                duration,
            },
        }
    }

    #[test]
    fn parse_accepts_the_dtmf_alphabet_and_reports_the_bad_character() {
        assert_eq!(
            parse_digits("1,#d").unwrap(),
            vec![
                DtmfItem::Digit(1),
                DtmfItem::Pause,
                DtmfItem::Digit(11),
                DtmfItem::Digit(15)
            ]
        );
        assert_eq!(
            parse_digits("12x4"),
            Err(InvalidDigit {
                digit: 'x',
                position: 2
            })
        );
        assert_eq!(parse_digits(""), Ok(vec![]));
    }

    #[test]
    fn one_digit_is_marker_updates_and_three_end_packets() {
        let mut sender = TelephoneEventSender::new();
        sender.enqueue(7, parse_digits("5").unwrap());
        let (frames, done) = run(&mut sender, 1000, 10);
        let expected = vec![
            event(true, 1000, 5, 160, false),
            event(false, 1000, 5, 320, false),
            event(false, 1000, 5, 480, false),
            event(false, 1000, 5, 640, false),
            event(false, 1000, 5, 800, true),
            event(false, 1000, 5, 800, true),
            event(false, 1000, 5, 800, true),
            SenderFrame::Audio,
            SenderFrame::Audio,
            SenderFrame::Audio,
        ];
        assert_eq!(frames, expected);
        assert_eq!(
            done,
            vec![JobFinished {
                id: 7,
                completed: true
            }]
        );
        assert!(!sender.is_busy());
    }

    #[test]
    fn digits_are_spaced_and_pauses_last_half_a_second() {
        let mut sender = TelephoneEventSender::new();
        sender.enqueue(1, parse_digits("12,3").unwrap());
        let (frames, done) = run(&mut sender, 0, 80);
        let starts: Vec<(usize, u32)> = frames
            .iter()
            .enumerate()
            .filter_map(|(index, frame)| match frame {
                SenderFrame::Event {
                    marker: true,
                    timestamp,
                    ..
                } => Some((index, *timestamp)),
                _ => None,
            })
            .collect();
        // Digit "2" starts after 5 tone frames + 4 gap frames; "3" after a further 5 + 4 + 25.
        assert_eq!(starts, vec![(0, 0), (9, 9 * 160), (43, 43 * 160)]);
        assert_eq!(
            done,
            vec![JobFinished {
                id: 1,
                completed: true
            }]
        );
    }

    #[test]
    fn jobs_run_in_order_and_stop_ends_the_tone_cleanly() {
        let mut sender = TelephoneEventSender::new();
        sender.enqueue(1, parse_digits("1").unwrap());
        sender.enqueue(2, parse_digits("99").unwrap());
        let (_, done) = run(&mut sender, 0, 11); // "1" done, first "9" started (2 frames of it)
        assert_eq!(
            done,
            vec![JobFinished {
                id: 1,
                completed: true
            }]
        );
        let mut stopped = Vec::new();
        sender.stop(&mut |f| stopped.push(f));
        assert_eq!(
            stopped,
            vec![JobFinished {
                id: 2,
                completed: false
            }]
        );
        let (frames, done) = run(&mut sender, 11 * 160, 6);
        let tone_start = 9 * 160;
        assert_eq!(
            frames,
            vec![
                event(false, tone_start, 9, 320, true),
                event(false, tone_start, 9, 320, true),
                event(false, tone_start, 9, 320, true),
                SenderFrame::Audio,
                SenderFrame::Audio,
                SenderFrame::Audio,
            ]
        );
        assert!(done.is_empty());
    }

    #[test]
    fn sender_output_decodes_back_to_the_same_digits() {
        let mut sender = TelephoneEventSender::new();
        let digits = "0123456789*#ABCD11";
        sender.enqueue(3, parse_digits(digits).unwrap());
        let (frames, done) = run(&mut sender, u32::MAX - 5000, 200); // crosses the u32 wrap
        assert_eq!(
            done,
            vec![JobFinished {
                id: 3,
                completed: true
            }]
        );
        let mut receiver = TelephoneEventReceiver::new();
        let mut decoded = String::new();
        for (sequence, frame) in frames.iter().enumerate() {
            if let SenderFrame::Event {
                marker,
                timestamp,
                report,
            } = frame
            {
                let header = RtpHeader {
                    marker: *marker,
                    payload_type: 101,
                    sequence_number: sequence as u16,
                    timestamp: *timestamp,
                    ssrc: 9,
                };
                receiver.on_packet(&header, &report.to_bytes(), &mut |d| decoded.push(d.digit));
            }
        }
        assert_eq!(decoded, digits);
    }
}
