//! Home-node leases of the rooms this node opens, when several nodes share one
//! PostgreSQL database (docs/cluster.md): a node opens a meeting's room only while it
//! holds the meeting's lease in the store, renews every lease it holds on a timer, and
//! gives each up when its room ends and when the node stops. A node that finds another
//! node's live lease refuses the join with `home_elsewhere`, naming the home node (the
//! next step bridges such a hall to the home room over NATS instead).
//!
//! Without a cluster there are no leases at all: one node is home to every meeting.
//! The lease watcher (`failover`) takes over the leases of dead nodes through
//! [`HomeLeases::take_over`] and closes the rooms whose lease was taken from this node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler::{Lease, LeaseTake, Store, TakeOver};
use tokio::sync::{mpsc, Mutex};

use crate::protocol::{ErrorCode, ProtocolError};

/// How long a take may wait for the database before the join is refused.
const TAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A lease this node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    /// The lease's fencing number.
    epoch: i64,
    /// The room opened under it (none yet while the room is being opened).
    room: Option<u64>,
}

/// The leases of the meetings this node is home to.
#[derive(Debug)]
pub struct HomeLeases {
    /// Where leases are kept; its node id is this node's.
    store: Store,
    /// How long a lease lasts without renewal.
    lease: Duration,
    /// Held leases by meeting. The lock is held from a take to the opening of the room
    /// (so two joins of one meeting take it once) and while a lease is given up.
    held: Mutex<HashMap<i64, Held>>,
    /// Meetings whose lease another node took over (found at a renewal): their rooms
    /// here must close. The watcher takes the receiver.
    lost: mpsc::UnboundedSender<i64>,
    lost_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<i64>>>,
}

impl HomeLeases {
    /// Leases kept in `store` (which names this node), each lasting `lease` unless
    /// renewed; renewal runs every third of it for as long as the leases are in use.
    pub fn start(store: Store, lease: Duration) -> Arc<HomeLeases> {
        let (lost, lost_rx) = mpsc::unbounded_channel();
        let leases = Arc::new(HomeLeases {
            store,
            lease,
            held: Mutex::default(),
            lost,
            lost_rx: std::sync::Mutex::new(Some(lost_rx)),
        });
        tokio::spawn(renew(Arc::downgrade(&leases)));
        leases
    }

