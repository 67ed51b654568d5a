//! Shared harness for the end-to-end tests: build the example apps and prompts,
//! start the real `callhost` binary on free loopback ports, run real SIP peers
//! (SIPp, pjsua2) against it, and read its log.
//!
//! Every process a test starts is killed by PID when its guard drops. Every
//! peer binds 127.0.0.1. Missing tools fail the test with the command that
//! installs them (`scripts/setup`), never skip it.

#![allow(dead_code)]

pub mod audio;
pub mod netns;
pub mod raw_sip;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The shared/ corpora folder beside the repository.
pub fn corpora() -> PathBuf {
    repo().join("../shared/corpora")
}

/// A scratch directory for one test, under target/.
pub fn scratch(name: &str) -> PathBuf {
    let dir = repo()
        .join("target/e2e")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output();
    assert!(
        found.map(|output| output.status.success()).unwrap_or(false),
        "`{tool}` is not installed: run scripts/setup (it installs every test peer)"
    );
}

/// Build every example app (with the test apps) into `<repo>/target/e2e-plugins`, once per process.
pub fn built_apps() -> &'static Path {
    static APPS: OnceLock<PathBuf> = OnceLock::new();
    APPS.get_or_init(|| {
        let out = repo().join("target/e2e-plugins");
        run_checked(
            Command::new("bash")
                .arg(repo().join("examples/build.sh"))
                .arg("--with-test-apps")
                .arg("--out")
                .arg(&out),
        );
        out
    })
}

/// Build an extra copy of the `versioned` app with the given version string; returns the .wasm path.
pub fn build_versioned(version: &str) -> PathBuf {
    let out = repo().join("target/e2e-versioned").join(version);
    run_checked(
        Command::new("bash")
            .arg(repo().join("examples/build.sh"))
            .arg("--with-test-apps")
            .arg("--only")
            .arg("versioned")
            .arg("--out")
            .arg(&out)
            .env("CALLHOST_EXAMPLE_VERSION", version),
    );
    out.join("versioned.wasm")
}

/// Generate the demo prompts into `<repo>/target/e2e-media`, once per process.
pub fn prompts() -> &'static Path {
    static MEDIA: OnceLock<PathBuf> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let out = repo().join("target/e2e-media");
        run_checked(
            Command::new("bash")
                .arg(repo().join("examples/prompts.sh"))
                .arg(&out),
        );
        out
    })
}

fn run_checked(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Removes a test's files however the test ends (media files outlive the host).
pub struct RemoveOnDrop(pub Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A free UDP+TCP port on 127.0.0.1 whose next three ports are free too (SIPp puts
/// RTCP and video beside its `-mp` port). Ports come from 10000–20999, below the
/// kernel's ephemeral range, so a socket some other test binds to port 0 can never
/// take one between our check and the peer's bind; a per-process counter keeps the
/// tests of one binary apart.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 10000 + (std::process::id() % 11) as u16 * 1000;
    for _ in 0..250 {
        let port = base + NEXT.fetch_add(4, Ordering::SeqCst) % 1000;
        let free = (port..port + 4).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok())
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + 1000);
}

/// A block of RTP ports no other host in this test process uses.
pub fn rtp_block() -> String {
    rtp_blocks(1)
}

/// `blocks` adjacent blocks of 200 RTP ports (100 calls each) no other host in
/// this test process uses (a process's own range holds 5 blocks).
pub fn rtp_blocks(blocks: u16) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let block = NEXT.fetch_add(blocks, Ordering::SeqCst);
    let base = 21000 + (std::process::id() % 40) as u16 * 1000 + block * 200;
    format!("{base}-{}", base + 200 * blocks - 1)
}

/// A running `callhost` process; killed on drop.
pub struct Host {
    child: Child,
    /// SIP address it listens on.
    pub sip: SocketAddr,
    /// Its admin HTTP listener.
    pub admin: SocketAddr,
    /// Its log file (stderr).
    pub log: PathBuf,
    /// Its plugins dir.
    pub plugins: PathBuf,
    /// The test's scratch dir.
    pub dir: PathBuf,
}

/// Options for [`Host::start`].
pub struct HostOptions<'a> {
    /// Apps to copy into the host's own plugins dir (file stems from [`built_apps`]).
    pub apps: &'a [&'a str],
    /// Extra TOML config, if any.
    pub config: Option<&'a str>,
}

