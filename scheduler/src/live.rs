//! What a live meeting room asks of the store: the invited halls grouped for the
//! readiness board, the phase it had reached before a restart, closing a roll call, and
//! the log of host controls (who gave the floor, muted, removed…).
//!
//! Host controls are appended to `attendance_events`, the meeting's evidence log, beside
//! the joins, leaves, roll-call answers and headcounts: one ordered record of the live
//! meeting, each row with its time, the hall it concerns and who acted.

use serde::Serialize;
use sqlx::Row;

use crate::attendance::{in_write, write};
use crate::time::Timestamp;
use crate::{Result, Store};

/// An invited hall and the unit it is counted under on the readiness board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitedHall {
    /// The hall.
    pub hall_id: i64,
    /// Its name.
    pub hall_name: String,
    /// The unit it is counted under: a commune's parent (its district, or the province
    /// in a two-tier tree); a district or province hall's own unit.
    pub group_unit_id: i64,
    /// That unit's name.
    pub group_unit_name: String,
}

/// One row of a meeting's live log (`attendance_events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveEvent {
    /// When, UTC Unix seconds.
    pub at: Timestamp,
    /// The hall it concerns, if any (a guest by its negative participant id: `guests`;
    /// a WHIP source by its participant id: `feeds`).
    pub hall_id: Option<i64>,
    /// What happened (`join`, `leave`, `give_floor`, `mute`, `roll_call_answer`, …).
    pub kind: String,
    /// Details (a leave reason, `by hall 12`, `absent: mất điện`, …).
    pub detail: String,
    /// The staff account that acted, if one did.
    pub account_id: Option<i64>,
}

/// How far a meeting had got, as the store recorded it: where a room opened after a
/// restart (or a crash) takes up the meeting again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedPhase {
    /// Neither started nor tested: the waiting room.
    NotStarted,
    /// The connection test (`test_started` in the log), not yet started.
    Test,
    /// Started (`meetings.started_at`) and not ended.
    Started,
    /// Ended (`meetings.ended_at`).
    Ended,
}

impl Store {
    /// How far meeting `meeting_id` had got: ended, else started, else tested (a
    /// `test_started` row in its log, as rooms write it), else not started.
    pub async fn recorded_phase(&self, meeting_id: i64) -> Result<RecordedPhase> {
        let times = sqlx::query("SELECT started_at, ended_at FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(crate::Error::NotFound("meeting"))?;
        if times.try_get::<Option<i64>, _>("ended_at")?.is_some() {
            return Ok(RecordedPhase::Ended);
        }
        if times.try_get::<Option<i64>, _>("started_at")?.is_some() {
            return Ok(RecordedPhase::Started);
        }
        let tested: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM attendance_events WHERE meeting_id = $1 AND kind = 'test_started'",
        )
        .bind(meeting_id)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(if tested > 0 {
            RecordedPhase::Test
        } else {
            RecordedPhase::NotStarted
        })
    }

    /// Closes a roll call (kết thúc điểm danh) and logs who closed it (`detail`, and the
    /// staff account if one did). Returns whether it was open; closing twice changes
    /// nothing and logs nothing.
    pub async fn end_roll_call(
        &self,
        roll_call_id: i64,
        at: Timestamp,
        by: Option<i64>,
        detail: &str,
    ) -> Result<bool> {
        in_write!(self, |c| write::end_roll_call(
            c,
            roll_call_id,
            at,
            by,
            detail
        ))
    }

    /// The halls invited to a meeting with their board group, by unit path.
    pub async fn invited_halls(&self, meeting_id: i64) -> Result<Vec<InvitedHall>> {
        let rows = sqlx::query(
            "SELECT i.hall_id, h.name AS hall_name, u.id AS unit_id, u.name AS unit_name, u.level,
                    p.id AS parent_id, p.name AS parent_name
             FROM invitations i JOIN halls h ON h.id = i.hall_id JOIN units u ON u.id = h.unit_id
             LEFT JOIN units p ON p.id = u.parent_id
             WHERE i.meeting_id = $1 ORDER BY u.path, h.name",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let level: String = r.try_get("level")?;
                let parent: Option<i64> = r.try_get("parent_id")?;
                let (group_unit_id, group_unit_name) = match parent {
                    Some(parent) if level == "commune" => (parent, r.try_get("parent_name")?),
                    _ => (r.try_get("unit_id")?, r.try_get("unit_name")?),
                };
                Ok(InvitedHall {
                    hall_id: r.try_get("hall_id")?,
                    hall_name: r.try_get("hall_name")?,
                    group_unit_id,
                    group_unit_name,
                })
            })
            .collect()
    }

    /// Appends a host control (or any live happening) to the meeting's log.
    pub async fn record_live_event(
        &self,
        meeting_id: i64,
        hall_id: Option<i64>,
        at: Timestamp,
        kind: &str,
        detail: &str,
        account_id: Option<i64>,
    ) -> Result<()> {
        in_write!(self, |c| write::live_event(
            c, meeting_id, hall_id, at, kind, detail, account_id
        ))
    }

    /// The meeting's live log in the order it was written.
    pub async fn live_events(&self, meeting_id: i64) -> Result<Vec<LiveEvent>> {
        let rows = sqlx::query(&format!("SELECT at, COALESCE(hall_id, -guest_id, feed_id + {}) AS hall_id, kind, detail, account_id FROM attendance_events WHERE meeting_id = $1 ORDER BY id", crate::feeds::SOURCE_BASE))
            .bind(meeting_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LiveEvent {
                    at: r.try_get("at")?,
                    hall_id: r.try_get("hall_id")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                    account_id: r.try_get("account_id")?,
                })
            })
            .collect()
    }
}
