//! Bench harness: instantiate time per call (p50/p99) and the cost of a whole
//! short call, for the scenarios test guest or any app given on the command line.
//!
//! `cargo run -p callhost-runtime --release --example instantiate_bench [APP.wasm]`
//! (with an app of your own, the "whole call" figure runs its `main` against a
//! fake call that answers everything at once).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use callhost_runtime::{Invocation, Runtime, RuntimeConfig};
use support::{Behaviour, FakeCall};

const ROUNDS: usize = 2000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = match std::env::args_os().nth(1) {
        Some(path) => path.into(),
        None => support::guest("scenarios"),
    };
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 64,
        ..RuntimeConfig::default()
    })?;
    let started = Instant::now();
    let app = runtime.load(&path).await?;
    println!(
        "load of {} ({:?}) took {:?}",
        path.display(),
        app.code_source,
        started.elapsed()
    );

    let call = FakeCall::start(Behaviour::default());
    let mut instantiate = Vec::with_capacity(ROUNDS);
    let mut whole = Vec::with_capacity(ROUNDS);
    for index in 0..ROUNDS {
        let invocation = Invocation {
            instance_id: format!("bench-{index}"),
            application_parameters: "wait".into(),
            ..Invocation::default()
        };
        let started = Instant::now();
        let running = runtime
            .start_call(app.clone(), call.port.clone(), invocation)
            .await?;
        instantiate.push(started.elapsed());
        let _record = running.run().await;
        whole.push(started.elapsed());
    }
    report("instantiate", instantiate);
    report("instantiate + main", whole);
    Ok(())
}

fn report(what: &str, samples: Vec<Duration>) {
    let (p50, p99) = support::percentiles(samples);
    println!("{what}: p50 {p50:?} p99 {p99:?} over {ROUNDS} calls");
}
