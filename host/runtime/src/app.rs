//! Plugins turned into apps: reading, compiling (or loading from the cache),
//! checking against the `app` world, and asking the app for its name and
//! version once in a throwaway instance. Also `callhost check`.
//!
//! Depends on wasmtime and this crate's cache, store and output modules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::Span;
use wasmtime::component::InstancePre;
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::AppPre;
use crate::cache::{self, CodeSource, CompileFailure};
use crate::error::LoadError;
use crate::output::{CallLog, GuestOutput, StdStream};
use crate::runtime::Runtime;
use crate::store::{self, CallStoreData, StoreSettings};

/// Guest CPU allowed for `name()` plus `version()`.
const PROBE_CPU_BUDGET: Duration = Duration::from_secs(1);
/// Wall-clock limit of the throwaway instance.
const PROBE_WALL_CLOCK_LIMIT: Duration = Duration::from_secs(10);
/// Longest name or version string accepted.
const MAX_LABEL_LENGTH: usize = 128;

/// One version of a loaded plugin, ready to start calls.
///
/// Immutable. The plugin registry swaps in a new `Arc<App>` on reload; calls in
/// progress keep the `Arc` they started with and finish on that version.
pub struct App {
    /// The service key: the plugin's file stem (`plugins/ivr.wasm` → `ivr`).
    pub service: String,
    /// The name the app reports (`name()` export).
    pub name: String,
    /// The version the app reports (`version()` export).
    pub version: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub content_hash: String,
    /// Whether the code was compiled now or loaded from the `.cwasm` cache.
    pub code_source: CodeSource,
    pub(crate) component: wasmtime::component::Component,
    pub(crate) pre: AppPre<CallStoreData>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("App")
            .field("service", &self.service)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("path", &self.path)
            .field("content_hash", &self.content_hash)
            .field("code_source", &self.code_source)
            .finish_non_exhaustive()
    }
}

/// What `callhost check` prints about a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// The name the app reports.
    pub name: String,
    /// The version the app reports.
    pub version: String,
    /// The component's export names (`main`, `name`, `version`).
    pub exports: Vec<String>,
    /// The component's import names (`callhost:call/channel@0.1.0`, WASI, …).
    pub imports: Vec<String>,
}

/// Whether a load uses the on-disk cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheUse {
    /// `RuntimeConfig::cache_dir`, or `.cache/` beside the plugin.
    Configured,
    /// Compile in memory only (for `check`, which should leave no files).
    None,
}

/// Load, verify and describe a plugin without touching the cache: for
/// `callhost check FILE.wasm`.
pub async fn check(runtime: &Runtime, path: &Path) -> Result<AppInfo, LoadError> {
    let app = load(runtime, path, CacheUse::None).await?;
    let engine = &runtime.inner.engine;
    let component_type = app.component.component_type();
    let mut exports: Vec<String> = component_type
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let mut imports: Vec<String> = component_type
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    exports.sort();
    imports.sort();
    Ok(AppInfo {
        name: app.name,
        version: app.version,
        exports,
        imports,
    })
}

/// The service key of a plugin path: its file stem.
pub(crate) fn service_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    (!stem.is_empty() && !stem.starts_with('.')).then(|| stem.to_owned())
}

