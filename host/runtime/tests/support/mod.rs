//! Shared helpers for the runtime's integration tests: building the test guests
//! in tests/guests/, a fake call task serving the call port (the runtime's test
//! double for the server), and small utilities.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use callhost_runtime::port::{
    CallCause, CallCommand, CallDetails, CallError, CallPort, CallSnapshot, CallState,
    DetectorCause, DtmfPlayerCause, FileRequest, FileResponse, HeaderField, MediaStatistics,
    PlayerCause, PlayerState, Recorder, RecorderCause, RecorderState, RecorderStatus,
    RecordingSummary, RemoteReport, SipBody, Tone, ValidateResult,
};
use tokio::sync::{mpsc, watch};

/// Build `tests/guests/<name>` for wasm32-wasip2 (once per test process) and
/// return the path of its `.wasm`.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name);
    let target_directory = directory.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_directory)
        .current_dir(&directory)
        // Settings of the outer (host) build must not leak into the guest build.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cannot run cargo to build a test guest");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("wasm32-wasip2")
            && (stderr.contains("not installed") || stderr.contains("can't find crate for `core`"))
        {
            panic!(
                "the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`\n{stderr}"
            );
        }
        panic!("building test guest {name} failed:\n{stderr}");
    }
    let wasm = std::fs::read_dir(target_directory.join("wasm32-wasip2/release"))
        .expect("guest output directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "wasm")
        })
        .unwrap_or_else(|| panic!("no .wasm produced for test guest {name}"));
    built.insert(name.to_owned(), wasm.clone());
    wasm
}

/// Copy a built guest into `directory` as `<service>.wasm`.
pub fn install_guest(name: &str, directory: &Path, service: &str) -> PathBuf {
    let destination = directory.join(format!("{service}.wasm"));
    std::fs::copy(guest(name), &destination).expect("copy guest");
    destination
}

/// How the fake call task answers.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// How long a play job "plays" before PlayWait replies.
    pub play_time: Duration,
    /// Hold WaitForIdle replies until [`FakeCall::release`].
    pub hold_wait_for_idle: bool,
}

/// A fake call task: serves a [`CallPort`], records every command in order and
/// answers like a well-behaved call (digits "12#" are "pressed", the file
/// `missing.wav` does not exist).
pub struct FakeCall {
    pub port: CallPort,
    commands: Arc<Mutex<Vec<String>>>,
    release: watch::Sender<bool>,
}

impl FakeCall {
    pub fn start(behaviour: Behaviour) -> FakeCall {
        let (release, released) = watch::channel(false);
        let commands = Arc::new(Mutex::new(Vec::new()));
        let details = CallDetails {
            sip_call_id: "call-1@test".into(),
            call_from: "sip:alice@127.0.0.1".into(),
            call_to: "sip:scenarios-service@127.0.0.1".into(),
            request_uri: "sip:scenarios-service@127.0.0.1:5060".into(),
            service: "scenarios-service".into(),
            remote_address: "127.0.0.1:5062".into(),
        };
        let port = serve_leg(
            0,
            CallSnapshot::incoming(details),
            behaviour,
            commands.clone(),
            released,
        );
        FakeCall {
            port,
            commands,
            release,
        }
    }

    /// The commands received so far, in order (extra legs' lines start "leg N: ").
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }

    /// Let held WaitForIdle requests complete.
    pub fn release(&self) {
        let _ = self.release.send(true);
    }
}

