use super::*;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    decode_hex(CipherField::Key, text).expect("test hex")
}

/// NIST SP 800-38A appendix F.2: the four plaintext blocks and IV shared by every CBC example.
const NIST_PLAINTEXT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                              30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const NIST_VECTOR: &str = "000102030405060708090a0b0c0d0e0f";

/// (key, ciphertext) of F.2.1 (AES-128), F.2.3 (AES-192) and F.2.5 (AES-256).
const NIST_CASES: [(&str, &str); 3] = [
    (
        "2b7e151628aed2a6abf7158809cf4f3c",
        "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
         73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
    ),
    (
        "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a\
         571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
    ),
    (
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
         39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
    ),
];

/// The seed tutorial's example key and vector.
const SEED_KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const SEED_VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";

fn seed_cipher() -> AesCbcCipher {
    AesCbcCipher::from_hex(SEED_KEY, SEED_VECTOR).expect("seed cipher")
}

#[test]
fn nist_sp800_38a_cbc_vectors_for_every_key_size() {
    let plaintext = unhex(NIST_PLAINTEXT);
    for ((key, expected), bits) in NIST_CASES.iter().zip([128, 192, 256]) {
        let cipher = AesCbcCipher::from_hex(key, NIST_VECTOR).expect("NIST key");
        assert_eq!(cipher.key_bits(), bits);
        let encrypted = cipher.encrypt(&plaintext);
        // Four data blocks, then one block of padding (the input is block-aligned).
        assert_eq!(encrypted.len(), 80, "AES-{bits}");
        assert_eq!(hex(&encrypted[..64]), *expected, "AES-{bits} ciphertext");
        assert_eq!(
            cipher.decrypt_unpadded(&unhex(expected)),
            plaintext,
            "AES-{bits} decryption of the NIST ciphertext"
        );
        assert_eq!(cipher.decrypt(&encrypted).as_deref(), Ok(&plaintext[..]));
    }
}

#[test]
fn padding_edge_cases_round_trip_with_pkcs7_tails() {
    let cipher = seed_cipher();
    for (length, encrypted_length, pad) in [(0, 16, 16), (15, 16, 1), (16, 32, 16), (17, 32, 15)] {
        let plaintext: Vec<u8> = (0..length).map(|index| index as u8 ^ 0x5a).collect();
        let encrypted = cipher.encrypt(&plaintext);
        assert_eq!(encrypted.len(), encrypted_length, "{length} bytes");
        let raw = cipher.decrypt_unpadded(&encrypted);
        assert_eq!(&raw[..length], &plaintext[..]);
        assert!(
            raw[length..].iter().all(|&byte| usize::from(byte) == pad),
            "{length} bytes: tail {:?}",
            &raw[length..]
        );
        assert_eq!(raw.len() - length, pad);
        assert_eq!(cipher.decrypt(&encrypted), Ok(plaintext));
    }
}

