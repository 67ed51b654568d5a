//! Unit tests of the receive-path validator: every RFC 4475 torture message
//! (shared/corpora/rfc4475) and hand-written edge cases.

use super::*;

fn source() -> SocketAddr {
    "192.0.2.77:5099".parse().expect("address")
}

fn inspector() -> Inspector {
    Inspector::new("callhost-test")
}

/// What we expect for one corpus file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accept,
    Reply(u16),
    Discard,
}

/// Verdicts for every file in the corpus (UDP). Files marked "gap" are
/// answered differently from RFC 4475's preference; see the module docs.
const RFC4475: &[(&str, Expect)] = &[
    ("wsinv", Expect::Accept),
    ("intmeth", Expect::Reply(501)),
    ("esc01", Expect::Accept),
    ("escnull", Expect::Reply(405)),
    ("esc02", Expect::Reply(501)),
    ("lwsdisp", Expect::Accept),
    ("longreq", Expect::Accept),
    ("dblreq", Expect::Reply(405)),
    ("semiuri", Expect::Accept),
    ("transports", Expect::Accept),
    // MESSAGE is allowed (in dialogs); out of one the endpoint answers 405.
    ("mpart01", Expect::Accept),
    ("unreason", Expect::Accept),
    ("noreason", Expect::Accept),
    ("badinv01", Expect::Reply(400)),
    ("clerr", Expect::Reply(400)),
    ("ncl", Expect::Reply(400)),
    ("scalar02", Expect::Reply(400)),
    ("scalarlg", Expect::Discard),
    ("quotbal", Expect::Reply(400)),
    ("ltgtruri", Expect::Reply(400)),
    ("lwsruri", Expect::Reply(400)),
    ("lwsstart", Expect::Reply(400)),
    ("trws", Expect::Reply(400)),
    ("escruri", Expect::Reply(400)),
    ("baddate", Expect::Accept),
    ("regbadct", Expect::Reply(405)),
    ("badaspec", Expect::Reply(400)),
    ("baddn", Expect::Reply(400)),
    ("badvers", Expect::Reply(505)),
    ("mismatch01", Expect::Reply(400)),
    ("mismatch02", Expect::Reply(501)),
    ("bigcode", Expect::Discard),
    ("badbranch", Expect::Accept),
    ("insuf", Expect::Reply(400)),
    ("unkscm", Expect::Reply(416)),
    ("novelsc", Expect::Reply(416)),
    ("unksm2", Expect::Reply(405)),
    ("bext01", Expect::Reply(420)),
    // 415 is decided after acceptance, by the INVITE handler.
    ("invut", Expect::Accept),
    ("regaut01", Expect::Reply(405)),
    ("multi01", Expect::Reply(400)),
    ("mcl01", Expect::Reply(400)),
    ("bcast", Expect::Accept),
    ("zeromf", Expect::Accept),
    ("cparam01", Expect::Reply(405)),
    ("cparam02", Expect::Reply(405)),
    ("regescrt", Expect::Reply(405)),
    // 406 is decided after acceptance, by the INVITE handler.
    ("sdp01", Expect::Accept),
    // RFC 2543 request: over UDP it gets a stand-in From tag and is served.
    ("inv2543", Expect::Accept),
    // Not a request we can answer: no Via, no SIP-Version.
    ("test", Expect::Discard),
];

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/rfc4475")
}

fn verdict_kind(verdict: &Verdict<'_>) -> Expect {
    match verdict {
        Verdict::Accept(_) => Expect::Accept,
        Verdict::Reply(rejection) => Expect::Reply(rejection.status),
        Verdict::Discard(_) => Expect::Discard,
    }
}