/// Serve one leg of the fake call (leg 0 the primary, extra channels created on demand).
fn serve_leg(
    leg: u32,
    initial: CallSnapshot,
    behaviour: Behaviour,
    record: Arc<Mutex<Vec<String>>>,
    released: watch::Receiver<bool>,
) -> CallPort {
    let (command_sender, mut command_receiver) = mpsc::channel::<Box<CallCommand>>(8);
    let (snapshot_sender, snapshot_receiver) = watch::channel(initial);
    let port = CallPort {
        leg,
        commands: command_sender,
        snapshot: snapshot_receiver,
    };
    tokio::spawn(async move {
        let snapshot = snapshot_sender;
        let mut header_fields = Vec::new();
        while let Some(command) = command_receiver.recv().await {
            let line = describe(&command);
            let line = if leg == 0 {
                line
            } else {
                format!("leg {leg}: {line}")
            };
            record.lock().unwrap().push(line);
            match *command {
                CallCommand::Ring { reply, .. } => {
                    snapshot.send_modify(|state| state.state = CallState::RingIncoming);
                    let _ = reply.send(Ok(()));
                }
                CallCommand::Answer { reply } => {
                    snapshot.send_modify(|state| state.state = CallState::Answered);
                    let _ = reply.send(Ok(()));
                }
                CallCommand::Reject { cause, reply } => {
                    snapshot.send_modify(|state| {
                        state.state = CallState::Idle;
                        state.cause = Some(cause);
                    });
                    let _ = reply.send(Ok(()));
                }
                CallCommand::HangUp { reply } => {
                    snapshot.send_modify(|state| {
                        state.state = CallState::Idle;
                        state.cause = Some(CallCause::Normal);
                        state.raw_cause = Some(200);
                    });
                    let _ = reply.send(Ok(CallState::Idle));
                }
                CallCommand::WaitForIdle { reply, .. } => {
                    if behaviour.hold_wait_for_idle {
                        let mut released = released.clone();
                        tokio::spawn(async move {
                            let _ = released.wait_for(|released| *released).await;
                            let _ = reply.send(Ok(CallState::Idle));
                        });
                    } else {
                        let _ = reply.send(Ok(snapshot.borrow().state));
                    }
                }
                CallCommand::PlayStart {
                    filename, reply, ..
                } => {
                    if filename == "missing.wav" {
                        let _ =
                            reply.send(Err(CallError::Error(format!("{filename}: no such file"))));
                    } else {
                        snapshot.send_modify(|state| {
                            state.player_state = PlayerState::Playing;
                            state.player_cause = PlayerCause::None;
                        });
                        let _ = reply.send(Ok(()));
                    }
                }
                CallCommand::SayStart { text, reply, .. } => {
                    if text.trim().is_empty() {
                        let _ = reply.send(Err(CallError::Error("nothing to say".into())));
                    } else {
                        snapshot.send_modify(|state| state.player_state = PlayerState::Playing);
                        let _ = reply.send(Ok(()));
                    }
                }
                // A tone without segments is the fake's only bad tone.
                CallCommand::ToneCheck { tone, reply } => {
                    let empty =
                        matches!(&tone, Tone::Custom { segments, .. } if segments.is_empty());
                    let _ = reply.send(if empty {
                        Err(CallError::Error("a tone needs at least one segment".into()))
                    } else {
                        Ok(())
                    });
                }
                CallCommand::ToneStart { reply, .. } => {
                    snapshot.send_modify(|state| state.player_state = PlayerState::Playing);
                    let _ = reply.send(Ok(()));
                }
                CallCommand::SetRingtone { reply, .. } => {
                    let _ = reply.send(Ok(()));
                }
                CallCommand::PlayStop { reply } => {
                    snapshot.send_modify(|state| {
                        state.player_state = PlayerState::Idle;
                        state.player_cause = PlayerCause::Aborted;
                    });
                    let _ = reply.send(Ok(()));
                }
                CallCommand::PlayWait { reply } => {
                    tokio::time::sleep(behaviour.play_time).await;
                    snapshot.send_modify(|state| {
                        state.player_state = PlayerState::Idle;
                        state.player_cause = PlayerCause::Normal;
                    });
                    let _ = reply.send(Ok(PlayerCause::Normal));
                }
                CallCommand::GetDigits { reply, .. } => {
                    snapshot.send_modify(|state| state.detector_cause = DetectorCause::End);
                    let _ = reply.send(Ok("12#".into()));
                }
                CallCommand::ClearDigits => {}
                CallCommand::DtmfPlay { reply, .. } => {
                    snapshot.send_modify(|state| state.dtmf_player_cause = DtmfPlayerCause::Normal);
                    let _ = reply.send(Ok(DtmfPlayerCause::Normal));
                }
                // Destinations containing "busy" get 486; the rest answer.
                CallCommand::Call {
                    destination,
                    wait,
                    reply,
                    ..
                } => {
                    let busy = destination.contains("busy");
                    snapshot.send_modify(|state| {
                        if busy {
                            state.state = CallState::Idle;
                            state.cause = Some(CallCause::Busy);
                            state.raw_cause = Some(486);
                        } else {
                            state.state = if wait {
                                CallState::Answered
                            } else {
                                CallState::RingOutgoing
                            };
                            state.cause = None;
                            state.raw_cause = None;
                        }
                    });
                    let _ = reply.send(Ok(snapshot.borrow().state));
                }
                CallCommand::CallService { reply, .. } => {
                    snapshot.send_modify(|state| state.state = CallState::Answered);
                    let _ = reply.send(Ok(CallState::Answered));
                }
                CallCommand::WaitForOutgoing { reply } => {
                    snapshot.send_modify(|state| {
                        if state.state == CallState::RingOutgoing {
                            state.state = CallState::Answered;
                        }
                    });
                    let _ = reply.send(Ok(snapshot.borrow().state));
                }
                CallCommand::ExtraChannel { index, reply } => {
                    if index == 0 {
                        let extra = serve_leg(
                            1,
                            CallSnapshot::idle(),
                            behaviour.clone(),
                            record.clone(),
                            released.clone(),
                        );
                        let _ = reply.send(Ok(extra));
                    } else {
                        let _ =
                            reply.send(Err(CallError::Error(format!("no extra channel {index}"))));
                    }
                }
                CallCommand::Connect { reply, .. } | CallCommand::Disconnect { reply } => {
                    let _ = reply.send(Ok(()));
                }
                CallCommand::Hold { on, reply } => {
                    snapshot.send_modify(|state| {
                        state.state = if on {
                            CallState::Holding
                        } else {
                            CallState::Answered
                        }
                    });
                    let _ = reply.send(Ok(()));
                }
                CallCommand::Transfer { reply, .. } => {
                    snapshot.send_modify(|state| state.state = CallState::Transferred);
                    let _ = reply.send(Ok(CallState::Transferred));
                }
                CallCommand::WaitForRetrieval { reply } => {
                    snapshot.send_modify(|state| state.state = CallState::Answered);
                    let _ = reply.send(Ok(CallState::Answered));
                }
                CallCommand::SetHeaderFields { fields, reply } => {
                    header_fields = fields;
                    let _ = reply.send(Ok(()));
                }
                CallCommand::HeaderFields { reply } => {
                    let _ = reply.send(Ok(header_fields.clone()));
                }
                CallCommand::RequestHeader { name, reply } => {
                    let found = name.eq_ignore_ascii_case("x-test").then(|| HeaderField {
                        name: "X-Test".into(),
                        values: vec!["a".into(), "b".into()],
                    });
                    let _ = reply.send(Ok(found));
                }
                CallCommand::RecordStart {
                    recorder, reply, ..
                } => {
                    snapshot.send_modify(|state| {
                        *state.recorder_mut(recorder) = RecorderStatus {
                            state: RecorderState::Recording,
                            cause: RecorderCause::None,
                            last: None,
                        }
                    });
                    let _ = reply.send(Ok(()));
                }
                CallCommand::RecordStop { recorder, reply } => {
                    finish_recording(&snapshot, recorder, RecorderCause::Aborted);
                    let _ = reply.send(Ok(()));
                }
                CallCommand::RecordWait { recorder, reply } => {
                    // A fake recording: 1.5 s of audio ended by silence.
                    if snapshot.borrow().recorder(recorder).state == RecorderState::Recording {
                        finish_recording(&snapshot, recorder, RecorderCause::Silence);
                    }
                    let _ = reply.send(Ok(snapshot.borrow().recorder(recorder).cause));
                }
                CallCommand::SipSend { reply, .. } => {
                    let _ = reply.send(Ok(200));
                }
                CallCommand::Files { request, reply } => {
                    let _ = reply.send(fake_files(request));
                }
                CallCommand::MediaStatistics { reply } => {
                    let _ = reply.send(Ok(Some(fake_media_statistics())));
                }
                CallCommand::SipReceived { messages, reply } => {
                    let body = SipBody {
                        body: if messages { "a message" } else { "an info" }.into(),
                        content_type: "text/plain".into(),
                    };
                    let _ = reply.send(Ok(vec![body]));
                }
            }
        }
    });
    port
}

