//! RFC 4733 telephone-event payload (§2.3), DTMF event codes (§3.2, Table 3), and the
//! sans-IO receiver ([`receiver`]) and sender ([`sender`]) state machines.
//!
//! No I/O and no clock: the receiver is fed parsed RTP packets, the sender is stepped once per
//! 20 ms frame by the session core. Depends only on [`crate::rtp`].

pub mod receiver;
pub mod sender;

pub use receiver::TelephoneEventReceiver;
pub use sender::{SenderFrame, TelephoneEventSender};

/// Length of one event block in a telephone-event payload (RFC 4733 §2.3).
pub const EVENT_BLOCK_LENGTH: usize = 4;

/// Volume we send, in -dBm0 (RFC 4733 §2.3.4): -10 dBm0 per the usual DTMF generator level.
pub const DTMF_VOLUME: u8 = 10;

/// The telephone-event clock rate with the 8000 Hz codecs (G.711, G.722). With Opus, events
/// run on its 48000 Hz clock (RFC 4733 §2.1: the audio codec's rate).
pub const TELEPHONE_EVENT_CLOCK_RATE: u32 = 8000;

/// One event block: `event(8) | E(1) R(1) volume(6) | duration(16)` (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventReport {
    /// Event code (Table 3: 0-9 digits, 10 `*`, 11 `#`, 12-15 A-D).
    pub event: u8,
    /// `E`: this report ends the event.
    pub end: bool,
    /// Power level in -dBm0, 0..=63.
    pub volume: u8,
    /// Duration so far, in timestamp units, counted from the packet's RTP timestamp.
    pub duration: u16,
}

impl EventReport {
    /// Decode a 4-byte event block. The `R` bit is ignored as §2.3.3 requires.
    pub fn from_bytes(block: [u8; EVENT_BLOCK_LENGTH]) -> Self {
        Self {
            event: block[0],
            end: block[1] & 0x80 != 0,
            volume: block[1] & 0x3F,
            duration: u16::from_be_bytes([block[2], block[3]]),
        }
    }

    /// Encode as a 4-byte event block (`R` = 0).
    pub fn to_bytes(self) -> [u8; EVENT_BLOCK_LENGTH] {
        let duration = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            duration[0],
            duration[1],
        ]
    }
}

/// Iterate over the event blocks of a telephone-event payload (§2.5.1.5 allows several).
///
/// Trailing bytes that do not form a whole block are ignored.
pub fn event_blocks(payload: &[u8]) -> impl Iterator<Item = EventReport> + '_ {
    payload
        .chunks_exact(EVENT_BLOCK_LENGTH)
        .map(|block| EventReport::from_bytes([block[0], block[1], block[2], block[3]]))
}

/// The DTMF character for an event code 0..=15 (RFC 4733 Table 3), `None` for other events.
pub fn event_to_digit(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + (event - 12)),
        _ => return None,
    })
}

/// The event code for a DTMF character (`0-9`, `*`, `#`, `A-D`; lower-case `a-d` accepted).
pub fn digit_to_event(digit: char) -> Option<u8> {
    Some(match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => digit as u8 - b'A' + 12,
        'a'..='d' => digit as u8 - b'a' + 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_codes_follow_table_3_both_ways() {
        let digits = "0123456789*#ABCD";
        for (code, digit) in digits.chars().enumerate() {
            assert_eq!(digit_to_event(digit), Some(code as u8));
            assert_eq!(event_to_digit(code as u8), Some(digit));
        }
        assert_eq!(digit_to_event('c'), Some(14));
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(digit_to_event(','), None);
        assert_eq!(event_to_digit(16), None, "flash is not a digit");
    }

    #[test]
    fn event_block_round_trips_and_ignores_the_reserved_bit() {
        let report = EventReport {
            event: 11,
            end: true,
            volume: 10,
            duration: 0x0320,
        };
        assert_eq!(report.to_bytes(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(EventReport::from_bytes(report.to_bytes()), report);
        // R set on the wire must not change the decoded report.
        assert_eq!(EventReport::from_bytes([11, 0xCA, 0x03, 0x20]), report);
        let blocks: Vec<_> = event_blocks(&[1, 0x0A, 0, 160, 2, 0x8A, 1, 64, 0xFF]).collect();
        assert_eq!(blocks.len(), 2, "a trailing partial block is ignored");
        assert_eq!(
            blocks[1],
            EventReport {
                event: 2,
                end: true,
                volume: 10,
                duration: 320
            }
        );
    }
}
