//! HTTP Digest authentication, server side: issue challenges for 401/407
//! responses and check the credentials a request brings back.
//!
//! What lives here: [`NonceIssuer`] and its [`AuthVerdict`]. Pure
//! computation, no I/O: the caller (the server, per service) puts
//! [`NonceIssuer::challenge`] in a `WWW-Authenticate` header of a 401 (for
//! example through `ServerCall::reject`) and passes the request's
//! `Authorization` value to [`NonceIssuer::verify`].
//!
//! Nonces are stateless: `<issue time, hex ms>.<HMAC-SHA256(secret, time
//! ":" realm), hex>`, with a secret drawn at random when the issuer is made.
//! So any nonce we issued for this realm verifies until `lifetime` has
//! passed, without a table; a nonce from before a restart is rejected. A
//! correct response with an expired nonce is [`AuthVerdict::Stale`], to be
//! answered with a fresh challenge carrying `stale=true` (RFC 7616 §3.3).
//!
//! Not done: replay protection through `nc` (needs per-nonce state; within
//! the nonce lifetime a captured request can be replayed), `auth-int`,
//! `-sess` algorithms, `userhash`, and checking the `uri` directive against
//! the Request-URI (the caller can: it is in the Authorization value).
//!
//! RFC 2617 §3.2 (MD5, qop=auth), RFC 7616 §3.3–§3.5 (SHA-256, stale),
//! RFC 8760 (SHA-256 for SIP: offer the strongest first), RFC 2104 (HMAC),
//! RFC 3261 §22.3 (origin server authentication in SIP).

use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::{Credentials, DigestAlgorithm, DigestChallenge, Qop, hex, parse_params, quote};

/// What [`NonceIssuer::verify`] concluded about a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// The credentials are right and the nonce is fresh.
    Accepted {
        /// The authenticated user.
        username: String,
    },
    /// The credentials are right but the nonce expired: challenge again
    /// with `stale=true`, so the client retries without asking its user.
    Stale,
    /// The credentials are wrong or unusable (the reason is for logs, not
    /// for the peer): answer 403, or challenge again.
    Rejected(&'static str),
    /// No credentials for this realm: challenge.
    Missing,
}

/// Issues and checks stateless nonces for one process. Cheap to share
/// behind an `Arc`; every method takes `&self`.
pub struct NonceIssuer {
    secret: [u8; 32],
    lifetime: Duration,
    /// Zero of the nonces' clock.
    epoch: Instant,
}

