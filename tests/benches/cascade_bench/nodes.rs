//! The three node processes: `hoinghi demo` with `[cluster]` settings on one fresh
//! PostgreSQL database and NATS at 127.0.0.1:4222, each its own HTTP port, `/metrics`
//! listener and media UDP port; and a reading of each (CPU, RSS, `/metrics`).

use scheduler::testing::TestDb;
use sfu::testclient::procstat::{cpu_seconds, rss_kib};
use std::collections::HashMap;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// One node process.
pub struct Node {
    /// Its cluster name (`a`, `b`, `c` and this run's id).
    pub name: String,
    pub pid: u32,
    /// `ws://127.0.0.1:<port>` (halls add `/ws`).
    pub ws: String,
    /// Its `/metrics` URL.
    pub metrics: String,
    /// Its SFU's UDP port on 127.0.0.1.
    pub media_port: u16,
    _child: Child,
}

/// The cluster, its database and the nodes' data directories.
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The NATS server's process on this machine, if found (its CPU is the bridge's too).
    pub nats: Option<u32>,
    pub db: TestDb,
    _dirs: Vec<tempfile::TempDir>,
}

/// One reading of a node.
#[derive(Debug, Clone)]
pub struct Reading {
    /// When its CPU was read.
    pub at: Instant,
    /// CPU seconds used since start (user + system, all threads).
    pub cpu: f64,
    /// Resident memory, KiB.
    pub rss: u64,
    /// Every sample of `/metrics`, by name with labels (`hoinghi_relay_packets_total{direction="out"}`).
    pub metrics: HashMap<String, f64>,
}

impl Reading {
    /// A sample of `/metrics` (0 when absent).
    pub fn get(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(0.0)
    }
}

fn free_tcp() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free TCP port");
    l.local_addr().expect("an address").port()
}

fn free_udp() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("a free UDP port");
    s.local_addr().expect("an address").port()
}

/// The `hoinghi` binary: `HOINGHI_BIN`, else beside this benchmark's profile directory.
fn binary() -> Result<PathBuf, String> {
    if let Ok(bin) = std::env::var("HOINGHI_BIN") {
        return Ok(bin.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/cascade_bench-<hash> → target/<profile>/hoinghi
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("hoinghi"))
        .ok_or("no profile directory")?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build -p web --bin hoinghi [--release]) or \
             set HOINGHI_BIN",
            bin.display()
        ))
    }
}

async fn healthy(port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..1200 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

impl Cluster {
    /// Starts nodes a, b, c (a seeds the demo into the fresh database first).
    pub async fn start() -> Result<Cluster, String> {
        let bin = binary()?;
        let db = TestDb::new(scheduler::Backend::Postgres)
            .await
            .map_err(|e| format!("a fresh PostgreSQL database: {e}"))?;
        let run = std::process::id();
        // The nodes' logs outlive the run (their data directories do not).
        let logs = std::env::temp_dir().join(format!("cascade_bench-{run}"));
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        println!("node logs in {}", logs.display());
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for letter in ["a", "b", "c"] {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let (port, metrics, media) = (free_tcp(), free_tcp(), free_udp());
            let name = format!("{letter}-{run}");
            let log_path = logs.join(format!("node-{letter}.log"));
            let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
            let child = Command::new(&bin)
                .args(["demo", "--addr", &format!("127.0.0.1:{port}")])
                .arg("--data-dir")
                .arg(dir.path())
                .args(["--database-url", &db.url])
                // The server reads HOINGHI_* as settings: not the benchmark's own.
                .env_remove("HOINGHI_BIN")
                .env("HOINGHI_CLUSTER__NODE_ID", &name)
                .env("HOINGHI_CLUSTER__NATS_URL", "nats://127.0.0.1:4222")
                .env("HOINGHI_MEDIA_UDP_PORT", media.to_string())
                .env("HOINGHI_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
                // One meeting of all the halls, every socket from 127.0.0.1.
                .env("HOINGHI_MAX_HALLS", "0")
                .env("HOINGHI_MAX_FORWARDED_PPS", "0")
                .env("HOINGHI_MAX_SOCKETS", "20000")
                .env("HOINGHI_MAX_SOCKETS_PER_ADDRESS", "20000")
                .env(
                    "RUST_LOG",
                    std::env::var("NODE_LOG").unwrap_or("warn".into()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            let pid = child.id().unwrap_or(0);
            // The first node seeds the demo; the others find it there.
            if !healthy(port).await {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("node {name} did not become healthy:\n{log}"));
            }
            nodes.push(Node {
                name,
                pid,
                ws: format!("ws://127.0.0.1:{port}"),
                metrics: format!("http://127.0.0.1:{metrics}/metrics"),
                media_port: media,
                _child: child,
            });
            dirs.push(dir);
        }
        Ok(Cluster {
            nodes,
            nats: nats_pid(),
            db,
            _dirs: dirs,
        })
    }

    /// The index of the node whose media port is `port`.
    pub fn node_of_port(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.media_port == port)
    }

    /// Reads every node now.
    pub async fn read(&self, ticks: f64) -> Vec<Reading> {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for n in &self.nodes {
            let text = match http.get(&n.metrics).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            out.push(Reading {
                at: Instant::now(),
                cpu: cpu_seconds(n.pid, ticks).unwrap_or(0.0),
                rss: rss_kib(n.pid).unwrap_or(0),
                metrics: parse(&text),
            });
        }
        out
    }

    /// Stops the nodes and drops the database.
    pub async fn stop(self) {
        let Cluster {
            nodes, db, _dirs, ..
        } = self;
        drop(nodes);
        tokio::time::sleep(Duration::from_millis(500)).await;
        db.cleanup().await;
    }
}

/// The process named `nats-server`, read from `/proc` (only read, never signalled).
fn nats_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == "nats-server").then_some(pid)
    })
}

/// The samples of a Prometheus text page.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}
