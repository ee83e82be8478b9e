//! Building and running the server: bind (port 0 allowed), serve, stop gracefully.
//!
//! A stop (SIGTERM, Ctrl-C) drains before it exits: joins are refused, every present
//! hall's interval ends as `server_restart` and its page is told (close 1012, come back
//! at once), the attendance writer writes what the rooms recorded, and only then is the
//! store closed — all within `drain_secs`; what is left stays in the writer's journal
//! and is written at the next start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use scheduler::Store;
use serde_json::json;
use tokio::net::TcpListener;

use crate::serve::tls::Certificate;
use crate::settings::{HttpConfig, Settings};
use crate::state::AppState;

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    /// The plain-HTTP listener that only redirects to HTTPS (setting `http_redirect_addr`).
    redirect: Option<TcpListener>,
    /// The certificate, when `listener` speaks HTTPS.
    certificate: Option<Arc<Certificate>>,
    http: HttpConfig,
    /// The metrics listener (setting `metrics_addr`) and its router, if set.
    metrics: Option<(TcpListener, Router)>,
    router: Router,
    state: AppState,
    signaling: signaling::Signaling,
    recorder: Arc<signaling::StoreRecorder>,
    /// The recordings' retention sweep, if `recordings.retention_days` is set.
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

/// Every route of the server over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/calendar/{file}", get(crate::ics::feed))
        .nest("/api/v1", crate::api::router(&state))
        .merge(crate::pages::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::extract::renew_device_cookie,
        ))
        .with_state(state)
}

/// What `/healthz` looks at: the database, and the attendance writer.
#[derive(Clone)]
struct Health {
    store: Store,
    recorder: Arc<signaling::StoreRecorder>,
}

/// 200 `ok`; 503 `degraded` while attendance writes fail or changes wait in the journal
/// (the server still runs meetings: nothing is lost, but the operator must look), 503
/// `database unavailable` when the database does not answer.
async fn healthz(
    axum::extract::State(health): axum::extract::State<Health>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    let writer = health.recorder.health();
    let unavailable = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    if !health.store.healthy().await {
        let body = json!({ "status": "database unavailable", "attendance": writer });
        (unavailable, Json(body))
    } else if writer.degraded || writer.journal_full {
        (
            unavailable,
            Json(json!({ "status": "degraded", "attendance": writer })),
        )
    } else {
        (axum::http::StatusCode::OK, Json(json!({ "status": "ok" })))
    }
}