impl std::fmt::Debug for NonceIssuer {
    // The secret must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// An issuer whose nonces stay fresh for `lifetime` (zero: every nonce
    /// is stale at once; useful in tests only). The secret key is random.
    pub fn new(lifetime: Duration) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        NonceIssuer {
            secret,
            lifetime,
            epoch: Instant::now(),
        }
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` value for `realm` with
    /// MD5 and `qop="auth"`; `stale` after an [`AuthVerdict::Stale`].
    pub fn challenge(&self, realm: &str, stale: bool) -> String {
        self.challenge_with(realm, stale, DigestAlgorithm::Md5)
    }

    /// As [`NonceIssuer::challenge`], with SHA-256 (RFC 8760).
    pub fn challenge_sha256(&self, realm: &str, stale: bool) -> String {
        self.challenge_with(realm, stale, DigestAlgorithm::Sha256)
    }

    /// Both challenges, strongest first (RFC 8760 §2.4), one header value
    /// each: SHA-256, then MD5 for older clients.
    pub fn challenges(&self, realm: &str, stale: bool) -> [String; 2] {
        [
            self.challenge_sha256(realm, stale),
            self.challenge(realm, stale),
        ]
    }

    fn challenge_with(&self, realm: &str, stale: bool, algorithm: DigestAlgorithm) -> String {
        let nonce = self.nonce_at(realm, self.now());
        let mut value = format!(
            "Digest realm={}, nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
            quote(realm),
            algorithm.name()
        );
        if stale {
            value.push_str(", stale=true");
        }
        value
    }

    /// Check the `Authorization` (or `Proxy-Authorization`) value of a
    /// request with `method` against `realm`; `lookup` gives a user's
    /// password. An empty value, or credentials for another realm, is
    /// [`AuthVerdict::Missing`].
    pub fn verify(
        &self,
        method: &str,
        authorization: &str,
        realm: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> AuthVerdict {
        self.verify_at(method, authorization, realm, lookup, self.now())
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn nonce_at(&self, realm: &str, now: Duration) -> String {
        let issued = format!("{:x}", now.as_millis());
        let mac = self.mac(&issued, realm);
        format!("{issued}.{}", hex(&mac))
    }

    fn mac(&self, issued: &str, realm: &str) -> [u8; 32] {
        hmac_sha256(&self.secret, format!("{issued}:{realm}").as_bytes())
    }

    /// When `nonce` was issued for `realm`, if we issued it.
    fn issued_at(&self, nonce: &str, realm: &str) -> Option<Duration> {
        let (issued, mac) = nonce.split_once('.')?;
        let millis = u64::from_str_radix(issued, 16).ok()?;
        let expected = hex(&self.mac(issued, realm));
        constant_time_eq(expected.as_bytes(), mac.as_bytes()).then(|| Duration::from_millis(millis))
    }

    /// [`NonceIssuer::verify`] at time `now` of the issuer's clock.
    fn verify_at(
        &self,
        method: &str,
        authorization: &str,
        realm: &str,
        lookup: impl Fn(&str) -> Option<String>,
        now: Duration,
    ) -> AuthVerdict {
        let value = authorization.trim();
        if value.is_empty() {
            return AuthVerdict::Missing;
        }
        let (scheme, rest) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return AuthVerdict::Rejected("not Digest credentials");
        }
        let Ok(params) = parse_params(rest) else {
            return AuthVerdict::Rejected("malformed credentials");
        };
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        match get("realm") {
            Some(offered) if offered == realm => {}
            Some(_) => return AuthVerdict::Missing,
            None => return AuthVerdict::Rejected("credentials without realm"),
        }
        let (Some(username), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return AuthVerdict::Rejected("credentials without username, nonce, uri or response");
        };
        if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return AuthVerdict::Rejected("userhash was not offered");
        }
        let algorithm = match get("algorithm").map(DigestAlgorithm::parse) {
            None => DigestAlgorithm::Md5,
            Some(Some(algorithm @ (DigestAlgorithm::Md5 | DigestAlgorithm::Sha256))) => algorithm,
            Some(_) => return AuthVerdict::Rejected("algorithm was not offered"),
        };
        if !get("qop").is_some_and(|qop| qop.eq_ignore_ascii_case("auth")) {
            return AuthVerdict::Rejected("qop=auth is required");
        }
        let (Some(cnonce), Some(nonce_count)) = (
            get("cnonce"),
            get("nc").and_then(|nc| u32::from_str_radix(nc, 16).ok()),
        ) else {
            return AuthVerdict::Rejected("qop=auth without cnonce or a hex nc");
        };
        let Some(issued) = self.issued_at(nonce, realm) else {
            return AuthVerdict::Rejected("nonce not issued here");
        };
        let Some(password) = lookup(username) else {
            return AuthVerdict::Rejected("unknown user");
        };
        let challenge = DigestChallenge {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            opaque: None,
            algorithm,
            qop_options: vec!["auth".to_string()],
            stale: false,
            userhash: false,
        };
        let credentials = Credentials {
            username: username.to_string(),
            password,
            realm: None,
        };
        let expected = challenge.response(
            method,
            uri,
            &credentials,
            b"",
            Some(Qop::Auth),
            cnonce,
            nonce_count,
        );
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return AuthVerdict::Rejected("wrong response (password)");
        }
        // A nonce from the future cannot be ours; saturating keeps it stale.
        if now.saturating_sub(issued) >= self.lifetime || issued > now {
            return AuthVerdict::Stale;
        }
        AuthVerdict::Accepted {
            username: username.to_string(),
        }
    }
}

/// HMAC-SHA256 (RFC 2104) over `data` with a key of one block (64 bytes)
/// or less; longer keys are hashed first, as RFC 2104 §2 says.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let hashed: [u8; 32];
    let key = if key.len() > BLOCK {
        hashed = Sha256::digest(key).into();
        &hashed[..]
    } else {
        key
    };
    let mut inner_pad = [0x36u8; BLOCK];
    let mut outer_pad = [0x5cu8; BLOCK];
    for (at, byte) in key.iter().enumerate() {
        inner_pad[at] ^= byte;
        outer_pad[at] ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(inner_pad)
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Equality that takes the same time wherever the first difference is, so
/// a forger cannot find a MAC byte by byte.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests;
