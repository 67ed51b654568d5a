//! Fuzz target `wav`: a prompt file an app supplies, through the WAV parser
//! and decoders and the AES-CBC encrypted-prompt path
//! (`callhost_media::fuzzing::wav`). Seeds: `fuzz/corpus/wav`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    callhost_media::fuzzing::wav(bytes);
});
