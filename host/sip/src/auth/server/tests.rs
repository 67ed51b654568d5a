//! The server side checked against our own client (`DigestSession`): a
//! challenge we issue, answered by the client, verifies; wrong passwords,
//! forged or tampered nonces and expired nonces do not. HMAC against
//! RFC 4231 §4.3 (test case 2).

use super::*;
use crate::auth::DigestSession;

const REALM: &str = "callhost.test";

fn users(name: &str) -> Option<String> {
    (name == "alice").then(|| "secret".to_string())
}

fn alice(password: &str) -> Credentials {
    Credentials {
        username: "alice".to_string(),
        password: password.to_string(),
        realm: None,
    }
}

/// The Authorization our client sends for `challenge` (INVITE to `uri`).
fn answer(challenge: &str, password: &str) -> String {
    let parsed = DigestChallenge::parse(challenge).expect("our challenge parses");
    DigestSession::new(parsed)
        .authorization("INVITE", "sip:svc@127.0.0.1", &alice(password), b"")
        .expect("answerable")
}

#[test]
fn hmac_matches_rfc4231_test_case_2() {
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        hex(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn our_client_answers_verify_with_md5_and_sha256() {
    let issuer = NonceIssuer::new(Duration::from_secs(300));
    let [sha256, md5] = issuer.challenges(REALM, false);
    assert!(sha256.contains("algorithm=SHA-256"), "{sha256}");
    assert!(md5.contains("algorithm=MD5"), "{md5}");
    for challenge in [sha256, md5] {
        assert!(challenge.contains("qop=\"auth\""), "{challenge}");
        assert!(!challenge.contains("stale"), "{challenge}");
        let authorization = answer(&challenge, "secret");
        assert_eq!(
            issuer.verify("INVITE", &authorization, REALM, users),
            AuthVerdict::Accepted {
                username: "alice".to_string()
            },
            "{authorization}"
        );
        // The method is part of the digest.
        assert_eq!(
            issuer.verify("BYE", &authorization, REALM, users),
            AuthVerdict::Rejected("wrong response (password)")
        );
    }
    // The client picks the strongest of both (RFC 8760).
    let both = issuer.challenges(REALM, false);
    let chosen =
        DigestChallenge::choose(both.iter().map(String::as_str), &alice("secret")).expect("choose");
    assert_eq!(chosen.algorithm, DigestAlgorithm::Sha256);
}

#[test]
fn wrong_password_and_unknown_user_are_rejected() {
    let issuer = NonceIssuer::new(Duration::from_secs(300));
    let challenge = issuer.challenge(REALM, false);
    let wrong = answer(&challenge, "guess");
    assert_eq!(
        issuer.verify("INVITE", &wrong, REALM, users),
        AuthVerdict::Rejected("wrong response (password)")
    );
    let right = answer(&challenge, "secret");
    assert_eq!(
        issuer.verify("INVITE", &right, REALM, |_| None),
        AuthVerdict::Rejected("unknown user")
    );
}

#[test]
fn expired_nonce_with_right_password_is_stale() {
    let issuer = NonceIssuer::new(Duration::ZERO);
    let challenge = issuer.challenge(REALM, true);
    assert!(challenge.ends_with(", stale=true"), "{challenge}");
    let right = answer(&challenge, "secret");
    assert_eq!(
        issuer.verify("INVITE", &right, REALM, users),
        AuthVerdict::Stale
    );
    // Stale is only for right credentials.
    let wrong = answer(&challenge, "guess");
    assert!(matches!(
        issuer.verify("INVITE", &wrong, REALM, users),
        AuthVerdict::Rejected(_)
    ));
}

#[test]
fn nonce_lifetime_on_the_issuers_clock() {
    let issuer = NonceIssuer::new(Duration::from_secs(30));
    let issued = Duration::from_secs(100);
    let nonce = issuer.nonce_at(REALM, issued);
    let challenge = format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", qop=\"auth\"");
    let right = answer(&challenge, "secret");
    let at =
        |seconds| issuer.verify_at("INVITE", &right, REALM, users, Duration::from_secs(seconds));
    assert!(matches!(at(100), AuthVerdict::Accepted { .. }));
    assert!(matches!(at(129), AuthVerdict::Accepted { .. }));
    assert_eq!(at(130), AuthVerdict::Stale);
    // Issued "later" than now: not a nonce we could have given out.
    assert_eq!(at(99), AuthVerdict::Stale);
}

#[test]
fn tampered_or_foreign_nonces_are_rejected() {
    let issuer = NonceIssuer::new(Duration::from_secs(300));
    let nonce = issuer.nonce_at(REALM, Duration::from_secs(5));
    let (issued, mac) = nonce.split_once('.').expect("two parts");
    // Moving the issue time forward (to extend the lifetime) breaks the MAC.
    let later = format!(
        "{:x}.{mac}",
        u64::from_str_radix(issued, 16).expect("hex") + 60_000
    );
    let mut flipped = nonce.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let other_issuer = NonceIssuer::new(Duration::from_secs(300)).challenge(REALM, false);
    let other_nonce = DigestChallenge::parse(&other_issuer).expect("parse").nonce;
    for forged in [
        later,
        flipped,
        other_nonce,
        "deadbeef".to_string(),
        String::new(),
    ] {
        let challenge = format!("Digest realm=\"{REALM}\", nonce=\"{forged}\", qop=\"auth\"");
        let authorization = answer(&challenge, "secret");
        assert_eq!(
            issuer.verify("INVITE", &authorization, REALM, users),
            AuthVerdict::Rejected("nonce not issued here"),
            "{forged}"
        );
    }
    // A nonce for one realm does not serve another.
    let challenge = format!("Digest realm=\"other\", nonce=\"{nonce}\", qop=\"auth\"");
    let authorization = answer(&challenge, "secret");
    assert_eq!(
        issuer.verify("INVITE", &authorization, "other", users),
        AuthVerdict::Rejected("nonce not issued here")
    );
}

#[test]
fn missing_and_unusable_credentials() {
    let issuer = NonceIssuer::new(Duration::from_secs(300));
    assert_eq!(
        issuer.verify("INVITE", "", REALM, users),
        AuthVerdict::Missing
    );
    assert_eq!(
        issuer.verify("INVITE", "  ", REALM, users),
        AuthVerdict::Missing
    );
    // Credentials for another realm are not ours to check: challenge.
    let elsewhere = answer(&issuer.challenge("elsewhere", false), "secret");
    assert_eq!(
        issuer.verify("INVITE", &elsewhere, REALM, users),
        AuthVerdict::Missing
    );
    assert_eq!(
        issuer.verify("INVITE", "Basic YWxpY2U6c2VjcmV0", REALM, users),
        AuthVerdict::Rejected("not Digest credentials")
    );
    assert_eq!(
        issuer.verify(
            "INVITE",
            "Digest realm=\"callhost.test\", username",
            REALM,
            users
        ),
        AuthVerdict::Rejected("malformed credentials")
    );
    // The RFC 2069 form (no qop) is not accepted: we offered qop=auth.
    let nonce = issuer.nonce_at(REALM, issuer.now());
    let legacy = DigestChallenge::parse(&format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\""))
        .expect("parse");
    let authorization = legacy
        .authorization_with("INVITE", "sip:svc@127.0.0.1", &alice("secret"), b"", "c", 1)
        .expect("legacy answer");
    assert_eq!(
        issuer.verify("INVITE", &authorization, REALM, users),
        AuthVerdict::Rejected("qop=auth is required")
    );
    // MD5-sess was not offered.
    let sess = DigestChallenge::parse(&format!(
        "Digest realm=\"{REALM}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5-sess"
    ))
    .expect("parse");
    let authorization = sess
        .authorization_with("INVITE", "sip:svc@127.0.0.1", &alice("secret"), b"", "c", 1)
        .expect("sess answer");
    assert_eq!(
        issuer.verify("INVITE", &authorization, REALM, users),
        AuthVerdict::Rejected("algorithm was not offered")
    );
}
