//! The plugin registry: every `<service>.wasm` in the plugins directory as a
//! loaded [`App`], kept current by watching the directory.
//!
//! Hot reload: the watcher reacts to close-after-write, rename and remove (not
//! to every modify), ignores dotfiles and names not ending in `.wasm`, waits
//! for [`DEBOUNCE`] of quiet per file, then loads the file off the async
//! threads and swaps the new version in atomically. Calls in progress hold
//! their own `Arc<App>` and finish on the old version. A file that fails to
//! load leaves the old version serving; a removed file removes the service.
//! Operators should write a new version to a temporary (dot)file and rename it
//! into place: a rename is one event and never exposes a half-written file.
//!
//! Depends on notify, arc-swap and this crate's runtime and app modules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::app::{App, service_name};
use crate::error::RegistryError;
use crate::runtime::Runtime;

/// Quiet time after the last event for a file before it is (re)loaded.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// Registry events buffered for slow subscribers.
const EVENT_CAPACITY: usize = 256;

/// A change in the set of services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A plugin was loaded (first time or new version) and now serves.
    Loaded {
        /// The service key.
        service: String,
        /// The version now serving.
        version: String,
    },
    /// A plugin file could not be loaded; the previous version (if any) keeps
    /// serving.
    LoadFailed {
        /// The service key.
        service: String,
        /// Why, with the whole cause chain.
        error: String,
    },
    /// The plugin file was removed; new calls for the service get `None`.
    Removed {
        /// The service key.
        service: String,
    },
}

/// The loaded plugins of one directory, kept current while any clone lives.
/// Dropping the last clone stops the watcher and its task.
#[derive(Clone)]
pub struct PluginRegistry {
    inner: Arc<RegistryInner>,
}

struct RegistryInner {
    runtime: Runtime,
    directory: PathBuf,
    apps: ArcSwap<HashMap<String, Arc<App>>>,
    events: broadcast::Sender<RegistryEvent>,
    // Kept alive for the registry's lifetime; dropping it ends the worker.
    _watcher: Mutex<RecommendedWatcher>,
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PluginRegistry")
            .field("directory", &self.inner.directory)
            .field(
                "services",
                &self.inner.apps.load().keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What the watcher thread hands the worker task.
#[derive(Debug)]
enum Change {
    /// Something happened to this plugin file.
    File(PathBuf),
    /// Events were lost: look at every file again.
    Rescan,
}

impl PluginRegistry {
    /// Start watching `directory`, then load every `*.wasm` in it (a bad one is
    /// logged, reported as [`RegistryEvent::LoadFailed`] and skipped).
    pub async fn start(runtime: Runtime, directory: PathBuf) -> Result<Self, RegistryError> {
        let directory = tokio::fs::canonicalize(&directory)
            .await
            .map_err(|source| RegistryError::ReadDirectory {
                path: directory.clone(),
                source,
            })?;
        let (changes, receiver) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |result: notify::Result<Event>| {
            forward(&changes, result)
        })
        .map_err(|source| RegistryError::Watch {
            path: directory.clone(),
            source,
        })?;
        // Watch before the first scan so nothing written during it is missed.
        watcher
            .watch(&directory, RecursiveMode::NonRecursive)
            .map_err(|source| RegistryError::Watch {
                path: directory.clone(),
                source,
            })?;
        let inner = Arc::new(RegistryInner {
            runtime,
            directory,
            apps: ArcSwap::from_pointee(HashMap::new()),
            events: broadcast::channel(EVENT_CAPACITY).0,
            _watcher: Mutex::new(watcher),
        });
        for path in inner.plugin_files().await? {
            inner.refresh(&path).await;
        }
        tokio::spawn(watch_loop(Arc::downgrade(&inner), receiver));
        tracing::info!(directory = %inner.directory.display(), services = inner.apps.load().len(), "plugin registry started");
        Ok(PluginRegistry { inner })
    }

    /// The app currently serving `service`. Lock-free.
    pub fn get(&self, service: &str) -> Option<Arc<App>> {
        self.inner.apps.load().get(service).cloned()
    }

    /// Every app currently serving, by service name.
    pub fn services(&self) -> Vec<Arc<App>> {
        let mut apps: Vec<Arc<App>> = self.inner.apps.load().values().cloned().collect();
        apps.sort_by(|left, right| left.service.cmp(&right.service));
        apps
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.inner.events.subscribe()
    }

    /// The (canonical) directory being watched.
    pub fn directory(&self) -> &Path {
        &self.inner.directory
    }
}

/// Runs on the watcher's thread: keep only events that can change a plugin.
fn forward(changes: &mpsc::UnboundedSender<Change>, result: notify::Result<Event>) {
    let event = match result {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!("plugin directory watcher error, rescanning: {error}");
            let _ = changes.send(Change::Rescan);
            return;
        }
    };
    if event.need_rescan() {
        let _ = changes.send(Change::Rescan);
    }
    let relevant = matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Remove(_)
    );
    if relevant {
        for path in event
            .paths
            .into_iter()
            .filter(|path| is_plugin_file_name(path))
        {
            let _ = changes.send(Change::File(path));
        }
    }
}

