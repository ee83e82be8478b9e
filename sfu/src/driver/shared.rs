//! What the media workers of one SFU share (docs/sfu-driver.md, "Several media
//! workers"): the published streams (which worker carries each, what it is, its layers'
//! rates), stream ids, which worker carries which hall, and the front's routing table.
//!
//! Nothing here is touched per forwarded packet: the directory is written when a stream
//! opens, closes or its rates are refreshed (once per statistics round), read when a
//! slot subscribes; the front's table is read per RECEIVED datagram only when there are
//! several workers (a hall's few hundred packets a second, not the fan-out).

use super::peer::TrackCodec;
use crate::event::{MediaKind, PeerId};
use crate::{StreamId, NUM_LAYERS};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Index of a media worker (0..workers).
pub type WorkerIndex = usize;

/// A published stream as every worker may see it.
#[derive(Debug)]
pub struct Published {
    /// The worker whose connection publishes it (its home).
    pub worker: WorkerIndex,
    /// The publishing hall.
    pub owner: PeerId,
    /// Audio or video.
    pub kind: MediaKind,
    /// Its codec.
    pub codec: TrackCodec,
    /// Its layers' rates (`None`: not arriving), as its home last refreshed them.
    pub bitrates: Mutex<[Option<u64>; NUM_LAYERS]>,
}

/// Where a received datagram goes when there are several workers: by remote address
/// once a worker bound or checked it, else by the local ufrag in a STUN USERNAME.
/// Each worker's own demux still validates what it is given; this table only pre-routes.
#[derive(Debug, Default)]
pub struct FrontTable {
    ufrags: RwLock<HashMap<String, WorkerIndex>>,
    addrs: RwLock<HashMap<SocketAddr, WorkerIndex>>,
}

impl FrontTable {
    /// The worker a datagram from `from` goes to.
    pub fn route(&self, from: SocketAddr, datagram: &[u8]) -> Option<WorkerIndex> {
        if let Some(&w) = read(&self.addrs).get(&from) {
            return Some(w);
        }
        let ufrag = super::stun::local_ufrag(datagram)?;
        read(&self.ufrags).get(ufrag).copied()
    }

    /// A worker answered a hall with local ufrag `ufrag`.
    pub fn add_ufrag(&self, ufrag: &str, worker: WorkerIndex) {
        write(&self.ufrags).insert(ufrag.to_owned(), worker);
    }

    /// A worker bound (or checks) remote address `addr`.
    pub fn add_addr(&self, addr: SocketAddr, worker: WorkerIndex) {
        write(&self.addrs).insert(addr, worker);
    }

    /// A worker's connection is gone: its ufrag and addresses.
    pub fn remove(&self, ufrags: &[String], addrs: &[SocketAddr], worker: WorkerIndex) {
        let mut u = write(&self.ufrags);
        for f in ufrags {
            if u.get(f) == Some(&worker) {
                u.remove(f);
            }
        }
        drop(u);
        let mut a = write(&self.addrs);
        for addr in addrs {
            if a.get(addr) == Some(&worker) {
                a.remove(addr);
            }
        }
    }
}

/// The state the workers of one SFU share.
#[derive(Debug)]
pub struct Shared {
    /// How many workers there are.
    pub workers: usize,
    next_stream: AtomicU64,
    streams: RwLock<HashMap<StreamId, Arc<Published>>>,
    /// Which worker carries each hall (the handle routes commands by it).
    peers: Mutex<HashMap<PeerId, WorkerIndex>>,
    /// The front's table; `None` with one worker (it reads the socket itself).
    pub front: Option<FrontTable>,
    /// Datagrams the front could not give to any worker, or whose worker's queue was full.
    pub front_unrouted: AtomicU64,
    /// Relay batches dropped because a worker's queue was full.
    pub relay_dropped: AtomicU64,
    /// Which worker carries the relay link with each other node (by media address).
    links: Mutex<HashMap<SocketAddr, WorkerIndex>>,
}

impl Shared {
    /// The shared state of `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            workers,
            next_stream: AtomicU64::new(1),
            streams: RwLock::default(),
            peers: Mutex::default(),
            front: (workers > 1).then(FrontTable::default),
            front_unrouted: AtomicU64::new(0),
            relay_dropped: AtomicU64::new(0),
            links: Mutex::default(),
        }
    }

    /// A new SFU-wide stream id.
    pub fn next_stream(&self) -> StreamId {
        StreamId(self.next_stream.fetch_add(1, Ordering::Relaxed))
    }

    /// A stream opened on its home worker.
    pub fn publish(&self, stream: StreamId, published: Arc<Published>) {
        write(&self.streams).insert(stream, published);
    }

    /// A stream closed.
    pub fn unpublish(&self, stream: StreamId) {
        write(&self.streams).remove(&stream);
    }

    /// A published stream.
    pub fn stream(&self, stream: StreamId) -> Option<Arc<Published>> {
        read(&self.streams).get(&stream).cloned()
    }

    /// The worker carrying `peer`.
    pub fn worker_of(&self, peer: PeerId) -> Option<WorkerIndex> {
        lock(&self.peers).get(&peer).copied()
    }

    /// Places a new hall: `None` if it is already placed.
    pub fn place(
        &self,
        peer: PeerId,
        choose: impl FnOnce(&HashMap<PeerId, WorkerIndex>) -> WorkerIndex,
    ) -> Option<WorkerIndex> {
        let mut peers = lock(&self.peers);
        if peers.contains_key(&peer) {
            return None;
        }
        let w = choose(&peers).min(self.workers - 1);
        peers.insert(peer, w);
        Some(w)
    }

    /// The worker carrying the relay link with the node at `addr`, chosen (round
    /// robin) at its first link.
    pub fn link_worker(&self, addr: SocketAddr) -> WorkerIndex {
        let mut links = lock(&self.links);
        let next = links.len() % self.workers.max(1);
        *links.entry(addr).or_insert(next)
    }

    /// The worker carrying the relay link with `addr`, if linked.
    pub fn linked(&self, addr: SocketAddr) -> Option<WorkerIndex> {
        lock(&self.links).get(&addr).copied()
    }

    /// Forgets `peer` if worker `w` carries it.
    pub fn forget(&self, peer: PeerId, w: WorkerIndex) {
        let mut peers = lock(&self.peers);
        if peers.get(&peer) == Some(&w) {
            peers.remove(&peer);
        }
    }
}

// A poisoned lock still holds consistent maps (no code panics half-way through an
// update): go on with it.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}
