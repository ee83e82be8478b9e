//! Attendance recording: rooms report presence changes as they happen; one writer task
//! persists them in order through the scheduler's store, off the rooms' own loops.
//!
//! A room never waits for the database: it hands each change to [`Recorder::record`] and
//! goes on. The [`StoreRecorder`] writes them one after another (so a hall's join is
//! always written before its leave). What is queued but not yet written when the process
//! dies is at most the last few milliseconds; intervals left open by a crash are closed
//! at their last heartbeat on the next start (`Store::recover_open_sessions`).

use std::sync::Arc;

use scheduler::attendance::LeaveReason;
use scheduler::time::Timestamp;
use scheduler::Store;
use tokio::sync::mpsc;

/// One presence change of a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    /// The meeting.
    pub meeting_id: i64,
    /// When, UTC Unix seconds.
    pub at: Timestamp,
    /// What happened.
    pub kind: PresenceKind,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceKind {
    /// A hall joined (or rejoined: the store tells a reconnect from a new interval).
    Joined { hall_id: i64 },
    /// A hall's socket dropped; its grace period runs.
    Lost { hall_id: i64 },
    /// A hall's presence ended.
    Left { hall_id: i64, reason: LeaveReason },
    /// These halls are still connected.
    Heartbeat { hall_ids: Vec<i64> },
}

/// Where rooms report presence changes.
pub trait Recorder: Send + Sync {
    /// Takes a change; must not block.
    fn record(&self, change: PresenceChange);
}

/// Records nothing (tests of the protocol, servers without a store).
#[derive(Debug, Default)]
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn record(&self, _change: PresenceChange) {}
}

/// Writes presence changes to the store, in order, from its own task.
#[derive(Debug)]
pub struct StoreRecorder {
    queue: mpsc::UnboundedSender<PresenceChange>,
}

impl StoreRecorder {
    /// Spawns the writer. `grace_secs` must match the rooms' grace period: a join that
    /// soon after a drop continues the same attendance interval.
    pub fn spawn(store: Store, grace_secs: i64) -> Arc<StoreRecorder> {
        let (queue, mut changes) = mpsc::unbounded_channel::<PresenceChange>();
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                if let Err(e) = write(&store, &change, grace_secs).await {
                    tracing::error!(error = ?e, ?change, "attendance change not written");
                }
            }
        });
        Arc::new(StoreRecorder { queue })
    }
}

impl Recorder for StoreRecorder {
    fn record(&self, change: PresenceChange) {
        if self.queue.send(change).is_err() {
            tracing::error!("the attendance writer has stopped");
        }
    }
}

async fn write(store: &Store, change: &PresenceChange, grace_secs: i64) -> scheduler::Result<()> {
    let (m, at) = (change.meeting_id, change.at);
    match &change.kind {
        PresenceKind::Joined { hall_id } => store
            .record_join(m, *hall_id, at, grace_secs)
            .await
            .map(drop),
        PresenceKind::Lost { hall_id } => store.record_disconnect(m, *hall_id, at).await,
        PresenceKind::Left { hall_id, reason } => {
            store.record_leave(m, *hall_id, at, *reason).await
        }
        PresenceKind::Heartbeat { hall_ids } => store.record_heartbeats(m, hall_ids, at).await,
    }
}
