//! Test support: a fresh, migrated database per test — a temporary SQLite file, or a new
//! PostgreSQL database on the server named by `HOINGHI_TEST_POSTGRES_URL`.

use sqlx::{AnyConnection, Connection, Executor};

use crate::{Backend, Result, Store};

/// The password of every demo account in tests.
pub const DEMO_PASSWORD: &str = "hoinghi-demo";

/// One argon2 hash of [`DEMO_PASSWORD`] shared by every demo account in tests
/// (hashing 236 times would only slow them down).
pub fn demo_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::hash_password(DEMO_PASSWORD).expect("a valid demo password"))
}

/// The PostgreSQL server tests create their databases on (the development and CI machines').
pub fn postgres_admin_url() -> String {
    std::env::var("HOINGHI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The backend the suites that are not written for both run on: SQLite, or PostgreSQL when
/// `TEST_BACKEND=postgres` (`scripts/test` runs them a second time so).
pub fn test_backend() -> Backend {
    match std::env::var("TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("TEST_BACKEND={other}: expected sqlite or postgres"),
    }
}

/// A database made for one test; dropped by [`TestDb::cleanup`].
pub struct TestDb {
    /// The connection URL, for a server under test.
    pub url: String,
    /// The store on it.
    pub store: Store,
    /// Holds the temporary directory of a SQLite file alive.
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh, migrated database of the given backend.
    pub async fn new(backend: Backend) -> Result<TestDb> {
        sqlx::any::install_default_drivers();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| crate::Error::Internal(e.to_string()))?;
                let url = format!("sqlite://{}", dir.path().join("hoinghi.db").display());
                let store = Store::connect(&url).await?;
                Ok(TestDb {
                    url,
                    store,
                    _dir: Some(dir),
                    pg_name: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("hoinghi_t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = AnyConnection::connect(&admin).await?;
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await?;
                conn.close().await?;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                let url = format!("{base}/{name}");
                let store = Store::connect(&url).await?;
                Ok(TestDb {
                    url,
                    store,
                    _dir: None,
                    pg_name: Some(name),
                })
            }
        }
    }

    /// Runs `sql` on a connection of its own (a test's way to change the database under
    /// a running store, e.g. to make writes fail).
    pub async fn execute(&self, sql: &str) -> Result<()> {
        let mut conn = AnyConnection::connect(&self.url).await?;
        conn.execute(sql).await?;
        conn.close().await?;
        Ok(())
    }

    /// Closes the store and drops a PostgreSQL test database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = self.pg_name {
            if let Ok(mut conn) = AnyConnection::connect(&postgres_admin_url()).await {
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// A fresh database of `backend` with the Phú Thọ demo (its halls and accounts, no
/// sample meetings).
pub async fn demo_db(backend: Backend) -> Result<TestDb> {
    let db = TestDb::new(backend).await?;
    let options = crate::demo::DemoOptions {
        whole_country: false,
        meetings: false,
    };
    crate::demo::seed(&db.store, options, demo_hash()).await?;
    Ok(db)
}

/// As the administrator, schedules a Phú Thọ meeting at `levels` that starts now and
/// lasts an hour, hosted by the province hall.
pub async fn province_meeting_now(
    store: &Store,
    title: &str,
    levels: &[crate::Level],
) -> Result<crate::Meeting> {
    let admin = store.principal_by_username("admin").await?;
    let now = crate::time::now();
    let province = store
        .unit_by_code(crate::demo::PHU_THO, crate::time::local_date(now))
        .await?;
    let halls = store.halls_in(&province.path).await?;
    let host = halls
        .iter()
        .find(|h| h.unit_id == province.id)
        .ok_or(crate::Error::NotFound("province hall"))?;
    let draft = crate::MeetingDraft {
        title: title.into(),
        description: String::new(),
        kind: crate::MeetingKind::Routine,
        host_hall_id: host.id,
        starts_at: now,
        ends_at: now + 3600,
        scope: crate::Scope {
            root_unit_id: province.id,
            levels: levels.iter().copied().collect(),
            include_halls: Default::default(),
            exclude_halls: Default::default(),
        },
        recurrence: None,
    };
    store
        .schedule(&admin, draft, None)
        .await?
        .pop()
        .ok_or(crate::Error::NotFound("meeting"))
}
