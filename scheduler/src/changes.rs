//! The live rooms' attendance changes as the store takes them: each with an id, written
//! in one transaction together with that id, so a change replayed after a database
//! outage or a crash (from the attendance writer's journal) is never written twice.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::attendance::{write, LeaveReason, RollCallStatus};
use crate::time::Timestamp;
use crate::{Result, Store};

/// One change of a live meeting, as recorded (and journaled) by the attendance writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedChange {
    /// Unique for every change ever recorded (the writer's run, then a sequence number):
    /// the key that makes writing it again a no-op.
    pub id: String,
    /// The meeting.
    pub meeting_id: i64,
    /// When it happened, UTC Unix seconds.
    pub at: Timestamp,
    /// What happened.
    pub change: Change,
}

/// What happened, in the store's terms (staff accounts by id, roll calls by the id of
/// the change that started them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A hall joined; within `grace_secs` of a drop it continues its interval.
    Join { hall_id: i64, grace_secs: i64 },
    /// A hall's link dropped.
    Disconnect { hall_id: i64 },
    /// A hall's presence ended.
    Leave { hall_id: i64, reason: LeaveReason },
    /// Connected halls are still there.
    Heartbeat { hall_ids: Vec<i64> },
    /// The meeting started.
    MeetingStarted { by: Option<i64> },
    /// The meeting ended.
    MeetingEnded { by: Option<i64> },
    /// A roll call began; later changes name it by this change's id.
    RollCallStarted { by: Option<i64> },
    /// The roll call started by change `roll_call` was closed.
    RollCallEnded {
        roll_call: String,
        by: Option<i64>,
        detail: String,
    },
    /// A hall answered (or was marked in) the roll call started by change `roll_call`.
    RollCallAnswered {
        roll_call: String,
        hall_id: i64,
        status: RollCallStatus,
        reason: String,
        by: Option<i64>,
    },
    /// A hall reported its headcount.
    Headcount { hall_id: i64, people: i64 },
    /// A host control or hall action, logged.
    LiveEvent {
        hall_id: Option<i64>,
        kind: String,
        detail: String,
        by: Option<i64>,
    },
}

/// Whether [`Store::write_change`] wrote the change or found it written before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Written now.
    Now,
    /// Already written (a replay): nothing changed.
    Before,
}

impl Store {
    /// Writes one recorded change and its id in one transaction; a change whose id is
    /// already stored changes nothing.
    pub async fn write_change(&self, rc: &RecordedChange) -> Result<Written> {
        let mut tx = self.begin_write().await?;
        let seen = sqlx::query("SELECT 1 AS one FROM attendance_changes WHERE change_id = $1")
            .bind(&rc.id)
            .fetch_optional(&mut *tx)
            .await?;
        if seen.is_some() {
            tx.rollback().await?;
            return Ok(Written::Before);
        }
        let (m, at, c) = (rc.meeting_id, rc.at, &mut *tx);
        match &rc.change {
            Change::Join {
                hall_id,
                grace_secs,
            } => write::join(c, m, *hall_id, at, *grace_secs)
                .await
                .map(drop)?,
            Change::Disconnect { hall_id } => write::disconnect(c, m, *hall_id, at).await?,
            Change::Leave { hall_id, reason } => write::leave(c, m, *hall_id, at, *reason).await?,
            Change::Heartbeat { hall_ids } => write::heartbeats(c, m, hall_ids, at).await?,
            Change::MeetingStarted { by } => write::meeting_started(c, m, at, *by).await?,
            Change::MeetingEnded { by } => write::meeting_ended(c, m, at, *by).await.map(drop)?,
            Change::RollCallStarted { by } => write::start_roll_call(c, m, at, *by, Some(&rc.id))
                .await
                .map(drop)?,
            Change::RollCallEnded {
                roll_call,
                by,
                detail,
            } => {
                let id = write::roll_call_by_change(c, roll_call).await?;
                write::end_roll_call(c, id, at, *by, detail)
                    .await
                    .map(drop)?
            }
            Change::RollCallAnswered {
                roll_call,
                hall_id,
                status,
                reason,
                by,
            } => {
                let id = write::roll_call_by_change(c, roll_call).await?;
                write::answer_roll_call(c, id, *hall_id, *status, reason, at, *by).await?
            }
            Change::Headcount { hall_id, people } => {
                write::headcount(c, m, *hall_id, *people, at).await?
            }
            Change::LiveEvent {
                hall_id,
                kind,
                detail,
                by,
            } => write::live_event(c, m, *hall_id, at, kind, detail, *by).await?,
        }
        sqlx::query(
            "INSERT INTO attendance_changes (change_id, meeting_id, written_at) VALUES ($1, $2, $3)",
        )
        .bind(&rc.id)
        .bind(m)
        .bind(crate::time::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Written::Now)
    }

    /// How many recorded changes of a meeting the store holds (tests, diagnostics).
    pub async fn written_changes(&self, meeting_id: i64) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM attendance_changes WHERE meeting_id = $1")
                .bind(meeting_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}
