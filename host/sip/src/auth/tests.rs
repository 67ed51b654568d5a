//! Digest computations checked against the RFCs' own worked examples:
//! RFC 2617 §3.5 (MD5, qop=auth) and RFC 7616 §3.9.1 (MD5 and SHA-256).

use super::*;

fn mufasa(password: &str) -> Credentials {
    Credentials {
        username: "Mufasa".to_string(),
        password: password.to_string(),
        realm: None,
    }
}

/// The directive `name` of a credentials header value.
fn directive<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let body = header.strip_prefix("Digest ")?;
    split_directives(body).into_iter().find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

fn split_directives(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[test]
fn rfc2617_section_3_5_example() {
    let challenge = DigestChallenge::parse(
        "Digest\n realm=\"testrealm@host.com\",\n qop=\"auth,auth-int\",\n \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\n \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .expect("parse");
    assert_eq!(challenge.realm, "testrealm@host.com");
    assert_eq!(challenge.algorithm, DigestAlgorithm::Md5);
    assert_eq!(challenge.qop_options, vec!["auth", "auth-int"]);
    assert_eq!(challenge.qop(), Ok(Some(Qop::Auth)));
    let header = challenge
        .authorization_with(
            "GET",
            "/dir/index.html",
            &mufasa("Circle Of Life"),
            b"",
            "0a4f113b",
            1,
        )
        .expect("authorization");
    assert_eq!(
        directive(&header, "response"),
        Some("6629fae49393a05397450978507c4ef1"),
        "{header}"
    );
    assert_eq!(directive(&header, "nc"), Some("00000001"));
    assert_eq!(directive(&header, "qop"), Some("auth"));
    assert_eq!(directive(&header, "cnonce"), Some("0a4f113b"));
    assert_eq!(
        directive(&header, "opaque"),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    assert_eq!(directive(&header, "uri"), Some("/dir/index.html"));
    assert_eq!(directive(&header, "username"), Some("Mufasa"));
    // qop and nc are tokens, never quoted (RFC 7616 §3.4).
    assert!(header.contains(", qop=auth,"), "{header}");
    assert!(header.contains(", nc=00000001,"), "{header}");
}

const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

fn rfc7616_challenge(algorithm: &str) -> DigestChallenge {
    DigestChallenge::parse(&format!(
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
         algorithm={algorithm}, nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
    ))
    .expect("parse")
}

#[test]
fn rfc7616_section_3_9_1_md5_and_sha256() {
    for (algorithm, expected) in [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        (
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let challenge = rfc7616_challenge(algorithm);
        let header = challenge
            .authorization_with(
                "GET",
                "/dir/index.html",
                &mufasa("Circle of Life"),
                b"",
                RFC7616_CNONCE,
                1,
            )
            .expect("authorization");
        assert_eq!(directive(&header, "response"), Some(expected), "{header}");
        assert_eq!(directive(&header, "algorithm"), Some(algorithm));
        assert_eq!(directive(&header, "opaque"), Some(RFC7616_OPAQUE));
    }
}

#[test]
fn wrong_password_changes_the_response() {
    let challenge = rfc7616_challenge("SHA-256");
    let right = challenge
        .authorization_with(
            "GET",
            "/dir/index.html",
            &mufasa("Circle of Life"),
            b"",
            RFC7616_CNONCE,
            1,
        )
        .expect("authorization");
    let wrong = challenge
        .authorization_with(
            "GET",
            "/dir/index.html",
            &mufasa("Circle of life"),
            b"",
            RFC7616_CNONCE,
            1,
        )
        .expect("authorization");
    assert_ne!(directive(&right, "response"), directive(&wrong, "response"));
}

/// RFC 7616 §3.9.1's inputs with the other algorithms and with auth-int,
/// against values computed independently (OpenSSL and Python hashlib, as
/// published with SIPp's digest tests).
#[test]
fn session_variants_and_auth_int_match_independent_values() {
    let cases = [
        (
            "MD5-sess",
            "GET",
            "/dir/index.html",
            1,
            "auth",
            "",
            "e783283f46242139c486a698fec7211d",
        ),
        (
            "SHA-256-sess",
            "GET",
            "/dir/index.html",
            1,
            "auth",
            "",
            "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7",
        ),
        (
            "SHA-512-256",
            "GET",
            "/dir/index.html",
            1,
            "auth",
            "",
            "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0",
        ),
        (
            "SHA-512-256-sess",
            "GET",
            "/dir/index.html",
            1,
            "auth",
            "",
            "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e",
        ),
        (
            "MD5",
            "INVITE",
            "sip:bob@example.org",
            2,
            "auth-int",
            "v=0\r\n",
            "3dbb0971468cf612bdccd7dff696c5e6",
        ),
        (
            "SHA-256",
            "INVITE",
            "sip:bob@example.org",
            2,
            "auth-int",
            "v=0\r\n",
            "21468b02aafd4fe0a3d84bfddaf3618cc087adff4bb3c92d0a5f99c3035fcb9a",
        ),
        (
            "MD5-sess",
            "INVITE",
            "sip:bob@example.org",
            2,
            "auth-int",
            "v=0\r\n",
            "11713a2ffc80446ab4c404a4a997b69c",
        ),
    ];
    for (algorithm, method, uri, nonce_count, qop, body, expected) in cases {
        let mut challenge = rfc7616_challenge(algorithm);
        challenge.qop_options = vec![qop.to_string()];
        let header = challenge
            .authorization_with(
                method,
                uri,
                &mufasa("Circle of Life"),
                body.as_bytes(),
                RFC7616_CNONCE,
                nonce_count,
            )
            .expect("authorization");
        assert_eq!(
            directive(&header, "response"),
            Some(expected),
            "{algorithm} {qop}"
        );
        assert_eq!(directive(&header, "qop"), Some(qop));
    }
}

#[test]
fn legacy_challenge_without_qop() {
    let challenge = DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\"").expect("parse");
    assert_eq!(challenge.qop(), Ok(None));
    let header = challenge
        .authorization_with("INVITE", "sip:b@h", &mufasa("p"), b"", "c", 1)
        .expect("authorization");
    let h = |text: &str| DigestAlgorithm::Md5.hash(text.as_bytes());
    let expected = h(&format!("{}:n:{}", h("Mufasa:r:p"), h("INVITE:sip:b@h")));
    assert_eq!(directive(&header, "response"), Some(expected.as_str()));
    assert!(!header.contains("cnonce"), "{header}");
    assert!(!header.contains("nc="), "{header}");
    // A -sess algorithm needs a cnonce, hence a qop.
    let sess = DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess")
        .expect("parse");
    assert!(matches!(sess.qop(), Err(AuthError::UnsupportedQop { .. })));
}

#[test]
fn userhash_hashes_the_user_name() {
    let challenge = DigestChallenge::parse(
        "Digest realm=\"api@example.org\", nonce=\"n\", qop=auth, algorithm=SHA-256, userhash=true",
    )
    .expect("parse");
    let header = challenge
        .authorization_with("GET", "/", &mufasa("p"), b"", "c", 1)
        .expect("authorization");
    let expected = DigestAlgorithm::Sha256.hash(b"Mufasa:api@example.org");
    assert_eq!(directive(&header, "username"), Some(expected.as_str()));
    assert!(header.ends_with(", userhash=true"), "{header}");
}

#[test]
fn parsing_edge_cases() {
    let challenge = DigestChallenge::parse(
        "digest REALM=\"a \\\"quoted\\\", realm\",nonce=abc ,  stale=TRUE,algorithm=sha-256",
    )
    .expect("parse");
    assert_eq!(challenge.realm, "a \"quoted\", realm");
    assert_eq!(challenge.nonce, "abc");
    assert!(challenge.stale);
    assert_eq!(challenge.algorithm, DigestAlgorithm::Sha256);
    assert_eq!(
        DigestChallenge::parse("Basic realm=\"x\""),
        Err(AuthError::NotDigest)
    );
    assert_eq!(
        DigestChallenge::parse("Digest nonce=\"x\""),
        Err(AuthError::MissingParameter { parameter: "realm" })
    );
    assert!(matches!(
        DigestChallenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=AKAv1-MD5"),
        Err(AuthError::UnsupportedAlgorithm { .. })
    ));
    assert!(matches!(
        DigestChallenge::parse("Digest realm=\"x, nonce=\"y\""),
        Err(AuthError::Malformed { .. })
    ));
    // Quoted values are escaped on the way out.
    let header = challenge
        .authorization_with("BYE", "sip:x", &mufasa("p"), b"", "c", 1)
        .expect("authorization");
    assert!(
        header.contains("realm=\"a \\\"quoted\\\", realm\""),
        "{header}"
    );
}

#[test]
fn choose_prefers_strong_algorithms_and_the_right_realm() {
    let headers = [
        "Digest realm=\"a\", nonce=\"1\", algorithm=MD5, qop=\"auth\"",
        "Digest realm=\"a\", nonce=\"2\", algorithm=SHA-256, qop=\"auth\", \
         Digest realm=\"b\", nonce=\"3\", algorithm=SHA-512-256, qop=\"auth\"",
        "Digest realm=\"a\", nonce=\"4\", algorithm=AKAv1-MD5",
    ];
    let any = mufasa("p");
    let chosen = DigestChallenge::choose(headers, &any).expect("choose");
    assert_eq!(chosen.nonce, "3");
    let realm_a = Credentials {
        realm: Some("a".to_string()),
        ..mufasa("p")
    };
    let chosen = DigestChallenge::choose(headers, &realm_a).expect("choose");
    assert_eq!(chosen.nonce, "2");
    let realm_c = Credentials {
        realm: Some("c".to_string()),
        ..mufasa("p")
    };
    assert!(matches!(
        DigestChallenge::choose(headers, &realm_c),
        Err(AuthError::RealmMismatch { .. })
    ));
    assert_eq!(
        DigestChallenge::choose(["Basic realm=\"x\""], &any),
        Err(AuthError::NotDigest)
    );
}

#[test]
fn sessions_count_nonces_and_vary_cnonces() {
    let challenge = rfc7616_challenge("MD5");
    let mut session = DigestSession::new(challenge.clone());
    let credentials = mufasa("Circle of Life");
    let first = session
        .authorization("INVITE", "sip:b@h", &credentials, b"")
        .expect("first");
    let second = session
        .authorization("BYE", "sip:b@h", &credentials, b"")
        .expect("second");
    assert_eq!(directive(&first, "nc"), Some("00000001"));
    assert_eq!(directive(&second, "nc"), Some("00000002"));
    assert_ne!(directive(&first, "cnonce"), directive(&second, "cnonce"));
    session.update(challenge.clone());
    let third = session
        .authorization("BYE", "sip:b@h", &credentials, b"")
        .expect("third");
    assert_eq!(directive(&third, "nc"), Some("00000003"), "same nonce");
    let mut fresh = challenge;
    fresh.nonce = "another".to_string();
    session.update(fresh);
    let fourth = session
        .authorization("BYE", "sip:b@h", &credentials, b"")
        .expect("fourth");
    assert_eq!(directive(&fourth, "nc"), Some("00000001"), "new nonce");
}

#[test]
fn credentials_debug_hides_the_password() {
    let text = format!("{:?}", mufasa("Circle of Life"));
    assert!(!text.contains("Circle"), "{text}");
}
