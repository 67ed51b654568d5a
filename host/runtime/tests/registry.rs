//! The plugin registry and hot reload on a real directory: new versions are
//! swapped in while old `Arc<App>`s keep working, a corrupt file leaves the
//! serving version alone, a removed file removes the service.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use callhost_runtime::{
    ExitOutcome, Invocation, PluginRegistry, RegistryEvent, Runtime, RuntimeConfig,
};
use support::{Behaviour, FakeCall};
use tokio::sync::broadcast;

/// Generous: reload is ~0.2 s, but the machine may be busy compiling.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

async fn next_event_for(
    events: &mut broadcast::Receiver<RegistryEvent>,
    service: &str,
) -> RegistryEvent {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no registry event for {service} within {EVENT_TIMEOUT:?}"))
            .expect("registry alive");
        let matches = match &event {
            RegistryEvent::Loaded { service: name, .. }
            | RegistryEvent::LoadFailed { service: name, .. }
            | RegistryEvent::Removed { service: name } => name == service,
        };
        if matches {
            return event;
        }
    }
}

/// Write `source` to a dotfile beside `destination`, then rename it into place
/// (what operators are told to do).
fn replace_atomically(source: &Path, destination: &Path) {
    let temporary = destination.with_file_name(format!(
        ".{}.tmp",
        destination.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(source, &temporary).expect("copy to temporary");
    std::fs::rename(&temporary, destination).expect("rename into place");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_hot_reload_without_disturbing_held_versions() {
    let plugins = tempfile::tempdir().expect("plugins dir");
    let path = support::install_guest("scenarios", plugins.path(), "svc");
    std::fs::write(plugins.path().join("broken.wasm"), b"not a component").expect("write");
    std::fs::write(plugins.path().join("notes.txt"), b"not a plugin").expect("write");
    let v2 = support::guest("hello-v2");

    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 4,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let registry = PluginRegistry::start(runtime.clone(), plugins.path().to_owned())
        .await
        .expect("registry starts");
    // The bad file was skipped; the good one serves.
    assert!(registry.get("broken").is_none());
    let v1 = registry.get("svc").expect("svc loaded at start");
    assert_eq!(v1.version, "1.0.0");
    assert_eq!(
        registry
            .services()
            .iter()
            .map(|app| app.service.as_str())
            .collect::<Vec<_>>(),
        ["svc"]
    );

    // A new version renamed into place replaces it.
    let mut events = registry.subscribe();
    let renamed = Instant::now();
    replace_atomically(&v2, &path);
    assert_eq!(
        next_event_for(&mut events, "svc").await,
        RegistryEvent::Loaded {
            service: "svc".into(),
            version: "2.0.0".into()
        }
    );
    println!("version 2 serving {:?} after the rename", renamed.elapsed());
    assert_eq!(registry.get("svc").expect("still served").version, "2.0.0");

    // A call that started on version 1 (holds its Arc) still works.
    let call = FakeCall::start(Behaviour::default());
    let invocation = Invocation {
        instance_id: "old".into(),
        application_parameters: "stdio".into(),
        ..Invocation::default()
    };
    let record = runtime
        .start_call(v1.clone(), call.port.clone(), invocation)
        .await
        .expect("v1 starts")
        .run()
        .await;
    assert_eq!(
        (record.outcome, record.version.as_str()),
        (ExitOutcome::Returned(0), "1.0.0")
    );
    // And a new call gets version 2.
    let current = registry.get("svc").expect("served");
    let invocation = Invocation {
        instance_id: "new".into(),
        ..Invocation::default()
    };
    let record = runtime
        .start_call(current, call.port.clone(), invocation)
        .await
        .expect("v2 starts")
        .run()
        .await;
    assert_eq!(
        (record.outcome, record.version.as_str()),
        (ExitOutcome::Returned(2), "2.0.0")
    );

    // A corrupt file written in place (close-after-write) is refused; v2 stays.
    std::fs::write(&path, b"\0asm garbage that will not compile").expect("overwrite");
    match next_event_for(&mut events, "svc").await {
        RegistryEvent::LoadFailed { error, .. } => assert!(error.contains("svc.wasm"), "{error}"),
        other => panic!("expected LoadFailed, got {other:?}"),
    }
    assert_eq!(
        registry.get("svc").expect("old version kept").version,
        "2.0.0"
    );

    // Deleting the file removes the service.
    std::fs::remove_file(&path).expect("remove");
    assert_eq!(
        next_event_for(&mut events, "svc").await,
        RegistryEvent::Removed {
            service: "svc".into()
        }
    );
    assert!(registry.get("svc").is_none());
    assert!(registry.services().is_empty());

    // A brand-new plugin appears; dotfiles never become services.
    replace_atomically(&v2, &plugins.path().join("fresh.wasm"));
    assert_eq!(
        next_event_for(&mut events, "fresh").await,
        RegistryEvent::Loaded {
            service: "fresh".into(),
            version: "2.0.0".into()
        }
    );
    let services: Vec<String> = registry
        .services()
        .iter()
        .map(|app| app.service.clone())
        .collect();
    assert_eq!(services, ["fresh"]);
}

#[tokio::test]
async fn a_missing_directory_is_an_error() {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 1,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let missing =
        std::env::temp_dir().join(format!("callhost-no-such-plugins-{}", std::process::id()));
    let error = PluginRegistry::start(runtime, missing)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, callhost_runtime::RegistryError::ReadDirectory { .. }),
        "{error}"
    );
}
