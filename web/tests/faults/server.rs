//! The server under a fault: where its data and database are (a fresh data directory;
//! for a full disk a small tmpfs; for PostgreSQL faults a proxy in front of the
//! database), starting, stopping and killing it, and making and lifting each fault.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scheduler::Backend;
use sqlx::{Connection, Executor};
use tokio::process::Child;
use tokio::task::JoinHandle;

use crate::common::{free_port, roaming, start_node, DataDir};
use crate::disk::SmallDisk;
use crate::proxy::{Mode, Proxy};

/// The faults the suite injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sigterm,
    Kill,
    /// The SQLite database's disk is full; `journal_too`: the attendance journal is on it.
    DiskFull {
        journal_too: bool,
    },
    /// PostgreSQL refuses connections (and the open ones are cut).
    Refuse,
    /// Every database round trip is slower.
    Slow,
    /// The database is slow (as [`Fault::Slow`]) and the server is killed while the
    /// writer is still behind.
    KillWhileSlow,
}

impl Fault {
    /// Its name in the BENCHMARKS.md table.
    pub fn label(self, secs: u64) -> String {
        match self {
            Fault::Sigterm => "SIGTERM during the burst".into(),
            Fault::Kill => "kill -9 during the burst".into(),
            Fault::DiskFull { journal_too: false } => format!("disk full {secs} s (database)"),
            Fault::DiskFull { journal_too: true } => {
                format!("disk full {secs} s (database and journal)")
            }
            Fault::Refuse => format!("PostgreSQL refusing connections {secs} s"),
            Fault::Slow => format!("slow database {secs} s ({})", slow_label()),
            Fault::KillWhileSlow => {
                format!("kill -9 while the database is slow ({})", slow_label())
            }
        }
    }
}

/// What "slow" is on the backend under test.
fn slow_label() -> String {
    match scheduler::testing::test_backend() {
        Backend::Sqlite => format!(
            "write lock held by another connection {} of every {} ms",
            LOCK_HELD.as_millis(),
            (LOCK_HELD + LOCK_FREE).as_millis()
        ),
        _ => format!("+{} ms each way", latency().as_millis()),
    }
}

/// Added latency of the slow PostgreSQL, each direction.
fn latency() -> Duration {
    let ms = std::env::var("FAULT_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_millis(ms)
}

/// The slow SQLite: the write lock is held this long, then left free this long.
const LOCK_HELD: Duration = Duration::from_millis(200);
const LOCK_FREE: Duration = Duration::from_millis(50);

/// A server and its fault.
pub struct Setup {
    fault: Fault,
    pub port: u16,
    dir: DataDir,
    disk: Option<SmallDisk>,
    proxy: Option<Proxy>,
    /// The data directory and database URL, as the server names them.
    data_dir: PathBuf,
    server_url: String,
    /// The database URL for the test's own store.
    store_url: String,
    server: Option<Child>,
    /// The SQLite lock holder, and its stop flag.
    locker: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
}

impl Setup {
    /// Makes the place for `fault` on `backend` and starts the server; `None` when the
    /// fault does not apply to the backend.
    pub async fn new(fault: Fault, backend: Backend) -> Option<Setup> {
        let sqlite = backend == Backend::Sqlite;
        match fault {
            Fault::DiskFull { .. } if !sqlite => return None,
            Fault::Refuse if sqlite => return None,
            _ => {}
        }
        let dir = DataDir::new().await;
        let (mut disk, mut proxy) = (None, None);
        let mut data_dir = dir.path().to_path_buf();
        let (server_url, store_url) = match fault {
            Fault::DiskFull { journal_too } => {
                // 48 MiB: the demo database and its WAL with room to spare until filled.
                let small =
                    SmallDisk::mount(48).expect("the disk-full cases need root (mount -t tmpfs)");
                if journal_too {
                    data_dir = small.path().join("data");
                }
                let url = format!("sqlite://{}/hoinghi.db", small.path().display());
                disk = Some(small);
                (url.clone(), url)
            }
            Fault::Refuse | Fault::Slow | Fault::KillWhileSlow if !sqlite => {
                let url = dir.database_url();
                let (head, rest) = url.split_once('@').expect("postgres://user@host:port/db");
                let (host, db) = rest.split_once('/').expect("a database name");
                let upstream = host.parse().expect("PostgreSQL at an IP address and port");
                let p = Proxy::start(upstream).await;
                let through = format!("{head}@127.0.0.1:{}/{db}", p.port());
                proxy = Some(p);
                (through, url)
            }
            _ => (dir.database_url(), dir.database_url()),
        };
        let mut setup = Setup {
            fault,
            port: free_port(),
            dir,
            disk,
            proxy,
            data_dir,
            server_url,
            store_url,
            server: None,
            locker: None,
        };
        setup.start().await;
        Some(setup)
    }

    /// The store, opened beside the server.
    pub async fn store(&self) -> scheduler::Store {
        scheduler::Store::connect(&self.store_url).await.unwrap()
    }

    /// Starts the server (again) and waits until it answers.
    pub async fn start(&mut self) {
        let server = start_node(&self.data_dir, &self.server_url, self.port, &[]).await;
        self.server = Some(server);
    }

    /// SIGTERM, and the server exits by itself, cleanly.
    pub async fn terminate(&mut self) {
        let mut server = self.server.take().expect("running");
        roaming::terminate(&mut server).await;
    }

    /// kill -9.
    pub async fn kill(&mut self) {
        let mut server = self.server.take().expect("running");
        server.kill().await.unwrap();
    }

    pub async fn begin_fault(&mut self) {
        match self.fault {
            Fault::DiskFull { .. } => self.disk.as_ref().expect("a small disk").fill(),
            Fault::Refuse => self.proxy.as_mut().expect("a proxy").refuse(),
            Fault::Slow | Fault::KillWhileSlow => match &self.proxy {
                Some(p) => p.set_mode(Mode::Slow(latency())),
                None => {
                    let stop = Arc::new(AtomicBool::new(false));
                    let task = tokio::spawn(hold_write_lock(self.store_url.clone(), stop.clone()));
                    self.locker = Some((task, stop));
                }
            },
            Fault::Sigterm | Fault::Kill => {}
        }
    }

    pub async fn end_fault(&mut self) {
        match self.fault {
            Fault::DiskFull { .. } => self.disk.as_ref().expect("a small disk").free(),
            Fault::Refuse => self.proxy.as_mut().expect("a proxy").accept_again().await,
            Fault::Slow | Fault::KillWhileSlow => match self.locker.take() {
                Some((task, stop)) => {
                    stop.store(true, Ordering::SeqCst);
                    task.await.unwrap();
                }
                None => self.proxy.as_ref().expect("a proxy").set_mode(Mode::Pass),
            },
            Fault::Sigterm | Fault::Kill => {}
        }
    }

    /// Stops the server and drops its database.
    pub async fn finish(mut self) {
        if self.server.is_some() {
            self.terminate().await;
        }
        drop(self.proxy.take());
        drop(self.disk.take());
        self.dir.cleanup().await;
    }
}

/// Another connection to the SQLite file holding its write lock most of the time.
async fn hold_write_lock(url: String, stop: Arc<AtomicBool>) {
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    while !stop.load(Ordering::SeqCst) {
        conn.execute("BEGIN IMMEDIATE").await.unwrap();
        tokio::time::sleep(LOCK_HELD).await;
        conn.execute("COMMIT").await.unwrap();
        tokio::time::sleep(LOCK_FREE).await;
    }
    conn.close().await.unwrap();
}