impl Host {
    /// Start a host in `dir` with the given apps and the generated prompts.
    pub fn start(dir: &Path, options: HostOptions<'_>) -> Host {
        Host::start_with_rtp_ports(dir, options, &rtp_block())
    }

    /// [`Host::start`] with the RTP port range `rtp_ports` (e.g. from
    /// [`rtp_blocks`], for more than 100 calls at once).
    pub fn start_with_rtp_ports(dir: &Path, options: HostOptions<'_>, rtp_ports: &str) -> Host {
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for app in options.apps {
            std::fs::copy(
                built_apps().join(format!("{app}.wasm")),
                plugins.join(format!("{app}.wasm")),
            )
            .unwrap_or_else(|error| panic!("copy {app}.wasm: {error}"));
        }
        let port = free_port();
        let log = dir.join("callhost.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_callhost"));
        command
            .arg("run")
            .arg("--sip-listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--plugins")
            .arg(&plugins)
            .arg("--media")
            .arg(prompts())
            .arg("--rtp-ports")
            .arg(rtp_ports)
            .env("CALLHOST_LOG", "info,callhost=debug,rsipstack=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let path = dir.join("callhost.toml");
        std::fs::write(
            &path,
            format!(
                "[admin]\nlisten = \"{admin}\"\n\n{}",
                options.config.unwrap_or("")
            ),
        )
        .unwrap();
        command.arg("--config").arg(path);
        let child = command.spawn().expect("start callhost");
        let host = Host {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
            admin,
            log,
            plugins,
            dir: dir.to_owned(),
        };
        host.wait_for_log("callhost is running", Duration::from_secs(60));
        host
    }

    /// Start a host with `apps` and no config file in a fresh scratch dir called `name`.
    pub fn with_apps(name: &str, apps: &[&str]) -> Host {
        Host::start(&scratch(name), HostOptions { apps, config: None })
    }

    /// Run SIPp against this host (one run at a time per host: the runs share a work dir).
    pub fn sipp(&self, service: &str, args: &[&str]) -> SippRun {
        sipp(&sipp_workdir(&self.dir), self.sip, args, service)
    }

    /// Run `calls` calls of the scenario file `tests/sipp/<scenario>` to `service`
    /// and assert that SIPp counts every one successful.
    pub fn expect_scenario(&self, scenario: &str, service: &str, calls: u32) {
        let path = sipp_dir().join(scenario);
        let calls = calls.to_string();
        let run = self.sipp(
            service,
            &["-sf", path.to_str().unwrap(), "-m", &calls, "-l", &calls],
        );
        assert_eq!(
            run.code, 0,
            "SIPp {scenario} to {service} failed:\n{}",
            run.output
        );
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the host process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle` `count` times; panics with the log on timeout.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let text = self.log_text();
            if text.matches(needle).count() >= count {
                return text;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {count}x `{needle}` in the host log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The file `app`'s `recorder` ("File" or "WholeCall") records to, from the
    /// host's "recording" log line (waited for).
    pub fn recording_path(&self, app: &str, recorder: &str) -> PathBuf {
        let tag = format!("recorder={recorder}");
        let log = self.wait_for_log(&tag, Duration::from_secs(30));
        let line = log
            .lines()
            .find(|line| line.contains(&tag) && line.contains(" recording "))
            .expect("a recording log line");
        let file = field(line, "file").expect("file= in the recording line");
        prompts().join(app).join(file)
    }

    /// Wait until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        self.wait_for_log_count(needle, 1, limit)
    }

    /// Exit-record lines in the log, in order.
    pub fn exit_records(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|line| line.contains("exit record"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` in a log line (values end at whitespace).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(" {key}=");
    let start = line.find(&needle)? + needle.len();
    let rest = &line[start..];
    Some(
        rest.split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"'),
    )
}

/// The SIPp scenario folder.
pub fn sipp_dir() -> PathBuf {
    repo().join("tests/sipp")
}

/// A working directory for SIPp with `pcap/` holding the corpus pcaps (SIPp's
/// built-in `uac_pcap` and our scenarios name them `pcap/...`).
pub fn sipp_workdir(dir: &Path) -> PathBuf {
    let work = dir.join("sipp");
    let pcap = work.join("pcap");
    std::fs::create_dir_all(&pcap).unwrap();
    for entry in std::fs::read_dir(corpora().join("rtp/sipp-pcap")).expect("corpus pcaps") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), pcap.join(entry.file_name())).unwrap();
    }
    work
}

