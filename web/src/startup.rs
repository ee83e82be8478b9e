//! Building and running the server: bind (port 0 allowed), serve, stop gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use scheduler::Store;
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::settings::Settings;
use crate::state::AppState;

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    signaling: signaling::Signaling,
}

/// Every route of the server over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/calendar/{file}", get(crate::ics::feed))
        .nest("/api/v1", crate::api::router(&state))
        .merge(crate::pages::router())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    if state.store.healthy().await {
        (axum::http::StatusCode::OK, Json(json!({ "status": "ok" })))
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database unavailable" })),
        )
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
        let store =
            store.with_login_policy(settings.login_policy().map_err(|e| anyhow::anyhow!(e))?);
        // Attendance left open by a crash is closed at each hall's last heartbeat first;
        // halls that reconnect then open new intervals.
        store
            .recover_open_sessions()
            .await
            .map_err(|e| anyhow::anyhow!("recovering attendance: {e:?}"))?;
        let listener = TcpListener::bind(settings.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.addr))?;
        let bound = listener.local_addr()?;
        let public_base: Arc<str> = settings.public_base(bound).into();
        let sfu_config = settings.sfu_config().map_err(|e| anyhow::anyhow!(e))?;
        let signaling_config = settings
            .signaling_config()
            .map_err(|e| anyhow::anyhow!(e))?;
        // Presence changes become attendance rows, with the same grace period as the rooms.
        let grace = i64::try_from(signaling_config.grace.as_secs()).unwrap_or(i64::MAX);
        let recorder = signaling::StoreRecorder::spawn(store.clone(), grace);
        let signaling = signaling::Signaling::start(sfu_config, signaling_config)?
            .record_with(recorder)
            .with_roster(store.clone());
        let live = crate::api::live::LiveState {
            store: store.clone(),
            signaling: signaling.clone(),
        };
        let ws = crate::ws::WsState {
            store: store.clone(),
            signaling: signaling.clone(),
            origins: crate::ws::allowed_origins(settings.public_url.as_deref()),
        };
        let state = AppState {
            store,
            settings: Arc::new(settings),
            public_base,
            signaling: Some(signaling.clone()),
        };
        Ok(Application {
            listener,
            // `/ws` has its own state, so `router(state)` stays buildable in tests.
            router: router(state.clone())
                .merge(crate::ws::router(ws))
                .merge(crate::api::live::router(live)),
            state,
            signaling,
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

    /// The base URL links are built on.
    pub fn public_base(&self) -> &str {
        &self.state.public_base
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Logins are throttled per client address: handlers read it from ConnectInfo.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
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
