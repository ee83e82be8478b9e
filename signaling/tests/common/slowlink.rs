//! A congested NATS link, test side: a TCP relay on 127.0.0.1 in front of the NATS
//! server (`nats_url` for one node's connection) that holds back what the server sends
//! that node by a delay the test sets at any time. What the node sends goes through at
//! once: it still beats, and its answers leave as soon as it made them — it only hears
//! everything late (commands, replies to its own requests, other nodes' beats).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The relay; it serves every connection made to it until the test ends.
pub struct SlowLink {
    pub nats_url: String,
    delay_ms: Arc<AtomicU64>,
}

impl SlowLink {
    /// A relay to the NATS server at `upstream` (`host:port`), no delay yet.
    pub async fn start(upstream: &str) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let nats_url = format!("nats://{}", listener.local_addr().expect("addr"));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (delay, upstream) = (Arc::clone(&delay_ms), upstream.to_owned());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, Arc::clone(&delay)));
            }
        });
        SlowLink { nats_url, delay_ms }
    }

    /// From now on what the server sends arrives `delay` late.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Relaxed);
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay_ms: Arc<AtomicU64>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    // Client → server at once.
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
    });
    // Server → client, each chunk held until its time (in order).
    let (held, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if client_tx.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = server_rx.read(&mut buf).await {
        if n == 0 {
            return;
        }
        let at = Instant::now() + Duration::from_millis(delay_ms.load(Relaxed));
        if held.send((at, buf[..n].to_vec())).is_err() {
            return;
        }
    }
}
