//! AES-CBC encryption of media files (the UAS `AESCBCCipher`): [`AesCbcCipher`] for whole files
//! and [`CbcEncryptWriter`] for recordings that grow while a call runs.
//!
//! The file format is exactly what `openssl enc -aes-{128,192,256}-cbc -K <key> -iv <vector>`
//! reads and writes: the raw ciphertext (no `Salted__` header, no key derivation), CBC chaining
//! (NIST SP 800-38A §6.2) from the given 128-bit IV, and PKCS#7 padding (RFC 5652 §6.3) — 1 to 16
//! bytes, each holding the pad length, so the ciphertext is always a non-zero multiple of 16
//! bytes. Files therefore interoperate both ways with the `openssl` command line.
//!
//! Key material never appears in logs or errors: `Debug` prints `<redacted>`, and a hex parse
//! error names only the position of the bad digit. Sans-IO except for the writer, which wraps any
//! `std::io::Write`. Depends on the RustCrypto `aes` and `cbc` crates only.

use std::io::Write;

use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

/// The AES block size, and the IV length, in bytes.
pub const BLOCK_BYTES: usize = 16;

/// Which of the two hex strings an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherField {
    /// The AES key.
    Key,
    /// The initialisation vector.
    Vector,
}

impl std::fmt::Display for CipherField {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            CipherField::Key => "key",
            CipherField::Vector => "vector",
        })
    }
}

/// Why a cipher could not be built or data could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// A character that is not a hex digit (the character itself is not reported: it is key
    /// material).
    #[error("the cipher {field} is not hexadecimal: bad character at position {position}")]
    InvalidHex {
        /// Key or vector.
        field: CipherField,
        /// Character position (0-based) of the first bad character.
        position: usize,
    },
    /// An odd number of hex digits (half a byte).
    #[error("the cipher {field} has an odd number of hex digits ({digits})")]
    OddHexLength {
        /// Key or vector.
        field: CipherField,
        /// How many digits were given.
        digits: usize,
    },
    /// The key is not 128, 192 or 256 bits.
    #[error(
        "the cipher key is {bits} bits; AES-CBC needs 128, 192 or 256 (32, 48 or 64 hex digits)"
    )]
    KeyLength {
        /// The length given, in bits.
        bits: usize,
    },
    /// The vector is not 128 bits.
    #[error("the cipher vector is {bits} bits; AES-CBC needs a 128-bit vector (32 hex digits)")]
    VectorLength {
        /// The length given, in bits.
        bits: usize,
    },
    /// The data cannot be AES-CBC ciphertext: empty or not a multiple of the block size.
    #[error("encrypted data of {length} bytes is not a non-zero multiple of the 16-byte AES block")]
    CiphertextLength {
        /// The data length in bytes.
        length: usize,
    },
    /// The last block does not end in valid PKCS#7 padding: almost always a wrong key or
    /// vector, or a file that is not encrypted (or was cut short).
    #[error(
        "decryption failed (bad padding): wrong key or vector, or the data is not AES-CBC encrypted"
    )]
    BadPadding,
}

/// The key, sized for the AES variant it selects.
#[derive(Clone, PartialEq, Eq)]
enum Key {
    Aes128([u8; 16]),
    Aes192([u8; 24]),
    Aes256([u8; 32]),
}

/// An AES-CBC key and IV (the UAS `AESCBCCipher(key=..., vector=...)`).
///
/// Cheap to clone; immutable. Every `encrypt`/`decrypt` starts a fresh CBC chain from the IV, as
/// one `openssl enc` run does.
#[derive(Clone, PartialEq, Eq)]
pub struct AesCbcCipher {
    key: Key,
    vector: [u8; BLOCK_BYTES],
}

impl std::fmt::Debug for AesCbcCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AesCbcCipher")
            .field("bits", &self.key_bits())
            .field("key", &"<redacted>")
            .field("vector", &"<redacted>")
            .finish()
    }
}

/// One CBC chain in either direction, over the key size in use.
enum Chain<A, B, C> {
    Aes128(A),
    Aes192(B),
    Aes256(C),
}

type Encryptor =
    Chain<cbc::Encryptor<aes::Aes128>, cbc::Encryptor<aes::Aes192>, cbc::Encryptor<aes::Aes256>>;
type Decryptor =
    Chain<cbc::Decryptor<aes::Aes128>, cbc::Decryptor<aes::Aes192>, cbc::Decryptor<aes::Aes256>>;

impl Encryptor {
    /// Encrypt whole blocks in place, continuing the chain.
    fn encrypt_blocks(&mut self, data: &mut [u8]) {
        debug_assert_eq!(data.len() % BLOCK_BYTES, 0);
        for block in data.chunks_exact_mut(BLOCK_BYTES) {
            let block = GenericArray::from_mut_slice(block);
            match self {
                Chain::Aes128(chain) => chain.encrypt_block_mut(block),
                Chain::Aes192(chain) => chain.encrypt_block_mut(block),
                Chain::Aes256(chain) => chain.encrypt_block_mut(block),
            }
        }
    }
}

