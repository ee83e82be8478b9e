//! Attendance recording: rooms report presence changes, the meeting's lifecycle, roll
//! calls, headcounts and host controls as they happen; one writer task persists them in
//! order through the scheduler's store, off the rooms' own loops.
//!
//! A room never waits for the database: it hands each change to [`Recorder::record`] and
//! goes on. The [`StoreRecorder`] gives each an id and writes them one after another (so
//! a hall's join is always written before its leave, a roll call before its answers):
//! journaled to disk first ([`journal`]), then written to the store exactly once
//! ([`writer`]); while the database is away they wait in the journal and the oldest is
//! retried with backoff. At start-up the journal left by the previous run is written
//! first; then, in the same order and before any newer change, the intervals this node
//! still has open are closed at their last heartbeat (`Store::recover_open_sessions`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::protocol::{Action, Actor, RollCallStatus};
use scheduler::attendance::LeaveReason;
use scheduler::changes::{Change, RecordedChange};
use scheduler::time::Timestamp;
use scheduler::Store;
use tokio::sync::{mpsc, oneshot};

pub mod journal;
pub mod writer;

pub use writer::{WriterHealth, WriterReport};

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
    /// The meeting's recording started, stopped or failed; `detail` names its file (and
    /// the recorder's code on a failure), logged.
    Recording {
        event: RecordingEvent,
        by: Actor,
        detail: String,
    },
}

/// What happened to a meeting's recording, as the log's `kind` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingEvent {
    /// `recording_started`.
    Started,
    /// `recording_stopped`: stopped by someone, with the meeting, or as the room closed.
    Stopped,
    /// `recording_failed`: ended on an error (a full disk…); the meeting went on.
    Failed,
}

impl RecordingEvent {
    /// The log's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "recording_started",
            Self::Stopped => "recording_stopped",
            Self::Failed => "recording_failed",
        }
    }
}

/// Where rooms report presence changes.
pub trait Recorder: Send + Sync {
    /// Takes a change; must not block.
    fn record(&self, change: PresenceChange);

    /// Every change taken so far is on its way to the database at the usual pace: writes
    /// are not failing and no journal from a failure waits. Other writers of attendance
    /// (the stray sweep, docs/cluster.md) act only then, so they never race a change
    /// still held back.
    fn caught_up(&self) -> bool {
        true
    }

    /// A roll call started by another room (on another node, or before a restart) goes
    /// on in meeting `meeting_id` under number `roll_call`: its later changes name the
    /// change `key` that started it.
    fn resume_roll_call(&self, _meeting_id: i64, _roll_call: u64, _key: String) {}

    /// Waits until every change taken so far is written, at most `within`; false if
    /// the time ran out.
    fn flush_within(&self, _within: Duration) -> futures::future::BoxFuture<'_, bool> {
        Box::pin(std::future::ready(true))
    }
}

/// Records nothing (tests of the protocol, servers without a store).
#[derive(Debug, Default)]
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn record(&self, _change: PresenceChange) {}
}

/// Where the attendance writer keeps its journal, and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// The journal file (by default `attendance.journal` in the data directory).
    pub path: PathBuf,
    /// The most bytes it may hold (a long outage); beyond it changes wait in memory.
    pub max_bytes: u64,
}

/// Writes presence changes to the store, in order and exactly once, from its own task.
#[derive(Debug)]
pub struct StoreRecorder {
    queue: mpsc::UnboundedSender<writer::Msg>,
    health: Arc<WriterHealth>,
    /// This run's prefix of change ids (unique per start of the server).
    run: String,
    next: AtomicU64,
    grace_secs: i64,
    /// The rooms' roll-call numbers by meeting → the id of the change that started each.
    roll_calls: Mutex<HashMap<(i64, u64), String>>,
}

impl StoreRecorder {
    /// Spawns the writer with its journal: changes the previous run left in it are
    /// written first, then the intervals this node left open are closed (however long
    /// the replay takes: a slow or absent database delays both, in order, never one
    /// beside the other). `grace_secs` must match the rooms' grace period (a join that soon
    /// after a drop continues the same attendance interval).
    pub fn start(
        store: Store,
        grace_secs: i64,
        journal: &JournalConfig,
    ) -> std::io::Result<Arc<StoreRecorder>> {
        let (journal, replay) = journal::Journal::open(&journal.path, journal.max_bytes)?;
        Ok(Self::spawn_writer(
            writer::Writer::new(store, Some(journal), replay, true),
            grace_secs,
        ))
    }

