//! G.711 µ-law and A-law companding, bit-exact to the ITU-T G.191 Software Tools Library.
//!
//! Pure functions, no dependencies. The wire octets are the ones ITU-T G.711 puts on the line:
//! µ-law with the usual bit inversion, A-law with the even-bit (0x55) inversion.
//!
//! Encoding follows G.191's `ulaw_compress` / `alaw_compress` *behaviour* (checked against the
//! STL sweep vectors for all 65536 inputs): negative inputs are reduced with a one's complement
//! before quantisation. That is the one place where the classic Sun `g711.c` (and CPython's
//! `audioop`) differ for µ-law: 508 negative inputs at the top edge of a step encode one code
//! lower there. ITU is the reference, so this module follows ITU.
//!
//! Decoding uses 256-entry tables computed at compile time.

/// Encode one 16-bit linear sample to a µ-law octet (ITU G.191 rounding).
#[inline]
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    // µ-law quantises the top 14 bits; the one's complement folds -1..-4 onto the +0 step.
    let magnitude = if sample < 0 { !sample } else { sample } as u16 >> 2;
    let biased = {
        let value = magnitude + 33;
        if value > 0x1FFF { 0x1FFF } else { value }
    };
    // Segment = number of significant bits above the 6-bit floor, 1..=8.
    let segment = 1 + (16 - (biased >> 6).leading_zeros()) as u16;
    let mantissa = (biased >> segment) & 0x0F;
    let code = (((8 - segment) << 4) | (0x0F - mantissa)) as u8;
    if sample >= 0 { code | 0x80 } else { code }
}

/// Encode one 16-bit linear sample to an A-law octet (ITU G.191 rounding, even bits inverted).
#[inline]
pub const fn linear_to_alaw(sample: i16) -> u8 {
    // A-law quantises the top 12 bits (plus sign).
    let magnitude = (if sample < 0 { !sample } else { sample } as u16) >> 4;
    let code = if magnitude < 16 {
        magnitude
    } else {
        // Exponent 1..=7 from the bit length; the leading one is implicit in the mantissa.
        let exponent = (16 - magnitude.leading_zeros()) as u16 - 4;
        ((magnitude >> (exponent - 1)) & 0x0F) | (exponent << 4)
    } as u8;
    let signed = if sample >= 0 { code | 0x80 } else { code };
    signed ^ 0x55
}

const fn ulaw_expand(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    // Mid-point of the quantisation interval, minus the encoder's bias of 33 (scaled by 4).
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn alaw_expand(code: u8) -> i16 {
    let value = code ^ 0x55;
    let exponent = ((value >> 4) & 0x07) as i32;
    let mut mantissa = (value & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16;
    }
    // Mid-point of the interval in 13-bit units, then scaled back to 16 bits.
    let mut magnitude = (mantissa << 4) + 8;
    if exponent > 1 {
        magnitude <<= exponent - 1;
    }
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

static ULAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
};

static ALAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
};

/// Decode a µ-law octet to a 16-bit linear sample (left-justified, as G.191 expands it).
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Decode an A-law octet to a 16-bit linear sample (left-justified, as G.191 expands it).
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// The µ-law octet for digital silence (linear 0).
pub const ULAW_SILENCE: u8 = linear_to_ulaw(0);
/// The A-law octet for digital silence (linear 0).
pub const ALAW_SILENCE: u8 = linear_to_alaw(0);

/// Encode `samples` into `out` as µ-law; encodes `min(samples.len(), out.len())` samples.
pub fn encode_ulaw(samples: &[i16], out: &mut [u8]) {
    for (code, &sample) in out.iter_mut().zip(samples) {
        *code = linear_to_ulaw(sample);
    }
}

/// Encode `samples` into `out` as A-law; encodes `min(samples.len(), out.len())` samples.
pub fn encode_alaw(samples: &[i16], out: &mut [u8]) {
    for (code, &sample) in out.iter_mut().zip(samples) {
        *code = linear_to_alaw(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus(relative: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpora/g711")
            .join(relative)
    }

    fn read_words(relative: &str) -> Vec<i16> {
        let path = corpus(relative);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert_eq!(
            bytes.len(),
            131_072,
            "{} should hold 65536 words",
            path.display()
        );
        bytes
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
            .collect()
    }

    fn read_decode_table(relative: &str) -> Vec<(u8, i16)> {
        let path = corpus(relative);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        text.lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let code: u8 = fields[1].parse().expect("code_dec");
                let linear: i16 = fields[2].parse().expect("linear16");
                (code, linear)
            })
            .collect()
    }

    #[test]
    fn ulaw_encode_matches_itu_sweep_for_every_input() {
        let input = read_words("itu-stl/test_data/sweep.src");
        let expected = read_words("itu-stl/test_data/sweep-r.u");
        // The sweep is every 16-bit value in ascending order, so this covers all 65536 inputs.
        assert_eq!(input[0], i16::MIN);
        assert_eq!(input[65_535], i16::MAX);
        for (&sample, &word) in input.iter().zip(&expected) {
            assert_eq!(
                linear_to_ulaw(sample),
                (word & 0xFF) as u8,
                "µ-law encode of {sample}"
            );
        }
    }

    #[test]
    fn alaw_encode_matches_itu_sweep_for_every_input() {
        let input = read_words("itu-stl/test_data/sweep.src");
        let expected = read_words("itu-stl/test_data/sweep-r.a");
        for (&sample, &word) in input.iter().zip(&expected) {
            assert_eq!(
                linear_to_alaw(sample),
                (word & 0xFF) as u8,
                "A-law encode of {sample}"
            );
        }
    }

    #[test]
    fn decoders_match_itu_tables_for_all_256_codes() {
        let ulaw = read_decode_table("derived/ulaw_decode_itu.tsv");
        let alaw = read_decode_table("derived/alaw_decode_itu.tsv");
        assert_eq!(ulaw.len(), 256);
        assert_eq!(alaw.len(), 256);
        for (code, linear) in ulaw {
            assert_eq!(ulaw_to_linear(code), linear, "µ-law decode of {code:#04x}");
        }
        for (code, linear) in alaw {
            assert_eq!(alaw_to_linear(code), linear, "A-law decode of {code:#04x}");
        }
    }

    #[test]
    fn encode_then_decode_matches_itu_round_trip_vectors() {
        let input = read_words("itu-stl/test_data/sweep.src");
        let ulaw_round_trip = read_words("itu-stl/test_data/sweep-r.reu");
        let alaw_round_trip = read_words("itu-stl/test_data/sweep-r.rea");
        for ((&sample, &u), &a) in input.iter().zip(&ulaw_round_trip).zip(&alaw_round_trip) {
            assert_eq!(ulaw_to_linear(linear_to_ulaw(sample)), u);
            assert_eq!(alaw_to_linear(linear_to_alaw(sample)), a);
        }
    }

    #[test]
    fn silence_codes_are_the_well_known_octets() {
        assert_eq!(ULAW_SILENCE, 0xFF);
        assert_eq!(ALAW_SILENCE, 0xD5);
    }

    #[test]
    fn frame_helpers_encode_each_sample() {
        let samples = [0i16, 1000, -1000, i16::MAX, i16::MIN];
        let mut ulaw = [0u8; 5];
        let mut alaw = [0u8; 5];
        encode_ulaw(&samples, &mut ulaw);
        encode_alaw(&samples, &mut alaw);
        for index in 0..samples.len() {
            assert_eq!(ulaw[index], linear_to_ulaw(samples[index]));
            assert_eq!(alaw[index], linear_to_alaw(samples[index]));
        }
    }
}
