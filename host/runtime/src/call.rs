//! One call's instance: starting it (a pool slot, a store, WASI, the channel
//! handle, instantiation) and running `main` under the CPU budget and the
//! wall-clock limit, ending in an [`ExitRecord`].
//!
//! Depends on wasmtime, wasmtime-wasi and this crate's store, output, host and
//! port modules.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use tracing::Span;
use wasmtime::component::Resource;
use wasmtime::{Store, Trap, WasmBacktrace};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::app::App;
use crate::error::StartError;
use crate::host::channel::ChannelHandle;
use crate::output::{CallLog, GuestOutput, StdStream};
use crate::port::CallPort;
use crate::runtime::Runtime;
use crate::store::{self, CallStoreData, StoreSettings};

/// The path at which the app's media directory appears to the guest. `/` makes
/// `player.play("hello.wav")` and `std::fs::read("hello.wav")` name the same file.
pub const MEDIA_GUEST_PATH: &str = "/";
/// Wasm frames quoted in a trap description.
const BACKTRACE_FRAMES: usize = 8;

/// What the app's `main` is started with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Names this run in logs and the exit record.
    pub instance_id: String,
    /// From the service configuration.
    pub application_parameters: String,
    /// Set only for outbound apps.
    pub outbound_parameters: Option<String>,
    /// Preopened read-only at [`MEDIA_GUEST_PATH`] (`/`); `None`: no file
    /// system at all.
    pub media_dir: Option<PathBuf>,
}

/// An instantiated app waiting to run `main` for one call. Holds a pool slot
/// until dropped or run.
pub struct RunningCall {
    store: Store<CallStoreData>,
    instance: crate::bindings::App,
    channel: Resource<ChannelHandle>,
    app: Arc<App>,
    invocation: Invocation,
    wall_clock_limit: Option<Duration>,
    log: Arc<CallLog>,
    // Released after the store is dropped (field order), so the slot count
    // never runs ahead of wasmtime's pool.
    _slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for RunningCall {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RunningCall")
            .field("app", &self.app.service)
            .field("instance_id", &self.invocation.instance_id)
            .finish_non_exhaustive()
    }
}

/// How a call's `main` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitOutcome {
    /// `main` returned this exit code.
    Returned(i32),
    /// The instance trapped: the trap, the guest's last stderr lines (a Rust
    /// panic message) and a short wasm backtrace, on one line.
    Trapped(String),
    /// The call used up its guest CPU budget.
    CpuBudgetExceeded,
    /// `main` ran past the wall-clock limit and was dropped.
    WallClockExceeded,
}

/// The record of one finished call, for the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    /// The invocation's instance id.
    pub instance_id: String,
    /// The app's reported name.
    pub app: String,
    /// The app's reported version.
    pub version: String,
    /// The service key (plugin file stem).
    pub service: String,
    /// How `main` ended.
    pub outcome: ExitOutcome,
    /// One-line description of the outcome, e.g. `returned 0`,
    /// `CPU budget of 10s exceeded`, `trapped: wasm trap: …`.
    pub message: String,
    /// Time from `run` to the end of `main`.
    pub wall_time: Duration,
    /// Guest CPU charged, in 10 ms epoch ticks.
    pub guest_cpu_ticks: u64,
}

impl std::fmt::Display for ExitRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "instance {} of {} {} (service {}) {} after {:.3}s wall, ~{} ms guest CPU",
            self.instance_id,
            self.app,
            self.version,
            self.service,
            self.message,
            self.wall_time.as_secs_f64(),
            self.guest_cpu_ticks * crate::store::EPOCH_TICK.as_millis() as u64
        )
    }
}