impl Application {
    /// Connects the store (running migrations) and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(&settings.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("database {}: {e:?}", redact(&settings.database_url)))?;
        Application::with_store(settings, store).await
    }

    /// Binds the listener over an already connected store.
    pub async fn with_store(settings: Settings, store: Store) -> anyhow::Result<Application> {
        let cluster = settings.cluster_config().map_err(|e| anyhow::anyhow!(e))?;
        // Every attendance row and lease this node writes carries its name.
        let store = store
            .with_login_policy(settings.login_policy().map_err(|e| anyhow::anyhow!(e))?)
            .with_node(settings.node_id());
        // Recordings this node left open (a crash) are closed before any room opens.
        let recordings_dir = settings.recordings_dir();
        crate::recordings::prepare(&store, &recordings_dir).await?;
        let signaling_config = settings
            .signaling_config()
            .map_err(|e| anyhow::anyhow!(e))?;
        // Presence changes become attendance rows, with the same grace period as the
        // rooms. The writer first writes what the previous run left in the journal, then
        // closes the intervals this node left open (a crash) at each hall's last
        // heartbeat (other nodes' are theirs), then what the rooms record from now on;
        // halls that reconnect open new intervals.
        let grace = i64::try_from(signaling_config.grace.as_secs()).unwrap_or(i64::MAX);
        let journal = settings.journal_config();
        let recorder =
            signaling::StoreRecorder::start(store.clone(), grace, &journal).map_err(|e| {
                anyhow::anyhow!(
                    "attendance journal {} (setting attendance_journal): {e}",
                    journal.path.display()
                )
            })?;
        let drain = Duration::from_secs(settings.drain_secs);
        if !recorder.flush(drain).await {
            tracing::warn!(pending = recorder.health().pending,
                "attendance of the previous run not all written or closed yet; it stays in the journal and is written, in order, before anything newer");
        }
        let http = settings.http_config().map_err(|e| anyhow::anyhow!(e))?;
        let certificate = match &http.tls {
            Some(files) => Some(Certificate::load(files.clone()).map_err(|e| anyhow::anyhow!(e))?),
            None => None,
        };
        let listener = TcpListener::bind(settings.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.addr))?;
        let redirect = match http.redirect_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {addr} (setting http_redirect_addr): {e}")
            })?),
            None => None,
        };
        let bound = listener.local_addr()?;
        let public_base: Arc<str> = settings.public_base(bound).into();
        let sfu_config = settings.sfu_config().map_err(|e| anyhow::anyhow!(e))?;
        let mut signaling = signaling::Signaling::start(sfu_config, signaling_config)?
            .record_with(recorder.clone())
            .with_roster(store.clone());
        if let Some(cluster) = &cluster {
            tracing::info!(node = %cluster.node_id, "one node of a cluster: rooms open under home leases");
            signaling =
                signaling.with_home(signaling::HomeLeases::start(store.clone(), cluster.lease));
            let nats = signaling::bridge::connect(&cluster.nats_url, &cluster.node_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e} (setting cluster.nats_url)"))?;
            let bridge = signaling::Bridge::start(&signaling, nats, store.clone())
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "NATS {}: {e} (setting cluster.nats_url)",
                        signaling::bridge::redact_url(&cluster.nats_url)
                    )
                })?;
            signaling = signaling.with_bridge(bridge);
            // Takes over the meetings of a home node that died.
            signaling.watch_leases();
        }
        let live = crate::api::live::LiveState {
            store: store.clone(),
            signaling: signaling.clone(),
        };
        let gate = crate::sockets::SocketGate::new(
            settings.socket_limits().map_err(|e| anyhow::anyhow!(e))?,
        );
        // Ends by itself once the server (the last holder of the gate) is gone.
        crate::memory_trim::spawn(&gate, crate::memory_trim::TrimPolicy::default());
        let ws = crate::ws::WsState {
            store: store.clone(),
            signaling: signaling.clone(),
            origins: crate::ws::allowed_origins(
                settings.public_url.as_deref().into_iter().chain(
                    cluster
                        .iter()
                        .flat_map(|c| c.public_urls.values().map(String::as_str)),
                ),
            ),
            gate: gate.clone(),
        };
        let metrics = match settings.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    anyhow::anyhow!("cannot listen on {addr} (setting metrics_addr): {e}")
                })?;
                let registry = crate::metrics::registry(crate::metrics::Sources {
                    signaling: signaling.clone(),
                    store: store.clone(),
                    recorder: recorder.clone(),
                    gate,
                });
                Some((listener, crate::metrics::router(registry)))
            }
            None => None,
        };
        let health = Router::new()
            .route("/healthz", get(healthz))
            .with_state(Health {
                store: store.clone(),
                recorder: recorder.clone(),
            });
        let sweeper = crate::recordings::spawn_sweeper(
            store.clone(),
            recordings_dir,
            settings.recordings.retention_days,
            crate::settings::SWEEP_EVERY,
        );
        let state = AppState {
            store,
            settings: Arc::new(settings),
            public_base,
            signaling: Some(signaling.clone()),
        };
        Ok(Application {
            listener,
            redirect,
            certificate,
            http,
            metrics,
            // `/ws` has its own state, so `router(state)` stays buildable in tests.
            router: crate::telemetry::http_layers(
                router(state.clone())
                    .merge(crate::ws::router(ws))
                    .merge(crate::api::live::router(live.clone()))
                    .merge(crate::whip::router(live))
                    .merge(health),
            ),
            state,
            signaling,
            recorder,
            sweeper,
        })
    }

    /// The live meeting rooms (for statistics and tests).
    pub fn signaling(&self) -> &signaling::Signaling {
        &self.signaling
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.settings.addr)
    }

    /// The port of the plain-HTTP redirect listener, if there is one.
    pub fn redirect_port(&self) -> Option<u16> {
        self.redirect
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Where `/metrics` is served, if it is (setting `metrics_addr`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok()
    }

    /// The base URL links are built on.
    pub fn public_base(&self) -> &str {
        &self.state.public_base
    }

    /// The attendance writer (its state, and a flush for tests).
    pub fn recorder(&self) -> &Arc<signaling::StoreRecorder> {
        &self.recorder
    }

    /// Serves until `shutdown` resolves, then drains (see the module's notes): joins
    /// refused, halls told and their intervals ended, attendance written, requests in
    /// flight finished, the store closed.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let drain = Duration::from_secs(self.state.settings.drain_secs);
        let (signaling, recorder) = (self.signaling.clone(), self.recorder.clone());
        let stop = async move {
            shutdown.await;
            let until = tokio::time::Instant::now() + drain;
            if tokio::time::timeout_at(until, signaling.stop())
                .await
                .is_err()
            {
                tracing::warn!("stopping: not every hall's page could be told in time");
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if recorder.flush(left).await {
                tracing::info!("stopping: every attendance change is written");
            } else {
                tracing::warn!(
                    pending = recorder.health().pending,
                    "stopping: drain time over; unwritten attendance changes stay in the journal for the next start"
                );
            }
        };
        // The metrics listener runs beside the server and ends with it.
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let timeouts = crate::serve::Timeouts {
            header: self.http.header_timeout,
            idle: self.http.idle_timeout,
        };
        // The redirect listener stops with the main one.
        let (redirect_stop, redirect_stopped) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            stop.await;
            let _ = redirect_stop.send(());
        };
        let redirect = self.redirect.map(|listener| {
            let port = self.listener.local_addr().map(|a| a.port()).unwrap_or(443);
            let target = crate::serve::redirect::Target::new(
                self.state.settings.public_url.as_deref(),
                port,
            );
            let acme = self.state.settings.acme_challenge_dir.clone();
            let app = crate::serve::edge(crate::serve::redirect::router(target, acme), &self.http);
            tokio::spawn(crate::serve::serve(listener, None, app, timeouts, async {
                let _ = redirect_stopped.await;
            }))
        });
        let acceptor = match &self.certificate {
            Some(certificate) => Some(certificate.acceptor().map_err(|e| anyhow::anyhow!(e))?),
            None => None,
        };
        // Renewed certificates are picked up while the server runs.
        let reload = self
            .certificate
            .map(|certificate| certificate.watch(self.http.tls_reload));
        let app = crate::serve::edge(self.router, &self.http);
        crate::serve::serve(self.listener, acceptor, app, timeouts, stop).await;
        if let Some(reload) = reload {
            reload.abort();
        }
        if let Some(redirect) = redirect {
            let _ = redirect.await;
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        if let Some(sweeper) = self.sweeper {
            sweeper.abort();
        }
        self.state.store.close().await;
        Ok(())
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
