//! Fuzz target `rtp`: one datagram on the RTP port read as RTP (RFC 3550
//! §5.1), its payload as telephone-event blocks (RFC 4733), and as compound
//! RTCP (RFC 3550 §6.1, RFC 5761 §4) (`callhost_media::fuzzing::rtp`); the
//! same bytes, read as a script of datagrams and frame ticks, drive a sans-IO
//! media session (`callhost_media::fuzzing::media_session`).
//! Seeds: `fuzz/corpus/rtp`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    callhost_media::fuzzing::rtp(bytes);
    callhost_media::fuzzing::media_session(bytes);
});
