//! What the tests of the real binary share: a free port, starting `hoinghi demo` on a
//! data directory (over SQLite, or a fresh PostgreSQL database when
//! `TEST_BACKEND=postgres`), a sudden meeting scheduled over the API with its
//! invited halls' join tokens, bounded waits, and halls' pages reduced to their
//! sockets ([`page`]; on a cluster, following the page's node rule: [`roaming`]), and
//! a cluster of nodes on one database ([`cluster`]).

#![allow(dead_code)] // each test binary uses its own part

pub mod chaired;
pub mod cluster;
pub mod page;
pub mod roaming;

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a run of the server keeps between restarts: its data directory (the attendance
/// journal, and the SQLite file) and its database.
pub struct DataDir {
    dir: tempfile::TempDir,
    /// The PostgreSQL database, when the tests run on PostgreSQL.
    db: Option<scheduler::testing::TestDb>,
}

impl DataDir {
    /// A fresh data directory, with a fresh database on the tests' backend.
    pub async fn new() -> DataDir {
        let dir = tempfile::tempdir().unwrap();
        let db = match scheduler::testing::test_backend() {
            scheduler::Backend::Sqlite => None,
            backend => Some(
                scheduler::testing::TestDb::new(backend)
                    .await
                    .expect("a fresh test database"),
            ),
        };
        DataDir { dir, db }
    }

    /// A fresh data directory on a fresh PostgreSQL database, whatever the tests'
    /// backend (several nodes need one shared database).
    pub async fn postgres() -> DataDir {
        let db = scheduler::testing::TestDb::new(scheduler::Backend::Postgres)
            .await
            .expect("a fresh PostgreSQL test database");
        DataDir {
            dir: tempfile::tempdir().unwrap(),
            db: Some(db),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The server's database.
    pub fn database_url(&self) -> String {
        match &self.db {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}/hoinghi.db", self.dir.path().display()),
        }
    }

    /// Drops a PostgreSQL test database (after the server stopped).
    pub async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

/// Starts the demo server on `data` and waits until `/healthz` answers 200.
pub async fn start(data: &DataDir, port: u16) -> Child {
    start_node(data.path(), &data.database_url(), port, &[]).await
}

/// Starts the demo server with its journal in `dir`, on `database_url` (seeded by the
/// first server that finds it empty), with extra `HOINGHI_*` settings `env`; waits
/// until `/healthz` answers 200.
pub async fn start_node(
    dir: &std::path::Path,
    database_url: &str,
    port: u16,
    env: &[(&str, &str)],
) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_hoinghi"))
        .args([
            "demo",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            dir.to_str().unwrap(),
            "--database-url",
            database_url,
        ])
        .env("HOINGHI_PRESENCE_SECS", "1")
        .env("HOINGHI_RECONNECT_GRACE_SECS", "5")
        .envs(env.iter().copied())
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or("warn".into()),
        )
        .stdout(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..600 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become healthy");
}

/// The demo store of a data directory, opened beside the server.
pub async fn store_of(data: &DataDir) -> scheduler::Store {
    scheduler::Store::connect(&data.database_url())
        .await
        .unwrap()
}

/// A sudden meeting of unit `unit_code` (its hall and 17 halls below it) scheduled
/// now by `account`: its id, and every invited hall with its join token, host first.
pub async fn sudden_meeting(
    base: &str,
    store: &scheduler::Store,
    account: &str,
    unit_code: &str,
) -> (i64, Vec<(i64, String)>) {
    let http = reqwest::Client::new();
    let token = login(&http, base, account).await;
    let today = scheduler::time::local_date(scheduler::time::now());
    let unit = store.unit_by_code(unit_code, today).await.unwrap();
    let halls = store.halls_in(&unit.path).await.unwrap();
    let host = halls.iter().find(|h| h.unit_id == unit.id).unwrap().id;
    // The demo is on today's two-tier map: the unit's own hall and 17 halls below it (as
    // many as Huyện Tân Sơn and its communes had).
    let below: Vec<i64> = halls
        .iter()
        .filter(|h| h.unit_id != unit.id && h.active)
        .take(17)
        .map(|h| h.id)
        .collect();
    let created: Value = http
        .post(format!("{base}/api/v1/meetings"))
        .bearer_auth(&token)
        .json(&json!({
            "title": "Họp khẩn", "kind": "sudden", "host_hall_id": host, "starts_at": "now",
            "duration_minutes": 60, "override_reason": "kiểm thử",
            "scope": { "root_unit_id": unit.id, "levels": [unit.level], "include_halls": below },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let meeting = created["meetings"][0]["id"]
        .as_i64()
        .expect("meeting scheduled");
    let invitations = get_json(
        &http,
        &format!("{base}/api/v1/meetings/{meeting}/invitations"),
        &token,
    )
    .await;
    let mut invited: Vec<(i64, String)> = invitations["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["hall_id"].as_i64().unwrap(),
                i["join_token"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    invited.sort_by_key(|(h, _)| *h != host);
    assert_eq!(invited[0].0, host, "the host hall is invited");
    (meeting, invited)
}

/// Logs `account` in on `base` over the API; its bearer token.
pub async fn login(http: &reqwest::Client, base: &str, account: &str) -> String {
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": account, "password": "hoinghi-demo" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().expect("logged in").to_string()
}

/// GETs `url` with `token` as the bearer; the answer's JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..600 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}
