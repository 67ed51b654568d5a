//! Replays the media fuzz targets' inputs through their entry functions in
//! `callhost_media::fuzzing` (`sdp`, `rtp` + `media_session`, `wav`): the
//! committed seed corpora (`fuzz/corpus/<target>`) and every crash input the
//! fuzzer ever found (`fuzz/regressions/<target>`, one file per fixed crash).
//! A replayed input must not panic; the seeds must also still be what they
//! were written to be (offers that negotiate, packets that parse, prompts that
//! decode), so the fuzzer starts from inputs that reach deep code.
//!
//! Depends on callhost-media with the `fuzzing` feature (a dev-dependency on
//! itself). RFC 4566, RFC 3264, RFC 3550, RFC 4733, RFC 5761.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use callhost_media::Codec;
use callhost_media::fuzzing;
use callhost_media::sdp::{SessionDescription, negotiate};
use callhost_media::{Prompt, rtcp, rtp};
use replay::{fuzz_dir, inputs};

#[path = "../../../fuzz/replay.rs"]
mod replay;

/// Seeds and crash inputs of one target; the seed corpus must not be empty.
fn all_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let seeds = inputs(&fuzz_dir("corpus", target));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let mut all = seeds;
    all.extend(inputs(&fuzz_dir("regressions", target)));
    all
}

#[test]
fn sdp_inputs_replay_and_the_written_offers_negotiate() {
    for (name, bytes) in all_inputs("sdp") {
        println!("replaying sdp/{name}");
        fuzzing::sdp(&bytes);
    }
    // The hand-written offers reach the answer builder.
    for (name, local_ip) in [
        ("pcmu-pcma-te.sdp", IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ("opus-g722-rtcp.sdp", IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ("hold-ipv6-video.sdp", IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ] {
        let text = std::fs::read_to_string(fuzz_dir("corpus", "sdp").join(name)).expect("read");
        let offer = SessionDescription::parse(&text).expect("seed parses");
        negotiate(&offer, &Codec::ALL, local_ip).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn rtp_inputs_replay_and_the_packets_parse() {
    for (name, bytes) in all_inputs("rtp") {
        println!("replaying rtp/{name}");
        fuzzing::rtp(&bytes);
        fuzzing::media_session(&bytes);
        if name.starts_with("rtcp-") {
            let packets = rtcp::parse_compound(&bytes).expect("RTCP seed parses");
            assert!(packets.len() >= 2, "{name}: {packets:?}");
        } else if name.starts_with("pcm") || name.starts_with("te-") || name.starts_with("csrc") {
            rtp::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn wav_inputs_replay_and_the_prompts_decode() {
    for (name, bytes) in all_inputs("wav") {
        println!("replaying wav/{name}");
        fuzzing::wav(&bytes);
        if name.ends_with(".wav") {
            let prompt = Prompt::from_wav_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!prompt.samples().is_empty(), "{name}");
        }
    }
}
