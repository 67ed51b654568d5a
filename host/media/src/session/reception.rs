//! Received-stream sequence accounting in the spirit of RFC 3550 Appendix A.1/A.3:
//! extended highest sequence number, expected vs received, reordering and duplicates; the
//! per-report loss fraction (A.3) and the interarrival jitter estimate (A.8, §6.4.1).
//!
//! Simplified: no probation; a jump of more than [`MAX_DROPOUT`] (or a new SSRC) restarts
//! the count, folding what was lost so far into the total. Pure state machine.

/// A sequence jump larger than this is a restart, not loss (RFC 3550 A.1 `MAX_DROPOUT`).
pub const MAX_DROPOUT: u16 = 3000;

/// Loss and order statistics of the received RTP stream.
#[derive(Debug, Default, Clone)]
pub struct ReceptionStatistics {
    ssrc: Option<u32>,
    base: u64,
    highest: u64,
    received: u64,
    lost_before_restart: u64,
    /// Packets that arrived after a higher sequence number.
    pub out_of_order: u64,
    /// Packets whose sequence number equals the highest seen.
    pub duplicates: u64,
    /// Loss folded in by restarts of the current SSRC (a new SSRC starts its own count).
    lost_before_restart_this_source: u64,
    /// Expected and received counts at the last report (A.3 `expected_prior`, `received_prior`).
    expected_prior: u64,
    received_prior: u64,
    /// A.8 jitter estimate in RTP timestamp units, scaled by 16 (the RFC's integer form).
    jitter_scaled: u64,
    /// Relative transit time of the previous audio packet, if any since the last restart.
    last_transit: Option<u32>,
}

/// What a receiver report says about the stream (RFC 3550 §6.4.1 report block fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// The source reported on.
    pub ssrc: u32,
    /// Lost since the previous report, per 256 (A.3).
    pub fraction_lost: u8,
    /// Cumulative loss for this source (expected minus received).
    pub cumulative_lost: i64,
    /// Extended highest sequence number (cycles in the high 16 bits).
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
}

impl ReceptionStatistics {
    /// Account for one packet (sequence only: no jitter sample).
    pub fn on_packet(&mut self, ssrc: u32, sequence_number: u16) {
        self.on_packet_at(ssrc, sequence_number, None);
    }

    /// Account for one packet; `timing` = (its RTP timestamp, its arrival time on the same
    /// clock) feeds the A.8 jitter estimate (give it for audio packets only: telephone-event
    /// timestamps mark the event start, not the sampling instant).
    pub fn on_packet_at(&mut self, ssrc: u32, sequence_number: u16, timing: Option<(u32, u32)>) {
        if self.ssrc != Some(ssrc) {
            self.lost_before_restart_this_source = 0;
            self.jitter_scaled = 0;
            self.restart(Some(ssrc), sequence_number);
            self.last_transit = None;
            self.sample_jitter(timing);
            return;
        }
        let delta = sequence_number.wrapping_sub(self.highest as u16);
        // A jump restarts the count (and the transit reference) below; sample after that.
        let jump = delta > MAX_DROPOUT && delta <= u16::MAX - MAX_DROPOUT;
        if delta != 0 && !jump {
            self.sample_jitter(timing);
        }
        match delta {
            0 => self.duplicates += 1,
            1..=MAX_DROPOUT => {
                self.highest += u64::from(delta);
                self.received += 1;
            }
            _ if delta > u16::MAX - MAX_DROPOUT => {
                self.out_of_order += 1;
                self.received += 1;
            }
            _ => {
                self.restart(self.ssrc, sequence_number);
                self.sample_jitter(timing);
            }
        }
    }

    /// A.8: J += (|D| - J) / 16, with D the change in relative transit time.
    fn sample_jitter(&mut self, timing: Option<(u32, u32)>) {
        let Some((timestamp, arrival)) = timing else {
            return;
        };
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(last) = self.last_transit.replace(transit) {
            let difference = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter_scaled =
                (self.jitter_scaled + difference).saturating_sub((self.jitter_scaled + 8) >> 4);
        }
    }

