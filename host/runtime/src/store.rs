//! Per-call store state: the data inside each instance's `wasmtime::Store`, the
//! view the host-interface implementations work on (with the primary port the
//! `files` functions use), and the CPU meter driven by
//! the engine's epoch.
//!
//! Dropping the store is the cleanup: the resource table (with the call's
//! port), the WASI context and the log all live here. Depends on wasmtime,
//! wasmtime-wasi and this crate's output module.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasData, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::host::tone_player::ToneTable;
use crate::output::CallLog;
use crate::port::CallPort;

/// How often the epoch ticker advances the engine's epoch: the granularity of
/// preemption and of CPU accounting.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The data of one instance's store.
pub(crate) struct CallStoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    log: Arc<CallLog>,
    cpu: CpuMeter,
    tones: ToneTable,
    /// The primary channel's port, for the `files` functions (which name no
    /// channel); none outside a call.
    files_port: Option<CallPort>,
}

impl CallStoreData {
    /// The resource table (channels live here).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The app instance's tone definitions.
    pub(crate) fn tones(&mut self) -> &mut ToneTable {
        &mut self.tones
    }

    /// The CPU meter.
    pub(crate) fn cpu(&self) -> &CpuMeter {
        &self.cpu
    }

    /// Route the `files` functions through `port` (the primary channel's).
    pub(crate) fn set_files_port(&mut self, port: CallPort) {
        self.files_port = Some(port);
    }

    /// The view the `callhost:call` host interfaces are implemented on.
    pub(crate) fn call_view(&mut self) -> CallView<'_> {
        CallView {
            table: &mut self.table,
            log: &self.log,
            tones: &mut self.tones,
            files_port: self.files_port.as_ref(),
        }
    }
}

impl WasiView for CallStoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What the `callhost:call` host functions see of a call's store: the resource
/// table (channel handles and their ports) and the call's log.
pub struct CallView<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) log: &'a CallLog,
    /// The tones this app instance defined (`tone-player`).
    pub(crate) tones: &'a mut ToneTable,
    pub(crate) files_port: Option<&'a CallPort>,
}

/// Projects [`CallStoreData`] to [`CallView`] for the bindgen `add_to_linker`.
pub(crate) struct HasCall;

impl HasData for HasCall {
    type Data<'a> = CallView<'a>;
}

/// Guest CPU time, counted in epoch ticks.
///
/// The epoch deadline fires only while guest code runs (it is checked at
/// function entries and loop headers), so a call waiting in a host function
/// does not spend its budget; at most one tick is charged when it resumes.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    ticks: u64,
    budget_ticks: u64,
    budget: Duration,
    exceeded: bool,
}

impl CpuMeter {
    pub(crate) fn new(budget: Duration) -> Self {
        let budget_ticks = budget.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
        CpuMeter {
            ticks: 0,
            budget_ticks: u64::try_from(budget_ticks).unwrap_or(u64::MAX),
            budget,
            exceeded: false,
        }
    }

    /// Ticks charged so far.
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Whether the call was stopped for exceeding its budget.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The message of the trap that ends an over-budget call.
    pub(crate) fn exceeded_message(&self) -> String {
        format!("CPU budget of {}s exceeded", self.budget.as_secs_f64())
    }

    /// Charge one tick; false once the budget is spent.
    fn charge_tick(&mut self) -> bool {
        self.ticks += 1;
        if self.ticks > self.budget_ticks {
            self.exceeded = true;
        }
        !self.exceeded
    }
}

/// Everything a store needs besides the engine.
pub(crate) struct StoreSettings {
    pub(crate) wasi: WasiCtx,
    pub(crate) log: Arc<CallLog>,
    pub(crate) memory_limit_bytes: usize,
    pub(crate) cpu_budget: Duration,
}

/// A store with limits, the CPU meter and cooperative yielding installed.
pub(crate) fn new_store(engine: &Engine, settings: StoreSettings) -> Store<CallStoreData> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(settings.memory_limit_bytes)
        // A failed `memory.grow` traps instead of returning -1, so an app that
        // outgrows its cap ends with a clear message rather than whatever its
        // allocator does on failure.
        .trap_on_grow_failure(true)
        .build();
    let data = CallStoreData {
        wasi: settings.wasi,
        table: ResourceTable::new(),
        limits,
        log: settings.log,
        cpu: CpuMeter::new(settings.cpu_budget),
        tones: ToneTable::default(),
        files_port: None,
    };
    let mut store = Store::new(engine, data);
    store.limiter(|data| &mut data.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut context| {
        let cpu = &mut context.data_mut().cpu;
        if cpu.charge_tick() {
            // Yield through tokio (not wasmtime's plain Yield) so a spinning
            // guest goes to the back of the run queue and healthy calls on the
            // same worker keep their timing.
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        } else {
            Err(wasmtime::Error::msg(cpu.exceeded_message()))
        }
    });
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_counted_in_whole_ticks() {
        let mut meter = CpuMeter::new(Duration::from_millis(25));
        assert!(meter.charge_tick());
        assert!(meter.charge_tick());
        assert!(meter.charge_tick());
        assert!(!meter.exceeded());
        assert!(!meter.charge_tick());
        assert!(meter.exceeded());
        assert_eq!(meter.ticks(), 4);
        assert_eq!(meter.exceeded_message(), "CPU budget of 0.025s exceeded");
    }

    #[test]
    fn a_zero_budget_still_allows_one_tick() {
        let mut meter = CpuMeter::new(Duration::ZERO);
        assert!(meter.charge_tick());
        assert!(!meter.charge_tick());
    }
}
