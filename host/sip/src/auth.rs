//! HTTP Digest access authentication, client side, as SIP uses it: parse a
//! `WWW-Authenticate` / `Proxy-Authenticate` challenge and compute the
//! matching `Authorization` / `Proxy-Authorization` value.
//!
//! What lives here: [`Credentials`], [`DigestChallenge`] (parsing, choosing
//! among several challenges), [`DigestSession`] (answers one challenge,
//! counting `nc` and drawing a fresh `cnonce` per use). Pure computation: no
//! I/O, no rsipstack types, so REGISTER can reuse it. The server side
//! (challenges and checking credentials of inbound requests) is in
//! `auth/server.rs`: [`NonceIssuer`], [`AuthVerdict`].
//!
//! RFC 2617 §3.2 (the digest scheme, MD5, MD5-sess, qop, legacy no-qop
//! form), RFC 7616 §3.3–§3.5 (SHA-256, SHA-512-256, `-sess` variants,
//! `userhash`), RFC 8760 (the same algorithms for SIP; strongest first),
//! RFC 3261 §22 (401/407 and the retry with credentials).

use std::fmt::Write as _;

/// A username and password for digest authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// Answer only challenges of this realm; `None` answers any realm.
    pub realm: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // The password must never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .finish()
    }
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The challenge is not for the Digest scheme.
    #[error("not a Digest challenge")]
    NotDigest,
    /// The challenge cannot be parsed.
    #[error("malformed Digest challenge: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// A required parameter is missing.
    #[error("Digest challenge without {parameter}")]
    MissingParameter {
        /// The missing parameter.
        parameter: &'static str,
    },
    /// The algorithm is not one we implement.
    #[error("unsupported Digest algorithm {algorithm}")]
    UnsupportedAlgorithm {
        /// The algorithm as offered.
        algorithm: String,
    },
    /// None of the offered qop values is one we implement, or a `-sess`
    /// algorithm came without qop (it needs a cnonce).
    #[error("unsupported Digest qop {qop}")]
    UnsupportedQop {
        /// The qop values as offered.
        qop: String,
    },
    /// The credentials are for another realm.
    #[error("challenge for realm {offered:?}, credentials for {expected:?}")]
    RealmMismatch {
        /// The realm of the credentials.
        expected: String,
        /// The realm of the challenge.
        offered: String,
    },
}

/// The hash algorithms of RFC 7616 §3.3 / RFC 8760.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617).
    Md5,
    /// MD5-sess (RFC 2617).
    Md5Sess,
    /// SHA-256 (RFC 7616).
    Sha256,
    /// SHA-256-sess (RFC 7616).
    Sha256Sess,
    /// SHA-512-256 (RFC 7616).
    Sha512_256,
    /// SHA-512-256-sess (RFC 7616).
    Sha512_256Sess,
}

