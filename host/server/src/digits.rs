//! DTMF digit collection: the UAS `get_digits` semantics as a small state machine.
//!
//! Digits that arrive while no collection runs are buffered (the UAS buffers them
//! too), so a caller who types ahead of the prompt loses nothing. A collection
//! consumes buffered digits first, then waits for new ones until its count, an
//! end digit, or one of its three timeouts. Time is passed in, never read, so the
//! rules are unit-tested without a clock. No I/O.

use std::collections::VecDeque;
use tokio::time::Instant;

use callhost_runtime::port::{DetectorCause, GetDigitsOptions};

/// The finished result of one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// Digits in arrival order; an end digit is included.
    pub digits: String,
    /// Why collection stopped.
    pub cause: DetectorCause,
}

/// One running `get-digits`.
#[derive(Debug)]
pub struct Collection {
    options: GetDigitsOptions,
    started: Instant,
    last_digit: Option<Instant>,
    digits: String,
}

impl Collection {
    /// Start collecting at `now`.
    pub fn new(options: GetDigitsOptions, now: Instant) -> Self {
        Collection {
            options,
            started: now,
            last_digit: None,
            digits: String::new(),
        }
    }

    /// Take digits from `buffer` until the collection is complete. Digits beyond the
    /// end of the collection stay buffered for the next one.
    pub fn absorb(&mut self, buffer: &mut VecDeque<char>, now: Instant) -> Option<Collected> {
        while let Some(digit) = buffer.pop_front() {
            self.digits.push(digit);
            self.last_digit = Some(now);
            if self.options.end.contains(digit) {
                return Some(self.finish(DetectorCause::End));
            }
            if let Some(count) = self.options.count
                && self.digits.chars().count() >= count as usize
            {
                return Some(self.finish(DetectorCause::Count));
            }
        }
        None
    }

    /// When the collection times out if no digit arrives before then.
    pub fn deadline(&self) -> Option<Instant> {
        let overall = self
            .options
            .overall_timeout
            .map(|limit| self.started + limit);
        let gap = match self.last_digit {
            None => self
                .options
                .predigits_timeout
                .map(|limit| self.started + limit),
            Some(last) => self.options.interdigit_timeout.map(|limit| last + limit),
        };
        earliest(overall, gap)
    }

    /// Finish with TIMEOUT if the deadline has passed at `now`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Collected> {
        match self.deadline() {
            Some(deadline) if now >= deadline => Some(self.finish(DetectorCause::Timeout)),
            _ => None,
        }
    }

    /// End the collection with `cause`, keeping what arrived.
    pub fn finish(&mut self, cause: DetectorCause) -> Collected {
        Collected {
            digits: std::mem::take(&mut self.digits),
            cause,
        }
    }
}

/// The digit carried by a SIP INFO body, if it carries one: `application/dtmf-relay`
/// (`Signal=5` lines, as Cisco and most trunks send it) or `application/dtmf` (the
/// bare digit). Event numbers 10-15 are accepted for `*`, `#`, `A`-`D` as in RFC 4733.
pub fn info_digit(content_type: &str, body: &str) -> Option<char> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let value = match media_type.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            key.trim().eq_ignore_ascii_case("signal").then_some(value)
        })?,
        "application/dtmf" => body,
        _ => return None,
    };
    match value.trim() {
        "10" => Some('*'),
        "11" => Some('#'),
        "12" => Some('A'),
        "13" => Some('B'),
        "14" => Some('C'),
        "15" => Some('D'),
        single => {
            let mut chars = single.chars();
            let digit = chars.next()?.to_ascii_uppercase();
            (chars.next().is_none() && "0123456789*#ABCD".contains(digit)).then_some(digit)
        }
    }
}

/// The earlier of two optional instants.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn options() -> GetDigitsOptions {
        GetDigitsOptions {
            count: Some(16),
            end: "#".into(),
            predigits_timeout: Some(Duration::from_secs(10)),
            interdigit_timeout: Some(Duration::from_secs(5)),
            overall_timeout: None,
            clear: false,
        }
    }

    fn buffer(digits: &str) -> VecDeque<char> {
        digits.chars().collect()
    }

    #[test]
    fn end_digit_ends_and_is_included_and_rest_stays_buffered() {
        let now = Instant::now();
        let mut collection = Collection::new(options(), now);
        let mut pending = buffer("47#11");
        let done = collection.absorb(&mut pending, now).unwrap();
        assert_eq!(
            done,
            Collected {
                digits: "47#".into(),
                cause: DetectorCause::End
            }
        );
        assert_eq!(pending, buffer("11"));
    }

    #[test]
    fn count_ends_collection() {
        let now = Instant::now();
        let mut collection = Collection::new(
            GetDigitsOptions {
                count: Some(3),
                ..options()
            },
            now,
        );
        assert_eq!(collection.absorb(&mut buffer("12"), now), None);
        let done = collection.absorb(&mut buffer("34"), now).unwrap();
        assert_eq!(
            done,
            Collected {
                digits: "123".into(),
                cause: DetectorCause::Count
            }
        );
    }

    #[test]
    fn predigit_then_interdigit_timeouts() {
        let start = Instant::now();
        let mut collection = Collection::new(options(), start);
        assert_eq!(collection.deadline(), Some(start + Duration::from_secs(10)));
        assert_eq!(
            collection.poll_timeout(start + Duration::from_secs(9)),
            None
        );
        let later = start + Duration::from_secs(9);
        assert_eq!(collection.absorb(&mut buffer("4"), later), None);
        assert_eq!(collection.deadline(), Some(later + Duration::from_secs(5)));
        let done = collection
            .poll_timeout(later + Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            done,
            Collected {
                digits: "4".into(),
                cause: DetectorCause::Timeout
            }
        );
    }

    #[test]
    fn overall_timeout_caps_the_interdigit_gap() {
        let start = Instant::now();
        let mut collection = Collection::new(
            GetDigitsOptions {
                overall_timeout: Some(Duration::from_secs(6)),
                ..options()
            },
            start,
        );
        collection.absorb(&mut buffer("1"), start + Duration::from_secs(4));
        assert_eq!(collection.deadline(), Some(start + Duration::from_secs(6)));
    }

    #[test]
    fn info_bodies_carry_digits() {
        assert_eq!(
            info_digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(
            info_digit("Application/DTMF-Relay", "signal= #\nDuration=250"),
            Some('#')
        );
        assert_eq!(
            info_digit("application/dtmf-relay", "Signal=11\r\nDuration=160"),
            Some('#')
        );
        assert_eq!(info_digit("application/dtmf-relay", "Signal=d"), Some('D'));
        assert_eq!(info_digit("application/dtmf", "7"), Some('7'));
        assert_eq!(info_digit("application/dtmf", "10"), Some('*'));
        assert_eq!(info_digit("application/dtmf-relay", "Duration=160"), None);
        assert_eq!(info_digit("application/dtmf-relay", "Signal=X"), None);
        assert_eq!(info_digit("application/dtmf-relay", "Signal=55"), None);
        assert_eq!(info_digit("text/plain", "Signal=5"), None);
    }

    #[test]
    fn no_limits_means_no_deadline() {
        let collection = Collection::new(GetDigitsOptions::default(), Instant::now());
        assert_eq!(collection.deadline(), None);
    }
}
