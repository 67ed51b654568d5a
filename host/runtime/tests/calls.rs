//! Calls on real guest components (tests/guests/scenarios): the WIT functions
//! reach the call port in order, and traps, the CPU budget, the memory cap, the
//! wall-clock limit and pool exhaustion each end one call only.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callhost_runtime::{
    App, ExitOutcome, ExitRecord, Invocation, Runtime, RuntimeConfig, StartError,
};
use support::{Behaviour, FakeCall};

/// A small pool; compiled code is cached beside the guest (in its target dir).
fn config() -> RuntimeConfig {
    RuntimeConfig {
        max_concurrent_calls: 8,
        ..RuntimeConfig::default()
    }
}

async fn scenarios(runtime: &Runtime) -> Arc<App> {
    runtime
        .load(&support::guest("scenarios"))
        .await
        .expect("scenarios guest loads")
}

fn invocation(scenario: &str) -> Invocation {
    Invocation {
        instance_id: format!("test-{scenario}"),
        application_parameters: scenario.into(),
        ..Invocation::default()
    }
}

async fn run(
    runtime: &Runtime,
    app: &Arc<App>,
    call: &FakeCall,
    invocation: Invocation,
) -> ExitRecord {
    let running = runtime
        .start_call(app.clone(), call.port.clone(), invocation)
        .await
        .expect("call starts");
    running.run().await
}

#[tokio::test]
async fn a_normal_call_uses_every_interface_in_order() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    assert_eq!(
        (app.name.as_str(), app.version.as_str()),
        ("scenarios", "1.0.0")
    );

    let media = tempfile::tempdir().expect("media dir");
    std::fs::write(media.path().join("greeting.txt"), "hi from media\n").expect("write media");
    let call = FakeCall::start(Behaviour::default());
    let invocation = Invocation {
        media_dir: Some(media.path().to_owned()),
        ..invocation("normal")
    };
    let record = run(&runtime, &app, &call, invocation).await;

    // 7 means every check in the guest passed (see tests/guests/scenarios).
    assert_eq!(
        record.outcome,
        ExitOutcome::Returned(7),
        "{record}; commands {:?}",
        call.commands()
    );
    assert_eq!(record.message, "returned 7");
    assert_eq!(
        (
            record.app.as_str(),
            record.version.as_str(),
            record.instance_id.as_str()
        ),
        ("scenarios", "1.0.0", "test-normal")
    );
    assert_eq!(
        call.commands(),
        [
            "ring 0",
            "answer",
            "play-start hello.wav barge-in=true",
            "play-wait",
            "play-start missing.wav barge-in=false",
            "get-digits GetDigitsOptions { count: Some(3), end: \"#\", predigits_timeout: Some(5s), \
             interdigit_timeout: Some(2.5s), overall_timeout: None, clear: false }",
            "dtmf-play 4,5",
            "hang-up",
            "media-statistics",
        ]
    );
    // The guest could not write to its read-only media directory.
    assert!(!media.path().join("written.txt").exists());
}

#[tokio::test]
async fn recorder_functions_reach_the_call_task_with_their_defaults() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("recording")).await;

    // 9 means every check in the guest passed (see `recording` in tests/guests/scenarios).
    assert_eq!(
        record.outcome,
        ExitOutcome::Returned(9),
        "{record}; commands {:?}",
        call.commands()
    );
    assert_eq!(
        call.commands(),
        [
            // seconds-max unset: 120 s; zero initial silence and size: no such limit.
            "record-start File message.wav RecordOptions { max_duration: Some(120s), \
             max_silence: Some(2s), initial_silence: None, max_bytes: None, barge_in: true, \
             beep: true, format: Mulaw, layout: Received, cipher: None }",
            "record-wait File",
            "record-start WholeCall call.wav RecordOptions { max_duration: Some(60s), \
             max_silence: None, initial_silence: None, max_bytes: None, barge_in: false, \
             beep: false, format: Pcm16, layout: Mixed, \
             cipher: Some(CipherParameters { <redacted> }) }",
            "record-stop WholeCall",
            "record-wait WholeCall",
        ]
    );
}

#[tokio::test]
async fn outbound_multi_leg_and_sip_functions_reach_the_call_task() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let invocation = Invocation {
        outbound_parameters: Some("sip:bob@127.0.0.1:5070".into()),
        ..invocation("legs")
    };
    let record = run(&runtime, &app, &call, invocation).await;

    // 8 means every check in the guest passed (see `legs` in tests/guests/scenarios).
    assert_eq!(
        record.outcome,
        ExitOutcome::Returned(8),
        "{record}; commands {:?}",
        call.commands()
    );
    assert_eq!(
        call.commands(),
        [
            "call sip:busy@127.0.0.1 from=None timeout=60s codecs=[] wait=true",
            "set-header-fields [HeaderField { name: \"X-Account\", values: [\"42\"] }]",
            "header-fields",
            "call sip:bob@127.0.0.1:5070 from=Some(\"bob@1234\") timeout=30s codecs=[\"PCMA\"] wait=true",
            "request-header x-test",
            "sip-send Info { body: \"hello\", content_type: None }",
            "sip-send Message { body: \"hi\", content_type: Some(\"text/plain\") }",
            "sip-send InfoDtmf { digit: '5', duration: 500ms }",
            "sip-received messages=false",
            "sip-received messages=true",
            "extra-channel 0",
            "extra-channel 7",
            "leg 1: call sip:carol@127.0.0.1 from=None timeout=60s codecs=[] wait=false",
            "leg 1: wait-for-outgoing",
            "connect 1",
            "leg 1: disconnect",
            "leg 1: call-service ivr",
            "hold true",
            "hold false",
            "transfer via 1 to queue",
            "wait-for-retrieval",
        ]
    );
}