impl DigestAlgorithm {
    /// The algorithm token as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
            DigestAlgorithm::Sha512_256 => "SHA-512-256",
            DigestAlgorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Parse an algorithm token (case-insensitive).
    pub fn parse(token: &str) -> Option<Self> {
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
            DigestAlgorithm::Sha512_256,
            DigestAlgorithm::Sha512_256Sess,
        ]
        .into_iter()
        .find(|algorithm| algorithm.name().eq_ignore_ascii_case(token))
    }

    fn is_session(self) -> bool {
        matches!(
            self,
            DigestAlgorithm::Md5Sess
                | DigestAlgorithm::Sha256Sess
                | DigestAlgorithm::Sha512_256Sess
        )
    }

    /// Preference when a response offers several challenges (RFC 8760 §2.4:
    /// the client uses the strongest it supports).
    fn strength(self) -> u8 {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => 1,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => 2,
            DigestAlgorithm::Sha512_256 | DigestAlgorithm::Sha512_256Sess => 3,
        }
    }

    /// `H(data)` as lower-case hex (RFC 7616 §3.4).
    fn hash(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => {
                hex(<md5::Md5 as md5::Digest>::digest(data).as_slice())
            }
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => {
                hex(<sha2::Sha256 as sha2::Digest>::digest(data).as_slice())
            }
            DigestAlgorithm::Sha512_256 | DigestAlgorithm::Sha512_256Sess => {
                hex(<sha2::Sha512_256 as sha2::Digest>::digest(data).as_slice())
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The quality of protection we answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// Authentication only.
    Auth,
    /// Authentication with integrity protection of the body.
    AuthInt,
}

impl Qop {
    fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// One parsed Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Opaque data to echo back.
    pub opaque: Option<String>,
    /// The hash algorithm (MD5 when the challenge names none).
    pub algorithm: DigestAlgorithm,
    /// The qop values offered, lower case; empty for the RFC 2069 form.
    pub qop_options: Vec<String>,
    /// The previous credentials were right but the nonce was stale.
    pub stale: bool,
    /// The server wants the user name hashed (RFC 7616 §3.4.4).
    pub userhash: bool,
}

impl DigestChallenge {
    /// Parse a single challenge, e.g. the value of one `WWW-Authenticate`
    /// header: `Digest realm="atlanta.com", nonce="…", qop="auth"`.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let value = value.trim();
        let (scheme, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
            Some(at) => (&value[..at], &value[at..]),
            None => (value, ""),
        };
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }
        let params = parse_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let realm = get("realm").ok_or(AuthError::MissingParameter { parameter: "realm" })?;
        let nonce = get("nonce").ok_or(AuthError::MissingParameter { parameter: "nonce" })?;
        let algorithm = match get("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(token) => {
                DigestAlgorithm::parse(token).ok_or_else(|| AuthError::UnsupportedAlgorithm {
                    algorithm: token.to_string(),
                })?
            }
        };
        let qop_options = get("qop")
            .map(|list| {
                list.split(',')
                    .map(|q| q.trim().to_ascii_lowercase())
                    .filter(|q| !q.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let flag = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(DigestChallenge {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            opaque: get("opaque").map(str::to_string),
            algorithm,
            qop_options,
            stale: flag("stale"),
            userhash: flag("userhash"),
        })
    }

    /// Choose, among the challenges of one response (every header value of
    /// the 401 or 407), the one to answer: Digest, supported, in the realm of
    /// `credentials` when it names one, strongest algorithm first.
    pub fn choose<'a>(
        values: impl IntoIterator<Item = &'a str>,
        credentials: &Credentials,
    ) -> Result<DigestChallenge, AuthError> {
        let mut best: Option<DigestChallenge> = None;
        let mut first_error = None;
        for value in values {
            for text in split_challenges(value) {
                let candidate = DigestChallenge::parse(text).and_then(|challenge| {
                    challenge.check_realm(credentials)?;
                    challenge.qop()?;
                    Ok(challenge)
                });
                match candidate {
                    Ok(challenge) => {
                        let better = best.as_ref().is_none_or(|current| {
                            challenge.algorithm.strength() > current.algorithm.strength()
                        });
                        if better {
                            best = Some(challenge);
                        }
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        best.ok_or(first_error.unwrap_or(AuthError::NotDigest))
    }

    fn check_realm(&self, credentials: &Credentials) -> Result<(), AuthError> {
        match &credentials.realm {
            Some(expected) if *expected != self.realm => Err(AuthError::RealmMismatch {
                expected: expected.clone(),
                offered: self.realm.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The qop we answer with: `auth` when offered, else `auth-int`, else
    /// none (RFC 2069 form, not allowed with a `-sess` algorithm).
    pub fn qop(&self) -> Result<Option<Qop>, AuthError> {
        if self.qop_options.is_empty() {
            if self.algorithm.is_session() {
                return Err(AuthError::UnsupportedQop { qop: String::new() });
            }
            return Ok(None);
        }
        if self.qop_options.iter().any(|q| q == "auth") {
            Ok(Some(Qop::Auth))
        } else if self.qop_options.iter().any(|q| q == "auth-int") {
            Ok(Some(Qop::AuthInt))
        } else {
            Err(AuthError::UnsupportedQop {
                qop: self.qop_options.join(","),
            })
        }
    }

    /// The credentials header value for one request (RFC 7616 §3.4), with
    /// the given client nonce and nonce count. Deterministic; use a
    /// [`DigestSession`] for fresh cnonces and counting.
    pub fn authorization_with(
        &self,
        method: &str,
        uri: &str,
        credentials: &Credentials,
        body: &[u8],
        cnonce: &str,
        nonce_count: u32,
    ) -> Result<String, AuthError> {
        self.check_realm(credentials)?;
        let qop = self.qop()?;
        let response = self.response(method, uri, credentials, body, qop, cnonce, nonce_count);
        let algorithm = self.algorithm;
        let username = if self.userhash {
            algorithm.hash(format!("{}:{}", credentials.username, self.realm).as_bytes())
        } else {
            credentials.username.clone()
        };
        let mut header = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
            quote(&username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            algorithm.name()
        );
        if let Some(qop) = qop {
            let _ = write!(
                header,
                ", qop={}, nc={nonce_count:08x}, cnonce={}",
                qop.name(),
                quote(cnonce)
            );
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(header, ", opaque={}", quote(opaque));
        }
        if self.userhash {
            header.push_str(", userhash=true");
        }
        Ok(header)
    }

    /// The `response` directive (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1).
    #[allow(clippy::too_many_arguments)]
    fn response(
        &self,
        method: &str,
        uri: &str,
        credentials: &Credentials,
        body: &[u8],
        qop: Option<Qop>,
        cnonce: &str,
        nonce_count: u32,
    ) -> String {
        let h = |data: &str| self.algorithm.hash(data.as_bytes());
        let mut ha1 = h(&format!(
            "{}:{}:{}",
            credentials.username, self.realm, credentials.password
        ));
        if self.algorithm.is_session() {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = match qop {
            Some(Qop::AuthInt) => h(&format!("{method}:{uri}:{}", self.algorithm.hash(body))),
            _ => h(&format!("{method}:{uri}")),
        };
        match qop {
            Some(qop) => h(&format!(
                "{ha1}:{}:{nonce_count:08x}:{cnonce}:{}:{ha2}",
                self.nonce,
                qop.name()
            )),
            None => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }
}

/// Answers one challenge for as long as its nonce is good: each use counts
/// `nc` up and draws a new `cnonce`.
#[derive(Debug, Clone)]
pub struct DigestSession {
    challenge: DigestChallenge,
    nonce_count: u32,
}

impl DigestSession {
    /// A session for `challenge`; the first use sends `nc=00000001`.
    pub fn new(challenge: DigestChallenge) -> Self {
        DigestSession {
            challenge,
            nonce_count: 0,
        }
    }

    /// The challenge being answered.
    pub fn challenge(&self) -> &DigestChallenge {
        &self.challenge
    }

    /// Take a newer challenge; keeps counting when the nonce is the same.
    pub fn update(&mut self, challenge: DigestChallenge) {
        if challenge.nonce != self.challenge.nonce {
            self.nonce_count = 0;
        }
        self.challenge = challenge;
    }

    /// The credentials header value for `method` to `uri` with `body`.
    pub fn authorization(
        &mut self,
        method: &str,
        uri: &str,
        credentials: &Credentials,
        body: &[u8],
    ) -> Result<String, AuthError> {
        let cnonce = crate::random_token(24);
        let nonce_count = self.nonce_count.wrapping_add(1);
        let header = self.challenge.authorization_with(
            method,
            uri,
            credentials,
            body,
            &cnonce,
            nonce_count,
        )?;
        self.nonce_count = nonce_count;
        Ok(header)
    }
}

/// A quoted-string (RFC 3261 §25.1) holding `text`.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Split a header value holding several challenges (`Digest a=1, Digest
/// b=2`): a new challenge starts after a comma, outside quotes, with a token
/// followed by whitespace and then not by `=` or `,`.
fn split_challenges(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' if quoted => index += 1,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                let rest = &value[index + 1..];
                let trimmed = rest.trim_start();
                let token_end = trimmed
                    .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == ',')
                    .unwrap_or(trimmed.len());
                let after = trimmed[token_end..].trim_start();
                let starts_scheme = token_end > 0
                    && trimmed[token_end..].starts_with(|c: char| c.is_ascii_whitespace())
                    && !after.is_empty()
                    && !after.starts_with(['=', ',']);
                if starts_scheme {
                    parts.push(value[start..index].trim());
                    start = index + 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Parse `name=value, name="quoted value", …` into (name, unquoted value).
fn parse_params(text: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut params = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
            continue;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err(AuthError::Malformed {
                reason: "empty parameter name",
            });
        }
        rest = rest[name_end..].trim_start();
        let Some(after_equals) = rest.strip_prefix('=') else {
            return Err(AuthError::Malformed {
                reason: "parameter without a value",
            });
        };
        rest = after_equals.trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut unquoted = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            unquoted.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(at + 1);
                        break;
                    }
                    other => unquoted.push(other),
                }
            }
            let end = end.ok_or(AuthError::Malformed {
                reason: "unterminated quoted string",
            })?;
            value = unquoted;
            rest = quoted[end..].trim_start();
        } else {
            let value_end = rest.find([',', ' ', '\t']).unwrap_or(rest.len());
            value = rest[..value_end].to_string();
            rest = rest[value_end..].trim_start();
        }
        let known = params
            .iter()
            .any(|(existing, _): &(String, String)| existing.eq_ignore_ascii_case(name));
        if !known {
            params.push((name.to_string(), value));
        }
        if !rest.is_empty() && !rest.starts_with(',') {
            return Err(AuthError::Malformed {
                reason: "parameters not separated by commas",
            });
        }
    }
    Ok(params)
}

mod server;
pub use server::{AuthVerdict, NonceIssuer};

#[cfg(test)]
mod tests;
