//! The demo's past: meetings held on the 2024 three-tier tree, with invitations and
//! attendance written as the live rooms would have written them, so reports of 2024
//! meetings have something to show (and keep the 2024 unit names after the carry).

use chrono::{NaiveDate, NaiveTime};

use crate::meetings::MeetingKind;
use crate::scope::Scope;
use crate::time::{from_local, Timestamp};
use crate::{Result, Store};

/// A meeting that took place.
pub(crate) struct PastMeeting<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub kind: MeetingKind,
    pub host_hall_id: i64,
    /// Local day and hours.
    pub day: NaiveDate,
    pub from_hour: u32,
    pub to_hour: u32,
    pub scope: Scope,
}

/// Whether a hall was there (deterministic, so every demo has the same record): about one
/// hall in fifteen missed the meeting, one in seven came late; the host never missed it.
fn presence(hall_id: i64, salt: i64, host: bool) -> Option<i64> {
    let k = (hall_id * 31 + salt * 17) % 105;
    match k {
        _ if host => Some(0),
        0..=6 => None,
        7..=21 => Some(10 * 60 + (k % 4) * 300),
        _ => Some(0),
    }
}

/// Writes one past meeting (status `ended`) with its invitations — the scope resolved on
/// its day — and one attendance interval per hall that came. Returns (invited, attended).
pub(crate) async fn record_past_meeting(
    store: &Store,
    created_by: i64,
    m: PastMeeting<'_>,
) -> Result<(usize, usize)> {
    let preview = store
        .resolve_scope(&m.scope, Some(m.host_hall_id), m.day)
        .await?;
    let at = |h: u32| -> Timestamp {
        from_local(
            m.day
                .and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()),
        )
    };
    let (starts, ends) = (at(m.from_hour), at(m.to_hour));
    let mut tx = store.begin_write().await?;
    let id: i64 = sqlx::Row::try_get(
        &sqlx::query(
            "INSERT INTO meetings (series_id, title, description, kind, status, host_hall_id, starts_at, ends_at,
               scope_root_unit_id, scope_levels, recurrence, override_reason, sequence, created_by, created_at, updated_at,
               started_at, ended_at)
             VALUES (NULL, $1, $2, $3, 'ended', $4, $5, $6, $7, $8, NULL, NULL, 0, $9, $10, $10, $5, $6) RETURNING id",
        )
        .bind(m.title)
        .bind(m.description)
        .bind(m.kind.as_str())
        .bind(m.host_hall_id)
        .bind(starts)
        .bind(ends)
        .bind(m.scope.root_unit_id)
        .bind(m.scope.levels_text())
        .bind(created_by)
        .bind(starts - 7 * 86400)
        .fetch_one(&mut *tx)
        .await?,
        "id",
    )?;
    crate::schedule::insert_invitations(&mut tx, id, &preview.hall_ids).await?;
    let came: Vec<(i64, i64)> = preview
        .hall_ids
        .iter()
        .filter_map(|&h| presence(h, id, h == m.host_hall_id).map(|late| (h, starts + late)))
        .collect();
    for batch in came.chunks(300) {
        let mut sql = String::from(
            "INSERT INTO attendance_sessions (meeting_id, hall_id, joined_at, last_seen_at, disconnected_at, left_at, leave_reason, reconnects) VALUES ",
        );
        for k in 0..batch.len() {
            if k > 0 {
                sql.push(',');
            }
            let b = k * 4;
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, NULL, ${}, 'meeting_ended', 0)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 4
            ));
        }
        let mut q = sqlx::query(&sql);
        for &(hall, joined) in batch {
            q = q.bind(id).bind(hall).bind(joined).bind(ends);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok((preview.hall_ids.len(), came.len()))
}