pub(crate) async fn start(
    runtime: &Runtime,
    app: Arc<App>,
    port: CallPort,
    invocation: Invocation,
) -> Result<RunningCall, StartError> {
    let inner = &runtime.inner;
    let slot =
        inner
            .call_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| StartError::PoolExhausted {
                limit: inner.config.max_concurrent_calls,
            })?;

    let log = CallLog::new(app.service.as_str().into(), Span::current());
    // Inherits nothing: no environment, no arguments, no stdin, no network.
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(GuestOutput::new(log.clone(), StdStream::Stdout))
        .stderr(GuestOutput::new(log.clone(), StdStream::Stderr))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(media_dir) = &invocation.media_dir {
        wasi.preopened_dir(media_dir, MEDIA_GUEST_PATH, FsPerms::ReadOnly)
            .map_err(|error| StartError::MediaDirectory {
                path: media_dir.clone(),
                reason: format!("{error:#}"),
            })?;
    }
    let mut store = store::new_store(
        &inner.engine,
        StoreSettings {
            wasi: wasi.build(),
            log: log.clone(),
            memory_limit_bytes: inner.config.memory_limit_bytes,
            cpu_budget: inner.config.cpu_budget,
        },
    );
    let instantiate_error = |reason: String| StartError::Instantiate {
        app: app.service.clone(),
        reason,
    };
    // Tone definitions are checked by the primary channel's call task.
    store.data_mut().tones().set_checker(port.clone());
    store.data_mut().set_files_port(port.clone());
    let channel = store
        .data_mut()
        .table()
        .push(ChannelHandle::new(port))
        .map_err(|error| instantiate_error(error.to_string()))?;
    let instance = match app.pre.instantiate_async(&mut store).await {
        Ok(instance) => instance,
        Err(error) if is_pool_exhaustion(&error) => {
            return Err(StartError::PoolExhausted {
                limit: inner.config.max_concurrent_calls,
            });
        }
        Err(error) => return Err(instantiate_error(format!("{error:#}"))),
    };
    Ok(RunningCall {
        store,
        instance,
        channel,
        app,
        invocation,
        wall_clock_limit: inner.config.wall_clock_limit,
        log,
        _slot: slot,
    })
}

fn is_pool_exhaustion(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
}

impl RunningCall {
    /// Run `main` to completion and describe how it ended. Never panics; a
    /// trap, an exhausted CPU budget or the wall-clock limit end only this
    /// call. Consumes the instance: the store, the channel handle (and with it
    /// this call's port sender) and the pool slot are released on return.
    /// Dropping the returned future part-way is safe and frees the instance.
    pub async fn run(self) -> ExitRecord {
        let RunningCall {
            mut store,
            instance,
            channel,
            app,
            invocation,
            wall_clock_limit,
            log,
            _slot,
        } = self;
        let started = Instant::now();
        let main = instance.call_main(
            &mut store,
            channel,
            &invocation.instance_id,
            &invocation.application_parameters,
            invocation.outbound_parameters.as_deref(),
        );
        let result = match wall_clock_limit {
            Some(limit) => tokio::time::timeout(limit, main).await.ok(),
            None => Some(main.await),
        };
        let wall_time = started.elapsed();
        log.flush();
        let cpu = store.data().cpu();
        let (outcome, message) = match result {
            None => (
                ExitOutcome::WallClockExceeded,
                format!(
                    "wall-clock limit of {}s exceeded",
                    wall_clock_limit.unwrap_or_default().as_secs_f64()
                ),
            ),
            Some(Ok(code)) => (ExitOutcome::Returned(code), format!("returned {code}")),
            Some(Err(_)) if cpu.exceeded() => {
                (ExitOutcome::CpuBudgetExceeded, cpu.exceeded_message())
            }
            Some(Err(error)) => {
                let description = describe_trap(&error, &log.stderr_tail());
                (
                    ExitOutcome::Trapped(description.clone()),
                    format!("trapped: {description}"),
                )
            }
        };
        ExitRecord {
            instance_id: invocation.instance_id,
            app: app.name.clone(),
            version: app.version.clone(),
            service: app.service.clone(),
            outcome,
            message,
            wall_time,
            guest_cpu_ticks: cpu.ticks(),
        }
    }
}

