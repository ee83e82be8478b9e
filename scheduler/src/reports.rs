//! Attendance reports, derived from the attendance rows (never stored): per meeting, and
//! per unit subtree over a period.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::Row;

use crate::accounts::Principal;
use crate::attendance::RollCallStatus;
use crate::time::{self, Timestamp};
use crate::units::{in_subtree, subtree_bounds};
use crate::{Error, Result, Store};

/// A hall that joins this long after the start counts as late.
pub const LATE_AFTER_SECS: i64 = 10 * 60;

/// How a hall took part in one meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Có mặt.
    Present,
    /// Đến muộn.
    Late,
    /// Vắng.
    Absent,
}

/// Which hall a report row is about.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HallRef {
    pub hall_id: i64,
    pub hall_name: String,
    pub unit_code: String,
    pub unit_name: String,
    pub level: String,
}

impl HallRef {
    /// From a row with `name`, `code`, `unit_name`, `level` and the hall id in `id_column`.
    fn from_row(r: &sqlx::any::AnyRow, id_column: &str) -> Result<HallRef> {
        Ok(HallRef {
            hall_id: r.try_get(id_column)?,
            hall_name: r.try_get("name")?,
            unit_code: r.try_get("code")?,
            unit_name: r.try_get("unit_name")?,
            level: r.try_get("level")?,
        })
    }
}

/// One presence interval of a hall at a meeting: from a join to the leave that ended it
/// (a reconnect within the grace period continues the same interval).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttendanceInterval {
    /// When the hall joined.
    pub joined_at: Timestamp,
    /// When it ended (the leave, or the drop it has not come back from yet); none while
    /// the hall is connected.
    pub left_at: Option<Timestamp>,
    /// Why it ended, as stored (`LeaveReason::as_str`: `left`, `removed`, `network_lost`,
    /// `server_restart`, `meeting_ended`); none while open or within the grace period.
    pub end_reason: Option<String>,
    /// Reconnects within the grace period during this interval.
    pub reconnects: i64,
}

/// One invited hall's attendance at one meeting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MeetingAttendance {
    #[serde(flatten)]
    pub hall: HallRef,
    /// First connection, if any.
    pub first_join: Option<Timestamp>,
    /// End of the last interval; none while still connected.
    pub last_leave: Option<Timestamp>,
    /// Why the last interval ended.
    pub last_leave_reason: Option<String>,
    /// Whole minutes connected within the meeting's time.
    pub minutes_present: i64,
    /// Separate presence intervals.
    pub intervals: i64,
    /// Reconnects within the grace period.
    pub reconnects: i64,
    /// Every interval, oldest first, each with why it ended: a `server_restart` in the
    /// middle shows here even when the last interval ended normally.
    pub timeline: Vec<AttendanceInterval>,
    /// The hall's latest roll-call answer (or the secretariat's mark) and reason.
    pub roll_call: Option<RollCallStatus>,
    pub roll_call_reason: String,
    /// The meeting's latest roll call was closed (`end_roll_call`) with neither an answer
    /// nor a mark for this hall: absent without an answer (vắng, không trả lời). Then
    /// `roll_call` is empty (an older answer no longer stands) and `presence` is absent.
    /// The host hall presents and is never counted so; while the latest roll call is open,
    /// or if it was never closed, halls that did not answer go by their connection.
    pub roll_call_unanswered: bool,
    /// The latest headcount reported.
    pub headcount: Option<i64>,
    /// Present, late or absent: from the roll call when answered, absent when the closed
    /// latest roll call went unanswered, else from the intervals.
    pub presence: Presence,
}

/// One hall's attendance over a period.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HallPeriodAttendance {
    #[serde(flatten)]
    pub hall: HallRef,
    /// Meetings it was invited to (not cancelled) that started in the period.
    pub invited: i64,
    /// Of which it attended (connected at least once).
    pub attended: i64,
    /// Of which it missed (meetings over that it never connected to).
    pub absent: i64,
    /// Minutes connected over all of them.
    pub minutes: i64,
}

/// Each hall's latest roll-call answer and reason.
type RollCallAnswers = HashMap<i64, (RollCallStatus, String)>;

/// Seconds of `spans` inside `[from, until]` (an open interval runs to `until`).
pub(crate) fn seconds_within(
    spans: &[AttendanceInterval],
    from: Timestamp,
    until: Timestamp,
) -> i64 {
    spans
        .iter()
        .map(|s| (s.left_at.unwrap_or(until).min(until) - s.joined_at.max(from)).max(0))
        .sum()
}

