//! Durable attendance (điểm danh, hiện diện): every join, leave, reconnect, roll-call answer
//! and headcount is written when it happens; presence is kept as intervals.
//!
//! A hall's presence is an `attendance_sessions` row: opened at its join, its
//! `last_seen_at` moved by heartbeats, marked `disconnected_at` when its link drops, and
//! closed (`left_at`, `leave_reason`) when it leaves, is removed, stays away past the grace
//! period, or the server restarts. A reconnect within the grace period re-opens the same
//! row (one continuous interval, `reconnects` + 1). Every step is also appended to
//! `attendance_events`, the evidence log reports can be checked against.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::time::Timestamp;
use crate::{Error, Result, Store};

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

impl Store {
    /// Marks the meeting started (the first start counts) and logs who started it.
    pub async fn meeting_started(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<()> {
        sqlx::query("UPDATE meetings SET started_at = COALESCE(started_at, $1), status = 'live' WHERE id = $2 AND status <> 'cancelled'")
            .bind(at)
            .bind(meeting_id)
            .execute(&self.pool)
            .await?;
        self.record_live_event(meeting_id, None, at, "meeting_started", "", by)
            .await
    }

    /// Ends the meeting: open presences close with [`LeaveReason::MeetingEnded`]; a meeting
    /// no hall attended is recorded as not held. Returns whether it was held.
    pub async fn meeting_ended(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<bool> {
        let open = sqlx::query(
            "SELECT hall_id FROM attendance_sessions WHERE meeting_id = $1 AND left_at IS NULL",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        for r in open {
            self.record_leave(
                meeting_id,
                r.try_get("hall_id")?,
                at,
                LeaveReason::MeetingEnded,
            )
            .await?;
        }
        let attended: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM attendance_sessions WHERE meeting_id = $1")
                .bind(meeting_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        let status = if attended > 0 { "ended" } else { "not_held" };
        sqlx::query("UPDATE meetings SET ended_at = $1, status = $2 WHERE id = $3")
            .bind(at)
            .bind(status)
            .bind(meeting_id)
            .execute(&self.pool)
            .await?;
        self.record_live_event(meeting_id, None, at, "meeting_ended", status, by)
            .await?;
        Ok(attended > 0)
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
        let open = sqlx::query(
            "SELECT id, last_seen_at, disconnected_at FROM attendance_sessions
             WHERE meeting_id = $1 AND hall_id = $2 AND left_at IS NULL ORDER BY id DESC",
        )
        .bind(meeting_id)
        .bind(hall_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(open) = open {
            let id: i64 = open.try_get("id")?;
            let dropped: Option<i64> = open.try_get("disconnected_at")?;
            let last_seen: i64 = open.try_get("last_seen_at")?;
            let away_since = dropped.unwrap_or(last_seen);
            if at - away_since <= grace_secs {
                sqlx::query("UPDATE attendance_sessions SET disconnected_at = NULL, last_seen_at = $1, reconnects = reconnects + 1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                self.record_live_event(meeting_id, Some(hall_id), at, "reconnect", "", None)
                    .await?;
                return Ok(JoinKind::Reconnected);
            }
            self.close_session(
                id,
                meeting_id,
                hall_id,
                away_since,
                LeaveReason::NetworkLost,
            )
            .await?;
        }
        sqlx::query("INSERT INTO attendance_sessions (meeting_id, hall_id, joined_at, last_seen_at) VALUES ($1, $2, $3, $3)")
            .bind(meeting_id)
            .bind(hall_id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        self.record_live_event(meeting_id, Some(hall_id), at, "join", "", None)
            .await?;
        Ok(JoinKind::New)
    }

    async fn close_session(
        &self,
        id: i64,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
        reason: LeaveReason,
    ) -> Result<()> {
        sqlx::query("UPDATE attendance_sessions SET left_at = $1, leave_reason = $2, disconnected_at = NULL WHERE id = $3")
            .bind(at)
            .bind(reason.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.record_live_event(
            meeting_id,
            Some(hall_id),
            at,
            "leave",
            reason.as_str(),
            None,
        )
        .await
    }

    /// A hall's link dropped: its interval stays open for the grace period.
    pub async fn record_disconnect(
        &self,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
    ) -> Result<()> {
        sqlx::query("UPDATE attendance_sessions SET disconnected_at = $1, last_seen_at = $1 WHERE meeting_id = $2 AND hall_id = $3 AND left_at IS NULL AND disconnected_at IS NULL")
            .bind(at)
            .bind(meeting_id)
            .bind(hall_id)
            .execute(&self.pool)
            .await?;
        self.record_live_event(meeting_id, Some(hall_id), at, "disconnect", "", None)
            .await
    }

    /// A hall's presence ended for `reason`.
    pub async fn record_leave(
        &self,
        meeting_id: i64,
        hall_id: i64,
        at: Timestamp,
        reason: LeaveReason,
    ) -> Result<()> {
        let open = sqlx::query("SELECT id, disconnected_at FROM attendance_sessions WHERE meeting_id = $1 AND hall_id = $2 AND left_at IS NULL")
            .bind(meeting_id)
            .bind(hall_id)
            .fetch_all(&self.pool)
            .await?;
        for r in open {
            // A hall already gone when it is removed left when its link dropped.
            let end = r
                .try_get::<Option<i64>, _>("disconnected_at")?
                .unwrap_or(at)
                .min(at);
            self.close_session(r.try_get("id")?, meeting_id, hall_id, end, reason)
                .await?;
        }
        Ok(())
    }

    /// Connected halls are still there (called every few seconds for a whole meeting).
    pub async fn record_heartbeats(
        &self,
        meeting_id: i64,
        hall_ids: &[i64],
        at: Timestamp,
    ) -> Result<()> {
        for batch in hall_ids.chunks(500) {
            let placeholders: Vec<String> =
                (0..batch.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "UPDATE attendance_sessions SET last_seen_at = $1 WHERE meeting_id = $2 AND left_at IS NULL
                 AND disconnected_at IS NULL AND hall_id IN ({})",
                placeholders.join(",")
            );
            let mut q = sqlx::query(&sql).bind(at).bind(meeting_id);
            for h in batch {
                q = q.bind(*h);
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Closes the intervals of halls that dropped more than `grace_secs` before `now`,
    /// at the moment they dropped. Returns how many.
    pub async fn close_lapsed(&self, now: Timestamp, grace_secs: i64) -> Result<u64> {
        let rows = sqlx::query("SELECT id, meeting_id, hall_id, disconnected_at FROM attendance_sessions WHERE left_at IS NULL AND disconnected_at < $1")
            .bind(now - grace_secs)
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            self.close_session(
                r.try_get("id")?,
                r.try_get("meeting_id")?,
                r.try_get("hall_id")?,
                r.try_get("disconnected_at")?,
                LeaveReason::NetworkLost,
            )
            .await?;
        }
        Ok(rows.len() as u64)
    }

    /// At start-up, after a crash: every interval still open is closed at its last
    /// heartbeat with [`LeaveReason::ServerRestart`]; reconnecting halls open new ones.
    pub async fn recover_open_sessions(&self) -> Result<u64> {
        let rows = sqlx::query("SELECT id, meeting_id, hall_id, last_seen_at, disconnected_at FROM attendance_sessions WHERE left_at IS NULL")
            .fetch_all(&self.pool)
            .await?;
        for r in &rows {
            let dropped: Option<i64> = r.try_get("disconnected_at")?;
            let (reason, at) = match dropped {
                Some(d) => (LeaveReason::NetworkLost, d),
                None => (LeaveReason::ServerRestart, r.try_get("last_seen_at")?),
            };
            self.close_session(
                r.try_get("id")?,
                r.try_get("meeting_id")?,
                r.try_get("hall_id")?,
                at,
                reason,
            )
            .await?;
        }
        if !rows.is_empty() {
            tracing::warn!(
                closed = rows.len(),
                "closed attendance intervals left open by a previous run"
            );
        }
        Ok(rows.len() as u64)
    }

    /// Starts a roll call; answers are recorded against it.
    pub async fn start_roll_call(
        &self,
        meeting_id: i64,
        at: Timestamp,
        by: Option<i64>,
    ) -> Result<i64> {
        let row = sqlx::query("INSERT INTO roll_calls (meeting_id, started_at, started_by) VALUES ($1, $2, $3) RETURNING id")
            .bind(meeting_id)
            .bind(at)
            .bind(by)
            .fetch_one(&self.pool)
            .await?;
        self.record_live_event(meeting_id, None, at, "roll_call_started", "", by)
            .await?;
        Ok(row.try_get("id")?)
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
        let meeting_id: i64 = sqlx::query("SELECT meeting_id FROM roll_calls WHERE id = $1")
            .bind(roll_call_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("roll call"))?
            .try_get("meeting_id")?;
        let reason = reason.trim();
        if reason.chars().count() > 500 {
            return Err(Error::invalid("reason", "at most 500 characters"));
        }
        sqlx::query("DELETE FROM roll_call_answers WHERE roll_call_id = $1 AND hall_id = $2")
            .bind(roll_call_id)
            .bind(hall_id)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO roll_call_answers (roll_call_id, hall_id, status, reason, answered_at, marked_by) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(roll_call_id)
            .bind(hall_id)
            .bind(status.as_str())
            .bind(reason)
            .bind(at)
            .bind(marked_by)
            .execute(&self.pool)
            .await?;
        let detail = if reason.is_empty() {
            status.as_str().to_string()
        } else {
            format!("{}: {reason}", status.as_str())
        };
        self.record_live_event(
            meeting_id,
            Some(hall_id),
            at,
            "roll_call_answer",
            &detail,
            marked_by,
        )
        .await
    }

    /// A hall reports how many people are in the room.
    pub async fn record_headcount(
        &self,
        meeting_id: i64,
        hall_id: i64,
        people: i64,
        at: Timestamp,
    ) -> Result<()> {
        if !(0..=10_000).contains(&people) {
            return Err(Error::invalid("people", "must be 0 to 10000"));
        }
        sqlx::query(
            "INSERT INTO headcounts (meeting_id, hall_id, at, people) VALUES ($1, $2, $3, $4)",
        )
        .bind(meeting_id)
        .bind(hall_id)
        .bind(at)
        .bind(people)
        .execute(&self.pool)
        .await?;
        self.record_live_event(
            meeting_id,
            Some(hall_id),
            at,
            "headcount",
            &people.to_string(),
            None,
        )
        .await
    }
}