#[tokio::test]
async fn file_manager_functions_and_encrypted_plays_reach_the_call_task() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("files")).await;

    // 9 means every check in the guest passed (see `files` in tests/guests/scenarios).
    assert_eq!(
        record.outcome,
        ExitOutcome::Returned(9),
        "{record}; commands {:?}",
        call.commands()
    );
    assert_eq!(
        call.commands(),
        [
            "files Validate { name: \"hello.wav\", cipher: Some(CipherParameters { <redacted> }) }",
            "files Validate { name: \"hello.wav\", cipher: Some(CipherParameters { <redacted> }) }",
            "files Exists { name: \"hello.wav\" }",
            "files Exists { name: \"nope.wav\" }",
            "files Exists { name: \"../outside.wav\" }",
            "files List { directory: None }",
            "answer",
            "play-start hello.wav barge-in=false cipher=64/32",
            "play-wait",
            "hang-up",
            "files Rename { from: \"hello.wav\", to: \"old.wav\" }",
            "files Delete { name: \"old.wav\" }",
        ]
    );
}

#[tokio::test]
async fn a_panic_traps_with_the_panic_message() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("panic")).await;
    let ExitOutcome::Trapped(text) = &record.outcome else {
        panic!("expected a trap, got {record}")
    };
    assert!(text.contains("unreachable"), "{text}");
    assert!(
        text.contains("deliberate panic from the scenarios guest"),
        "{text}"
    );
    assert!(
        record.message.starts_with("trapped: "),
        "{}",
        record.message
    );
    println!("exit record: {record}");

    // The runtime is unharmed: the next call runs normally.
    let call = FakeCall::start(Behaviour::default());
    assert_eq!(
        run(&runtime, &app, &call, invocation("wait")).await.outcome,
        ExitOutcome::Returned(0)
    );
}

#[tokio::test]
async fn oversized_arguments_are_refused_before_they_reach_the_call() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("oversized")).await;
    // 10 means every oversized string came back as a short "argument too large".
    assert_eq!(
        record.outcome,
        ExitOutcome::Returned(10),
        "{record}; commands {:?}",
        call.commands()
    );
    // None of them reached the call task.
    assert_eq!(call.commands(), ["answer"]);
}

#[tokio::test]
async fn stack_exhaustion_traps_only_that_call() {
    let runtime = Runtime::new(config()).expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("recurse")).await;
    let ExitOutcome::Trapped(text) = &record.outcome else {
        panic!("expected a trap, got {record}")
    };
    assert!(text.contains("stack"), "{text}");
    println!("exit record: {record}");
    assert_eq!(
        run(&runtime, &app, &call, invocation("wait")).await.outcome,
        ExitOutcome::Returned(0)
    );
}

#[tokio::test]
async fn the_default_configuration_builds_a_full_size_pool() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("a 1000-call pool fits");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let mut running = Vec::new();
    for index in 0..50 {
        let invocation = Invocation {
            instance_id: format!("many-{index}"),
            ..invocation("wait")
        };
        running.push(
            runtime
                .start_call(app.clone(), call.port.clone(), invocation)
                .await
                .expect("starts"),
        );
    }
    assert_eq!(runtime.active_calls(), 50);
    for call in running {
        assert_eq!(call.run().await.outcome, ExitOutcome::Returned(0));
    }
    assert_eq!(runtime.active_calls(), 0);
}