impl Store {
    /// Intervals per hall for a set of meetings: `(meeting, hall) → intervals`.
    async fn intervals(
        &self,
        meeting_ids: &[i64],
    ) -> Result<HashMap<(i64, i64), Vec<AttendanceInterval>>> {
        let mut out: HashMap<(i64, i64), Vec<AttendanceInterval>> = HashMap::new();
        for batch in meeting_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT meeting_id, hall_id, joined_at, left_at, disconnected_at, leave_reason, reconnects
                 FROM attendance_sessions WHERE meeting_id IN ({}) ORDER BY joined_at, id",
                placeholders.join(",")
            );
            let mut q = sqlx::query(&sql);
            for id in batch {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let left: Option<i64> = r.try_get("left_at")?;
                let dropped: Option<i64> = r.try_get("disconnected_at")?;
                out.entry((r.try_get("meeting_id")?, r.try_get("hall_id")?))
                    .or_default()
                    .push(AttendanceInterval {
                        joined_at: r.try_get("joined_at")?,
                        left_at: left.or(dropped),
                        end_reason: r.try_get("leave_reason")?,
                        reconnects: r.try_get("reconnects")?,
                    });
            }
        }
        Ok(out)
    }

    /// The attendance of every invited hall `who` may see (a secretariat: its subtree's
    /// halls) at one meeting, by unit path.
    pub async fn meeting_attendance(
        &self,
        who: &Principal,
        meeting_id: i64,
    ) -> Result<Vec<MeetingAttendance>> {
        who.require_staff()?;
        let meeting = self.meeting_for(who, meeting_id).await?;
        let times = sqlx::query("SELECT started_at, ended_at FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_one(&self.pool)
            .await?;
        let started: Option<i64> = times.try_get("started_at")?;
        let ended: Option<i64> = times.try_get("ended_at")?;
        let from = started.unwrap_or(meeting.starts_at);
        let until = ended.unwrap_or_else(|| time::now().max(from));
        // Each hall under the unit it belonged to on the meeting's day (a report of a 2024
        // meeting names the 2024 commune, also after the hall was carried to a 2025 one).
        let invited = sqlx::query(&format!(
            "SELECT h.id, h.name, u.code, u.name AS unit_name, u.level, u.path FROM invitations i
             JOIN halls h ON h.id = i.hall_id JOIN units u ON u.id = {} WHERE i.meeting_id = $1 ORDER BY u.path, h.name",
            crate::halls::unit_of_hall_on(2)
        ))
        .bind(meeting_id)
        .bind(time::local_date(meeting.starts_at).to_string())
        .fetch_all(&self.pool)
        .await?;
        let intervals = self.intervals(&[meeting_id]).await?;
        let (answers, closed) = self.roll_call_answers(meeting_id).await?;
        let headcounts = self.latest_headcounts(meeting_id).await?;
        let mut rows = Vec::new();
        for r in &invited {
            let path: String = r.try_get("path")?;
            if !who.covers(&path) {
                continue;
            }
            let hall_id: i64 = r.try_get("id")?;
            let spans = intervals
                .get(&(meeting_id, hall_id))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let first_join = spans.first().map(|s| s.joined_at);
            let last = spans.last();
            let seconds = seconds_within(spans, from, until);
            let unanswered = hall_id != meeting.host_hall_id
                && closed.as_ref().is_some_and(|a| !a.contains(&hall_id));
            let (roll_call, reason) = answers
                .get(&hall_id)
                .cloned()
                .filter(|_| !unanswered)
                .map(|(s, r)| (Some(s), r))
                .unwrap_or((None, String::new()));
            let presence = match (roll_call, first_join) {
                _ if unanswered => Presence::Absent,
                (Some(RollCallStatus::Absent), _) => Presence::Absent,
                (Some(RollCallStatus::Late), _) => Presence::Late,
                (Some(RollCallStatus::Present), _) => Presence::Present,
                (None, None) => Presence::Absent,
                (None, Some(j)) if j > meeting.starts_at + LATE_AFTER_SECS => Presence::Late,
                (None, Some(_)) => Presence::Present,
            };
            rows.push(MeetingAttendance {
                hall: HallRef::from_row(r, "id")?,
                first_join,
                last_leave: last.and_then(|s| s.left_at),
                last_leave_reason: last.and_then(|s| s.end_reason.clone()),
                minutes_present: seconds / 60,
                intervals: spans.len() as i64,
                reconnects: spans.iter().map(|s| s.reconnects).sum(),
                timeline: spans.to_vec(),
                roll_call,
                roll_call_reason: reason,
                roll_call_unanswered: unanswered,
                headcount: headcounts.get(&hall_id).copied(),
                presence,
            });
        }
        Ok(rows)
    }

    /// Each hall's latest answer over the meeting's roll calls; and, if the latest roll
    /// call is closed, the halls that answered it (or were marked).
    async fn roll_call_answers(
        &self,
        meeting_id: i64,
    ) -> Result<(RollCallAnswers, Option<HashSet<i64>>)> {
        let latest = sqlx::query(
            "SELECT id, ended_at FROM roll_calls WHERE meeting_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(meeting_id)
        .fetch_optional(&self.pool)
        .await?;
        let mut closed = match &latest {
            Some(r) if r.try_get::<Option<i64>, _>("ended_at")?.is_some() => {
                Some((r.try_get::<i64, _>("id")?, HashSet::new()))
            }
            _ => None,
        };
        let rows = sqlx::query(
            "SELECT a.roll_call_id, a.hall_id, a.status, a.reason FROM roll_call_answers a JOIN roll_calls c ON c.id = a.roll_call_id
             WHERE c.meeting_id = $1 ORDER BY c.id, a.answered_at",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in rows {
            let (roll_call, hall_id): (i64, i64) =
                (r.try_get("roll_call_id")?, r.try_get("hall_id")?);
            if let Some((_, answered)) = closed.as_mut().filter(|(id, _)| *id == roll_call) {
                answered.insert(hall_id);
            }
            let status: String = r.try_get("status")?;
            if let Some(s) = RollCallStatus::parse(&status) {
                out.insert(hall_id, (s, r.try_get("reason")?));
            }
        }
        Ok((out, closed.map(|(_, answered)| answered)))
    }

    /// Each hall's latest headcount in meeting `meeting_id` (the report; a room that
    /// opens again puts them back on its readiness board).
    pub async fn latest_headcounts(&self, meeting_id: i64) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT hall_id, people FROM headcounts WHERE meeting_id = $1 ORDER BY at, id",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for r in rows {
            out.insert(r.try_get("hall_id")?, r.try_get("people")?);
        }
        Ok(out)
    }

    /// Per hall of the subtree at unit `unit_id`, over meetings starting in `[from, to)`:
    /// invited, attended, absent, minutes (e.g. every commune of a district over a quarter).
    pub async fn unit_attendance(
        &self,
        who: &Principal,
        unit_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<HallPeriodAttendance>> {
        who.require_staff()?;
        let unit = self.unit(unit_id).await?;
        if !who.covers(&unit.path) {
            return Err(Error::Forbidden("the unit is outside your unit"));
        }
        if to <= from || to - from > 3 * 366 * 86400 {
            return Err(Error::invalid(
                "to",
                "the period must be positive and at most three years",
            ));
        }
        let (lo, hi) = subtree_bounds(&unit.path);
        let sql = format!(
            "SELECT h.id AS hall_id, h.name, u.code, u.name AS unit_name, u.level, u.path, m.id AS meeting_id,
                    m.starts_at, m.ends_at, m.started_at, m.ended_at
             FROM halls h JOIN units u ON u.id = {}
             LEFT JOIN invitations i ON i.hall_id = h.id
             LEFT JOIN meetings m ON m.id = i.meeting_id AND m.status <> 'cancelled' AND m.starts_at >= $3 AND m.starts_at < $4
             WHERE {} ORDER BY u.path, h.name",
            crate::halls::unit_of_hall_on(5),
            in_subtree("u.path", 1)
        );
        // Halls are grouped by the unit they belonged to on the period's last day (or the
        // chosen unit's last day, if it ended earlier): over a period crossing a reform,
        // a 2025 commune lists the halls carried into it with their 2024 meetings too
        // (docs/units.md).
        let mut group_day = time::local_date(to - 1).to_string();
        if let Some(last) = unit.valid_to.as_deref() {
            if last < group_day.as_str() {
                group_day = last.to_string();
            }
        }
        let rows = sqlx::query(&sql)
            .bind(lo)
            .bind(hi)
            .bind(from)
            .bind(to)
            .bind(group_day)
            .fetch_all(&self.pool)
            .await?;
        let meeting_ids: Vec<i64> = {
            let mut ids: Vec<i64> = rows
                .iter()
                .filter_map(|r| r.try_get::<Option<i64>, _>("meeting_id").ok().flatten())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let intervals = self.intervals(&meeting_ids).await?;
        let now = time::now();
        let mut out: Vec<HallPeriodAttendance> = Vec::new();
        for r in &rows {
            let hall_id: i64 = r.try_get("hall_id")?;
            if out.last().map(|h| h.hall.hall_id) != Some(hall_id) {
                out.push(HallPeriodAttendance {
                    hall: HallRef::from_row(r, "hall_id")?,
                    invited: 0,
                    attended: 0,
                    absent: 0,
                    minutes: 0,
                });
            }
            let Some(meeting_id) = r.try_get::<Option<i64>, _>("meeting_id")? else {
                continue;
            };
            let row = out
                .last_mut()
                .ok_or_else(|| Error::Internal("report row".into()))?;
            row.invited += 1;
            let starts_at: i64 = r.try_get("starts_at")?;
            let ends_at: i64 = r.try_get("ends_at")?;
            let ended_at: Option<i64> = r.try_get("ended_at")?;
            let from_t = r
                .try_get::<Option<i64>, _>("started_at")?
                .unwrap_or(starts_at);
            let until = ended_at.unwrap_or_else(|| now.max(from_t));
            // Absence is only known once the meeting is over.
            let over = ended_at.is_some() || ends_at < now;
            match intervals.get(&(meeting_id, hall_id)) {
                Some(spans) if !spans.is_empty() => {
                    row.attended += 1;
                    let secs = seconds_within(spans, from_t, until);
                    row.minutes += secs / 60;
                }
                _ if over => row.absent += 1,
                _ => {}
            }
        }
        Ok(out)
    }
}
