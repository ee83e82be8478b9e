//! The guests' part of a meeting's attendance report: each guest with its intervals,
//! derived from `guest_sessions` like the halls' from `attendance_sessions`, and kept
//! apart so guests are never counted as halls.

use serde::Serialize;
use sqlx::Row;

use super::{guest_from_row, Guest, GUEST_SELECT};
use crate::accounts::Principal;
use crate::reports::AttendanceInterval;
use crate::time::{self, Timestamp};
use crate::{Result, Store};

/// One guest's attendance at one meeting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GuestAttendance {
    pub guest_id: i64,
    pub name: String,
    pub organisation: String,
    pub phone: String,
    pub email: String,
    /// When its invitation was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// First connection, if any.
    pub first_join: Option<Timestamp>,
    /// End of the last interval; none while still connected.
    pub last_leave: Option<Timestamp>,
    /// Why the last interval ended (`left`, `removed`, `network_lost` …).
    pub last_leave_reason: Option<String>,
    /// Whole minutes connected within the meeting's time.
    pub minutes_present: i64,
    /// Separate presence intervals.
    pub intervals: i64,
    /// Reconnects within the grace period.
    pub reconnects: i64,
    /// Every interval, oldest first.
    pub timeline: Vec<AttendanceInterval>,
}

impl Store {
    /// The attendance of every guest of a meeting (staff who may see it; the guests of
    /// a meeting belong to its owners, so a secretariat sees them all), oldest guest first.
    pub async fn guest_attendance(
        &self,
        who: &Principal,
        meeting_id: i64,
    ) -> Result<Vec<GuestAttendance>> {
        let meeting = self.guest_meeting(who, meeting_id).await?;
        let times = sqlx::query("SELECT started_at, ended_at FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_one(&self.pool)
            .await?;
        let started: Option<i64> = times.try_get("started_at")?;
        let ended: Option<i64> = times.try_get("ended_at")?;
        let from = started.unwrap_or(meeting.starts_at);
        let until = ended.unwrap_or_else(|| time::now().max(from));
        let guests: Vec<Guest> =
            sqlx::query(&format!("{GUEST_SELECT} WHERE meeting_id = $1 ORDER BY id"))
                .bind(meeting_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(guest_from_row)
                .collect::<Result<_>>()?;
        let rows = sqlx::query(
            "SELECT guest_id, joined_at, left_at, disconnected_at, leave_reason, reconnects
             FROM guest_sessions WHERE meeting_id = $1 ORDER BY joined_at, id",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        let mut spans: std::collections::HashMap<i64, Vec<AttendanceInterval>> = Default::default();
        for r in rows {
            let left: Option<i64> = r.try_get("left_at")?;
            let dropped: Option<i64> = r.try_get("disconnected_at")?;
            spans
                .entry(r.try_get("guest_id")?)
                .or_default()
                .push(AttendanceInterval {
                    joined_at: r.try_get("joined_at")?,
                    left_at: left.or(dropped),
                    end_reason: r.try_get("leave_reason")?,
                    reconnects: r.try_get("reconnects")?,
                });
        }
        Ok(guests
            .into_iter()
            .map(|g| {
                let timeline = spans.remove(&g.id).unwrap_or_default();
                let last = timeline.last();
                let seconds = crate::reports::seconds_within(&timeline, from, until);
                GuestAttendance {
                    guest_id: g.id,
                    name: g.name,
                    organisation: g.organisation,
                    phone: g.phone,
                    email: g.email,
                    revoked_at: g.revoked_at,
                    first_join: timeline.first().map(|s| s.joined_at),
                    last_leave: last.and_then(|s| s.left_at),
                    last_leave_reason: last.and_then(|s| s.end_reason.clone()),
                    minutes_present: seconds / 60,
                    intervals: timeline.len() as i64,
                    reconnects: timeline.iter().map(|s| s.reconnects).sum(),
                    timeline,
                }
            })
            .collect())
    }
}