#[test]
fn every_rfc4475_file_gets_the_expected_verdict() {
    let dir = corpus_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("RFC 4475 corpus missing at {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        RFC4475.len(),
        "every corpus file has an expectation"
    );
    let mut wrong = Vec::new();
    for path in &files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name");
        let bytes = std::fs::read(path).expect("read corpus file");
        let expected = RFC4475
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"))
            .1;
        for transport in [Transport::Udp, Transport::Tcp] {
            let verdict = inspector().inspect(&bytes, transport, source());
            let got = verdict_kind(&verdict);
            // Over TCP, a message without Content-Length is not framed at all;
            // the stream framer answers it, so only UDP verdicts are fixed.
            if transport == Transport::Udp && got != expected {
                wrong.push(format!("{name}: expected {expected:?}, got {verdict:?}"));
            }
            if let Verdict::Accept(accepted) = &verdict {
                rsipstack::sip::SipMessage::try_from(&accepted[..])
                    .unwrap_or_else(|e| panic!("{name}: accepted bytes do not parse: {e}"));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

/// RFC 5118 (IPv6) messages in their wire form (CRLF, corrected
/// Content-Length; see shared/corpora/rfc5118/manifest.tsv), over UDP.
const RFC5118: &[(&str, Expect)] = &[
    // REGISTER: this endpoint is no registrar (405), whatever the URI holds.
    ("ipv6-good", Expect::Reply(405)),
    // §4.2: an IPv6 address without [] is no hostport: 400 before the method.
    ("ipv6-bad", Expect::Reply(400)),
    ("port-ambiguous", Expect::Reply(405)),
    ("port-unambiguous", Expect::Reply(405)),
    // §4.5: received=[…] is tolerated.
    ("via-received-param-with-delim", Expect::Accept),
    ("via-received-param-no-delim", Expect::Accept),
    ("ipv6-in-sdp", Expect::Accept),
    ("mult-ip-in-header", Expect::Accept),
    ("mult-ip-in-sdp", Expect::Accept),
    ("ipv4-mapped-ipv6", Expect::Accept),
    // §4.10: tolerated, read as [2001:db8::192.0.2.1].
    ("ipv6-bug-abnf-3-colons", Expect::Accept),
    ("ipv6-correct-abnf-2-colons", Expect::Accept),
];

#[test]
fn every_rfc5118_message_gets_the_expected_verdict() {
    let dir = corpus_dir().join("../rfc5118/wire");
    let mut wrong = Vec::new();
    for (name, expected) in RFC5118 {
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("RFC 5118 corpus file {name}: {e}"));
        let verdict = inspector().inspect(&bytes, Transport::Udp, source());
        if verdict_kind(&verdict) != *expected {
            wrong.push(format!("{name}: expected {expected:?}, got {verdict:?}"));
        }
    }
    let files = std::fs::read_dir(&dir)
        .expect("RFC 5118 wire corpus")
        .count();
    assert_eq!(
        files,
        RFC5118.len(),
        "every RFC 5118 file has an expectation"
    );
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn request_uri_hostport_is_checked_before_the_method() {
    for (uri, expected) in [
        ("sip:2001:db8::10", Some(400)),
        ("sip:user@example.com:50x", Some(400)),
        ("sip:user@:5060", Some(400)),
        ("sip:[2001:db8::10]:5070", Some(405)),
        ("sip:user;par=u%40example.net@example.com", Some(405)),
        // Not SIP: judged after the method (416 would come later).
        ("tel:+1-201-555-0123", Some(405)),
    ] {
        let request = format!(
            "SUBSCRIBE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKu1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: u1\r\n\
             CSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        let verdict = inspector().inspect(request.as_bytes(), Transport::Udp, source());
        let got = match verdict {
            Verdict::Reply(rejection) => Some(rejection.status),
            _ => None,
        };
        assert_eq!(got, expected, "{uri}");
    }
}

#[test]
fn replies_copy_the_transaction_headers_and_add_a_to_tag() {
    let bytes = std::fs::read(corpus_dir().join("intmeth.dat")).expect("read");
    let Verdict::Reply(rejection) = inspector().inspect(&bytes, Transport::Udp, source()) else {
        panic!("intmeth must be answered");
    };
    let text = String::from_utf8(rejection.response).expect("utf-8");
    assert!(
        text.starts_with("SIP/2.0 501 Not Implemented\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, UPDATE\r\n"),
        "{text}"
    );
    assert!(text.contains("Server: callhost-test\r\n"), "{text}");
    assert!(
        text.contains("CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"),
        "{text}"
    );
    let to = text
        .lines()
        .find(|l| l.starts_with("To:"))
        .expect("To header");
    assert!(to.contains(";tag="), "{to}");
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
    // No rport in the Via: the Via sent-by port (default 5060) at the source IP.
    assert_eq!(
        rejection.destination,
        "192.0.2.77:5060".parse().expect("address")
    );
}

#[test]
fn bad_extension_lists_the_unsupported_option_tags() {
    let bytes = std::fs::read(corpus_dir().join("bext01.dat")).expect("read");
    let Verdict::Reply(rejection) = inspector().inspect(&bytes, Transport::Udp, source()) else {
        panic!("bext01 must be answered");
    };
    let text = String::from_utf8(rejection.response).expect("utf-8");
    assert!(
        text.contains("Unsupported: nothingSupportsThis, nothingSupportsThisEither\r\n"),
        "{text}"
    );
}

#[test]
fn udp_datagram_is_cut_at_content_length() {
    let bytes = std::fs::read(corpus_dir().join("dblreq.dat")).expect("read");
    // The REGISTER is refused; its trailing INVITE never becomes a request.
    let Verdict::Reply(rejection) = inspector().inspect(&bytes, Transport::Udp, source()) else {
        panic!("dblreq must be answered");
    };
    let text = String::from_utf8(rejection.response).expect("utf-8");
    assert!(text.contains("CSeq: 8 REGISTER\r\n"), "{text}");
    assert!(!text.contains(" INVITE\r\n"), "{text}");
}

const OPTIONS: &str = "OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKabc\r\n\
From: <sip:a@127.0.0.1>;tag=1\r\n\
To: <sip:svc@127.0.0.1>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n";

fn with_tail(tail: &str) -> Vec<u8> {
    format!("{OPTIONS}{tail}").into_bytes()
}

#[test]
fn well_formed_request_is_accepted_and_canonicalised() {
    let request = with_tail("Content-Length: 0\r\n\r\n");
    let verdict = inspector().inspect(&request, Transport::Udp, source());
    let Verdict::Accept(bytes) = verdict else {
        panic!("expected accept, got {verdict:?}");
    };
    assert!(bytes.starts_with(b"OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\n"));
    // UDP without Content-Length: the rest of the datagram is the body.
    let request = with_tail("\r\nhello");
    let verdict = inspector().inspect(&request, Transport::Udp, source());
    let Verdict::Accept(bytes) = verdict else {
        panic!("expected accept, got {verdict:?}");
    };
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(text.ends_with("Content-Length: 5\r\n\r\nhello"), "{text}");
}

#[test]
fn edge_cases_get_their_status() {
    let cases: &[(&str, Transport, Expect)] = &[
        // rport requested: answered at the source port.
        (
            "Require: 100rel\r\nContent-Length: 0\r\n\r\n",
            Transport::Udp,
            Expect::Reply(420),
        ),
        (
            "Content-Length: -1\r\n\r\n",
            Transport::Udp,
            Expect::Reply(400),
        ),
        (
            "Content-Length: 10\r\n\r\nshort",
            Transport::Udp,
            Expect::Reply(400),
        ),
        ("\r\n", Transport::Tcp, Expect::Reply(400)),
        ("Content-Length: 0\r\n", Transport::Udp, Expect::Reply(400)),
        (
            "Max-Forwards: many\r\nContent-Length: 0\r\n\r\n",
            Transport::Udp,
            Expect::Reply(400),
        ),
    ];
    for (tail, transport, expected) in cases {
        let request = with_tail(tail);
        let verdict = inspector().inspect(&request, *transport, source());
        assert_eq!(
            verdict_kind(&verdict),
            *expected,
            "tail {tail:?}: {verdict:?}"
        );
        if let Verdict::Reply(rejection) = verdict {
            assert_eq!(
                rejection.destination,
                source(),
                "rport: reply to the source"
            );
        }
    }
}

#[test]
fn lowercase_method_is_an_extension_method() {
    let request = OPTIONS
        .replace("OPTIONS sip", "options sip")
        .replace("1 OPTIONS", "1 options");
    let request = format!("{request}l: 0\r\n\r\n");
    let verdict = inspector().inspect(request.as_bytes(), Transport::Udp, source());
    assert_eq!(verdict_kind(&verdict), Expect::Reply(501));
}

#[test]
fn garbage_and_broken_acks_are_discarded() {
    for garbage in [
        &b"hello world"[..],
        &b"\x00\x01\x02\xff\r\n\r\n"[..],
        &b"INVITE\r\n\r\n"[..],
        &b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: x\r\n\r\n"[..],
    ] {
        let verdict = inspector().inspect(garbage, Transport::Udp, source());
        assert_eq!(verdict_kind(&verdict), Expect::Discard, "{garbage:?}");
    }
    // Keepalives pass through to rsipstack, which answers them.
    assert_eq!(
        verdict_kind(&inspector().inspect(b"\r\n\r\n", Transport::Udp, source())),
        Expect::Accept
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic pseudo-random walk over mutations of real messages.
    let seeds: Vec<Vec<u8>> = RFC4475
        .iter()
        .filter_map(|(name, _)| std::fs::read(corpus_dir().join(format!("{name}.dat"))).ok())
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..4000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..(next() % 8) {
            let at = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 if !bytes.is_empty() => bytes[at] = next() as u8,
                1 => bytes.insert(
                    at.min(bytes.len()),
                    b"\r\n;:<>\"%, "[(next() % 10) as usize],
                ),
                _ => bytes.truncate(at),
            }
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            let _ = inspector().inspect(&bytes, transport, source());
        }
    }
}

#[test]
fn too_large_answers_requests_only() {
    let request = with_tail("Content-Length: 0\r\n\r\n");
    let rejection = inspector()
        .too_large(&request, source())
        .expect("answerable");
    assert_eq!(rejection.status, 513);
    assert!(
        rejection
            .response
            .starts_with(b"SIP/2.0 513 Message Too Large\r\n")
    );
    assert!(
        inspector()
            .too_large(b"SIP/2.0 200 OK\r\n\r\n", source())
            .is_none()
    );
    assert!(inspector().too_large(b"garbage", source()).is_none());
}

/// The From header line of accepted bytes.
fn from_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|line| line.starts_with("From:"))
        .expect("From line")
        .to_string()
}

#[test]
fn rfc2543_request_gets_a_stable_stand_in_from_tag_over_udp_only() {
    let bytes = std::fs::read(corpus_dir().join("inv2543.dat")).expect("corpus");
    let Verdict::Accept(first) = inspector().inspect(&bytes, Transport::Udp, source()) else {
        panic!("inv2543 not accepted over UDP");
    };
    let from = from_line(&first);
    assert!(
        from.starts_with(
            "From: <sip:+13035551111@ift.client.example.net;user=phone>;tag=callhost-rfc2543-"
        ),
        "{from}"
    );
    // A retransmission, and the ACK or BYE of the same dialog (same Call-ID
    // and From URI), get the same tag; another Call-ID gets another.
    let Verdict::Accept(again) = inspector().inspect(&bytes, Transport::Udp, source()) else {
        panic!("retransmission not accepted");
    };
    assert_eq!(from_line(&again), from);
    let other = String::from_utf8_lossy(&bytes).replace("inv2543.1717@", "other.1@");
    let Verdict::Accept(other) = inspector().inspect(other.as_bytes(), Transport::Udp, source())
    else {
        panic!("second request not accepted");
    };
    assert_ne!(from_line(&other), from);
    // A tagged From is left alone.
    let tagged = with_tail("Content-Length: 0\r\n\r\n");
    let Verdict::Accept(tagged_out) = inspector().inspect(&tagged, Transport::Udp, source()) else {
        panic!("tagged request not accepted");
    };
    assert!(!from_line(&tagged_out).contains("rfc2543"));
    // What rsipstack sends back loses the stand-in again.
    let sent = crate::wire::strip_rfc2543_tags(&first);
    let original_from = "From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n";
    assert!(
        String::from_utf8_lossy(&sent).contains(original_from),
        "{}",
        String::from_utf8_lossy(&sent)
    );
    // Over a stream the stand-in could not be taken back: refused.
    let text = String::from_utf8_lossy(&bytes);
    let body = text.len() - text.find("\r\n\r\n").expect("header end") - 4;
    let framed = text.replace(
        "Content-Type: application/sdp\r\n",
        &format!("Content-Type: application/sdp\r\nContent-Length: {body}\r\n"),
    );
    match inspector().inspect(framed.as_bytes(), Transport::Tcp, source()) {
        Verdict::Reply(rejection) => {
            assert_eq!(
                (rejection.status, rejection.phrase),
                (400, "Missing From tag")
            )
        }
        verdict => panic!("expected 400 over TCP, got {verdict:?}"),
    }
}