impl Decryptor {
    /// Decrypt whole blocks in place, continuing the chain.
    fn decrypt_blocks(&mut self, data: &mut [u8]) {
        debug_assert_eq!(data.len() % BLOCK_BYTES, 0);
        for block in data.chunks_exact_mut(BLOCK_BYTES) {
            let block = GenericArray::from_mut_slice(block);
            match self {
                Chain::Aes128(chain) => chain.decrypt_block_mut(block),
                Chain::Aes192(chain) => chain.decrypt_block_mut(block),
                Chain::Aes256(chain) => chain.decrypt_block_mut(block),
            }
        }
    }
}

/// Decode a hex string (either case) into bytes.
fn decode_hex(field: CipherField, text: &str) -> Result<Vec<u8>, CipherError> {
    if let Some(position) = text
        .chars()
        .position(|character| !character.is_ascii_hexdigit())
    {
        return Err(CipherError::InvalidHex { field, position });
    }
    // Every character is an ASCII hex digit from here on, so byte offsets are positions.
    if !text.len().is_multiple_of(2) {
        return Err(CipherError::OddHexLength {
            field,
            digits: text.len(),
        });
    }
    Ok((0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digits checked"))
        .collect())
}

/// PKCS#7 padding for `length` bytes of plaintext: 1..=16 bytes of the pad length.
fn padding(length: usize) -> usize {
    BLOCK_BYTES - length % BLOCK_BYTES
}

impl AesCbcCipher {
    /// A cipher from a hex key of 32, 48 or 64 digits (AES-128, -192, -256) and a hex vector of
    /// 32 digits, as given to `openssl enc -K <key> -iv <vector>`. Either case is accepted;
    /// nothing else (no spaces, no `0x`).
    ///
    /// Unlike `openssl`, a short key or vector is refused rather than padded with zeros.
    pub fn from_hex(key: &str, vector: &str) -> Result<Self, CipherError> {
        let key_bytes = decode_hex(CipherField::Key, key)?;
        let key = match key_bytes.len() {
            16 => Key::Aes128(key_bytes.as_slice().try_into().expect("length checked")),
            24 => Key::Aes192(key_bytes.as_slice().try_into().expect("length checked")),
            32 => Key::Aes256(key_bytes.as_slice().try_into().expect("length checked")),
            other => return Err(CipherError::KeyLength { bits: other * 8 }),
        };
        let vector_bytes = decode_hex(CipherField::Vector, vector)?;
        let vector = vector_bytes
            .as_slice()
            .try_into()
            .map_err(|_| CipherError::VectorLength {
                bits: vector_bytes.len() * 8,
            })?;
        Ok(Self { key, vector })
    }

    /// The key size: 128, 192 or 256.
    pub fn key_bits(&self) -> usize {
        match &self.key {
            Key::Aes128(_) => 128,
            Key::Aes192(_) => 192,
            Key::Aes256(_) => 256,
        }
    }

    fn encryptor(&self) -> Encryptor {
        let iv = GenericArray::from_slice(&self.vector);
        match &self.key {
            Key::Aes128(key) => Chain::Aes128(cbc::Encryptor::new(key.into(), iv)),
            Key::Aes192(key) => Chain::Aes192(cbc::Encryptor::new(key.into(), iv)),
            Key::Aes256(key) => Chain::Aes256(cbc::Encryptor::new(key.into(), iv)),
        }
    }

    fn decryptor(&self) -> Decryptor {
        let iv = GenericArray::from_slice(&self.vector);
        match &self.key {
            Key::Aes128(key) => Chain::Aes128(cbc::Decryptor::new(key.into(), iv)),
            Key::Aes192(key) => Chain::Aes192(cbc::Decryptor::new(key.into(), iv)),
            Key::Aes256(key) => Chain::Aes256(cbc::Decryptor::new(key.into(), iv)),
        }
    }

    /// Encrypt `data` with PKCS#7 padding: the output is 1 to 16 bytes longer than the input
    /// (16 for empty input or a whole number of blocks), the same bytes `openssl enc -e` writes.
    pub fn encrypt(&self, data: &[u8]) -> Vec<u8> {
        let pad = padding(data.len());
        let mut output = Vec::with_capacity(data.len() + pad);
        output.extend_from_slice(data);
        output.resize(data.len() + pad, pad as u8);
        self.encryptor().encrypt_blocks(&mut output);
        output
    }

    /// Decrypt a whole padded file image (what [`Self::encrypt`] or `openssl enc -e` wrote) and
    /// strip the padding.
    ///
    /// Errors: [`CipherError::CiphertextLength`] for empty data or a partial last block,
    /// [`CipherError::BadPadding`] when the last block does not end in valid padding — what a
    /// wrong key or vector gives in about 255 cases of 256 (the rest decrypt to garbage, which
    /// the caller's format check then rejects).
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CipherError> {
        if data.is_empty() || !data.len().is_multiple_of(BLOCK_BYTES) {
            return Err(CipherError::CiphertextLength { length: data.len() });
        }
        let mut output = data.to_vec();
        self.decryptor().decrypt_blocks(&mut output);
        let pad = usize::from(*output.last().expect("not empty"));
        let valid = (1..=BLOCK_BYTES).contains(&pad)
            && output[output.len() - pad..]
                .iter()
                .all(|&byte| usize::from(byte) == pad);
        if !valid {
            return Err(CipherError::BadPadding);
        }
        output.truncate(output.len() - pad);
        Ok(output)
    }

    /// Decrypt every whole block of `data` and keep any padding: for a recording cut short
    /// before [`CbcEncryptWriter::finish`] (a trailing partial block is ignored). The same bytes
    /// as `openssl enc -d -nopad`.
    pub fn decrypt_unpadded(&self, data: &[u8]) -> Vec<u8> {
        let whole = data.len() - data.len() % BLOCK_BYTES;
        let mut output = data[..whole].to_vec();
        self.decryptor().decrypt_blocks(&mut output);
        output
    }
}

/// Streaming AES-CBC encryption into `W`, for a file that grows while it is written (a
/// recording).
///
/// Every complete 16-byte block is encrypted and written to `W` as soon as it is available;
/// up to 15 bytes wait for the next write. [`Self::finish`] pads the tail (PKCS#7) and writes the
/// last block; the result is byte-for-byte what [`AesCbcCipher::encrypt`] gives for the whole
/// input. `flush` flushes `W` but writes no partial block (CBC cannot emit one).
///
/// A file cut before `finish` (a crash) holds whole blocks only and has no padding: all of it
/// but the held-back tail decrypts with `openssl enc -d -nopad -aes-256-cbc -K <key> -iv <iv>`
/// (or [`AesCbcCipher::decrypt_unpadded`]); a plain `openssl enc -d` would refuse it as "bad
/// decrypt".
///
/// After `W` returns an error the chain and the file disagree: drop the writer.
pub struct CbcEncryptWriter<W: Write> {
    inner: W,
    chain: Encryptor,
    pending: [u8; BLOCK_BYTES],
    pending_length: usize,
    /// Encrypted blocks waiting for `inner`, reused between writes.
    scratch: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for CbcEncryptWriter<W> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CbcEncryptWriter")
            .field("pending_length", &self.pending_length)
            .finish_non_exhaustive()
    }
}

