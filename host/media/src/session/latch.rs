//! Symmetric RTP (RFC 4961 practice for NAT traversal): send to where the peer's RTP comes from.
//!
//! Before any RTP arrives we send to the SDP address. A new source takes over only after
//! [`LATCH_PACKET_COUNT`] consecutive valid packets from it with one SSRC, with no packet from
//! the current destination in between, so a single stray packet never moves the stream.
//! Pure state machine, no I/O.

use std::net::SocketAddr;

/// Consecutive packets from a new source needed to move the send address there.
pub const LATCH_PACKET_COUNT: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct Candidate {
    source: SocketAddr,
    ssrc: u32,
    packets: u8,
}

/// Where to send RTP for one session.
#[derive(Debug, Clone)]
pub struct RemoteAddressLatch {
    enabled: bool,
    signalled: SocketAddr,
    latched: Option<SocketAddr>,
    candidate: Option<Candidate>,
}

impl RemoteAddressLatch {
    /// Start at the SDP address; `enabled` = symmetric RTP on.
    pub fn new(signalled: SocketAddr, enabled: bool) -> Self {
        Self {
            enabled,
            signalled,
            latched: None,
            candidate: None,
        }
    }

    /// The current send address.
    pub fn destination(&self) -> SocketAddr {
        self.latched.unwrap_or(self.signalled)
    }

    /// True if symmetric RTP (and so RTCP) latching is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// True once the destination came from received RTP rather than SDP.
    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }

    /// A new SDP address (re-offer). A changed address forgets the latch; the same one keeps it.
    pub fn set_signalled(&mut self, signalled: SocketAddr) {
        if signalled != self.signalled {
            self.signalled = signalled;
            self.latched = None;
            self.candidate = None;
        }
    }

    /// Observe a valid RTP packet (negotiated payload type) from `source`.
    pub fn observe(&mut self, source: SocketAddr, ssrc: u32) {
        if !self.enabled {
            return;
        }
        if source == self.destination() {
            self.candidate = None;
            return;
        }
        let candidate = match self.candidate {
            Some(candidate) if candidate.source == source && candidate.ssrc == ssrc => Candidate {
                packets: candidate.packets.saturating_add(1),
                ..candidate
            },
            _ => Candidate {
                source,
                ssrc,
                packets: 1,
            },
        };
        if candidate.packets >= LATCH_PACKET_COUNT {
            tracing::debug!(from = %self.destination(), to = %source, "symmetric RTP: latched to packet source");
            self.latched = Some(source);
            self.candidate = None;
        } else {
            self.candidate = Some(candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn needs_consecutive_packets_from_one_source_and_ssrc() {
        let sdp = address("10.0.0.1:4000");
        let nat = address("203.0.113.5:31000");
        let stray = address("198.51.100.9:9");
        let mut latch = RemoteAddressLatch::new(sdp, true);
        latch.observe(stray, 1);
        latch.observe(nat, 7);
        latch.observe(nat, 7);
        assert_eq!(latch.destination(), sdp, "two packets are not enough");
        latch.observe(nat, 8); // new SSRC restarts the count
        latch.observe(nat, 8);
        assert_eq!(latch.destination(), sdp);
        latch.observe(nat, 8);
        assert_eq!(latch.destination(), nat);
        assert!(latch.is_latched());
        // One stray packet does not flap the stream, and packets from the latched source reset it.
        latch.observe(stray, 1);
        latch.observe(nat, 8);
        latch.observe(stray, 1);
        latch.observe(stray, 1);
        assert_eq!(latch.destination(), nat);
    }

    #[test]
    fn packets_from_the_sdp_address_keep_it_and_reoffers_reset() {
        let sdp = address("10.0.0.1:4000");
        let other = address("10.0.0.2:4000");
        let mut latch = RemoteAddressLatch::new(sdp, true);
        for _ in 0..2 {
            latch.observe(other, 1);
            latch.observe(sdp, 2); // the real stream interleaves: never latch away
        }
        latch.observe(other, 1);
        assert_eq!(latch.destination(), sdp);
        for _ in 0..3 {
            latch.observe(other, 1);
        }
        assert_eq!(latch.destination(), other);
        latch.set_signalled(sdp);
        assert_eq!(
            latch.destination(),
            other,
            "same SDP address keeps the latch"
        );
        let moved = address("10.0.0.3:5000");
        latch.set_signalled(moved);
        assert_eq!(latch.destination(), moved, "new SDP address starts over");
    }

    #[test]
    fn disabled_latch_always_uses_sdp() {
        let sdp = address("10.0.0.1:4000");
        let mut latch = RemoteAddressLatch::new(sdp, false);
        for _ in 0..10 {
            latch.observe(address("10.9.9.9:1"), 1);
        }
        assert_eq!(latch.destination(), sdp);
    }
}