    /// Spawns the writer without a journal: changes wait for the database in memory only
    /// (tests, and tools that run no server).
    pub fn spawn(store: Store, grace_secs: i64) -> Arc<StoreRecorder> {
        Self::spawn_writer(
            writer::Writer::new(store, None, Vec::new(), false),
            grace_secs,
        )
    }

    fn spawn_writer(writer: writer::Writer, grace_secs: i64) -> Arc<StoreRecorder> {
        let (queue, rx) = mpsc::unbounded_channel();
        let health = writer.health.clone();
        tokio::spawn(writer.run(rx));
        Arc::new(StoreRecorder {
            queue,
            health,
            run: uuid::Uuid::new_v4().simple().to_string(),
            next: AtomicU64::new(1),
            grace_secs,
            roll_calls: Mutex::default(),
        })
    }

    /// The writer's state (for `/healthz`).
    pub fn health(&self) -> WriterReport {
        self.health.report()
    }

    /// How long attendance writes take (for `/metrics`).
    pub fn write_seconds(&self) -> &prometheus_client::metrics::histogram::Histogram {
        self.health.write_seconds()
    }

    /// Waits until every change recorded so far is in the database, at most `within`.
    /// Returns false if the time ran out (what is left stays in the journal).
    pub async fn flush(&self, within: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(writer::Msg::Flush(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, rx).await, Ok(Ok(())))
    }

    /// The change in the store's terms, with a new id.
    fn stored(&self, change: PresenceChange) -> Option<RecordedChange> {
        let id = format!("{}-{}", self.run, self.next.fetch_add(1, Ordering::Relaxed));
        let mut roll_calls = self
            .roll_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let meeting = change.meeting_id;
        let roll_call = |roll_calls: &HashMap<(i64, u64), String>, n: u64| {
            let key = roll_calls.get(&(meeting, n)).cloned();
            if key.is_none() {
                tracing::error!(roll_call = n, "a change of a roll call never started");
            }
            key
        };
        let stored = match change.kind {
            PresenceKind::Joined { hall_id } => Change::Join {
                hall_id,
                grace_secs: self.grace_secs,
            },
            PresenceKind::Lost { hall_id } => Change::Disconnect { hall_id },
            PresenceKind::Left { hall_id, reason } => Change::Leave { hall_id, reason },
            PresenceKind::Heartbeat { hall_ids } => Change::Heartbeat { hall_ids },
            PresenceKind::MeetingStarted { by } => Change::MeetingStarted {
                by: by.account_id(),
            },
            PresenceKind::MeetingEnded { by } => Change::MeetingEnded {
                by: by.account_id(),
            },
            PresenceKind::RollCallStarted { roll_call: n, by } => {
                roll_calls.insert((meeting, n), id.clone());
                Change::RollCallStarted {
                    by: by.account_id(),
                }
            }
            PresenceKind::RollCallEnded { roll_call: n, by } => Change::RollCallEnded {
                roll_call: roll_call(&roll_calls, n)?,
                by: by.account_id(),
                detail: by.describe(),
            },
            PresenceKind::RollCallAnswered {
                roll_call: n,
                hall_id,
                status,
                reason,
                by,
            } => Change::RollCallAnswered {
                roll_call: roll_call(&roll_calls, n)?,
                hall_id,
                status,
                reason,
                by: by.account_id(),
            },
            PresenceKind::Headcount { hall_id, people } => Change::Headcount { hall_id, people },
            PresenceKind::Control {
                action,
                hall_id,
                by,
            } => Change::LiveEvent {
                hall_id,
                kind: action.as_str().to_string(),
                detail: by.describe(),
                by: by.account_id(),
            },
            PresenceKind::Recording { event, by, detail } => Change::LiveEvent {
                hall_id: None,
                kind: event.as_str().to_string(),
                detail: format!("{}: {detail}", by.describe()),
                by: by.account_id(),
            },
        };
        Some(RecordedChange {
            id,
            meeting_id: change.meeting_id,
            at: change.at,
            change: stored,
        })
    }
}

impl Recorder for StoreRecorder {
    fn record(&self, change: PresenceChange) {
        let Some(change) = self.stored(change) else {
            return;
        };
        if self.queue.send(writer::Msg::Change(change)).is_err() {
            tracing::error!("the attendance writer has stopped");
        }
    }

    fn caught_up(&self) -> bool {
        !self.health().degraded
    }

    fn resume_roll_call(&self, meeting_id: i64, roll_call: u64, key: String) {
        let mut roll_calls = self
            .roll_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        roll_calls.insert((meeting_id, roll_call), key);
    }

    fn flush_within(&self, within: Duration) -> futures::future::BoxFuture<'_, bool> {
        Box::pin(self.flush(within))
    }
}