pub(crate) async fn load(
    runtime: &Runtime,
    path: &Path,
    cache_use: CacheUse,
) -> Result<App, LoadError> {
    let service = service_name(path).ok_or_else(|| LoadError::FileName {
        path: path.to_owned(),
    })?;
    let wasm = tokio::fs::read(path)
        .await
        .map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
    let content_hash = cache::content_hash(&wasm);
    let cache_directory = match cache_use {
        CacheUse::None => None,
        CacheUse::Configured => Some(
            runtime
                .inner
                .config
                .cache_dir
                .clone()
                .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).join(".cache")),
        ),
    };

    let inner = runtime.inner.clone();
    let hash = content_hash.clone();
    let compiled = tokio::task::spawn_blocking(move || {
        cache::load_or_compile(
            &inner.engine,
            &wasm,
            &hash,
            &inner.settings_hash,
            cache_directory.as_deref(),
            &inner.cache_counters,
        )
    })
    .await
    .map_err(|error| LoadError::Interrupted {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    let (component, code_source) =
        compiled.map_err(|CompileFailure(error)| LoadError::Compile {
            path: path.to_owned(),
            reason: format!("{error:#}"),
        })?;

    let contract_error = |error: wasmtime::Error| LoadError::Contract {
        path: path.to_owned(),
        reason: format!("{error:#}"),
    };
    // Checks every import is provided by the linker.
    let instance_pre: InstancePre<CallStoreData> = runtime
        .inner
        .linker
        .instantiate_pre(&component)
        .map_err(contract_error)?;
    // Checks `main`, `name` and `version` are exported with the right types.
    let pre = AppPre::new(instance_pre).map_err(contract_error)?;

    let (name, version) =
        probe(runtime, &service, &pre)
            .await
            .map_err(|reason| LoadError::Probe {
                path: path.to_owned(),
                reason,
            })?;
    tracing::debug!(service, name, version, ?code_source, "plugin loaded");
    Ok(App {
        service,
        name,
        version,
        path: path.to_owned(),
        content_hash,
        code_source,
        component,
        pre,
    })
}

/// Call `name()` and `version()` in a throwaway instance with tight limits.
async fn probe(
    runtime: &Runtime,
    service: &str,
    pre: &AppPre<CallStoreData>,
) -> Result<(String, String), String> {
    let _slot = runtime
        .inner
        .probe_slots
        .acquire()
        .await
        .map_err(|_| "the runtime is shutting down".to_owned())?;
    let log = CallLog::new(service.into(), Span::current());
    let wasi = WasiCtxBuilder::new()
        .stdout(GuestOutput::new(log.clone(), StdStream::Stdout))
        .stderr(GuestOutput::new(log.clone(), StdStream::Stderr))
        .build();
    let mut store = store::new_store(
        &runtime.inner.engine,
        StoreSettings {
            wasi,
            log: log.clone(),
            memory_limit_bytes: runtime.inner.config.memory_limit_bytes,
            cpu_budget: PROBE_CPU_BUDGET,
        },
    );
    let labels = async {
        let instance = pre.instantiate_async(&mut store).await?;
        let name = instance.call_name(&mut store).await?;
        let version = instance.call_version(&mut store).await?;
        wasmtime::Result::Ok((name, version))
    };
    let outcome = tokio::time::timeout(PROBE_WALL_CLOCK_LIMIT, labels).await;
    log.flush();
    let (name, version) = match outcome {
        Err(_) => {
            return Err(format!(
                "no answer within {}s",
                PROBE_WALL_CLOCK_LIMIT.as_secs()
            ));
        }
        Ok(Err(_)) if store.data().cpu().exceeded() => {
            return Err(store.data().cpu().exceeded_message());
        }
        Ok(Err(error)) => return Err(crate::call::describe_trap(&error, &log.stderr_tail())),
        Ok(Ok(labels)) => labels,
    };
    Ok((check_label("name", name)?, check_label("version", version)?))
}

fn check_label(what: &str, value: String) -> Result<String, String> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(format!("{what}() returned an empty string"));
    }
    if value.len() > MAX_LABEL_LENGTH || value.chars().any(char::is_control) {
        return Err(format!(
            "{what}() must return at most {MAX_LABEL_LENGTH} bytes of printable text"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_is_the_file_stem() {
        assert_eq!(
            service_name(Path::new("/plugins/ivr.wasm")).as_deref(),
            Some("ivr")
        );
        assert_eq!(
            service_name(Path::new("menu.v2.wasm")).as_deref(),
            Some("menu.v2")
        );
        assert_eq!(service_name(Path::new("/plugins/.hidden.wasm")), None);
        assert_eq!(service_name(Path::new("/")), None);
    }

    #[test]
    fn labels_are_trimmed_and_checked() {
        assert_eq!(check_label("name", " ivr \n".into()).as_deref(), Ok("ivr"));
        assert!(check_label("name", "  ".into()).is_err());
        assert!(check_label("version", "1.0\u{7}".into()).is_err());
        assert!(check_label("version", "x".repeat(MAX_LABEL_LENGTH + 1)).is_err());
    }
}