/// Result of one SIPp run.
pub struct SippRun {
    /// SIPp's exit code: 0 all calls succeeded, 1 some failed, others: SIPp error.
    pub code: i32,
    /// stdout + stderr (with -trace_screen the final screen is in the work dir).
    pub output: String,
}

/// Run `calls` calls of `tests/sipp/<scenario>` to `service` (at most `limit` at once,
/// `rate` new calls a second) on a thread, in a SIPp work dir of the service's own.
pub fn sipp_in_background(
    host: &Host,
    scenario: &str,
    service: &str,
    calls: usize,
    rate: usize,
    limit: usize,
) -> std::thread::JoinHandle<SippRun> {
    let work = sipp_workdir(&host.dir.join(format!("sipp-{service}")));
    let scenario = sipp_dir().join(scenario);
    let (sip, service) = (host.sip, service.to_owned());
    std::thread::spawn(move || {
        let (calls, rate, limit) = (calls.to_string(), rate.to_string(), limit.to_string());
        let scenario = scenario.to_str().unwrap();
        let args = ["-sf", scenario, "-m", &calls, "-l", &limit, "-r", &rate];
        sipp(&work, sip, &args, &service)
    })
}

/// Run SIPp against `host` with `args` (a scenario via `-sf`/`-sn`, `-m`, …) in `work`.
/// Binds 127.0.0.1 on a free port; bounded by `-timeout`.
pub fn sipp(work: &Path, host: SocketAddr, args: &[&str], service: &str) -> SippRun {
    require_tool("sipp");
    let port = free_port().to_string();
    let media_port = free_port().to_string();
    let output = Command::new("sipp")
        .current_dir(work)
        .arg(host.to_string())
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-mp",
            &media_port,
            "-s",
            service,
        ])
        .args([
            "-timeout",
            "90s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-trace_screen",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sipp");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    for entry in std::fs::read_dir(work).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("_errors.log") || name.ends_with("_screen.log") {
            text.push_str(&format!("\n--- {name}\n"));
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            let _ = std::fs::remove_file(entry.path());
        }
    }
    SippRun {
        code: output.status.code().unwrap_or(-1),
        output: text,
    }
}

/// The Python with pjsua2 installed by scripts/setup.
pub fn pjsua_python() -> PathBuf {
    let python = repo().join("tests/.venv/bin/python");
    assert!(
        python.exists(),
        "pjsua2 is not installed: run scripts/setup (it creates tests/.venv with pjsua2-python)"
    );
    python
}

/// A pjsua2 call to `ivr` in the background that records what it hears into
/// `recording` and sends 4711# once the welcome prompt has played.
pub fn ivr_caller_in_background(
    host: &Host,
    recording: &Path,
) -> std::thread::JoinHandle<serde_json::Value> {
    let welcome_seconds = audio::load(&prompts().join("ivr/welcome.wav")).len() as f64 / 8000.0;
    let uri = format!("sip:ivr@{}", host.sip);
    let recording = recording.to_str().unwrap().to_owned();
    // The prompt starts about a second after connect (the app rings first).
    let dtmf_after = format!("{:.1}", welcome_seconds + 1.5);
    std::thread::spawn(move || {
        pjsua_call(&[
            "--uri",
            &uri,
            "--record",
            &recording,
            "--send-dtmf",
            "4711#",
            "--dtmf-after",
            &dtmf_after,
            "--timeout",
            "60",
        ])
    })
}