/// Figures of a fake PCMA call: 1 s each way, one packet lost, a far end that reported.
fn fake_media_statistics() -> MediaStatistics {
    MediaStatistics {
        codec: "PCMA".into(),
        packets_sent: 50,
        packets_received: 49,
        packets_lost: 1,
        jitter: Duration::from_micros(2500),
        late_packets: 0,
        concealed_frames: 1,
        playout_delay: Duration::from_millis(40),
        rtcp_packets_sent: 1,
        rtcp_packets_received: 1,
        remote: Some(RemoteReport {
            packets_lost: 0,
            fraction_lost: 0.0,
            jitter: Duration::from_millis(1),
            round_trip: Some(Duration::from_micros(1500)),
        }),
    }
}

/// The fake media directory holds `hello.wav` (encrypted with an all-zero
/// key) and `sub/`; names containing ".." escape it.
fn fake_files(request: FileRequest) -> Result<FileResponse, CallError> {
    let escapes = |name: &str| {
        name.contains("..")
            .then(|| CallError::Error(format!("`{name}` is outside the media directory")))
    };
    match request {
        FileRequest::Exists { name } => match escapes(&name) {
            Some(error) => Err(error),
            None => Ok(FileResponse::Exists(name == "hello.wav")),
        },
        FileRequest::Delete { name } | FileRequest::Rename { from: name, .. } => {
            match escapes(&name) {
                Some(error) => Err(error),
                None => Ok(FileResponse::Done),
            }
        }
        FileRequest::List { .. } => Ok(FileResponse::List(vec!["hello.wav".into(), "sub/".into()])),
        FileRequest::Validate { cipher, .. } => Ok(FileResponse::Validate(match cipher {
            Some(cipher) if cipher.key.chars().all(|digit| digit == '0') => {
                ValidateResult::Validated
            }
            Some(_) => ValidateResult::DecryptFailed,
            None => ValidateResult::NotAudio,
        })),
    }
}

