//! Loading plugins: compile once and cache the `.cwasm`, verify the contract,
//! describe a plugin for `callhost check`.

mod support;

use callhost_runtime::{CodeSource, LoadError, Runtime, RuntimeConfig, check};

fn runtime(config: RuntimeConfig) -> Runtime {
    Runtime::new(RuntimeConfig {
        max_concurrent_calls: 2,
        ..config
    })
    .expect("runtime")
}

fn cwasm_files(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(directory) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "cwasm")
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn the_first_load_compiles_and_later_loads_hit_the_cache() {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let path = support::install_guest("scenarios", plugins.path(), "ivr");
    let cache = plugins.path().join(".cache");

    // Default cache location: `.cache/` beside the plugin.
    let first = runtime(RuntimeConfig::default());
    let app = first.load(&path).await.expect("loads");
    assert_eq!(app.code_source, CodeSource::Compiled);
    assert_eq!(
        (
            app.service.as_str(),
            app.name.as_str(),
            app.version.as_str()
        ),
        ("ivr", "scenarios", "1.0.0")
    );
    assert_eq!(app.content_hash.len(), 64);
    assert_eq!(first.cache_statistics().compiled, 1);
    assert_eq!(cwasm_files(&cache).len(), 1, "one cache entry written");
    let entry = &cwasm_files(&cache)[0];
    assert!(
        entry
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&app.content_hash),
        "entry named by content hash"
    );

    // A new runtime with the same settings (e.g. after a restart) reuses it.
    let second = runtime(RuntimeConfig::default());
    let again = second.load(&path).await.expect("loads from cache");
    assert_eq!(again.code_source, CodeSource::Cache);
    assert_eq!(
        (again.name.as_str(), again.version.as_str()),
        ("scenarios", "1.0.0")
    );
    assert_eq!(second.cache_statistics().cache_hits, 1);
    assert_eq!(second.cache_statistics().compiled, 0);

    // Different code-generation settings (the memory reservation follows the
    // memory cap) need different code: a new entry, not a stale hit.
    let other = runtime(RuntimeConfig {
        memory_limit_bytes: 32 * 1024 * 1024,
        ..RuntimeConfig::default()
    });
    assert_eq!(
        other.load(&path).await.expect("loads").code_source,
        CodeSource::Compiled
    );
    assert_eq!(cwasm_files(&cache).len(), 2);
}

#[tokio::test]
async fn an_explicit_cache_directory_is_used() {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let cache = tempfile::tempdir().expect("cache dir");
    let path = support::install_guest("hello-v2", plugins.path(), "hello");
    let runtime = runtime(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..RuntimeConfig::default()
    });
    let app = runtime.load(&path).await.expect("loads");
    assert_eq!(
        (app.name.as_str(), app.version.as_str()),
        ("hello", "2.0.0")
    );
    assert_eq!(cwasm_files(cache.path()).len(), 1);
    assert!(!plugins.path().join(".cache").exists());
    assert_eq!(
        runtime.load(&path).await.expect("loads").code_source,
        CodeSource::Cache
    );
}

#[tokio::test]
async fn check_describes_a_plugin_without_writing_a_cache() {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let path = support::install_guest("scenarios", plugins.path(), "scenarios");
    let runtime = runtime(RuntimeConfig::default());
    let info = check(&runtime, &path).await.expect("checks");
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("scenarios", "1.0.0")
    );
    assert_eq!(info.exports, ["main", "name", "version"]);
    for import in [
        "callhost:call/channel@0.1.0",
        "callhost:call/file-player@0.1.0",
        "callhost:call/log@0.1.0",
    ] {
        assert!(
            info.imports.iter().any(|name| name == import),
            "{import} missing from {:?}",
            info.imports
        );
    }
    assert!(
        info.imports.iter().any(|name| name.starts_with("wasi:")),
        "{:?}",
        info.imports
    );
    assert!(!plugins.path().join(".cache").exists());
}

#[tokio::test]
async fn files_that_are_not_apps_are_refused_with_a_reason() {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let runtime = runtime(RuntimeConfig::default());

    let garbage = plugins.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x0d\0\x01\0 this is not a component").expect("write");
    let error = runtime
        .load(&garbage)
        .await
        .expect_err("garbage is refused");
    assert!(matches!(error, LoadError::Compile { .. }), "{error}");

    // A valid component without the app's exports.
    let empty = plugins.path().join("empty.wasm");
    std::fs::write(&empty, "(component)").expect("write");
    let error = runtime
        .load(&empty)
        .await
        .expect_err("an empty component is refused");
    assert!(matches!(error, LoadError::Contract { .. }), "{error}");
    assert!(error.to_string().contains("main"), "{error}");

    // A component importing something the host does not provide.
    let foreign = plugins.path().join("foreign.wasm");
    std::fs::write(
        &foreign,
        r#"(component (import "acme:telephony/fax@1.0.0" (instance (export "send" (func)))))"#,
    )
    .expect("write");
    let error = runtime
        .load(&foreign)
        .await
        .expect_err("an unknown import is refused");
    assert!(matches!(error, LoadError::Contract { .. }), "{error}");
    assert!(error.to_string().contains("acme:telephony/fax"), "{error}");

    let missing = plugins.path().join("missing.wasm");
    assert!(matches!(
        runtime.load(&missing).await,
        Err(LoadError::Read { .. })
    ));
}