#[test]
fn a_wrong_key_is_almost_always_a_padding_error() {
    let right = seed_cipher();
    let wrong = AesCbcCipher::from_hex(&SEED_KEY.replace('3', "4"), SEED_VECTOR).unwrap();
    let mut random = StdRng::seed_from_u64(7);
    let mut bad_padding = 0;
    for _ in 0..200 {
        let mut plaintext = vec![0; random.random_range(0..100)];
        random.fill(&mut plaintext[..]);
        match wrong.decrypt(&right.encrypt(&plaintext)) {
            Err(CipherError::BadPadding) => bad_padding += 1,
            // A wrong key passes the padding check about once in 256, yielding garbage.
            Ok(garbage) => assert_ne!(garbage, plaintext),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(bad_padding >= 190, "only {bad_padding} of 200 were refused");
}

#[test]
fn a_wrong_vector_garbles_only_the_first_block() {
    let right = seed_cipher();
    let wrong = AesCbcCipher::from_hex(SEED_KEY, NIST_VECTOR).unwrap();
    let plaintext = b"RIFF....WAVEfmt and then a long enough body of audio bytes".to_vec();
    let decrypted = wrong
        .decrypt(&right.encrypt(&plaintext))
        .expect("padding is intact");
    assert_ne!(&decrypted[..16], &plaintext[..16]);
    assert_eq!(&decrypted[16..], &plaintext[16..]);
}

#[test]
fn malformed_ciphertext_is_refused_with_its_length() {
    let cipher = seed_cipher();
    assert_eq!(
        cipher.decrypt(&[]),
        Err(CipherError::CiphertextLength { length: 0 })
    );
    assert_eq!(
        cipher.decrypt(&[0; 33]),
        Err(CipherError::CiphertextLength { length: 33 })
    );
    assert_eq!(cipher.decrypt_unpadded(&[0; 15]), Vec::<u8>::new());
}

#[test]
fn bad_keys_and_vectors_get_clear_errors_that_hide_the_key() {
    let vector = SEED_VECTOR;
    assert_eq!(
        AesCbcCipher::from_hex("3e13zz", vector),
        Err(CipherError::InvalidHex {
            field: CipherField::Key,
            position: 4
        })
    );
    assert_eq!(
        AesCbcCipher::from_hex(SEED_KEY, "0x9b0e"),
        Err(CipherError::InvalidHex {
            field: CipherField::Vector,
            position: 1
        })
    );
    assert_eq!(
        AesCbcCipher::from_hex("abc", vector),
        Err(CipherError::OddHexLength {
            field: CipherField::Key,
            digits: 3
        })
    );
    assert_eq!(
        AesCbcCipher::from_hex(&SEED_KEY[..40], vector),
        Err(CipherError::KeyLength { bits: 160 })
    );
    assert_eq!(
        AesCbcCipher::from_hex("", vector),
        Err(CipherError::KeyLength { bits: 0 })
    );
    assert_eq!(
        AesCbcCipher::from_hex(SEED_KEY, &SEED_VECTOR[..30]),
        Err(CipherError::VectorLength { bits: 120 })
    );
    assert_eq!(
        AesCbcCipher::from_hex(&SEED_KEY.to_uppercase(), vector),
        Ok(seed_cipher()),
        "upper-case hex is the same key"
    );
    let message = AesCbcCipher::from_hex(&SEED_KEY[..40], vector)
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "the cipher key is 160 bits; AES-CBC needs 128, 192 or 256 (32, 48 or 64 hex digits)"
    );
    let invalid = AesCbcCipher::from_hex("3e13\u{e9}9", vector).unwrap_err();
    assert!(!invalid.to_string().contains('\u{e9}'), "{invalid}");
}

#[test]
fn debug_output_redacts_the_key_and_vector() {
    let cipher = seed_cipher();
    let text = format!("{cipher:?}");
    assert_eq!(
        text,
        "AesCbcCipher { bits: 256, key: \"<redacted>\", vector: \"<redacted>\" }"
    );
    let writer = CbcEncryptWriter::new(&cipher, Vec::new());
    let text = format!("{writer:?}");
    assert!(!text.contains("3e") && !text.contains("9b"), "{text}");
}

#[test]
fn the_streaming_writer_equals_one_shot_encryption_for_random_chunkings() {
    let mut random = StdRng::seed_from_u64(11);
    for key in [&SEED_KEY[..32], &SEED_KEY[..48], SEED_KEY] {
        let cipher = AesCbcCipher::from_hex(key, SEED_VECTOR).unwrap();
        for _ in 0..50 {
            let mut plaintext = vec![0; random.random_range(0..2000)];
            random.fill(&mut plaintext[..]);
            let mut writer = CbcEncryptWriter::new(&cipher, Vec::new());
            let mut rest = &plaintext[..];
            while !rest.is_empty() {
                let take = random.random_range(0..=rest.len().min(70));
                writer.write_all(&rest[..take]).unwrap();
                rest = &rest[take..];
                // Complete blocks are written at once; only the tail waits.
                let written = plaintext.len() - rest.len();
                assert_eq!(writer.pending_length(), written % BLOCK_BYTES);
                assert_eq!(writer.get_ref().len(), written - written % BLOCK_BYTES);
            }
            let streamed = writer.finish().unwrap();
            assert_eq!(
                streamed,
                cipher.encrypt(&plaintext),
                "{} bytes",
                plaintext.len()
            );
        }
    }
}

#[test]
fn a_recording_cut_before_finish_decrypts_up_to_its_last_whole_block() {
    let cipher = seed_cipher();
    let plaintext: Vec<u8> = (0..1000u32).map(|index| (index * 7) as u8).collect();
    let mut writer = CbcEncryptWriter::new(&cipher, Vec::new());
    writer.write_all(&plaintext).unwrap();
    writer.flush().unwrap();
    let cut = writer.get_ref().clone();
    assert_eq!(cut.len(), 992);
    assert_eq!(cipher.decrypt_unpadded(&cut), &plaintext[..992]);
}
