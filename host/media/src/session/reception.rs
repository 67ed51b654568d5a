//! Received-stream sequence accounting in the spirit of RFC 3550 Appendix A.1/A.3:
//! extended highest sequence number, expected vs received, reordering and duplicates.
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
}

impl ReceptionStatistics {
    /// Account for one packet.
    pub fn on_packet(&mut self, ssrc: u32, sequence_number: u16) {
        if self.ssrc != Some(ssrc) {
            self.restart(Some(ssrc), sequence_number);
            return;
        }
        let delta = sequence_number.wrapping_sub(self.highest as u16);
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
            _ => self.restart(self.ssrc, sequence_number),
        }
    }

    fn restart(&mut self, ssrc: Option<u32>, sequence_number: u16) {
        self.lost_before_restart += self.lost_since_restart();
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
}
