//! The SFU under test behind one face: the async `webrtc` driver ([`Sfu`], the default)
//! or the muxed-port sans-IO driver ([`SansioSfu`], all halls on one UDP port;
//! docs/sfu-sansio.md), so the measurement loop exists once.
//!
//! Both drivers emit the same [`SfuEvent`]s; [`Hub`] pumps them into what the loop
//! waits for (published tracks, connected peers, rounds of per-peer statistics).

use sfu::{MediaKind, PeerAnswer, PeerId, PeerStats, Sfu, SfuConfig, SfuError, SfuEvent};
use sfu::{SlotId, StreamId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// How long the SFU side waits for anything the SFU or the clients should do.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which driver `--driver` chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// `sfu::Sfu` on the async `webrtc` crate (`udp_mux_port: None`): a socket per hall.
    Webrtc,
    /// The muxed-port driver `Sfu` runs by default (`sfu::sansio::SansioSfu`, measured
    /// through its own handle for its exact counters): every hall on one UDP port.
    Sansio,
}

impl DriverKind {
    /// Parses the value of `--driver`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "webrtc" => Ok(Self::Webrtc),
            "muxed" | "sansio" => Ok(Self::Sansio),
            other => Err(format!("--driver {other:?}: expected muxed or webrtc")),
        }
    }
}

/// A running SFU of either driver; cheap to clone.
#[derive(Clone)]
pub enum Driver {
    Webrtc(Sfu),
    Sansio(sfu::sansio::SansioSfu),
}

impl Driver {
    /// Starts the SFU and the pump of its events.
    pub async fn start(kind: DriverKind) -> Result<(Self, Arc<Hub>, Tracks), String> {
        let config = SfuConfig::default();
        let (driver, events) = match kind {
            DriverKind::Webrtc => {
                let config = SfuConfig {
                    udp_mux_port: None,
                    ..config
                };
                let (sfu, events) = Sfu::start(config).map_err(|e| e.to_string())?;
                (Self::Webrtc(sfu), events)
            }
            DriverKind::Sansio => {
                let (sfu, events) = sfu::sansio::SansioSfu::start(config, 0)
                    .await
                    .map_err(|e| e.to_string())?;
                eprintln!("[sfu] muxed-port driver on {}", sfu.local_addr());
                (Self::Sansio(sfu), events)
            }
        };
        let (hub, tracks) = Hub::pump(events);
        Ok((driver, hub, tracks))
    }

    /// Answers a hall's offer.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        match self {
            Self::Webrtc(sfu) => sfu.add_peer(peer, offer).await,
            Self::Sansio(sfu) => sfu.add_peer(peer, offer).await,
        }
    }

    /// Shows `track` in `slot` of `peer`, up to simulcast layer `max_layer`.
    pub async fn subscribe(
        &self,
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        match self {
            Self::Webrtc(sfu) => sfu.subscribe(peer, slot, track, max_layer).await,
            Self::Sansio(sfu) => sfu.subscribe(peer, slot, track, max_layer).await,
        }
    }

    /// Packets handed to the subscribers so far and packets the SFU dropped on the way
    /// out: for the async driver Σ(`packets_out`, `dropped_out`) of `subscribers` at
    /// their next round of statistics, for the sans-IO one its router's counters now.
    pub async fn counters(&self, hub: &Hub, subscribers: &[PeerId]) -> Result<(u64, u64), String> {
        match self {
            Self::Webrtc(_) => Ok(hub.next_stats_round(subscribers).await),
            Self::Sansio(sfu) => {
                let router = sfu.stats().await.map_err(|e| e.to_string())?.router;
                Ok((router.forwarded, router.dropped))
            }
        }
    }
}

/// Tracks as they are published: their kind and id, in order.
pub type Tracks = mpsc::UnboundedReceiver<(MediaKind, StreamId)>;

/// What the event pump learns from the SFU.
#[derive(Default)]
pub struct Hub {
    connected: Mutex<HashSet<PeerId>>,
    /// Latest statistics per peer, with a count of rounds seen.
    stats: Mutex<HashMap<PeerId, (u64, PeerStats)>>,
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
                    SfuEvent::Stats(s) => {
                        let mut stats = lock(&pump.stats);
                        let round = stats.get(&s.peer).map_or(0, |x| x.0) + 1;
                        stats.insert(s.peer, (round, s));
                    }
                    SfuEvent::PeerFailed(p) => eprintln!("[sfu] {p:?} failed"),
                    _ => continue,
                }
                pump.changed.notify_waiters();
            }
        });
        (hub, tracks)
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

    /// Waits for a new round of statistics of all `peers`; returns Σ(packets_out, dropped_out).
    async fn next_stats_round(&self, peers: &[PeerId]) -> (u64, u64) {
        let seen = |s: &Self| -> Vec<u64> {
            let stats = lock(&s.stats);
            peers
                .iter()
                .map(|p| stats.get(p).map_or(0, |x| x.0))
                .collect()
        };
        let before = seen(self);
        self.wait_until("a round of statistics", |s| {
            seen(s).iter().zip(&before).all(|(now, was)| now > was)
        })
        .await;
        let stats = lock(&self.stats);
        peers
            .iter()
            .filter_map(|p| stats.get(p))
            .fold((0, 0), |(o, d), (_, s)| {
                (o + s.packets_out, d + s.dropped_out)
            })
    }
}