/// One line: the trap, the guest's last stderr lines (where a Rust guest
/// prints its panic message before aborting) and the innermost wasm frames of
/// the app's own code.
pub(crate) fn describe_trap(error: &wasmtime::Error, stderr_tail: &[String]) -> String {
    let mut text = match error.downcast_ref::<Trap>() {
        // Displays as "wasm trap: …".
        Some(trap) => trap.to_string(),
        // A host function's error: its own message, not the backtrace context.
        None => describe_host_error(&error.root_cause().to_string()),
    };
    let stderr: Vec<&str> = stderr_tail
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect();
    if !stderr.is_empty() {
        text.push_str("; guest stderr: ");
        text.push_str(&stderr.join(" "));
    }
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        let frames = summarize_frames(backtrace.frames().iter().map(|frame| {
            frame
                .func_name()
                .map(|name| format!("{:#}", rustc_demangle::demangle(name)))
                .unwrap_or_else(|| format!("function #{}", frame.func_index()))
        }));
        if !frames.is_empty() {
            text.push_str("; wasm backtrace: ");
            text.push_str(&frames.join(" <- "));
        }
    }
    text
}

/// A host-side error that ended the instance, said plainly. wasmtime reports a
/// guest handle it cannot find ("unknown handle index 7") or of the wrong
/// resource type; both mean the app used a handle it does not own.
fn describe_host_error(message: &str) -> String {
    let bad_handle = message.starts_with("unknown handle index")
        || (message.starts_with("handle index") && message.contains("wrong type"));
    if bad_handle {
        format!("invalid resource handle (stale or forged): {message}")
    } else {
        message.to_owned()
    }
}

/// The innermost frames outside the language runtime (panic machinery,
/// allocator, libc), or the innermost frames if there are no others.
fn summarize_frames(frames: impl Iterator<Item = String>) -> Vec<String> {
    const RUNTIME_PREFIXES: [&str; 12] = [
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "__rust_",
        "__rdl_",
        "rust_panic",
        "abort",
        "dlmalloc",
        "malloc",
        "sbrk",
        "<alloc::",
    ];
    let frames: Vec<String> = frames.collect();
    let own: Vec<&String> = frames
        .iter()
        .filter(|name| {
            !RUNTIME_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    let chosen = if own.is_empty() {
        frames.iter().collect()
    } else {
        own
    };
    // Runs of one function (deep recursion) become "name (×N)".
    let mut summary: Vec<(String, usize)> = Vec::new();
    for name in chosen {
        if let Some((last, count)) = summary.last_mut()
            && last == name
        {
            *count += 1;
        } else if summary.len() == BACKTRACE_FRAMES {
            break;
        } else {
            summary.push((name.clone(), 1));
        }
    }
    summary
        .into_iter()
        .map(|(name, count)| {
            if count == 1 {
                name
            } else {
                format!("{name} (×{count})")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_summaries_skip_the_language_runtime() {
        let frames = [
            "abort",
            "std::process::abort",
            "__rustc::rust_panic",
            "scenarios::normal",
            "main",
        ]
        .map(String::from);
        assert_eq!(
            summarize_frames(frames.into_iter()),
            ["scenarios::normal", "main"]
        );
        let only_runtime = ["abort", "std::process::abort"].map(String::from);
        assert_eq!(
            summarize_frames(only_runtime.into_iter()),
            ["abort", "std::process::abort"]
        );
        let recursion =
            std::iter::repeat_n("app::walk".to_owned(), 5000).chain(["main".to_owned()]);
        assert_eq!(summarize_frames(recursion), ["app::walk (×5000)", "main"]);
    }

    #[test]
    fn a_host_error_is_described_by_its_message() {
        let error = wasmtime::Error::msg("resource not present");
        assert_eq!(
            describe_trap(&error, &["thread panicked".into(), "".into()]),
            "resource not present; guest stderr: thread panicked"
        );
    }

    #[test]
    fn a_stale_or_forged_handle_is_named_as_such() {
        let error = wasmtime::Error::msg("unknown handle index 3");
        assert_eq!(
            describe_trap(&error, &[]),
            "invalid resource handle (stale or forged): unknown handle index 3"
        );
    }
}
