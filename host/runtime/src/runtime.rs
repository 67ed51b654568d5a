//! The engine: configuration, the pooling allocator, the linker with WASI and
//! the `callhost:call` host functions, and the epoch ticker that drives
//! preemption and CPU accounting.
//!
//! One [`Runtime`] serves every call of a process. Depends on wasmtime,
//! wasmtime-wasi and this crate's store, app and call modules.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::app::{self, App, CacheUse};
use crate::cache::{self, CacheCounters, CacheStatistics};
use crate::call::{self, Invocation, RunningCall};
use crate::error::{LoadError, RuntimeError, StartError};
use crate::port::CallPort;
use crate::store::{CallStoreData, EPOCH_TICK, HasCall};

/// Instances kept aside for the throwaway instance that asks a freshly loaded
/// plugin for its name and version; loads wait for one of these, calls never do.
pub(crate) const PROBE_SLOTS: u32 = 2;

// Pool sizing per call slot. Counts cost address space, not memory, so they
// are sized for the heaviest guest language rather than for Rust: a
// componentize-py guest links a dozen core modules (libc, libpython, the
// runtime, adapters and shims), each with its own table.
const CORE_INSTANCES_PER_CALL: u32 = 24;
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
const MEMORIES_PER_CALL: u32 = 4;
const MAX_MEMORIES_PER_COMPONENT: u32 = 16;
const TABLES_PER_CALL: u32 = 16;
const MAX_TABLES_PER_COMPONENT: u32 = 64;
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Guard region after each linear memory.
const MEMORY_GUARD_BYTES: u64 = 32 * 1024 * 1024;
/// Of a finished call's linear memories and tables, what is reset in place (only the
/// pages the call touched, found with Linux's `PAGEMAP_SCAN`) rather than handed back to
/// the kernel with `madvise`: the next call in that slot then takes no page faults there.
const KEEP_RESIDENT_BYTES: usize = 1024 * 1024;

/// Limits and sizing of the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Calls that may run at once: the size of the instance pool. A call beyond
    /// this fails at once with [`StartError::PoolExhausted`]. Default 1000.
    pub max_concurrent_calls: u32,
    /// Cap on each linear memory of an instance. An app that grows past it
    /// traps. Default 64 MiB.
    pub memory_limit_bytes: usize,
    /// Guest CPU time one call may use (time spent waiting in host functions
    /// does not count), measured in 10 ms epoch ticks. Default 10 s.
    pub cpu_budget: Duration,
    /// Wall-clock limit of one call's `main`; `None` for no limit. Default 4 h.
    pub wall_clock_limit: Option<Duration>,
    /// Where compiled plugins are cached. `None`: `.cache/` next to each
    /// loaded plugin file (so `<plugins>/.cache/` for the plugin registry).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_concurrent_calls: 1000,
            memory_limit_bytes: 64 * 1024 * 1024,
            cpu_budget: Duration::from_secs(10),
            wall_clock_limit: Some(Duration::from_secs(4 * 60 * 60)),
            cache_dir: None,
        }
    }
}

/// The WebAssembly runtime: one engine, one linker, one instance pool.
///
/// Cheap to clone; every clone shares the engine. The epoch ticker thread
/// stops when the last clone (and the last app and call made from it) is
/// dropped.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallStoreData>,
    pub(crate) config: RuntimeConfig,
    /// One permit per call slot of the pool; taken with `try_acquire` so a full
    /// pool fails fast.
    pub(crate) call_slots: Arc<Semaphore>,
    pub(crate) probe_slots: Semaphore,
    pub(crate) settings_hash: String,
    pub(crate) cache_counters: CacheCounters,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runtime")
            .field("config", &self.inner.config)
            .field(
                "available_call_slots",
                &self.inner.call_slots.available_permits(),
            )
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Build the engine and start the epoch ticker (a dedicated thread, so a
    /// spinning guest is interrupted even on a single-threaded tokio runtime).
    /// Calls themselves need a tokio runtime.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|error| {
            RuntimeError::Linker {
                reason: format!("{error:#}"),
            }
        })?;
        crate::bindings::App::add_to_linker::<CallStoreData, HasCall>(
            &mut linker,
            CallStoreData::call_view,
        )
        .map_err(|error| RuntimeError::Linker {
            reason: format!("{error:#}"),
        })?;
        let ticker = EpochTicker::start(engine.clone()).map_err(RuntimeError::Ticker)?;
        let settings_hash = cache::engine_settings_hash(&engine);
        let call_slots = Arc::new(Semaphore::new(config.max_concurrent_calls as usize));
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                config,
                call_slots,
                probe_slots: Semaphore::new(PROBE_SLOTS as usize),
                settings_hash,
                cache_counters: CacheCounters::default(),
                _ticker: ticker,
            }),
        })
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Load a plugin: read it, compile it off the async threads (or load it
    /// from the `.cwasm` cache), check it against the `app` world, and ask it
    /// for its name and version in a throwaway instance. Cancel-safe (a
    /// cancelled load may still finish compiling and fill the cache).
    pub async fn load(&self, path: &Path) -> Result<Arc<App>, LoadError> {
        app::load(self, path, CacheUse::Configured)
            .await
            .map(Arc::new)
    }

    /// Instantiate a fresh instance of `app` for one call. Fails fast (no
    /// queueing) with [`StartError::PoolExhausted`] when every call slot is in
    /// use. Call it inside the call's tracing span: the app's log lines are
    /// attached to the span current here.
    pub async fn start_call(
        &self,
        app: Arc<App>,
        port: CallPort,
        invocation: Invocation,
    ) -> Result<RunningCall, StartError> {
        call::start(self, app, port, invocation).await
    }

    /// Calls running now (slots in use).
    pub fn active_calls(&self) -> u32 {
        let free = self.inner.call_slots.available_permits();
        self.inner
            .config
            .max_concurrent_calls
            .saturating_sub(u32::try_from(free).unwrap_or(u32::MAX))
    }

    /// How many plugins were compiled and how many came from the cache.
    pub fn cache_statistics(&self) -> CacheStatistics {
        self.inner.cache_counters.snapshot()
    }
}

fn build_engine(settings: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let slots = settings
        .max_concurrent_calls
        .max(1)
        .saturating_add(PROBE_SLOTS);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_stacks(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_CALL))
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(MEMORIES_PER_CALL))
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(TABLES_PER_CALL))
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_memory_size(settings.memory_limit_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        // Reserve only the cap for each memory (bounds checks are explicit)
        // rather than 4 GiB: thousands of slots then fit easily in the address
        // space, and guest code in a telephony app is rarely the bottleneck.
        .memory_reservation(settings.memory_limit_bytes as u64)
        .memory_reservation_for_growth(0)
        .memory_guard_size(MEMORY_GUARD_BYTES)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|error| RuntimeError::Engine {
        reason: format!("{error:#}"),
    })
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on its own thread until
/// dropped.
struct EpochTicker {
    _stop: mpsc::Sender<()>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("callhost-epoch".into())
            .spawn(move || {
                // Ends when the sender is dropped (Disconnected).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker { _stop: stop })
    }
}
