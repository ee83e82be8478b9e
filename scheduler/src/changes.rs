//! The live rooms' attendance changes as the store takes them: each with an id, written
//! in one transaction together with that id, so a change replayed after a database
//! outage or a crash (from the attendance writer's journal) is never written twice.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::attendance::{write, LeaveReason, RollCallStatus};

mod batch;
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
    /// Writes one recorded change and its id in one transaction, as this store's node
    /// (its row in `attendance_changes` and the intervals it opens carry the node id); a
    /// change whose id is already stored changes nothing.
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
        apply(&mut tx, &self.node, rc).await?;
        remember(&mut tx, &self.node, &[rc]).await?;
        tx.commit().await?;
        Ok(Written::Now)
    }

    /// Writes recorded changes in their order, with their ids, in one transaction (one
    /// commit for them all: a burst of 440 changes is a few commits, not 440); those
    /// whose id is already stored are skipped. All or nothing: an error leaves none of
    /// them written, so the caller may retry the same batch, or write its changes one by
    /// one ([`Store::write_change`]) to find the one the database refuses.
    pub async fn write_changes(&self, batch: &[RecordedChange]) -> Result<Vec<Written>> {
        let mut tx = self.begin_write().await?;
        let mut seen = std::collections::HashSet::new();
        for chunk in batch.chunks(CHUNK) {
            let sql = format!(
                "SELECT change_id FROM attendance_changes WHERE change_id IN ({})",
                placeholders(1, chunk.len(), 1)
            );
            let mut q = sqlx::query(&sql);
            for rc in chunk {
                q = q.bind(&rc.id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                seen.insert(row.try_get::<String, _>("change_id")?);
            }
        }
        let mut written = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        let mut rows = batch::Batch::default();
        for rc in batch {
            // The same id twice in one batch (a replay overlapping a retry) is written once.
            if seen.insert(rc.id.clone()) {
                rows.apply(&mut tx, &self.node, rc).await?;
                fresh.push(rc);
                written.push(Written::Now);
            } else {
                written.push(Written::Before);
            }
        }
        rows.flush(&mut tx).await?;
        remember(&mut tx, &self.node, &fresh).await?;
        tx.commit().await?;
        Ok(written)
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

/// Ids checked or remembered per statement (3 parameters a row stays far below either
/// backend's limit on bound parameters).
const CHUNK: usize = 200;

/// `$from, $from+1, …` for `rows` rows of `per_row` parameters: `($1, $2), ($3, $4)` when
/// `per_row` > 1, `$1, $2` when it is 1.
fn placeholders(from: usize, rows: usize, per_row: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..per_row)
                .map(|i| format!("${}", from + r * per_row + i))
                .collect();
            if per_row == 1 {
                row.concat()
            } else {
                format!("({})", row.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes what one change says, on the transaction's connection.
async fn apply(c: &mut sqlx::AnyConnection, node: &str, rc: &RecordedChange) -> Result<()> {
    let (m, at) = (rc.meeting_id, rc.at);
    match &rc.change {
        Change::Join {
            hall_id,
            grace_secs,
        } => write::join(c, node, m, *hall_id, at, *grace_secs)
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
    Ok(())
}

/// Stores the ids of changes just written (several rows per statement).
async fn remember(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    node: &str,
    changes: &[&RecordedChange],
) -> Result<()> {
    let written_at = crate::time::now();
    for chunk in changes.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO attendance_changes (change_id, meeting_id, written_at, node_id) VALUES {}",
            placeholders(1, chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for rc in chunk {
            q = q
                .bind(&rc.id)
                .bind(rc.meeting_id)
                .bind(written_at)
                .bind(node);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_rows_from_the_first_parameter() {
        assert_eq!(super::placeholders(1, 3, 1), "$1, $2, $3");
        assert_eq!(super::placeholders(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
