//! Attendance recording: rooms report presence changes, the meeting's lifecycle, roll
//! calls, headcounts and host controls as they happen; one writer task persists them in
//! order through the scheduler's store, off the rooms' own loops.
//!
//! A room never waits for the database: it hands each change to [`Recorder::record`] and
//! goes on. The [`StoreRecorder`] writes them one after another (so a hall's join is
//! always written before its leave). What is queued but not yet written when the process
//! dies is at most the last few milliseconds; intervals left open by a crash are closed
//! at their last heartbeat on the next start (`Store::recover_open_sessions`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::protocol::{Action, Actor, RollCallStatus};
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
    /// The meeting started (the first start counts).
    MeetingStarted { by: Actor },
    /// The meeting ended: open intervals close; no attendance means "not held".
    MeetingEnded { by: Actor },
    /// A roll call began; `roll_call` is the room's number for it (unique per server),
    /// mapped by the writer to the store's id.
    RollCallStarted { roll_call: u64, by: Actor },
    /// The roll call was ended; answers after this are refused.
    RollCallEnded { roll_call: u64, by: Actor },
    /// A hall answered the roll call, or was marked by the host / secretariat.
    RollCallAnswered {
        roll_call: u64,
        hall_id: i64,
        status: RollCallStatus,
        reason: String,
        by: Actor,
    },
    /// A hall reported how many people are in the room.
    Headcount { hall_id: i64, people: i64 },
    /// A host control or hall action (floor, mute, spotlight, lock, hands…), logged.
    Control {
        action: Action,
        hall_id: Option<i64>,
        by: Actor,
    },
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
            let mut roll_calls = HashMap::new();
            while let Some(change) = changes.recv().await {
                if let Err(e) = write(&store, &change, grace_secs, &mut roll_calls).await {
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

/// Writes one change; `roll_calls` maps the rooms' roll-call numbers to the store's ids.
async fn write(
    store: &Store,
    change: &PresenceChange,
    grace_secs: i64,
    roll_calls: &mut HashMap<u64, i64>,
) -> scheduler::Result<()> {
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
        PresenceKind::MeetingStarted { by } => store.meeting_started(m, at, by.account_id()).await,
        PresenceKind::MeetingEnded { by } => {
            store.meeting_ended(m, at, by.account_id()).await.map(drop)
        }
        PresenceKind::RollCallStarted { roll_call, by } => {
            let id = store.start_roll_call(m, at, by.account_id()).await?;
            roll_calls.insert(*roll_call, id);
            Ok(())
        }
        PresenceKind::RollCallEnded { roll_call, by } => {
            let Some(&id) = roll_calls.get(roll_call) else {
                return Err(scheduler::Error::NotFound("roll call"));
            };
            store
                .end_roll_call(id, at, by.account_id(), &by.describe())
                .await
                .map(drop)
        }
        PresenceKind::RollCallAnswered {
            roll_call,
            hall_id,
            status,
            reason,
            by,
        } => {
            let Some(&id) = roll_calls.get(roll_call) else {
                return Err(scheduler::Error::NotFound("roll call"));
            };
            let marked_by = by.account_id();
            store
                .answer_roll_call(id, *hall_id, *status, reason, at, marked_by)
                .await
        }
        PresenceKind::Headcount { hall_id, people } => {
            store.record_headcount(m, *hall_id, *people, at).await
        }
        PresenceKind::Control {
            action,
            hall_id,
            by,
        } => {
            let detail = by.describe();
            store
                .record_live_event(m, *hall_id, at, action.as_str(), &detail, by.account_id())
                .await
        }
    }
}
