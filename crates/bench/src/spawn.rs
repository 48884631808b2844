//! The servers under test, each a child process so that the kernel accounts its CPU and memory
//! apart: the adapter binaries, and this executable re-run as `integ-bench serve-bare` for the
//! bare tonic baselines.
//!
//! The adapters are looked up in `INTEG_BIN_DIR`, else beside this executable (both are built
//! into `target/<profile>/`; `make bench` and `scripts/bench-quick.sh` build them first). The
//! test kit's `Start` is not used to spawn them: its handle does not expose the process id, and
//! it keeps and parses every log line, which under load would put the bench's own CPU into the
//! measurement. Here the log is drained cheaply and only its last lines are kept for errors.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use integ_testkit::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

/// How many of a child's last output lines are kept for error messages.
const TAIL: usize = 40;

/// Where the adapter binaries are: `INTEG_BIN_DIR`, else this executable's directory.
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("INTEG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot find the bench executable")?;
    Ok(exe
        .parent()
        .context("the bench executable has no directory")?
        .to_path_buf())
}

/// The adapter binary of `family`, which must have been built.
pub fn adapter_binary(family: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(format!("integ-{family}"));
    if !path.is_file() {
        bail!(
            "{} is missing: build the adapters first (`cargo build [--release] --bins`; \
             `make bench` and scripts/bench-quick.sh do) or point INTEG_BIN_DIR at them",
            path.display()
        );
    }
    Ok(path)
}

/// How to start one server.
#[derive(Debug, Clone)]
pub struct Spec {
    label: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Spec {
    /// The adapter of `family` with its defaults (JSON logs at INFO, SQLite in a fresh data
    /// directory), on free loopback ports.
    pub fn adapter(family: &str) -> Result<Self> {
        Ok(Self {
            label: format!("integ-{family}"),
            program: adapter_binary(family)?,
            args: Vec::new(),
            env: [
                ("INTEG_BIND_HOST", "127.0.0.1"),
                ("INTEG_GRPC_PORT", "0"),
                ("INTEG_HTTP_PORT", "0"),
                ("INTEG_METRICS_PORT", "0"),
                ("INTEG_LOG_FORMAT", "json"),
                ("INTEG_LOG", "info"),
                ("INTEG_SHUTDOWN_GRACE_SECS", "1"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        })
    }

    /// The bare tonic server of this crate: `mode` is `pass` (one HTTP call to `provider` per
    /// request) or `echo` (answers at once).
    pub fn bare(mode: &str, provider: &str) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the bench executable")?;
        Ok(Self {
            label: format!("bare-{mode}"),
            program: exe,
            args: vec![
                crate::bare::SUBCOMMAND.to_owned(),
                "--mode".to_owned(),
                mode.to_owned(),
                "--provider".to_owned(),
                provider.to_owned(),
            ],
            env: Vec::new(),
        })
    }

    /// Adds (or overrides) an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// What the server is called in errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The command, with a fresh data directory that lives as long as the returned handle.
    pub fn command(&self) -> (Command, Arc<TempDir>) {
        let data = Arc::new(TempDir::new(&format!("bench-{}", self.label)));
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INTEG_DATA_DIR", data.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        (cmd, data)
    }

    /// Starts the server and waits until it announces its addresses.
    pub async fn spawn(&self) -> Result<Server> {
        let (mut cmd, data) = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        let pid = child.id().context("child exited at once")?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        drain(stderr, tail.clone());
        let mut lines = BufReader::new(stdout).lines();
        let announced = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                keep(&tail, &line);
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v.get("message").and_then(serde_json::Value::as_str)
                        == Some("integ listening")
                {
                    return Some(v);
                }
            }
            None
        })
        .await;
        let Ok(Some(v)) = announced else {
            let _ = child.start_kill();
            let status = child.wait().await.ok();
            bail!(
                "{} did not start (exit {status:?}); its last output:\n{}",
                self.label,
                tail_text(&tail)
            );
        };
        drain(lines.into_inner(), tail.clone());
        let field = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Server {
            label: self.label.clone(),
            child,
            pid,
            grpc: format!("http://{}", field("grpc")),
            http: field("http"),
            metrics: field("metrics"),
            tail,
            _data: data,
        })
    }
}

fn keep(tail: &Mutex<VecDeque<String>>, line: &str) {
    if let Ok(mut t) = tail.lock() {
        if t.len() >= TAIL {
            t.pop_front();
        }
        t.push_back(line.to_owned());
    }
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    tail.lock()
        .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// Reads a child's output to the end, keeping only its last lines.
fn drain<R: AsyncRead + Unpin + Send + 'static>(reader: R, tail: Arc<Mutex<VecDeque<String>>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => keep(&tail, line.trim_end()),
            }
        }
    });
}

/// A running server.
pub struct Server {
    label: String,
    child: Child,
    /// Its process id, for CPU and memory accounting.
    pub pid: u32,
    /// `http://127.0.0.1:port` of its gRPC port.
    pub grpc: String,
    /// `127.0.0.1:port` of its webhook port (empty for the bare server).
    pub http: String,
    /// `127.0.0.1:port` of its metrics port (empty for the bare server).
    pub metrics: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    _data: Arc<TempDir>,
}

impl Server {
    /// What the server is called in the report.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `n` gRPC connections (HTTP/2) to the server.
    pub async fn channels(&self, n: usize) -> Result<Vec<Channel>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let channel = Endpoint::from_shared(self.grpc.clone())?
                .tcp_nodelay(true)
                .connect()
                .await
                .with_context(|| format!("cannot connect to {}", self.label))?;
            out.push(channel);
        }
        Ok(out)
    }

    /// The Prometheus text of its metrics port.
    pub async fn metrics_text(&self) -> Result<String> {
        integ_testkit::http_get(&self.metrics, "/metrics").await
    }

    /// Its last output lines, for error messages.
    pub fn tail(&self) -> String {
        tail_text(&self.tail)
    }

    /// Checks that it still runs.
    pub fn alive(&mut self) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            bail!(
                "{} exited ({status}); its last output:\n{}",
                self.label,
                self.tail()
            );
        }
        Ok(())
    }

    /// Kills it and waits for it to go.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A free loopback port (bound and released; good enough on a machine we drive alone).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A sum in a Prometheus text: the value of every sample line of `name` (any labels).
pub fn prometheus_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let metric = key.split('{').next()?;
            (metric == name).then(|| value.trim().parse::<f64>().ok())?
        })
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sums_prometheus_samples() {
        let text = "# TYPE x counter\nx{a=\"1\"} 2\nx{a=\"2\"} 3.5\nx_count 7\ny 1\n";
        assert!((prometheus_sum(text, "x") - 5.5).abs() < 1e-9);
        assert!((prometheus_sum(text, "x_count") - 7.0).abs() < 1e-9);
        assert!(prometheus_sum(text, "z").abs() < 1e-9);
    }
}