fn describe(command: &CallCommand) -> String {
    match command {
        CallCommand::Ring { seconds, .. } => format!("ring {seconds}"),
        CallCommand::Answer { .. } => "answer".into(),
        CallCommand::Reject { cause, .. } => format!("reject {cause:?}"),
        CallCommand::HangUp { .. } => "hang-up".into(),
        CallCommand::WaitForIdle { timeout, .. } => format!("wait-for-idle {timeout:?}"),
        CallCommand::PlayStart {
            filename,
            barge_in,
            cipher: None,
            ..
        } => format!("play-start {filename} barge-in={barge_in}"),
        CallCommand::PlayStart {
            filename,
            barge_in,
            cipher: Some(cipher),
            ..
        } => format!(
            "play-start {filename} barge-in={barge_in} cipher={}/{}",
            cipher.key.len(),
            cipher.vector.len()
        ),
        CallCommand::PlayStop { .. } => "play-stop".into(),
        CallCommand::SayStart { text, barge_in, .. } => format!("say {text} barge-in={barge_in}"),
        CallCommand::ToneCheck { tone, .. } => format!("tone-check {}", tone_name(tone)),
        CallCommand::ToneStart { tone, limit, .. } => {
            format!("tone-start {} limit={limit:?}", tone_name(tone))
        }
        CallCommand::SetRingtone { tone, .. } => {
            format!("set-ringtone {:?}", tone.as_ref().map(tone_name))
        }
        CallCommand::PlayWait { .. } => "play-wait".into(),
        CallCommand::GetDigits { options, .. } => format!("get-digits {options:?}"),
        CallCommand::ClearDigits => "clear-digits".into(),
        CallCommand::DtmfPlay { digits, .. } => format!("dtmf-play {digits}"),
        CallCommand::Call {
            destination,
            options,
            wait,
            ..
        } => {
            format!(
                "call {destination} from={:?} timeout={:?} codecs={:?} wait={wait}",
                options.from, options.timeout, options.codecs
            )
        }
        CallCommand::CallService { service, .. } => format!("call-service {service}"),
        CallCommand::WaitForOutgoing { .. } => "wait-for-outgoing".into(),
        CallCommand::ExtraChannel { index, .. } => format!("extra-channel {index}"),
        CallCommand::Connect { other, .. } => format!("connect {other}"),
        CallCommand::Disconnect { .. } => "disconnect".into(),
        CallCommand::Hold { on, .. } => format!("hold {on}"),
        CallCommand::Transfer { via, service, .. } => format!("transfer via {via} to {service}"),
        CallCommand::WaitForRetrieval { .. } => "wait-for-retrieval".into(),
        CallCommand::SetHeaderFields { fields, .. } => format!("set-header-fields {fields:?}"),
        CallCommand::HeaderFields { .. } => "header-fields".into(),
        CallCommand::RequestHeader { name, .. } => format!("request-header {name}"),
        CallCommand::SipSend { what, .. } => format!("sip-send {what:?}"),
        CallCommand::SipReceived { messages, .. } => format!("sip-received messages={messages}"),
        CallCommand::RecordStart {
            recorder,
            filename,
            options,
            ..
        } => format!("record-start {recorder:?} {filename} {options:?}"),
        CallCommand::RecordStop { recorder, .. } => format!("record-stop {recorder:?}"),
        CallCommand::RecordWait { recorder, .. } => format!("record-wait {recorder:?}"),
        CallCommand::Files { request, .. } => format!("files {request:?}"),
        CallCommand::MediaStatistics { .. } => "media-statistics".into(),
    }
}

fn tone_name(tone: &Tone) -> String {
    match tone {
        Tone::Predefined(name) => name.clone(),
        Tone::Custom {
            name,
            segments,
            repeat,
        } => format!("{name} segments={} repeat={repeat}", segments.len()),
    }
}

/// A tracing subscriber that writes plain text into a shared buffer.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let buffer = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || buffer.clone())
            .finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// p50 and p99 of some durations.
pub fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |fraction: f64| samples[((samples.len() as f64 - 1.0) * fraction).round() as usize];
    (at(0.50), at(0.99))
}

/// End the fake recording on `recorder` with `cause` (1.5 s of audio, 24000 bytes).
fn finish_recording(
    snapshot: &watch::Sender<CallSnapshot>,
    recorder: Recorder,
    cause: RecorderCause,
) {
    snapshot.send_modify(|state| {
        *state.recorder_mut(recorder) = RecorderStatus {
            state: RecorderState::Idle,
            cause,
            last: Some(RecordingSummary {
                cause,
                duration: Duration::from_millis(1500),
                data_bytes: 24_000,
                audio_detected: true,
            }),
        }
    });
}
