//! The receive path of [`SessionCore`]: datagrams in (RTP, or RTCP sharing the RTP port per
//! RFC 5761 §4), symmetric-RTP latching, loss and jitter accounting (RFC 3550 A.3, A.8),
//! RFC 4733 digits on arrival, and received audio out.
//!
//! Audio takes one of two ways. Once sending has started the frame clock runs, so audio
//! packets go into the [`crate::jitter::JitterBuffer`] and are decoded as each tick releases
//! them ([`SessionCore::release_received_frame`]): the bridge output, the recordings and the
//! in-band DTMF detector all see them in timestamp order. Before that, nothing would release
//! them, so audio is decoded on arrival (for in-band digits, e.g. in early media) and nothing
//! is buffered.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{
    COMFORT_NOISE_PAYLOAD_TYPE, DigitSource, FRAME_DURATION, FRAME_SAMPLES, SessionCore, bump,
    report_digit,
};
use crate::rtcp;
use crate::rtp;
use crate::session::bridge::AudioFrame;

impl SessionCore {
    /// Handle a received datagram with the frame clock as its arrival time (tests and
    /// callers without a clock): see [`Self::on_datagram_at`].
    pub fn on_datagram(&mut self, source: SocketAddr, datagram: &[u8]) {
        let arrival =
            FRAME_DURATION.saturating_mul(u32::try_from(self.frames_advanced).unwrap_or(u32::MAX));
        self.on_datagram_at(arrival, source, datagram);
    }

    /// Handle a datagram that arrived on the RTP socket at `arrival` (time since the session
    /// started, on the clock [`Self::poll_rtcp`] gets): RTCP is passed on to the RTCP
    /// handling; RTP is latched, counted (loss, jitter), its digits reported and its audio
    /// buffered for playout (or decoded at once before sending starts).
    pub fn on_datagram_at(&mut self, arrival: Duration, source: SocketAddr, datagram: &[u8]) {
        if rtcp::is_rtcp(datagram) {
            // RFC 5761 §4: RTCP on the RTP port. Read it, but keep sending ours to the RTCP
            // port (we never offered rtcp-mux).
            self.receive_rtcp(arrival, None, datagram);
            return;
        }
        let packet = match rtp::parse(datagram) {
            Ok(packet) => packet,
            Err(error) => {
                tracing::trace!(%source, %error, "ignored non-RTP datagram");
                bump(&self.counters.invalid_packets_received, 1);
                return;
            }
        };
        let payload_type = packet.header.payload_type;
        let is_telephone_event = self.negotiated.telephone_event_payload_type.is_some()
            && (Some(payload_type) == self.negotiated.telephone_event_payload_type
                || Some(payload_type) == self.negotiated.local_telephone_event_payload_type);
        let is_audio = payload_type == self.negotiated.codec_payload_type;
        let is_comfort_noise = payload_type == COMFORT_NOISE_PAYLOAD_TYPE;
        if !is_telephone_event && !is_audio && !is_comfort_noise {
            bump(&self.counters.invalid_packets_received, 1);
            return;
        }
        bump(&self.counters.packets_received, 1);
        bump(&self.counters.bytes_received, datagram.len() as u64);
        self.latch.observe(source, packet.header.ssrc);
        let header = packet.header;
        // Telephone-event timestamps mark the event's start, not a sampling instant: no jitter.
        let timing = (!is_telephone_event).then(|| (header.timestamp, self.rtp_time(arrival)));
        self.reception
            .on_packet_at(header.ssrc, header.sequence_number, timing);
        let clock_rate = u64::from(self.negotiated.codec.clock_rate());
        self.counters.jitter_micros.store(
            u64::from(self.reception.jitter()) * 1_000_000 / clock_rate,
            Ordering::Relaxed,
        );
        self.counters
            .packets_lost
            .store(self.reception.lost(), Ordering::Relaxed);
        self.counters.packets_out_of_order.store(
            self.reception.out_of_order + self.reception.duplicates,
            Ordering::Relaxed,
        );
        if is_audio || is_comfort_noise {
            if self.sending {
                self.jitter.push(
                    header.ssrc,
                    header.timestamp,
                    packet.payload,
                    is_comfort_noise,
                    self.reception.jitter(),
                );
                self.counters
                    .late_packets_dropped
                    .store(self.jitter.late_packets, Ordering::Relaxed);
            } else if is_audio {
                self.decode_on_arrival(source, header.ssrc, header.sequence_number, packet.payload);
            }
        }
        if is_telephone_event {
            self.receive_telephone_event(&header, packet.payload);
        }
    }

