//! Test helpers for the end-to-end suite: the real server on port 0 over a fresh database.

pub mod bench;

use scheduler::demo::{self, DemoOptions};
use scheduler::testing::TestDb;
use scheduler::Backend;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use web::{Application, Settings};

pub use scheduler::testing::{demo_hash, test_backend, DEMO_PASSWORD as PASSWORD};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// A client's meeting socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server says next on a socket: a JSON message (`Ok`), or how it ended
/// (`Err(Some((code, reason)))` for a close frame, `Err(None)` when it just stopped).
/// Gives up after 20 s (a test that waits longer is broken, not slow).
pub async fn next_event(ws: &mut Socket) -> Result<Value, Option<(u16, String)>> {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("the server answers in time");
        match frame {
            Some(Ok(Message::Text(t))) => {
                return Ok(serde_json::from_str(&t).expect("the server speaks JSON"))
            }
            Some(Ok(Message::Close(f))) => {
                return Err(f.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())))
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// The next JSON message on a socket, if it sends one before closing.
pub async fn next_message(ws: &mut Socket) -> Option<Value> {
    next_event(ws).await.ok()
}

fn init_test_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        web::cli::init_tracing("info");
    }
}

/// A running server with the Phú Thọ demo data, and an HTTP client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client without cookies (tests pass bearer tokens).
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the metrics listener, when `metrics_addr` is set.
    pub metrics: Option<String>,
    /// The database behind the server.
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The directory the server keeps recordings in.
    pub recordings: std::path::PathBuf,
    /// Holds the server's own attendance journal and recordings (never shared between tests).
    _journal: tempfile::TempDir,
}

/// Starts the server on port 0 over a fresh database with the demo tree, halls and accounts:
/// SQLite, or PostgreSQL when `TEST_BACKEND=postgres` ([`test_backend`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_on(test_backend()).await
}

/// As [`spawn_app`], on the given backend.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], on the given backend, with settings changed by `tune`.
pub async fn spawn_app_with(backend: Backend, tune: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_over(demo_db(backend).await, tune).await
}

/// A fresh database of `backend` with the demo tree, halls and accounts, for a test that
/// writes rows before the server starts ([`spawn_app_over`]).
pub async fn demo_db(backend: Backend) -> TestDb {
    let db = TestDb::new(backend).await.expect("a fresh test database");
    demo::seed(
        &db.store,
        DemoOptions {
            whole_country: false,
            meetings: false,
        },
        demo_hash(),
    )
    .await
    .expect("demo data loads");
    db
}

/// Starts the server on port 0 over `db` (see [`demo_db`]), with settings changed by
/// `tune`; its journal and recordings directory are temporary unless `tune` says otherwise.
pub async fn spawn_app_over(db: TestDb, tune: impl FnOnce(&mut Settings)) -> TestApp {
    init_test_tracing();
    let journal = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings {
        addr: "127.0.0.1:0".parse().expect("a literal address"),
        database_url: db.url.clone(),
        attendance_journal: Some(journal.path().join("attendance.journal")),
        recordings: web::settings::RecordingsSettings {
            dir: Some(journal.path().join("recordings")),
            ..Default::default()
        },
        ..Settings::default()
    };
    tune(&mut settings);
    let recordings = settings.recordings_dir();
    let app = Application::with_store(settings, db.store.clone())
        .await
        .expect("server binds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics = app.metrics_addr().map(|a| format!("http://{a}"));
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        metrics,
        db,
        shutdown: Some(tx),
        server: Some(server),
        recordings,
        _journal: journal,
    }
}

impl TestApp {
    /// Logs in and returns the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let res = self
            .post(
                "/api/v1/auth/login",
                None,
                &serde_json::json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.0, 200, "login {username}: {}", res.1);
        res.1["token"].as_str().expect("a token").to_string()
    }

    /// GET with an optional bearer token: (status, JSON body or Null).
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// GET returning the raw text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent");
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    }

    /// POST JSON with an optional bearer token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    /// PATCH JSON with a bearer token.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(token), body)
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// DELETE with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, Some(token), &Value::Null)
            .await
    }

    /// The meeting socket's URL.
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replace("http://", "ws://"))
    }

    /// Opens the meeting socket and sends `join` with `token`; returns the socket and the
    /// server's first answer (`welcome` or `error`).
    pub async fn ws_join(&self, token: &str) -> (Socket, Value) {
        let (mut ws, _) = tokio_tungstenite::connect_async(self.ws_url())
            .await
            .expect("socket opens");
        let join = serde_json::json!({ "type": "join", "v": 1, "token": token });
        ws.send(Message::text(join.to_string()))
            .await
            .expect("join sent");
        let first = next_message(&mut ws).await.expect("an answer to join");
        (ws, first)
    }

    /// POST a raw body with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The id of the unit with a GSO code.
    pub async fn unit_id(&self, code: &str) -> i64 {
        let date = scheduler::time::local_date(scheduler::time::now());
        self.db
            .store
            .unit_by_code(code, date)
            .await
            .expect("unit exists")
            .id
    }

    /// The id of the (demo: only) hall of the unit with a GSO code.
    pub async fn hall_id(&self, code: &str) -> i64 {
        let date = scheduler::time::local_date(scheduler::time::now());
        let unit = self
            .db
            .store
            .unit_by_code(code, date)
            .await
            .expect("unit exists");
        let halls = self.db.store.halls_in(&unit.path).await.expect("halls");
        halls
            .iter()
            .find(|h| h.unit_id == unit.id)
            .expect("a hall per unit")
            .id
    }

    /// Stops the server gracefully and drops the database; fails if the server failed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        self.db.cleanup().await;
    }
}
