//! The on-disk cache of compiled plugins (`.cwasm` files) — the crate's only
//! unsafe code.
//!
//! Compiling a component with Cranelift takes ~0.2 s for a Rust guest and many
//! seconds for Python or JavaScript guests; loading a precompiled `.cwasm` takes
//! milliseconds. A cache entry is named after the SHA-256 of the plugin's bytes
//! and a hash of the engine's code-generation settings
//! ([`wasmtime::Engine::precompile_compatibility_hash`], which includes the
//! wasmtime version and every setting that changes compiled code: epoch
//! interruption, memory reservation, …). Entries are written to a temporary
//! file and renamed into place, so a reader never sees a partial file.
//!
//! Depends on wasmtime and sha2 only.

// Loading a `.cwasm` is `unsafe` in wasmtime; this module is the one place the
// crate allows it (see the SAFETY comments below).
#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// File extension of cache entries.
const CACHE_EXTENSION: &str = "cwasm";

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Compiled now (and written to the cache when one is configured).
    Compiled,
    /// Loaded from a `.cwasm` cache entry the host wrote earlier.
    Cache,
}

/// How many components were compiled and how many were loaded from the cache
/// by one [`crate::Runtime`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatistics {
    /// Components compiled with Cranelift.
    pub compiled: u64,
    /// Components loaded from a `.cwasm` cache entry.
    pub cache_hits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct CacheCounters {
    compiled: AtomicU64,
    cache_hits: AtomicU64,
}

impl CacheCounters {
    pub(crate) fn snapshot(&self) -> CacheStatistics {
        CacheStatistics {
            compiled: self.compiled.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A short hex digest of the engine's code-generation settings.
pub(crate) fn engine_settings_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex(&hasher.0.finalize()[..12])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Feeds `std::hash::Hash` output into SHA-256, which (unlike `DefaultHasher`)
/// is a documented, stable function of its input.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Never used: the digest is read through `self.0`.
        0
    }
}

/// Why a component could not be produced.
#[derive(Debug)]
pub(crate) struct CompileFailure(pub(crate) wasmtime::Error);

/// Compile `wasm` or load it from the cache in `cache_directory`. Blocking: run
/// it on a blocking thread.
pub(crate) fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    content_hash: &str,
    settings_hash: &str,
    cache_directory: Option<&Path>,
    counters: &CacheCounters,
) -> Result<(Component, CodeSource), CompileFailure> {
    let entry = cache_directory.map(|directory| {
        directory.join(format!("{content_hash}-{settings_hash}.{CACHE_EXTENSION}"))
    });
    if let Some(entry) = entry.as_deref().filter(|entry| entry.is_file()) {
        // SAFETY: wasmtime requires that the file was produced by
        // `Engine::precompile_component` of a compatible wasmtime and has not
        // been tampered with, because it maps the machine code in it as
        // executable. Entries in the cache directory are only ever created by
        // `store_entry` below, from `precompile_component` output, under a name
        // that commits to the exact plugin bytes and engine settings; plugin
        // files themselves are never deserialized (they always go through
        // `precompile_component`). The cache directory belongs to the host
        // (`<plugins>/.cache` by default, created by us): operators must not
        // give anyone who may not run native code as the host write access to
        // it. wasmtime additionally checks the file's header, target and
        // settings and refuses incompatible entries.
        match unsafe { Component::deserialize_file(engine, entry) } {
            Ok(component) => {
                counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok((component, CodeSource::Cache));
            }
            Err(error) => tracing::warn!(
                entry = %entry.display(),
                "ignoring unusable compiled-code cache entry: {error:#}"
            ),
        }
    }
    let compiled = engine.precompile_component(wasm).map_err(CompileFailure)?;
    counters.compiled.fetch_add(1, Ordering::Relaxed);
    if let Some(entry) = &entry
        && let Err(error) = store_entry(entry, &compiled)
    {
        tracing::warn!(entry = %entry.display(), "cannot write compiled-code cache entry: {error}");
    }
    // SAFETY: `compiled` was produced a moment ago by `precompile_component` on
    // this very engine and never left this function's memory.
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(CompileFailure)?;
    Ok((component, CodeSource::Compiled))
}

/// Write `bytes` to `entry` atomically: a temporary dotfile, then a rename.
fn store_entry(entry: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = entry.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(directory)?;
    let temporary = temporary_name(entry);
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, entry).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

fn temporary_name(entry: &Path) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let file_name = entry
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    );
    entry.with_file_name(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_hex_sha256() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn settings_hash_is_stable_for_an_engine_and_depends_on_settings() {
        let plain = Engine::default();
        assert_eq!(engine_settings_hash(&plain), engine_settings_hash(&plain));
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let epoch = Engine::new(&config).expect("engine");
        assert_ne!(engine_settings_hash(&plain), engine_settings_hash(&epoch));
    }

    #[test]
    fn garbage_is_a_compile_failure_and_writes_no_entry() {
        let directory = tempfile::tempdir().expect("tempdir");
        let counters = CacheCounters::default();
        let engine = Engine::default();
        let result = load_or_compile(
            &engine,
            b"not wasm",
            "hash",
            "settings",
            Some(directory.path()),
            &counters,
        );
        assert!(result.is_err());
        assert_eq!(
            std::fs::read_dir(directory.path()).expect("list").count(),
            0
        );
        assert_eq!(counters.snapshot(), CacheStatistics::default());
    }

    #[test]
    fn a_corrupt_entry_is_replaced_by_a_fresh_compile() {
        let directory = tempfile::tempdir().expect("tempdir");
        let counters = CacheCounters::default();
        let engine = Engine::default();
        let wasm = b"(component)";
        let entry = directory.path().join("h-s.cwasm");
        std::fs::write(&entry, b"definitely not machine code").expect("write");
        let (_, source) =
            load_or_compile(&engine, wasm, "h", "s", Some(directory.path()), &counters)
                .expect("compiles");
        assert_eq!(source, CodeSource::Compiled);
        let (_, source) =
            load_or_compile(&engine, wasm, "h", "s", Some(directory.path()), &counters)
                .expect("loads");
        assert_eq!(source, CodeSource::Cache);
        assert_eq!(
            counters.snapshot(),
            CacheStatistics {
                compiled: 1,
                cache_hits: 1
            }
        );
    }
}
