//! Replays the `sip_message` fuzz target's inputs through its entry function,
//! `callhost_sip::fuzzing::receive`: the committed seed corpus
//! (`fuzz/corpus/sip_message`: RFC 4475 and RFC 5118 messages) and every crash
//! input the fuzzer ever found (`fuzz/regressions/sip_message`, one file per
//! fixed crash). A replayed input must not panic; the RFC 4475 seeds must also
//! get the verdict the validator's own table expects (read from
//! `src/validate/tests.rs`, so the expectations live in one place).
//!
//! Depends on callhost-sip with the `fuzzing` feature (a dev-dependency on
//! itself). RFC 3261 §8.2, §18.3; RFC 4475; RFC 5118.

use std::path::Path;

use callhost_sip::Transport;
use callhost_sip::fuzzing::{Outcome, receive};
use replay::{fuzz_dir, inputs};

#[path = "../../../fuzz/replay.rs"]
mod replay;

/// The expected UDP verdicts of the RFC 4475 messages, parsed from the
/// `RFC4475` table of the validator's unit tests: `("name", Expect::...)`.
fn rfc4475_expectations() -> Vec<(String, Outcome)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/validate/tests.rs");
    let source = std::fs::read_to_string(&path).expect("read validate/tests.rs");
    let start = source
        .find("const RFC4475")
        .expect("the RFC4475 table in validate/tests.rs");
    let table = &source[start..];
    let table = &table[..table.find("];").expect("end of the RFC4475 table")];
    let code: String = table
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut expectations = Vec::new();
    let mut rest = code.as_str();
    while let Some(open) = rest.find("(\"") {
        rest = &rest[open + 2..];
        let close = rest.find('"').expect("closing quote of a file name");
        let name = rest[..close].to_string();
        rest = rest[close + 1..].trim_start_matches([',', ' ', '\t']);
        let outcome = if let Some(after) = rest.strip_prefix("Expect::Accept") {
            rest = after;
            Outcome::Accepted
        } else if let Some(after) = rest.strip_prefix("Expect::Discard") {
            rest = after;
            Outcome::Discarded
        } else if let Some(after) = rest.strip_prefix("Expect::Reply(") {
            let end = after.find(')').expect("closing parenthesis of Reply");
            let status = after[..end].trim().parse().expect("a status code");
            rest = &after[end..];
            Outcome::Replied { status }
        } else {
            panic!(
                "unreadable expectation for {name}: {}",
                rest.chars().take(40).collect::<String>()
            );
        };
        expectations.push((name, outcome));
    }
    expectations
}

#[test]
fn seed_corpus_replays_without_panics() {
    let seeds = inputs(&fuzz_dir("corpus", "sip_message"));
    assert!(
        seeds.len() >= 50,
        "seed corpus missing: {} files",
        seeds.len()
    );
    for (name, bytes) in &seeds {
        for transport in [Transport::Udp, Transport::Tcp] {
            // A panic here names the input through the test's failure output.
            let outcome = receive(bytes, transport);
            if name.starts_with("rfc5118-") && transport == Transport::Udp {
                // Every RFC 5118 message is a request with Via and CSeq: it is
                // accepted or answered, never dropped silently.
                assert_ne!(outcome, Outcome::Discarded, "{name}");
            }
        }
    }
}

#[test]
fn rfc4475_seeds_get_the_validators_expected_verdicts() {
    let expectations = rfc4475_expectations();
    assert!(
        expectations.len() >= 40,
        "the RFC4475 table was not read: {} entries",
        expectations.len()
    );
    let seeds = inputs(&fuzz_dir("corpus", "sip_message"));
    let mut wrong = Vec::new();
    for (name, expected) in &expectations {
        let file = format!("{name}.dat");
        let (_, bytes) = seeds
            .iter()
            .find(|(seed, _)| *seed == file)
            .unwrap_or_else(|| panic!("{file} is not in the seed corpus"));
        let got = receive(bytes, Transport::Udp);
        if got != *expected {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

/// The crash inputs, each with the verdict it gets since its fix (UDP and TCP).
const CRASHES: &[(&str, Outcome)] = &[
    // `str` slicing inside a multi-byte character of the SIP-Version
    // (validate.rs, 505 check): now a malformed SIP-Version.
    (
        "sip-version-multibyte-char-at-byte-4",
        Outcome::Replied { status: 400 },
    ),
];

#[test]
fn crash_inputs_replay_with_their_verdicts() {
    let crashes = inputs(&fuzz_dir("regressions", "sip_message"));
    assert_eq!(
        crashes.len(),
        CRASHES.len(),
        "every file in fuzz/regressions/sip_message has an entry in CRASHES"
    );
    for (name, bytes) in &crashes {
        let expected = CRASHES
            .iter()
            .find(|(crash, _)| crash == name)
            .unwrap_or_else(|| panic!("no expectation for crash input {name}"))
            .1;
        for transport in [Transport::Udp, Transport::Tcp] {
            assert_eq!(
                receive(bytes, transport),
                expected,
                "{name} over {transport}"
            );
        }
    }
}
