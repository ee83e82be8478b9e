//! The HTTP edge: our own accept loop (TLS or plain TCP, HTTP/1.1 with upgrades for
//! `/ws`) so that every connection lives under a header-read and an idle keep-alive
//! deadline ([`watch`]), plus the layers every answer passes through: who the client is
//! ([`client`]), the security headers ([`headers`]); the certificate ([`tls`]) and the
//! redirect listener ([`redirect`]).

pub mod client;
pub mod headers;
pub mod redirect;
pub mod tls;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio_rustls::TlsAcceptor;
use tower::Service;

pub use watch::Timeouts;

use client::Transport;
use watch::{Watch, Watched};

/// Wraps a router in the layers every answer passes through (outermost first: the
/// client is known before the headers are decided).
pub fn edge(app: Router, config: &crate::settings::HttpConfig) -> Router {
    let policy = headers::Policy::new(config.hsts_max_age, config.cookie_secure)
        .with_socket_origins(&config.socket_origins);
    app.layer(axum::middleware::from_fn_with_state(policy, headers::layer))
        .layer(axum::middleware::from_fn_with_state(
            config.trusted_proxies.clone(),
            client::layer,
        ))
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves;
/// then stops accepting, lets requests in flight finish and closes idle connections,
/// and returns once every connection is closed. Upgraded connections (WebSockets) are
/// their handlers' to end.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    // Every connection task holds a receiver: `closed()` resolves when all are gone.
    let (open_tx, open_rx) = signal::channel(());
    let (stop_tx, stop_rx) = signal::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, stop, open) = (app.clone(), tls.clone(), stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let watch = Watch::new(timeouts);
            match tls {
                None => connection(tcp, peer, false, app, watch, stop).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(timeouts.header, acceptor.accept(tcp)).await;
                    match handshake {
                        Ok(Ok(stream)) => connection(stream, peer, true, app, watch, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}

/// One connection: HTTP/1.1 (keep-alive, upgrades) until the client closes it, its
/// deadline passes, or the server stops.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    app: Router,
    watch: std::sync::Arc<Watch>,
    mut stop: signal::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Watched::new(io, watch.clone()));
    let requests = watch.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(Transport { tls });
        let busy = requests.busy();
        let mut app = app.clone();
        async move {
            let response = app.call(req).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watch keeps the time; hyper's own header timer would also cut idle
    // keep-alive connections at the header timeout.
    builder.header_read_timeout(None);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            _ = watch.expired() => {
                tracing::debug!(%peer, "connection closed: header or idle timeout");
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
