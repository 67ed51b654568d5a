//! [`AesCbcCipher`]: the key and vector of an encrypted media file (the UAS
//! `AESCBCCipher`).
//!
//! The host does the cryptography; the app only names the key. Files are AES-CBC
//! with PKCS#7 padding, exactly what `openssl enc -aes-256-cbc -K <key> -iv
//! <vector>` (or `-aes-128-cbc`, `-aes-192-cbc`) reads and writes, so operators
//! encrypt prompts and decrypt recordings with the `openssl` command line. Pass it to
//! [`PlayOptions::cipher`](crate::PlayOptions::cipher) and
//! [`files::validate`](crate::files::validate). Depends only on the generated
//! bindings.

use crate::bindings::callhost::call::types::AesCbcCipher as RawAesCbcCipher;

/// An AES-CBC key and initialisation vector as hex strings.
///
/// `key` has 32, 48 or 64 hex digits (AES-128, -192, -256); `vector` has 32. The
/// strings are checked by the host when the cipher is used: a malformed one makes
/// that operation fail with [`CallError::Error`](crate::CallError::Error). `Debug`
/// never prints them.
///
/// ```
/// use callhost_sdk::AesCbcCipher;
/// let cipher = AesCbcCipher::new(
///     "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3",
///     "9b0ef243445da908976b7dc9c247c29e",
/// );
/// assert_eq!(format!("{cipher:?}"), "AesCbcCipher { <redacted> }");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AesCbcCipher {
    key: String,
    vector: String,
}

impl std::fmt::Debug for AesCbcCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AesCbcCipher { <redacted> }")
    }
}

impl AesCbcCipher {
    /// A cipher from a hex key and a hex vector (the UAS
    /// `AESCBCCipher(key=..., vector=...)`).
    pub fn new(key: impl Into<String>, vector: impl Into<String>) -> Self {
        AesCbcCipher {
            key: key.into(),
            vector: vector.into(),
        }
    }

    pub(crate) fn to_raw(&self) -> RawAesCbcCipher {
        RawAesCbcCipher {
            key: self.key.clone(),
            vector: self.vector.clone(),
        }
    }
}