impl<W: Write> CbcEncryptWriter<W> {
    /// Start a CBC chain from the cipher's IV, writing ciphertext into `inner`.
    pub fn new(cipher: &AesCbcCipher, inner: W) -> Self {
        Self {
            inner,
            chain: cipher.encryptor(),
            pending: [0; BLOCK_BYTES],
            pending_length: 0,
            scratch: Vec::new(),
        }
    }

    /// The writer underneath.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Plaintext bytes held back until a block is complete (0..=15).
    pub fn pending_length(&self) -> usize {
        self.pending_length
    }

    /// Pad the held-back tail (PKCS#7), write the last block, flush, and return `W`.
    pub fn finish(mut self) -> std::io::Result<W> {
        let pad = padding(self.pending_length);
        self.pending[self.pending_length..].fill(pad as u8);
        let mut last = self.pending;
        self.chain.encrypt_blocks(&mut last);
        self.inner.write_all(&last)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for CbcEncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.scratch.clear();
        let mut rest = data;
        if self.pending_length > 0 {
            let take = (BLOCK_BYTES - self.pending_length).min(rest.len());
            self.pending[self.pending_length..self.pending_length + take]
                .copy_from_slice(&rest[..take]);
            self.pending_length += take;
            rest = &rest[take..];
            if self.pending_length < BLOCK_BYTES {
                return Ok(data.len());
            }
            self.scratch.extend_from_slice(&self.pending);
            self.pending_length = 0;
        }
        let whole = rest.len() - rest.len() % BLOCK_BYTES;
        self.scratch.extend_from_slice(&rest[..whole]);
        let tail = &rest[whole..];
        self.pending[..tail.len()].copy_from_slice(tail);
        self.pending_length = tail.len();
        if !self.scratch.is_empty() {
            self.chain.encrypt_blocks(&mut self.scratch);
            self.inner.write_all(&self.scratch)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