    /// The interarrival jitter estimate in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_scaled >> 4).unwrap_or(u32::MAX)
    }

    /// The SSRC received from, once a packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// The report block figures for a receiver report, or `None` before any packet. Moves
    /// the "since the last report" mark used by the loss fraction (RFC 3550 A.3).
    pub fn report(&mut self) -> Option<ReceptionReport> {
        let ssrc = self.ssrc?;
        let expected = self.highest - self.base + 1;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval == 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        Some(ReceptionReport {
            ssrc,
            fraction_lost,
            cumulative_lost: i64::try_from(
                self.lost_before_restart_this_source + self.lost_since_restart(),
            )
            .unwrap_or(i64::MAX),
            extended_highest_sequence: self.highest as u32,
            jitter: self.jitter(),
        })
    }

    fn restart(&mut self, ssrc: Option<u32>, sequence_number: u16) {
        let lost = self.lost_since_restart();
        self.lost_before_restart += lost;
        if ssrc == self.ssrc {
            self.lost_before_restart_this_source += lost;
        }
        self.expected_prior = 0;
        self.received_prior = 0;
        self.last_transit = None;
        self.ssrc = ssrc;
        // Start high enough that reordered packets just before the first one cannot underflow.
        self.base = 1 << 32 | u64::from(sequence_number);
        self.highest = self.base;
        self.received = 1;
    }

    fn lost_since_restart(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        (self.highest - self.base + 1).saturating_sub(self.received)
    }

    /// Cumulative packets lost (expected minus received, never negative per stream).
    pub fn lost(&self) -> u64 {
        self.lost_before_restart + self.lost_since_restart()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gaps_across_the_wrap() {
        let mut statistics = ReceptionStatistics::default();
        for sequence in [65_530u16, 65_531, 65_533, 65_535, 0, 1, 4] {
            statistics.on_packet(1, sequence);
        }
        // Missing: 65532, 65534, 2, 3.
        assert_eq!(statistics.lost(), 4);
        assert_eq!(statistics.out_of_order, 0);
    }

    #[test]
    fn late_packets_reduce_loss_and_duplicates_are_counted() {
        let mut statistics = ReceptionStatistics::default();
        for sequence in [10u16, 12, 11, 12, 12, 13] {
            statistics.on_packet(1, sequence);
        }
        assert_eq!(statistics.lost(), 0);
        assert_eq!(statistics.out_of_order, 1);
        assert_eq!(statistics.duplicates, 2);
    }

    #[test]
    fn big_jumps_and_new_ssrcs_restart_without_inventing_loss() {
        let mut statistics = ReceptionStatistics::default();
        for sequence in [100u16, 102] {
            statistics.on_packet(1, sequence);
        }
        statistics.on_packet(1, 30_000);
        statistics.on_packet(1, 30_001);
        statistics.on_packet(2, 5);
        statistics.on_packet(2, 6);
        assert_eq!(statistics.lost(), 1, "only 101 was lost");
    }

    #[test]
    fn reports_give_the_fraction_lost_since_the_previous_one() {
        let mut statistics = ReceptionStatistics::default();
        assert_eq!(statistics.report(), None);
        // 65530..=65535 then 0..=9 with 4 missing: 16 expected, 12 received.
        for sequence in (65_530u16..=65_535).chain(0..10) {
            if ![65_532, 65_533, 3, 7].contains(&sequence) {
                statistics.on_packet(9, sequence);
            }
        }
        let first = statistics.report().unwrap();
        assert_eq!(first.ssrc, 9);
        assert_eq!(first.cumulative_lost, 4);
        assert_eq!(first.fraction_lost, (4 * 256 / 16) as u8);
        // Extended: one wrap (cycles = 1) and highest 9.
        assert_eq!(first.extended_highest_sequence, 0x0001_0009);
        // Next interval: 10..=19 all there, and the late 7 arrives: nothing lost since.
        statistics.on_packet(9, 7);
        for sequence in 10..20 {
            statistics.on_packet(9, sequence);
        }
        let second = statistics.report().unwrap();
        assert_eq!(second.fraction_lost, 0);
        assert_eq!(second.cumulative_lost, 3);
        // Next: 20..=29 with half missing.
        for sequence in (20..30).step_by(2) {
            statistics.on_packet(9, sequence);
        }
        let third = statistics.report().unwrap();
        assert_eq!(
            third.fraction_lost,
            (4 * 256 / 9) as u8,
            "4 of 9 expected lost"
        );
        assert_eq!(third.cumulative_lost, 3 + 4);
    }

    #[test]
    fn jitter_follows_rfc_3550_a8() {
        // Packets 20 ms (160 units) apart on the sender's clock; arrivals alternate 10 units
        // early and late, so |D| is 20 for every packet after the first.
        let mut statistics = ReceptionStatistics::default();
        let mut expected = 0.0f64;
        for index in 0..200u32 {
            let timestamp = 1_000 + index * 160;
            let offset = if index % 2 == 0 { 0 } else { 20 };
            let arrival = 50_000 + index * 160 + offset;
            statistics.on_packet_at(3, index as u16, Some((timestamp, arrival)));
            if index > 0 {
                expected += (20.0 - expected) / 16.0;
            }
        }
        // The estimate converges on the mean |D| (20 units).
        assert!((f64::from(statistics.jitter()) - expected).abs() <= 1.0);
        assert_eq!(
            statistics.jitter(),
            19,
            "integer form converges just below 20"
        );
        // A steady stream brings it back down.
        for index in 200..400u32 {
            statistics.on_packet_at(
                3,
                index as u16,
                Some((1_000 + index * 160, 50_000 + index * 160)),
            );
        }
        assert_eq!(statistics.jitter(), 0);
    }
}
