//! The live state of a meeting's room kept across a move of its home (docs/cluster.md,
//! "The room's live state"): the JSON the home room writes when its floor, hands, mutes…
//! change, fenced by the lease epoch it was opened under, and what the next room reads —
//! that JSON, and the meeting's latest roll call with its answers, which are rows already
//! (written by the attendance writer) and so are not copied into the JSON.
//!
//! Fencing: a write names the epoch of the lease its room was opened under and is made
//! in one transaction with a look at that lease (`FOR SHARE` on PostgreSQL: a take-over's
//! `UPDATE` of the lease waits for the write to commit, and a write that comes after the
//! take-over finds another epoch and writes nothing; on SQLite the transaction holds the
//! one write lock). So once another node took the meeting over, the old home cannot
//! overwrite what the new home restored and writes.

use sqlx::Row;

use crate::attendance::RollCallStatus;
use crate::db::Backend;
use crate::time::Timestamp;
use crate::{Result, Store};

/// A room's live state as last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedLiveState {
    /// The node whose room wrote it.
    pub node_id: String,
    /// The lease epoch it was written under (0: a node without a cluster).
    pub epoch: i64,
    /// When, UTC Unix seconds.
    pub written_at: Timestamp,
    /// The room's own JSON (the signaling crate's to read).
    pub state: String,
}

/// A meeting's latest roll call (điểm danh), as its rows hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestRollCall {
    /// The store's id.
    pub id: i64,
    /// The id of the recorded change that started it: what later answers name (none
    /// for a roll call not started by a live room).
    pub change_id: Option<String>,
    /// Whether it was closed (`end_roll_call`).
    pub ended: bool,
    /// Each hall's answer or mark so far, in the order given.
    pub answers: Vec<(i64, RollCallStatus)>,
}

impl Store {
    /// Writes `state` as meeting `meeting_id`'s live state, written by this node's room
    /// opened under lease `epoch` (`None`: a node without a cluster, no lease to check).
    /// False, and nothing written, when the lease is not this node's in that epoch any
    /// more (another node took the meeting over).
    pub async fn save_live_state(
        &self,
        meeting_id: i64,
        epoch: Option<i64>,
        now: Timestamp,
        state: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if let Some(epoch) = epoch {
            let lock = match self.backend() {
                Backend::Postgres => " FOR SHARE",
                Backend::Sqlite => "",
            };
            let held = sqlx::query(&format!(
                "SELECT 1 AS one FROM meeting_leases
                 WHERE meeting_id = $1 AND node_id = $2 AND epoch = $3{lock}"
            ))
            .bind(meeting_id)
            .bind(self.node_id())
            .bind(epoch)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO meeting_live_states (meeting_id, node_id, epoch, written_at, state)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (meeting_id) DO UPDATE SET node_id = excluded.node_id,
               epoch = excluded.epoch, written_at = excluded.written_at, state = excluded.state",
        )
        .bind(meeting_id)
        .bind(self.node_id())
        .bind(epoch.unwrap_or(0))
        .bind(now)
        .bind(state)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Meeting `meeting_id`'s live state as last written, if a room ever wrote one.
    pub async fn live_state(&self, meeting_id: i64) -> Result<Option<SavedLiveState>> {
        let row = sqlx::query(
            "SELECT node_id, epoch, written_at, state FROM meeting_live_states WHERE meeting_id = $1",
        )
        .bind(meeting_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SavedLiveState {
                node_id: r.try_get("node_id")?,
                epoch: r.try_get("epoch")?,
                written_at: r.try_get("written_at")?,
                state: r.try_get("state")?,
            })
        })
        .transpose()
    }

    /// Meeting `meeting_id`'s latest roll call with its answers so far, if it had one.
    pub async fn latest_roll_call(&self, meeting_id: i64) -> Result<Option<LatestRollCall>> {
        let Some(row) = sqlx::query(
            "SELECT id, change_id, ended_at FROM roll_calls WHERE meeting_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(meeting_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let answers = sqlx::query(
            "SELECT hall_id, status FROM roll_call_answers WHERE roll_call_id = $1 ORDER BY answered_at, hall_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let (hall_id, status): (i64, String) = (r.try_get("hall_id")?, r.try_get("status")?);
            Ok(RollCallStatus::parse(&status).map(|s| (hall_id, s)))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
        Ok(Some(LatestRollCall {
            id,
            change_id: row.try_get("change_id")?,
            ended: row.try_get::<Option<i64>, _>("ended_at")?.is_some(),
            answers,
        }))
    }
}
