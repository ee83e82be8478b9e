//! A TCP proxy on loopback between the server under test and PostgreSQL, which the test
//! turns into a fault: refusing connections (its listener closed, every open connection
//! cut) or slowing every chunk of bytes by a fixed delay in each direction.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to the database's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Passes bytes on at once.
    Pass,
    /// Delays each chunk of bytes by this much, in each direction.
    Slow(Duration),
}

/// The proxy: listens on a loopback port of its own, forwards to `upstream`.
pub struct Proxy {
    port: u16,
    upstream: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    /// The accepting task, absent while the proxy refuses connections.
    listener: Option<JoinHandle<()>>,
    /// The connections' forwarding tasks (cut when the proxy starts refusing).
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy to `upstream` (loopback only), passing bytes on.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        assert!(
            upstream.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy {
            port,
            upstream,
            mode: Arc::new(Mutex::new(Mode::Pass)),
            listener: None,
            links: Arc::default(),
        };
        proxy.listen(listener);
        proxy
    }

    /// The port the server under test connects to.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// PostgreSQL goes away: new connections are refused (nothing listens on the port)
    /// and every open one is cut.
    pub fn refuse(&mut self) {
        if let Some(task) = self.listener.take() {
            task.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// PostgreSQL is back: the port accepts connections again.
    pub async fn accept_again(&mut self) {
        // The port was ours a moment ago; rebinding it may wait for the aborted task's
        // listener to be dropped.
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)).await {
                self.listen(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the proxy's port {} could not be bound again", self.port);
    }

    fn listen(&mut self, listener: TcpListener) {
        let (upstream, mode, links) = (self.upstream, self.mode.clone(), self.links.clone());
        self.listener = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = mode.clone();
                let link = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pipe(cr, sw, mode.clone()) => {}
                        () = pipe(sr, cw, mode) => {}
                    }
                });
                let mut links = links.lock().unwrap();
                links.retain(|l| !l.is_finished());
                links.push(link);
            }
        }));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.refuse();
    }
}

/// Copies one direction, delaying each chunk as the mode says.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<Mutex<Mode>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let delay = match *mode.lock().unwrap() {
            Mode::Pass => None,
            Mode::Slow(d) => Some(d),
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