/// Run the pjsua2 phone (tests/peers/pjsua_call.py) with `args`; returns its JSON result.
pub fn pjsua_call(args: &[&str]) -> serde_json::Value {
    let output = Command::new(pjsua_python())
        .arg(repo().join("tests/peers/pjsua_call.py"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pjsua_call.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "pjsua_call.py printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(last).expect("pjsua_call.py JSON")
}

/// A pjsua2 phone waiting for one call on 127.0.0.1:`port` (`pjsua_call.py --listen`).
pub struct PjsuaCallee {
    child: Option<Child>,
}

impl PjsuaCallee {
    /// Start it with `args` (e.g. `--play`, `--record`, `--timeout`) and wait until it listens.
    pub fn start(dir: &Path, port: u16, args: &[&str]) -> PjsuaCallee {
        let ready = dir.join(format!("callee-{port}.ready"));
        let child = Command::new(pjsua_python())
            .arg(repo().join("tests/peers/pjsua_call.py"))
            .args([
                "--listen",
                &port.to_string(),
                "--ready-file",
                ready.to_str().unwrap(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the pjsua2 callee");
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the pjsua2 callee did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PjsuaCallee { child: Some(child) }
    }

    /// Wait for it to end (its own --timeout bounds this) and return its JSON result.
    pub fn finish(mut self) -> serde_json::Value {
        let child = self.child.take().expect("finished once");
        let output = child.wait_with_output().expect("callee result");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .rev()
            .find(|line| line.starts_with('{'))
            .unwrap_or_else(|| panic!("the pjsua2 callee printed no result:\n{text}"));
        serde_json::from_str(line).expect("callee JSON")
    }
}

impl Drop for PjsuaCallee {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Send one SIP request over UDP from a fresh 127.0.0.1 socket and return the
/// status code of the first final (>= 200) response, or None on timeout.
pub fn raw_request(host: SocketAddr, request: &str) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    let request = request
        .replace("LOCAL", &local.to_string())
        .replace("HOST", &host.to_string());
    socket.send_to(request.as_bytes(), host).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = [0u8; 65535];
    while Instant::now() < deadline {
        let Ok((len, _)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..len]);
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok());
        if let Some(code) = code
            && code >= 200
        {
            return Some(code);
        }
    }
    None
}

/// An INVITE to `service` offering the static payload types `payload_types`
/// (e.g. "0" for PCMU), for [`raw_request`].
pub fn invite(service: &str, call_id: &str, payload_types: &str) -> String {
    let sdp = format!(
        "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {payload_types}\r\n"
    );
    format!(
        "INVITE sip:{service}@HOST SIP/2.0\r\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK{call_id}\r\nFrom: <sip:t@LOCAL>;tag=1\r\n\
         To: <sip:{service}@HOST>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:t@LOCAL>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A SIPp callee running in the background (`-sf tests/sipp/<scenario>`, one call),
/// listening on 127.0.0.1:`port`. Killed on drop.
pub struct SippCallee {
    child: Child,
    /// Its SIP port.
    pub port: u16,
    work: PathBuf,
}

impl SippCallee {
    /// Start the scenario in `dir/sipp-callee-<port>`; SIPp ends by itself after
    /// one call or 90 s.
    pub fn start(dir: &Path, scenario: &str) -> SippCallee {
        SippCallee::start_file(dir, &sipp_dir().join(scenario))
    }

    /// Start the scenario file at `path`.
    pub fn start_file(dir: &Path, path: &Path) -> SippCallee {
        require_tool("sipp");
        let port = free_port();
        let media_port = free_port().to_string();
        let work = dir.join(format!("sipp-callee-{port}"));
        std::fs::create_dir_all(&work).unwrap();
        let child = Command::new("sipp")
            .current_dir(&work)
            .args(["-sf", path.to_str().unwrap()])
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-mp",
                &media_port,
                "-m",
                "1",
            ])
            .args([
                "-timeout",
                "90s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
                "-trace_screen",
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work.join("stdout.txt")).unwrap())
            .stderr(std::fs::File::create(work.join("stderr.txt")).unwrap())
            .spawn()
            .expect("run sipp");
        // SIPp needs a moment to bind before anyone calls it.
        std::thread::sleep(Duration::from_millis(300));
        SippCallee { child, port, work }
    }

    /// The URI that reaches it, with `user`.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.port)
    }

    /// Wait up to `limit` for SIPp to end; its exit code (0: the call went as the
    /// scenario says) and its output.
    pub fn finish(&mut self, limit: Duration) -> SippRun {
        let start = Instant::now();
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("sipp status") {
                break status.code().unwrap_or(-1);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break -2;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut output = String::new();
        for entry in std::fs::read_dir(&self.work)
            .into_iter()
            .flatten()
            .flatten()
        {
            output.push_str(&format!("\n--- {}\n", entry.file_name().to_string_lossy()));
            output.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        SippRun { code, output }
    }
}

impl Drop for SippCallee {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POST `body` (JSON) to `path` on the admin listener at `address`; (status, body).
pub fn http_post(address: SocketAddr, path: &str, body: &str) -> (u16, String) {
    http_request(address, "POST", path, body)
}

/// GET `path` on the admin listener at `address`; (status, body).
pub fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    http_request(address, "GET", path, "")
}

fn http_request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the admin listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}
