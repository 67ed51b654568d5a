//! Fuzz target `sdp`: a received SDP body parsed (RFC 4566) and, when it
//! parses, negotiated as an offer we answer (RFC 3264 §6) and as the answer to
//! our offer (§6.1) (`callhost_media::fuzzing::sdp`).
//! Seeds: `fuzz/corpus/sdp` (bodies cut from the RFC 4475 / RFC 5118 corpora).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    callhost_media::fuzzing::sdp(bytes);
});