    /// `arrival` on the negotiated codec's RTP clock (wrapping), for the A.8 transit times.
    fn rtp_time(&self, arrival: Duration) -> u32 {
        let units =
            arrival.as_micros() * u128::from(self.negotiated.codec.clock_rate()) / 1_000_000;
        units as u32
    }

    /// Before sending starts: decode now, for the decoded-frame output and in-band digits.
    fn decode_on_arrival(
        &mut self,
        source: SocketAddr,
        ssrc: u32,
        sequence_number: u16,
        payload: &[u8],
    ) {
        let samples = &mut self.received_audio;
        samples.clear();
        if let Err(error) = self.decoder.decode(payload, samples) {
            tracing::debug!(%source, %error, "undecodable audio payload");
        }
        if let Some(decoded) = &mut self.decoded {
            decoded.push_samples(ssrc, sequence_number, &self.received_audio);
        }
        let samples = std::mem::take(&mut self.received_audio);
        self.detect_inband(&samples);
        self.received_audio = samples;
    }

    /// The jitter buffer's frame for this tick: to the decoded-frame output and the in-band
    /// detector; returned for the recordings. `None` while no stream plays.
    pub(super) fn release_received_frame(&mut self) -> Option<AudioFrame> {
        let frame = self.jitter.next_frame(&mut self.decoder);
        let counters = &self.counters;
        counters
            .frames_concealed
            .store(self.jitter.frames_concealed, Ordering::Relaxed);
        counters
            .playout_delay_micros
            .store(self.jitter.target_delay_micros(), Ordering::Relaxed);
        let Some(frame) = frame else {
            // The received-audio clock runs on while nothing plays, so digit de-duplication
            // compares like with like.
            self.received_samples += FRAME_SAMPLES as u64;
            return None;
        };
        if let Some(decoded) = &mut self.decoded {
            decoded.push_frame(frame);
        }
        self.detect_inband(&frame);
        Some(frame)
    }

    /// Feed received audio to the in-band detector, reporting digits it completes.
    fn detect_inband(&mut self, samples: &[i16]) {
        self.received_samples += samples.len() as u64;
        let digits = self.inband.push(samples);
        if digits.is_empty() {
            return;
        }
        for digit in digits {
            let at = self.received_samples;
            if report_digit(
                &mut self.last_digit,
                &mut self.events,
                digit,
                DigitSource::InBand,
                at,
            ) {
                bump(&self.counters.dtmf_digits_received, 1);
                self.end_recordings_on_digit();
            }
        }
    }

    fn receive_telephone_event(&mut self, header: &rtp::RtpHeader, payload: &[u8]) {
        bump(&self.counters.telephone_event_packets_received, 1);
        let digits_before = self.counters.dtmf_digits_received.load(Ordering::Relaxed);
        let (events, counters, last) = (&mut self.events, &self.counters, &mut self.last_digit);
        // Events are heard on arrival, the audio they came with only after the playout
        // delay: place them where that audio will be on the received-audio clock.
        let delay = if self.sending {
            u64::from(self.jitter.delay()) * FRAME_SAMPLES as u64
        } else {
            0
        };
        let at = self.received_samples + delay;
        self.dtmf_receiver
            .on_packet(header, payload, &mut |received| {
                if report_digit(
                    last,
                    events,
                    received.digit,
                    DigitSource::TelephoneEvent,
                    at,
                ) {
                    bump(&counters.dtmf_digits_received, 1);
                }
            });
        if self.counters.dtmf_digits_received.load(Ordering::Relaxed) != digits_before {
            self.end_recordings_on_digit();
        }
    }
}

#[cfg(test)]
mod tests;
