//! The store's connection: one `sqlx::Any` pool over SQLite or PostgreSQL, migrated at start-up.
//!
//! Why `Any` rather than a trait with SQL per backend: the scheduler's queries are plain
//! portable SQL (integers for instants, text for everything else, `$n` placeholders that
//! both SQLite and PostgreSQL accept), so one module of SQL serves both and the same test
//! suite runs against both. Only the DDL differs, kept as two migration folders.

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use crate::Result;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The name of a node that runs alone (no `cluster` settings): the node id written on
/// its attendance rows, and on every row written before nodes had names.
pub const LOCAL_NODE: &str = "local";

/// The PostgreSQL advisory lock every node takes before a scheduling conflict check
/// ([`Store::begin_scheduling`]): "hoinghi" in ASCII, then 1.
pub const SCHEDULING_LOCK: i64 = 0x686f_696e_6768_6901;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, no set-up.
    Sqlite,
    /// For larger deployments (several nodes sharing one database).
    Postgres,
}

/// The scheduler's store: a connection pool and the backend behind it.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Held from a conflict check to the insert it allows, so two secretariats of this
    /// process scheduling the same halls queue here rather than in the database (other
    /// processes are kept out by [`Store::begin_scheduling`]'s lock).
    pub(crate) scheduling: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Bounded password hashing and login throttling (see [`crate::login_guard`]).
    pub(crate) login_guard: crate::login_guard::LoginGuard,
    /// The node this store writes for (its attendance intervals, recorded changes and
    /// meeting leases carry it): [`LOCAL_NODE`] unless set with [`Store::with_node`].
    pub(crate) node: std::sync::Arc<str>,
}

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://…`),
    /// creating a SQLite file if missing, and runs the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(crate::Error::invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes
                        // concurrent writers wait instead of failing.
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                             PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            // A connection still in a transaction when handed out is broken: on SQLite a
            // COMMIT that failed on a full disk leaves sqlx counting a transaction SQLite
            // already rolled back, and every later `BEGIN IMMEDIATE` on it fails
            // (`InvalidSavePointStatement`). Close it; the pool opens another.
            .before_acquire(|conn, _meta| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Store {
            pool,
            backend,
            scheduling: Default::default(),
            login_guard: Default::default(),
            node: LOCAL_NODE.into(),
        })
    }

    /// The same store writing for node `node_id` (one of several nodes sharing a
    /// PostgreSQL database; the caller checked the name).
    pub fn with_node(mut self, node_id: &str) -> Self {
        self.node = node_id.into();
        self
    }

    /// The node this store writes for.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write
    /// lock is taken at the start (waiting up to the busy timeout behind another writer),
    /// so a transaction that reads before it writes cannot fail half-way with "database is
    /// locked" because another connection wrote in between (a deferred transaction cannot
    /// upgrade its stale read snapshot, and SQLite returns busy at once, without waiting).
    /// PostgreSQL's row locking needs nothing special.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Begins the write transaction of a scheduling change, in which its conflict check
    /// and its writes run: no other process on this database can pass the same check
    /// until it commits. On SQLite `BEGIN IMMEDIATE` already holds the database's one
    /// write lock (across processes too); on PostgreSQL a transaction-scoped advisory
    /// lock ([`SCHEDULING_LOCK`]) is taken first, released by the commit or rollback —
    /// also when the node dies, as its connection closes.
    ///
    /// Why a lock rather than SERIALIZABLE: the conflict check reads meetings by time
    /// range and their invitations, so two bookings of different halls at the same hour
    /// would fail each other under serializable isolation too (and need a retry loop
    /// around every scheduling path); scheduling is rare and short, one queue costs
    /// nothing, and a lock cannot be forgotten by a retry path.
    pub(crate) async fn begin_scheduling(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
                .bind(SCHEDULING_LOCK)
                .fetch_one(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// True when the database answers a trivial query (for `/healthz`).
    pub async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
