//! SIPp as the called party of callhost's outgoing calls: started on a free
//! 127.0.0.1 port with a scenario from host/sip/tests/sipp, waited for until
//! it listens, and stopped (by its PID, via kill-on-drop) if the test ends
//! first. Every wait is bounded.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{SippRun, free_port, read_stats, sipp_binary};

/// One SIPp callee process.
pub struct Callee {
    child: Option<tokio::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
    output: Vec<tokio::task::JoinHandle<String>>,
}

/// This crate's SIPp scenario directory.
pub fn callee_scenario(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name);
    assert!(path.exists(), "scenario {} missing", path.display());
    path
}

impl Callee {
    /// Start SIPp with `scenario` for one call (`-m 1`), over TCP when `tcp`.
    pub async fn start(scenario: &str, tcp: bool) -> Callee {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut command = tokio::process::Command::new(sipp_binary());
        command
            .current_dir(dir.path())
            .arg("-sf")
            .arg(callee_scenario(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m", "1"])
            .args(["-timeout", "30s", "-timeout_error", "-nostdin"])
            .args(["-trace_stat", "-stf"])
            .arg(dir.path().join("stats.csv"))
            .args(["-trace_err", "-error_file"])
            .arg(dir.path().join("errors.log"))
            .args(["-trace_msg", "-message_file"])
            .arg(dir.path().join("messages.log"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if tcp {
            command.args(["-t", "t1"]);
        }
        let mut child = command.spawn().expect("start sipp");
        let mut output = Vec::new();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let mut pipe = pipe;
            output.push(tokio::spawn(async move {
                let mut text = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
                String::from_utf8_lossy(&text).into_owned()
            }));
        }
        let mut callee = Callee {
            child: Some(child),
            port,
            dir,
            output,
        };
        callee.wait_listening(tcp).await;
        callee
    }

    /// Wait (at most 10 s) until SIPp holds its port.
    async fn wait_listening(&mut self, tcp: bool) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..500 {
            let taken = if tcp {
                TcpListener::bind(address).is_err()
            } else {
                UdpSocket::bind(address).is_err()
            };
            if taken {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                let mut text = String::new();
                for task in self.output.drain(..) {
                    text.push_str(&task.await.unwrap_or_default());
                }
                panic!("SIPp exited before listening ({status}):\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("SIPp did not start listening on {address} within 10 s");
    }

    /// SIPp's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A SIP URI for `user` at SIPp, with `suffix` (params, headers) appended.
    pub fn uri(&self, user: &str, suffix: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}{suffix}", self.port)
    }

    /// Wait (at most 60 s) for SIPp to finish its call and exit.
    pub async fn finish(mut self) -> SippRun {
        let mut child = self.child.take().expect("child");
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("SIPp did not finish within 60 s")
            .expect("wait for sipp");
        let mut text = String::new();
        for task in self.output.drain(..) {
            text.push_str(&task.await.unwrap_or_default());
        }
        for log in ["errors.log", "messages.log"] {
            if let Ok(content) = std::fs::read_to_string(self.dir.path().join(log)) {
                text.push_str(&format!("\n--- SIPp {log} ---\n{content}"));
            }
        }
        let (successful, failed) = read_stats(&self.dir.path().join("stats.csv"));
        SippRun {
            exit_code: status.code(),
            successful,
            failed,
            output: text,
        }
    }
}

impl Drop for Callee {
    // A test that fails before `finish` still shows what SIPp saw.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in ["errors.log", "messages.log"] {
                if let Ok(content) = std::fs::read_to_string(self.dir.path().join(log)) {
                    eprintln!("--- SIPp {log} ---\n{content}");
                }
            }
        }
    }
}
