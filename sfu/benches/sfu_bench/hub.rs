//! The SFU under test ([`Sfu`], docs/sfu-driver.md) and the pump of its events.
//!
//! [`Hub`] pumps its [`SfuEvent`]s into what the loop waits for (published tracks,
//! connected peers).

use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuEvent, StreamId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// How long the SFU side waits for anything the SFU or the clients should do.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the SFU under test (the production handle, `workers` media workers) and the
/// pump of its events.
pub async fn start(workers: usize) -> Result<(Sfu, Arc<Hub>, Tracks), String> {
    let config = SfuConfig {
        media_workers: workers,
        ..SfuConfig::default()
    };
    let (sfu, events) = Sfu::start(config).map_err(|e| e.to_string())?;
    eprintln!("[sfu] media port {}, {workers} worker(s)", sfu.local_addr());
    let (hub, tracks) = Hub::pump(events);
    Ok((sfu, hub, tracks))
}

/// Packets handed to the subscribers' connections so far and packets the SFU dropped
/// on the way out (the media port's counters, read now),
/// and batches dropped between workers.
pub async fn counters(sfu: &Sfu) -> Result<(u64, u64, u64), String> {
    let stats = sfu.port_stats().await.map_err(|e| e.to_string())?;
    Ok((
        stats.router.forwarded,
        stats.router.dropped + stats.send_dropped,
        stats.relay_dropped,
    ))
}

/// Tracks as they are published: their kind and id, in order.
pub type Tracks = mpsc::UnboundedReceiver<(MediaKind, StreamId)>;

/// What the event pump learns from the SFU.
#[derive(Default)]
pub struct Hub {
    connected: Mutex<HashSet<PeerId>>,
    /// Peers that failed or disconnected so far.
    lost: AtomicU64,
    /// Subscribers showing the top layer and the audio, until they fail or disconnect.
    receiving: Mutex<HashSet<PeerId>>,
    changed: Notify,
}

impl Hub {
    /// Spawns the task that reads `events` until the SFU stops.
    fn pump(mut events: mpsc::Receiver<SfuEvent>) -> (Arc<Self>, Tracks) {
        let hub = Arc::new(Self::default());
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let pump = Arc::clone(&hub);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    SfuEvent::TrackPublished { kind, track, .. } => {
                        let _ = tracks_tx.send((kind, track));
                    }
                    SfuEvent::PeerConnected(p) => {
                        lock(&pump.connected).insert(p);
                    }
                    SfuEvent::PeerFailed(p) => {
                        pump.lost.fetch_add(1, Relaxed);
                        lock(&pump.receiving).remove(&p);
                        eprintln!("[sfu] {p:?} failed");
                    }
                    SfuEvent::PeerDisconnected(p, why) => {
                        pump.lost.fetch_add(1, Relaxed);
                        lock(&pump.receiving).remove(&p);
                        eprintln!("[sfu] {p:?} disconnected: {why:?}");
                    }
                    _ => continue,
                }
                pump.changed.notify_waiters();
            }
        });
        (hub, tracks)
    }

    /// Peers that failed or disconnected since the SFU started.
    pub fn peers_lost(&self) -> u64 {
        self.lost.load(Relaxed)
    }

    /// Records that `peer` now receives the top layer and the audio.
    pub fn subscribed(&self, peer: PeerId) {
        lock(&self.receiving).insert(peer);
        self.changed.notify_waiters();
    }

    /// Subscribers receiving the top layer and the audio now.
    pub fn receiving(&self) -> usize {
        lock(&self.receiving).len()
    }

    /// Waits until `done` holds, at most [`WAIT`]; false (and a line) if it never did.
    pub async fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                eprintln!("[sfu] timed out waiting for {what}");
                return false;
            }
        }
    }

    /// Waits until `peer` has reached `Connected`.
    pub async fn wait_connected(&self, peer: PeerId) -> bool {
        let what = format!("{peer:?} to connect");
        self.wait_until(&what, |s| lock(&s.connected).contains(&peer))
            .await
    }
}
