//! Durable attendance (điểm danh, hiện diện): every join, leave, reconnect, roll-call answer
//! and headcount is written when it happens; presence is kept as intervals.
//!
//! A hall's presence is an `attendance_sessions` row: opened at its join, its
//! `last_seen_at` moved by heartbeats, marked `disconnected_at` when its link drops, and
//! closed (`left_at`, `leave_reason`) when it leaves, is removed, stays away past the grace
//! period, or the server restarts. A reconnect within the grace period re-opens the same
//! row (one continuous interval, `reconnects` + 1). Every step is also appended to
//! `attendance_events`, the evidence log reports can be checked against. A guest's
//! presence (a negative participant id, see [`crate::guests`]) goes the same way into
//! `guest_sessions`.
//!
//! Each step runs in one write transaction ([`write`] holds its SQL), so a step is
//! written whole or not at all; the live rooms' writer goes through
//! [`Store::write_change`](crate::changes) to write each of their changes exactly once.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::time::Timestamp;
use crate::{Result, Store};

pub(crate) mod write;

/// Why a hall's presence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The hall left (closed the page, pressed leave).
    Left,
    /// The host or the secretariat removed it.
    Removed,
    /// Its link dropped and it did not come back within the grace period.
    NetworkLost,
    /// The server stopped (or crashed) while it was connected.
    ServerRestart,
    /// The meeting ended while it was connected.
    MeetingEnded,
    /// The meeting's home node died while it was connected: the node that took the
    /// meeting over closed it at the dead node's last presence write.
    NodeLost,
}

impl LeaveReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Removed => "removed",
            LeaveReason::NetworkLost => "network_lost",
            LeaveReason::ServerRestart => "server_restart",
            LeaveReason::MeetingEnded => "meeting_ended",
            LeaveReason::NodeLost => "node_lost",
        }
    }
}

/// A roll-call answer (điểm danh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollCallStatus {
    /// Có mặt.
    Present,
    /// Vắng (with a reason).
    Absent,
    /// Đến muộn.
    Late,
}

impl RollCallStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RollCallStatus::Present => "present",
            RollCallStatus::Absent => "absent",
            RollCallStatus::Late => "late",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<RollCallStatus> {
        [
            RollCallStatus::Present,
            RollCallStatus::Absent,
            RollCallStatus::Late,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What a join turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// A new presence interval.
    New,
    /// Back within the grace period: the same interval goes on.
    Reconnected,
}

/// Runs one attendance step in its own write transaction.
macro_rules! in_write {
    ($store:expr, |$c:ident| $step:expr) => {{
        let mut tx = $store.begin_write().await?;
        let $c: &mut sqlx::AnyConnection = &mut tx;
        let out = $step.await?;
        tx.commit().await?;
        Ok(out)
    }};
}
pub(crate) use in_write;

impl Store {
    /// Marks the meeting started (the first start counts) and logs who started it.
    pub async fn meeting_started(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<()> {
        in_write!(self, |c| write::meeting_started(c, meeting_id, at, by))
    }

    /// Ends the meeting: open presences close with [`LeaveReason::MeetingEnded`]; a meeting
    /// no hall attended is recorded as not held. Returns whether it was held.
    pub async fn meeting_ended(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<bool> {
        in_write!(self, |c| write::meeting_ended(c, meeting_id, at, by))
    }

    /// A hall connected. Within `grace_secs` of a drop it continues its open interval;
    /// otherwise a stale open interval is closed where it was last seen and a new one opens.
    pub async fn record_join(
        &self,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
        grace_secs: i64,
    ) -> Result<JoinKind> {
        in_write!(self, |c| write::join(
            c, &self.node, meeting_id, hall_id, at, grace_secs
        ))
    }

    /// A hall's link dropped: its interval stays open for the grace period.
    pub async fn record_disconnect(
        &self,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
    ) -> Result<()> {
        in_write!(self, |c| write::disconnect(c, meeting_id, hall_id, at))
    }

    /// A hall's presence ended for `reason`.
    pub async fn record_leave(
        &self,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
        reason: LeaveReason,
    ) -> Result<()> {
        in_write!(self, |c| write::leave(c, meeting_id, hall_id, at, reason))
    }

    /// Connected halls are still there (called every few seconds for a whole meeting).
    pub async fn record_heartbeats(
        &self,
        meeting_id: i64,
        hall_ids: &[i64],
        at: Timestamp,
    ) -> Result<()> {
        in_write!(self, |c| write::heartbeats(c, meeting_id, hall_ids, at))
    }

    /// Closes the intervals of this node's halls that dropped more than `grace_secs`
    /// before `now`, at the moment they dropped. Returns how many.
    pub async fn close_lapsed(&self, now: Timestamp, grace_secs: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut rows = Vec::new();
        for (table, participant) in write::INTERVAL_TABLES {
            rows.extend(sqlx::query(&format!("SELECT id, meeting_id, {participant} AS hall_id, disconnected_at FROM {table} WHERE left_at IS NULL AND disconnected_at < $1 AND node_id = $2"))
                .bind(now - grace_secs)
                .bind(&*self.node)
                .fetch_all(&mut *tx)
                .await?);
        }
        for r in &rows {
            write::close_session(
                &mut tx,
                r.try_get("id")?,
                r.try_get("meeting_id")?,
                r.try_get("hall_id")?,
                r.try_get("disconnected_at")?,
                LeaveReason::NetworkLost,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// At start-up, after a crash: every interval this node left open (other nodes'
    /// are theirs to close) is closed at the node's last presence write for it — its
    /// last heartbeat with [`LeaveReason::ServerRestart`], or the moment its link
    /// dropped with [`LeaveReason::NetworkLost`]; reconnecting halls open new ones.
    pub async fn recover_open_sessions(&self) -> Result<u64> {
        let closed = self.close_node_sessions(&self.node).await?;
        if closed > 0 {
            tracing::warn!(
                closed,
                node = &*self.node,
                "closed attendance intervals left open by a previous run"
            );
        }
        Ok(closed)
    }

    /// Closes every interval node `node_id` left open, as [`Store::recover_open_sessions`]
    /// does for this node's own (also for a node that took over a dead node's meetings).
    /// Returns how many.
    pub async fn close_node_sessions(&self, node_id: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let closed =
            write::close_left_open(&mut tx, node_id, None, LeaveReason::ServerRestart).await?;
        tx.commit().await?;
        Ok(closed)
    }

    /// Starts a roll call; answers are recorded against it.
    pub async fn start_roll_call(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<i64> {
        in_write!(self, |c| write::start_roll_call(
            c, meeting_id, at, by, None
        ))
    }

    /// A hall answers the roll call, or the secretariat marks it (`marked_by`); a later
    /// answer replaces an earlier one.
    pub async fn answer_roll_call(
        &self,
        roll_call_id: i64,
        hall_id: i64,
        status: RollCallStatus,
        reason: &str,
        at: Timestamp,
        marked_by: Option<i64>,
    ) -> Result<()> {
        in_write!(self, |c| write::answer_roll_call(
            c,
            roll_call_id,
            hall_id,
            status,
            reason,
            at,
            marked_by
        ))
    }

    /// A hall reports how many people are in the room.
    pub async fn record_headcount(
        &self,
        meeting_id: i64,
        hall_id: i64,
        people: i64,
        at: Timestamp,
    ) -> Result<()> {
        in_write!(self, |c| write::headcount(
            c, meeting_id, hall_id, people, at
        ))
    }
}