#[tokio::test]
async fn an_infinite_loop_exceeds_the_cpu_budget() {
    let budget = Duration::from_millis(200);
    let runtime = Runtime::new(RuntimeConfig {
        cpu_budget: budget,
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("spin")).await;
    assert_eq!(record.outcome, ExitOutcome::CpuBudgetExceeded, "{record}");
    assert_eq!(record.message, "CPU budget of 0.2s exceeded");
    assert!(record.guest_cpu_ticks >= 20, "{record}");
    assert!(record.wall_time >= budget, "{record}");
}

// A single-threaded runtime: without the cooperative yield the spinning guest
// would hold the only worker until its budget ran out, and the healthy call
// could not even start. With it, each host round trip of the healthy call waits
// at most about one 10 ms slice of the spinner.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_call_does_not_stall_a_healthy_one() {
    let runtime = Runtime::new(RuntimeConfig {
        cpu_budget: Duration::from_secs(30),
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let spinner_call = FakeCall::start(Behaviour::default());
    let healthy_call = FakeCall::start(Behaviour {
        play_time: Duration::from_millis(5),
        ..Behaviour::default()
    });
    let spinner = {
        let (runtime, app, port) = (runtime.clone(), app.clone(), spinner_call.port.clone());
        tokio::spawn(async move {
            runtime
                .start_call(app, port, invocation("spin"))
                .await
                .expect("start")
                .run()
                .await
        })
    };
    // Let the spinner get going first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(runtime.active_calls(), 1);
    let healthy_started = Instant::now();
    let healthy = run(&runtime, &app, &healthy_call, invocation("chatty")).await;
    let healthy_time = healthy_started.elapsed();
    println!(
        "healthy call (20 plays of 5 ms, 40 host round trips) took {healthy_time:?} next to a spinning call"
    );
    assert_eq!(healthy.outcome, ExitOutcome::Returned(0));
    assert_eq!(healthy_call.commands().len(), 40);
    assert!(
        !spinner.is_finished(),
        "the spinner is still within its budget"
    );
    assert!(
        healthy_time < Duration::from_secs(10),
        "healthy call delayed to {healthy_time:?}"
    );

    // Dropping a call in the middle of guest code is safe and frees its slot.
    spinner.abort();
    assert!(spinner.await.expect_err("aborted").is_cancelled());
    assert_eq!(runtime.active_calls(), 0);
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_cap() {
    let runtime = Runtime::new(RuntimeConfig {
        memory_limit_bytes: 16 * 1024 * 1024,
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let record = run(&runtime, &app, &call, invocation("alloc")).await;
    let ExitOutcome::Trapped(text) = &record.outcome else {
        panic!("expected a trap, got {record}")
    };
    assert!(text.contains("memory"), "{text}");
    println!("exit record: {record}");

    let call = FakeCall::start(Behaviour::default());
    assert_eq!(
        run(&runtime, &app, &call, invocation("wait")).await.outcome,
        ExitOutcome::Returned(0)
    );
}

#[tokio::test]
async fn the_wall_clock_limit_drops_a_call_stuck_in_the_host() {
    let limit = Duration::from_millis(300);
    let runtime = Runtime::new(RuntimeConfig {
        wall_clock_limit: Some(limit),
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour {
        hold_wait_for_idle: true,
        ..Behaviour::default()
    });
    let record = run(&runtime, &app, &call, invocation("wait")).await;
    assert_eq!(record.outcome, ExitOutcome::WallClockExceeded, "{record}");
    assert_eq!(record.message, "wall-clock limit of 0.3s exceeded");
    assert!(record.wall_time >= limit);
    // Waiting in the host costs no CPU budget (at most a tick or two).
    assert!(record.guest_cpu_ticks <= 3, "{record}");
    assert_eq!(runtime.active_calls(), 0, "the slot is released");
}

#[tokio::test]
async fn a_full_pool_fails_fast_and_recovers() {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 2,
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour {
        hold_wait_for_idle: true,
        ..Behaviour::default()
    });
    let mut running = Vec::new();
    for index in 0..2 {
        let started = runtime
            .start_call(app.clone(), call.port.clone(), invocation("wait"))
            .await
            .expect("slot free");
        running.push(tokio::spawn(started.run()));
        assert_eq!(runtime.active_calls(), index + 1);
    }

    let asked = Instant::now();
    let refused = runtime
        .start_call(app.clone(), call.port.clone(), invocation("wait"))
        .await;
    let waited = asked.elapsed();
    println!("pool exhaustion reported after {waited:?}");
    assert!(
        matches!(refused, Err(StartError::PoolExhausted { limit: 2 })),
        "{refused:?}"
    );
    assert!(waited < Duration::from_secs(1), "refusal took {waited:?}");

    call.release();
    for handle in running {
        assert_eq!(
            handle.await.expect("call task").outcome,
            ExitOutcome::Returned(0)
        );
    }
    assert_eq!(runtime.active_calls(), 0);
    let again = runtime
        .start_call(app.clone(), call.port.clone(), invocation("wait"))
        .await
        .expect("slot free again");
    assert_eq!(again.run().await.outcome, ExitOutcome::Returned(0));
}

#[tokio::test]
async fn dropped_calls_release_their_slots_and_instantiation_is_fast() {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 4,
        ..config()
    })
    .expect("runtime");
    let app = scenarios(&runtime).await;
    let call = FakeCall::start(Behaviour::default());
    let mut samples = Vec::new();
    // Far more starts than slots: each dropped RunningCall must give its slot back.
    for index in 0..300 {
        let started = Instant::now();
        let running = runtime
            .start_call(
                app.clone(),
                call.port.clone(),
                invocation(&format!("bench-{index}")),
            )
            .await;
        samples.push(started.elapsed());
        drop(running.expect("slot free"));
    }
    assert_eq!(runtime.active_calls(), 0);
    let (p50, p99) = support::percentiles(samples);
    println!("start_call (instantiate) p50 {p50:?} p99 {p99:?} over 300 calls (debug build)");
}