    fn secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX)
    }

    /// The store the leases are kept in (its node id is this node's).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How long a lease lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The meetings whose lease another node took from this one, as renewals find
    /// them (once: the lease watcher closes their rooms).
    pub(crate) fn take_lost(&self) -> Option<mpsc::UnboundedReceiver<i64>> {
        self.lost_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Takes over `found`, a lease that lapsed (its node died), and runs `open` (which
    /// opens the meeting's room and returns its id) as the new home: `None` when another
    /// node took it first, or this node already holds the meeting (its renewals keep it).
    pub(crate) async fn take_over<R>(
        &self,
        found: &Lease,
        open: impl FnOnce() -> (R, u64),
    ) -> Result<Option<(R, TakeOver)>, scheduler::Error> {
        let mut held = self.held.lock().await;
        if held.contains_key(&found.meeting_id) {
            return Ok(None);
        }
        let now = scheduler::time::now();
        let take = tokio::time::timeout(
            TAKE_TIMEOUT,
            self.store.take_over_lease(found, now, self.secs()),
        )
        .await
        .map_err(|_| scheduler::Error::Internal("taking over a lease timed out".into()))?;
        let Some(over) = take? else {
            return Ok(None);
        };
        held.insert(
            found.meeting_id,
            Held {
                epoch: over.lease.epoch,
                room: None,
            },
        );
        let (out, room) = open();
        if let Some(h) = held.get_mut(&found.meeting_id) {
            h.room = Some(room);
        }
        Ok(Some((out, over)))
    }

    /// Runs `open` (which opens or finds the meeting's room and returns its id) once
    /// this node holds the lease of `meeting_id`, taking it if needed; refuses with
    /// `home_elsewhere` when another node holds a live one.
    pub(crate) async fn open_as_home<R>(
        &self,
        meeting_id: i64,
        open: impl FnOnce() -> (R, u64),
    ) -> Result<R, ProtocolError> {
        let mut held = self.held.lock().await;
        if let std::collections::hash_map::Entry::Vacant(slot) = held.entry(meeting_id) {
            let now = scheduler::time::now();
            let take = tokio::time::timeout(
                TAKE_TIMEOUT,
                self.store.take_lease(meeting_id, now, self.secs()),
            )
            .await;
            match take {
                Ok(Ok(LeaseTake::Taken(lease))) => {
                    tracing::info!(
                        meeting = meeting_id,
                        epoch = lease.epoch,
                        "this node is the meeting's home"
                    );
                    slot.insert(Held {
                        epoch: lease.epoch,
                        room: None,
                    });
                }
                Ok(Ok(LeaseTake::HeldBy(lease))) => {
                    return Err(ProtocolError::new(
                        ErrorCode::HomeElsewhere,
                        format!(
                            "meeting {meeting_id} is hosted on node {}; this node ({}) cannot open it too",
                            lease.node_id,
                            self.store.node_id()
                        ),
                    ));
                }
                Ok(Err(e)) => {
                    tracing::error!(meeting = meeting_id, error = %e, "taking the home lease failed");
                    return Err(unavailable());
                }
                Err(_) => {
                    tracing::error!(meeting = meeting_id, "taking the home lease timed out");
                    return Err(unavailable());
                }
            }
        }
        let (out, room) = open();
        if let Some(h) = held.get_mut(&meeting_id) {
            h.room = Some(room);
        }
        Ok(out)
    }

    /// Gives up the lease of `meeting_id` after its room `room` ended, unless a newer
    /// room of the meeting was opened meanwhile.
    pub(crate) async fn room_ended(&self, meeting_id: i64, room: u64) {
        let mut held = self.held.lock().await;
        let Some(h) = held.get(&meeting_id).copied() else {
            return;
        };
        if h.room != Some(room) {
            return;
        }
        held.remove(&meeting_id);
        self.release(meeting_id, h.epoch).await;
    }

    /// Gives up the lease of `meeting_id` now (a stopping node hands the meeting to
    /// another node, whose take finds it given up: no interval is closed).
    pub(crate) async fn give_up(&self, meeting_id: i64) {
        let mut held = self.held.lock().await;
        if let Some(h) = held.remove(&meeting_id) {
            self.release(meeting_id, h.epoch).await;
        }
    }

    /// Gives up every lease (a graceful stop, after the rooms were stopped).
    pub async fn release_all(&self) {
        let mut held = self.held.lock().await;
        for (meeting_id, h) in std::mem::take(&mut *held) {
            self.release(meeting_id, h.epoch).await;
        }
    }

    async fn release(&self, meeting_id: i64, epoch: i64) {
        match self.store.release_lease(meeting_id, epoch).await {
            Ok(true) => tracing::info!(meeting = meeting_id, epoch, "home lease given up"),
            Ok(false) => {
                tracing::warn!(
                    meeting = meeting_id,
                    epoch,
                    "the home lease was no longer ours"
                )
            }
            // It lapses by itself within `lease`.
            Err(e) => {
                tracing::warn!(meeting = meeting_id, error = %e, "giving up the home lease failed")
            }
        }
    }

    /// The epoch of this node's lease of `meeting_id`, if it holds one (a room opened
    /// under it writes its live state under it).
    pub(crate) async fn epoch_of(&self, meeting_id: i64) -> Option<i64> {
        self.held.lock().await.get(&meeting_id).map(|h| h.epoch)
    }

    /// The meetings this node is home to now (tests, diagnostics).
    pub async fn held(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.held.lock().await.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Renews every held lease once; a lease found taken over is dropped (logged: this
    /// node is not home any more and its room will not get it back).
    async fn renew_all(&self) {
        let now_held: Vec<(i64, i64)> = {
            let held = self.held.lock().await;
            held.iter().map(|(m, h)| (*m, h.epoch)).collect()
        };
        let now = scheduler::time::now();
        for (meeting_id, epoch) in now_held {
            match self
                .store
                .renew_lease(meeting_id, epoch, now, self.secs())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(
                        meeting = meeting_id,
                        epoch,
                        "the home lease was taken over by another node"
                    );
                    let mut held = self.held.lock().await;
                    if held.get(&meeting_id).is_some_and(|h| h.epoch == epoch) {
                        held.remove(&meeting_id);
                        // Fenced out: the room here must not act for the meeting.
                        let _ = self.lost.send(meeting_id);
                    }
                }
                // The database is away: try again at the next tick (the lease holds
                // until it expires).
                Err(e) => {
                    tracing::warn!(meeting = meeting_id, error = %e, "renewing the home lease failed")
                }
            }
        }
    }
}

fn unavailable() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Internal,
        "the meeting's home node could not be settled; try again",
    )
}

/// Renews the leases every third of their length while anyone holds `leases`.
async fn renew(leases: std::sync::Weak<HomeLeases>) {
    let every = match leases.upgrade() {
        Some(l) => l.lease / 3,
        None => return,
    };
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(leases) = leases.upgrade() else {
            return;
        };
        leases.renew_all().await;
    }
}
