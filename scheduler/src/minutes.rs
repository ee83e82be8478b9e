//! What the meeting record (biên bản) needs beyond the attendance report: when the
//! meeting was really held and its roll calls, round by round. Like the report, derived
//! from the stored rows, never kept apart.

use serde::Serialize;
use sqlx::Row;

use crate::accounts::Principal;
use crate::attendance::RollCallStatus;
use crate::time::Timestamp;
use crate::{Result, Store};

/// One roll call (lần điểm danh) and how the halls answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollCallRound {
    /// When it began.
    pub started_at: Timestamp,
    /// When it was closed; none if it never was.
    pub ended_at: Option<Timestamp>,
    /// Answers (or marks) by status: present, late, absent.
    pub present: i64,
    pub late: i64,
    pub absent: i64,
}

/// When a meeting was held, and its roll calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldMeeting {
    /// When it started (the first start); none if it never did: not yet held.
    pub started_at: Option<Timestamp>,
    /// When it ended; none while it goes on.
    pub ended_at: Option<Timestamp>,
    /// Its roll calls, oldest first.
    pub roll_calls: Vec<RollCallRound>,
}

impl Store {
    /// When meeting `meeting_id` was held and its roll calls, for `who` (staff who may see
    /// it, as the attendance report).
    pub async fn held_meeting(&self, who: &Principal, meeting_id: i64) -> Result<HeldMeeting> {
        who.require_staff()?;
        self.meeting_for(who, meeting_id).await?;
        let times = sqlx::query("SELECT started_at, ended_at FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT c.id, c.started_at, c.ended_at, a.status, COUNT(a.hall_id) AS n
             FROM roll_calls c LEFT JOIN roll_call_answers a ON a.roll_call_id = c.id
             WHERE c.meeting_id = $1 GROUP BY c.id, c.started_at, c.ended_at, a.status ORDER BY c.id",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        let mut rounds: Vec<(i64, RollCallRound)> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            if rounds.last().map(|(last, _)| *last) != Some(id) {
                rounds.push((
                    id,
                    RollCallRound {
                        started_at: r.try_get("started_at")?,
                        ended_at: r.try_get("ended_at")?,
                        present: 0,
                        late: 0,
                        absent: 0,
                    },
                ));
            }
            let Some((_, round)) = rounds.last_mut() else {
                continue;
            };
            let n: i64 = r.try_get("n")?;
            let status: Option<String> = r.try_get("status")?;
            match status.as_deref().and_then(RollCallStatus::parse) {
                Some(RollCallStatus::Present) => round.present += n,
                Some(RollCallStatus::Late) => round.late += n,
                Some(RollCallStatus::Absent) => round.absent += n,
                None => {}
            }
        }
        Ok(HeldMeeting {
            started_at: times.try_get("started_at")?,
            ended_at: times.try_get("ended_at")?,
            roll_calls: rounds.into_iter().map(|(_, r)| r).collect(),
        })
    }
}
