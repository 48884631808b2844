//! The test kit: starts adapter binaries as real processes on loopback, reads the addresses
//! they announce, keeps their logs for assertions, and stops them.
//!
//! Used only by tests. The binaries must be built first (`make test` does `cargo build --bins`);
//! they are looked up beside the test executable, or in `INTEG_BIN_DIR`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

pub mod fake;
pub mod fake_paypal;
pub mod fake_square;
pub mod fake_stripe;
pub mod postgres;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(label: &str) -> Self {
        let n: u64 = rand_u64();
        let path = std::env::temp_dir().join(format!("integ-{label}-{}-{n:x}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    h.finish()
}

/// Where the adapter binaries are.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("INTEG_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/it-<hash> -> target/debug
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap().to_path_buf()
}

/// The binary of `family` (`payments`).
pub fn binary(family: &str) -> PathBuf {
    bin_dir().join(format!("integ-{family}"))
}

/// A running adapter process.
pub struct Running {
    child: Child,
    /// The family it serves.
    pub family: String,
    /// `http://127.0.0.1:port` of the gRPC port.
    pub grpc: String,
    /// `127.0.0.1:port` of the webhook HTTP port.
    pub http: String,
    /// `127.0.0.1:port` of the metrics port.
    pub metrics: String,
    logs: Arc<Mutex<Vec<String>>>,
    /// Its data directory (removed on drop unless shared).
    pub data: Arc<TempDir>,
}

/// How to start an adapter.
#[derive(Debug, Clone)]
pub struct Start {
    family: String,
    env: Vec<(String, String)>,
    data: Option<Arc<TempDir>>,
}

impl Start {
    /// An adapter of `family` on free loopback ports with a fresh data directory and the
    /// sandbox providers.
    pub fn new(family: &str) -> Self {
        Self {
            family: family.to_owned(),
            env: Vec::new(),
            data: None,
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Reuses a data directory (for restarts).
    pub fn data(mut self, data: Arc<TempDir>) -> Self {
        self.data = Some(data);
        self
    }

    fn command(&self, data: &Path) -> Command {
        let mut cmd = Command::new(binary(&self.family));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INTEG_GRPC_PORT", "0")
            .env("INTEG_HTTP_PORT", "0")
            .env("INTEG_METRICS_PORT", "0")
            .env("INTEG_DATA_DIR", data)
            .env("INTEG_LOG_FORMAT", "json")
            .env("INTEG_LOG", "info")
            .env("INTEG_SHUTDOWN_GRACE_SECS", "5");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs the binary to completion (for configuration errors): exit code and stderr.
    pub async fn run_to_exit(&self) -> Result<(Option<i32>, String, String)> {
        let data = self
            .data
            .clone()
            .unwrap_or_else(|| Arc::new(TempDir::new(&self.family)));
        let out = tokio::time::timeout(Duration::from_secs(20), self.command(data.path()).output())
            .await
            .context("adapter did not exit")??;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Starts the adapter and waits until it announces its addresses.
    pub async fn spawn(self) -> Result<Running> {
        let data = self
            .data
            .clone()
            .unwrap_or_else(|| Arc::new(TempDir::new(&self.family)));
        let mut child = self
            .command(data.path())
            .spawn()
            .with_context(|| format!("cannot start {}", binary(&self.family).display()))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
        collect(stdout, logs.clone(), Some(tx));
        collect(stderr, logs.clone(), None);
        let announce = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = rx.recv().await {
                if line["message"] == "integ listening" {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let Ok(Some(line)) = announce else {
            let lines = logs.lock().unwrap().join("\n");
            bail!("{} did not start; its output:\n{lines}", self.family);
        };
        let field = |k: &str| line[k].as_str().unwrap_or_default().to_owned();
        Ok(Running {
            child,
            family: self.family,
            grpc: format!("http://{}", field("grpc")),
            http: field("http"),
            metrics: field("metrics"),
            logs,
            data,
        })
    }
}

fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
    logs: Arc<Mutex<Vec<String>>>,
    announce: Option<tokio::sync::mpsc::UnboundedSender<serde_json::Value>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(tx) = &announce
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            {
                let _ = tx.send(v);
            }
            logs.lock().unwrap().push(line);
        }
    });
}

impl Running {
    /// A gRPC channel to the adapter.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.grpc.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Everything the process wrote so far, one line each.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        http_get(&self.metrics, "/metrics")
            .await
            .unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn terminate(mut self) -> Option<i32> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()?
            .ok()?
            .code()
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()?
            .ok()?
            .code()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub async fn kill9(mut self) -> Arc<TempDir> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.data.clone()
    }
}

/// A plain HTTP/1.1 GET on loopback, returning the body.
pub async fn http_get(addr: &str, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(text))
}
