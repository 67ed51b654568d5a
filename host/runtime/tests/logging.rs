//! The call log: `log.write`, stdout and stderr of a real guest reach `tracing`
//! at the right level, inside the call's span, tagged with the app.
//!
//! This binary installs one global subscriber (a scoped one would miss events
//! whose callsite interest was cached by another test thread) and each test
//! picks out its own lines by a unique call id.

mod support;

use std::sync::OnceLock;

use callhost_runtime::{APP_LOG_TARGET, ExitOutcome, Invocation, Runtime, RuntimeConfig};
use support::{Behaviour, FakeCall, LogBuffer};
use tracing::Instrument;

fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        tracing::subscriber::set_global_default(logs.subscriber()).expect("first subscriber");
        logs
    })
}

/// Run `scenario` of the scenarios guest, installed as service `scenarios`, in a
/// span `call{call.id=<call_id>}`; return its log lines.
async fn run_logged(
    scenario: &str,
    call_id: &str,
    media: Option<&std::path::Path>,
) -> (ExitOutcome, Vec<String>) {
    let logs = logs();
    let plugins = tempfile::tempdir().expect("plugins dir");
    let path = support::install_guest("scenarios", plugins.path(), "scenarios");
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 4,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let app = runtime.load(&path).await.expect("loads");
    let call = FakeCall::start(Behaviour::default());
    let invocation = Invocation {
        instance_id: call_id.into(),
        application_parameters: scenario.into(),
        media_dir: media.map(ToOwned::to_owned),
        ..Invocation::default()
    };
    let span = tracing::info_span!("call", call.id = call_id);
    let record = async {
        runtime
            .start_call(app, call.port.clone(), invocation)
            .await
            .expect("starts")
            .run()
            .await
    }
    .instrument(span)
    .await;
    let marker = format!("call{{call.id=\"{call_id}\"}}");
    let lines = logs
        .text()
        .lines()
        .filter(|line| line.contains(&marker))
        .map(str::to_owned)
        .collect();
    (record.outcome, lines)
}

fn find<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no log line {needle:?} in\n{}", lines.join("\n")))
}

#[tokio::test]
async fn log_write_lines_keep_their_level_span_and_app() {
    let media = tempfile::tempdir().expect("media dir");
    std::fs::write(media.path().join("greeting.txt"), "hi from media\n").expect("write media");
    let (outcome, lines) = run_logged("normal", "log-test-1", Some(media.path())).await;
    assert_eq!(outcome, ExitOutcome::Returned(7));
    for (level, message) in [
        ("DEBUG", "instance log-test-1 scenario normal"),
        ("INFO", "scenario normal starting"),
        ("WARN", "scenario normal about to hang up"),
        ("ERROR", "scenario normal done"),
    ] {
        let line = find(&lines, message);
        assert!(line.contains(level), "{line}");
        assert!(line.contains(APP_LOG_TARGET), "{line}");
        assert!(line.contains("app=\"scenarios\""), "no app tag: {line}");
        assert!(line.contains("source=\"log\""), "{line}");
    }
}

#[tokio::test]
async fn stdout_and_stderr_become_log_lines() {
    let (outcome, lines) = run_logged("stdio", "log-test-2", None).await;
    assert_eq!(outcome, ExitOutcome::Returned(0));
    let first = find(&lines, "first stdout line");
    assert!(
        first.contains("INFO")
            && first.contains("source=\"stdout\"")
            && first.contains("app=\"scenarios\""),
        "{first}"
    );
    assert!(find(&lines, "second stdout line").contains("INFO"));
    let stderr = find(&lines, "a stderr line");
    assert!(
        stderr.contains("WARN") && stderr.contains("source=\"stderr\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_panic_message_reaches_the_log() {
    let (outcome, lines) = run_logged("panic", "log-test-3", None).await;
    assert!(matches!(outcome, ExitOutcome::Trapped(_)), "{outcome:?}");
    assert!(
        find(&lines, "deliberate panic from the scenarios guest").contains("source=\"stderr\"")
    );
}