/// `<service>.wasm`, not a dotfile.
fn is_plugin_file_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "wasm")
        && service_name(path).is_some()
}

/// Debounce changes per file and apply them one at a time, so two versions of
/// one plugin never load concurrently. Ends when the registry is dropped.
async fn watch_loop(registry: Weak<RegistryInner>, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let next_due = pending.values().min().copied();
        tokio::select! {
            change = changes.recv() => match change {
                None => return,
                Some(Change::File(path)) => {
                    pending.insert(path, Instant::now() + DEBOUNCE);
                }
                Some(Change::Rescan) => {
                    let Some(inner) = registry.upgrade() else { return };
                    for path in inner.rescan_paths().await {
                        pending.insert(path, Instant::now() + DEBOUNCE);
                    }
                }
            },
            () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                let now = Instant::now();
                let due: Vec<PathBuf> = pending.iter().filter(|(_, due)| **due <= now).map(|(path, _)| path.clone()).collect();
                for path in due {
                    pending.remove(&path);
                    let Some(inner) = registry.upgrade() else { return };
                    inner.refresh(&path).await;
                }
            }
        }
    }
}

impl RegistryInner {
    /// Every `<service>.wasm` in the directory now.
    async fn plugin_files(&self) -> Result<Vec<PathBuf>, RegistryError> {
        let error = |source| RegistryError::ReadDirectory {
            path: self.directory.clone(),
            source,
        };
        let mut entries = tokio::fs::read_dir(&self.directory).await.map_err(error)?;
        let mut files = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(error)? {
            let path = entry.path();
            if is_plugin_file_name(&path) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Files present now plus files of services loaded now (to notice removals).
    async fn rescan_paths(&self) -> Vec<PathBuf> {
        let mut paths = self.plugin_files().await.unwrap_or_else(|error| {
            tracing::warn!("{error}");
            Vec::new()
        });
        paths.extend(self.apps.load().values().map(|app| app.path.clone()));
        paths.sort();
        paths.dedup();
        paths
    }

    /// Bring the service of `path` in line with the file.
    async fn refresh(&self, path: &Path) {
        let Some(service) = service_name(path) else {
            return;
        };
        let exists = tokio::fs::metadata(path)
            .await
            .is_ok_and(|metadata| metadata.is_file());
        if !exists {
            self.remove(&service);
            return;
        }
        match self.runtime.load(path).await {
            Ok(app) => self.install(app),
            Err(error) => {
                let error = error_chain(&error);
                tracing::warn!(service, path = %path.display(), "plugin not loaded, the previous version (if any) keeps serving: {error}");
                let _ = self
                    .events
                    .send(RegistryEvent::LoadFailed { service, error });
            }
        }
    }

    fn install(&self, app: Arc<App>) {
        let current = self.apps.load().get(&app.service).cloned();
        if current
            .as_ref()
            .is_some_and(|current| current.content_hash == app.content_hash)
        {
            // Same bytes (e.g. `touch` or a copy of the same build): keep the
            // instance the callers already hold.
            return;
        }
        self.apps.rcu(|apps| {
            let mut apps = HashMap::clone(apps);
            apps.insert(app.service.clone(), app.clone());
            apps
        });
        match current {
            Some(previous) => tracing::info!(
                service = app.service,
                name = app.name,
                version = app.version,
                previous = previous.version,
                code = ?app.code_source,
                "plugin reloaded"
            ),
            None => {
                tracing::info!(service = app.service, name = app.name, version = app.version, code = ?app.code_source, "plugin loaded")
            }
        }
        let _ = self.events.send(RegistryEvent::Loaded {
            service: app.service.clone(),
            version: app.version.clone(),
        });
    }

    fn remove(&self, service: &str) {
        let mut removed = false;
        self.apps.rcu(|apps| {
            let mut apps = HashMap::clone(apps);
            removed = apps.remove(service).is_some();
            apps
        });
        if removed {
            tracing::info!(service, "plugin removed");
            let _ = self.events.send(RegistryEvent::Removed {
                service: service.to_owned(),
            });
        }
    }
}

/// `error: cause: cause …` for any error.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_wasm_files_are_plugins() {
        assert!(is_plugin_file_name(Path::new("/plugins/ivr.wasm")));
        assert!(!is_plugin_file_name(Path::new("/plugins/.ivr.wasm")));
        assert!(!is_plugin_file_name(Path::new("/plugins/ivr.wasm.tmp")));
        assert!(!is_plugin_file_name(Path::new("/plugins/ivr.toml")));
        assert!(!is_plugin_file_name(Path::new("/plugins/.cache")));
    }

    #[test]
    fn error_chain_includes_sources() {
        let error = crate::error::LoadError::Read {
            path: "/plugins/x.wasm".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            error_chain(&error),
            "cannot read plugin /plugins/x.wasm: gone"
        );
    }
}
