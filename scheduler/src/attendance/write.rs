//! The SQL of each attendance step, on one connection: the store's methods run them
//! inside one write transaction per change, the attendance writer many changes per
//! transaction, so a change is written whole or not at all.

use sqlx::{AnyConnection, Row};

use crate::guests::guest_of;

use super::{JoinKind, LeaveReason};
use crate::time::Timestamp;
use crate::Result;

mod roll_call;
pub(crate) use roll_call::*;

/// Where a participant's intervals are kept: a hall's in `attendance_sessions`, a
/// guest's (a negative participant id, `guests::participant_id`) in `guest_sessions`.
struct Seat {
    table: &'static str,
    column: &'static str,
    id: i64,
}

fn seat(participant: i64) -> Seat {
    match guest_of(participant) {
        Some(id) => Seat {
            table: "guest_sessions",
            column: "guest_id",
            id,
        },
        None => Seat {
            table: "attendance_sessions",
            column: "hall_id",
            id: participant,
        },
    }
}

/// Both interval tables, each with the SQL giving its participant id as `hall_id`.
pub(crate) const INTERVAL_TABLES: [(&str, &str); 2] = [
    ("attendance_sessions", "hall_id"),
    ("guest_sessions", "-guest_id"),
];

/// Marks the meeting started (the first start counts) and logs who started it.
pub(crate) async fn meeting_started(
    c: &mut AnyConnection,
    meeting_id: i64,
    at: Timestamp,
    by: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE meetings SET started_at = COALESCE(started_at, $1), status = 'live' WHERE id = $2 AND status <> 'cancelled'")
        .bind(at)
        .bind(meeting_id)
        .execute(&mut *c)
        .await?;
    live_event(c, meeting_id, None, at, "meeting_started", "", by).await
}

/// Ends the meeting: open presences close as ended; returns whether any hall attended.
pub(crate) async fn meeting_ended(
    c: &mut AnyConnection,
    meeting_id: i64,
    at: Timestamp,
    by: Option<i64>,
) -> Result<bool> {
    let mut attended: i64 = 0;
    for (table, participant) in INTERVAL_TABLES {
        let open = sqlx::query(&format!(
            "SELECT {participant} AS hall_id FROM {table} WHERE meeting_id = $1 AND left_at IS NULL"
        ))
        .bind(meeting_id)
        .fetch_all(&mut *c)
        .await?;
        for r in open {
            let hall_id: i64 = r.try_get("hall_id")?;
            leave(c, meeting_id, hall_id, at, LeaveReason::MeetingEnded).await?;
        }
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE meeting_id = $1"
        ))
        .bind(meeting_id)
        .fetch_one(&mut *c)
        .await?
        .try_get("n")?;
        attended += n;
    }
    let status = if attended > 0 { "ended" } else { "not_held" };
    sqlx::query("UPDATE meetings SET ended_at = $1, status = $2 WHERE id = $3")
        .bind(at)
        .bind(status)
        .bind(meeting_id)
        .execute(&mut *c)
        .await?;
    live_event(c, meeting_id, None, at, "meeting_ended", status, by).await?;
    Ok(attended > 0)
}

/// A hall connected, recorded by node `node`: within `grace_secs` of a drop its open
/// interval goes on (and is `node`'s from now on: its recovery closes it); otherwise a
/// stale open interval is closed where it was last seen and a new one opens.
pub(crate) async fn join(
    c: &mut AnyConnection,
    node: &str,
    meeting_id: i64,
    hall_id: i64,
    at: Timestamp,
    grace_secs: i64,
) -> Result<JoinKind> {
    let Seat { table, column, id } = seat(hall_id);
    let open = sqlx::query(&format!(
        "SELECT id, last_seen_at, disconnected_at FROM {table}
         WHERE meeting_id = $1 AND {column} = $2 AND left_at IS NULL ORDER BY id DESC"
    ))
    .bind(meeting_id)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    if let Some(open) = open {
        let interval: i64 = open.try_get("id")?;
        let dropped: Option<i64> = open.try_get("disconnected_at")?;
        let last_seen: i64 = open.try_get("last_seen_at")?;
        let away_since = dropped.unwrap_or(last_seen);
        if at - away_since <= grace_secs {
            sqlx::query(&format!("UPDATE {table} SET disconnected_at = NULL, last_seen_at = $1, reconnects = reconnects + 1, node_id = $2 WHERE id = $3"))
                .bind(at)
                .bind(node)
                .bind(interval)
                .execute(&mut *c)
                .await?;
            live_event(c, meeting_id, Some(hall_id), at, "reconnect", "", None).await?;
            return Ok(JoinKind::Reconnected);
        }
        close_session(
            c,
            interval,
            meeting_id,
            hall_id,
            away_since,
            LeaveReason::NetworkLost,
        )
        .await?;
    }
    sqlx::query(&format!("INSERT INTO {table} (meeting_id, {column}, joined_at, last_seen_at, node_id) VALUES ($1, $2, $3, $3, $4)"))
        .bind(meeting_id)
        .bind(id)
        .bind(at)
        .bind(node)
        .execute(&mut *c)
        .await?;
    live_event(c, meeting_id, Some(hall_id), at, "join", "", None).await?;
    Ok(JoinKind::New)
}

/// Closes interval `id` (of the table `hall_id`'s intervals are in) at `at` for
/// `reason`, and logs it.
pub(crate) async fn close_session(
    c: &mut AnyConnection,
    id: i64,
    meeting_id: i64,
    hall_id: i64,
    at: Timestamp,
    reason: LeaveReason,
) -> Result<()> {
    let table = seat(hall_id).table;
    sqlx::query(&format!(
        "UPDATE {table} SET left_at = $1, leave_reason = $2, disconnected_at = NULL WHERE id = $3"
    ))
    .bind(at)
    .bind(reason.as_str())
    .bind(id)
    .execute(&mut *c)
    .await?;
    live_event(
        c,
        meeting_id,
        Some(hall_id),
        at,
        "leave",
        reason.as_str(),
        None,
    )
    .await
}

/// Closes every interval node `node_id` left open (of `meeting` only, if given) at its
/// last presence write: the moment the link had dropped (`network_lost`), otherwise its
/// last heartbeat for `connected` (`server_restart` at a restart, `node_lost` at a
/// take-over). Returns how many.
pub(crate) async fn close_left_open(
    c: &mut AnyConnection,
    node_id: &str,
    meeting: Option<i64>,
    connected: LeaveReason,
) -> Result<u64> {
    let of_meeting = if meeting.is_some() {
        "AND meeting_id = $2"
    } else {
        ""
    };
    let mut rows = Vec::new();
    for (table, participant) in INTERVAL_TABLES {
        let sql = format!(
            "SELECT id, meeting_id, {participant} AS hall_id, last_seen_at, disconnected_at
             FROM {table} WHERE left_at IS NULL AND node_id = $1 {of_meeting}"
        );
        let mut q = sqlx::query(&sql).bind(node_id);
        if let Some(m) = meeting {
            q = q.bind(m);
        }
        rows.extend(q.fetch_all(&mut *c).await?);
    }
    close_at_last_presence(c, &rows, connected).await
}

/// Closes the intervals that another node left open in the meetings whose lease
/// `node_id` holds now (alive at `now`) and that nobody continued within the grace
/// period: away since before `before` (their drop, else their last heartbeat). A hall
/// handed over by a draining node that never came back. Closed at their last presence
/// write, `network_lost`. Returns how many.
pub(crate) async fn close_strays(
    c: &mut AnyConnection,
    node_id: &str,
    now: Timestamp,
    before: Timestamp,
) -> Result<u64> {
    let mut rows = Vec::new();
    for (table, participant) in INTERVAL_TABLES {
        let sql = format!(
            "SELECT id, meeting_id, {participant} AS hall_id, last_seen_at, disconnected_at
             FROM {table}
             WHERE left_at IS NULL AND node_id <> $1
               AND COALESCE(disconnected_at, last_seen_at) < $3
               AND meeting_id IN (SELECT meeting_id FROM meeting_leases
                                  WHERE node_id = $1 AND expires_at > $2)"
        );
        let q = sqlx::query(&sql).bind(node_id).bind(now).bind(before);
        rows.extend(q.fetch_all(&mut *c).await?);
    }
    close_at_last_presence(c, &rows, LeaveReason::NetworkLost).await
}

/// Closes each interval of `rows` (id, meeting_id, hall_id, last_seen_at,
/// disconnected_at) at its last presence write: the moment its link had dropped
/// (`network_lost`), otherwise its last heartbeat for `connected`.
async fn close_at_last_presence(
    c: &mut AnyConnection,
    rows: &[sqlx::any::AnyRow],
    connected: LeaveReason,
) -> Result<u64> {
    for r in rows {
        let dropped: Option<i64> = r.try_get("disconnected_at")?;
        let (reason, at) = match dropped {
            Some(d) => (LeaveReason::NetworkLost, d),
            None => (connected, r.try_get("last_seen_at")?),
        };
        close_session(
            c,
            r.try_get("id")?,
            r.try_get("meeting_id")?,
            r.try_get("hall_id")?,
            at,
            reason,
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// A hall's link dropped: its interval stays open for the grace period.
pub(crate) async fn disconnect(
    c: &mut AnyConnection,
    meeting_id: i64,
    hall_id: i64,
    at: Timestamp,
) -> Result<()> {
    let Seat { table, column, id } = seat(hall_id);
    sqlx::query(&format!("UPDATE {table} SET disconnected_at = $1, last_seen_at = $1 WHERE meeting_id = $2 AND {column} = $3 AND left_at IS NULL AND disconnected_at IS NULL"))
        .bind(at)
        .bind(meeting_id)
        .bind(id)
        .execute(&mut *c)
        .await?;
    live_event(c, meeting_id, Some(hall_id), at, "disconnect", "", None).await
}

/// A hall's presence ended for `reason` (a hall already gone left when it dropped).
pub(crate) async fn leave(
    c: &mut AnyConnection,
    meeting_id: i64,
    hall_id: i64,
    at: Timestamp,
    reason: LeaveReason,
) -> Result<()> {
    let Seat { table, column, id } = seat(hall_id);
    let open = sqlx::query(&format!("SELECT id, disconnected_at FROM {table} WHERE meeting_id = $1 AND {column} = $2 AND left_at IS NULL"))
        .bind(meeting_id)
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
    for r in open {
        let end = r
            .try_get::<Option<i64>, _>("disconnected_at")?
            .unwrap_or(at)
            .min(at);
        close_session(c, r.try_get("id")?, meeting_id, hall_id, end, reason).await?;
    }
    Ok(())
}

/// Connected halls are still there.
pub(crate) async fn heartbeats(
    c: &mut AnyConnection,
    meeting_id: i64,
    hall_ids: &[i64],
    at: Timestamp,
) -> Result<()> {
    let (guests, halls): (Vec<i64>, Vec<i64>) =
        hall_ids.iter().partition(|&&p| guest_of(p).is_some());
    for ids in [halls, guests] {
        // Every id of a group has its intervals in the same table.
        let Some(&first) = ids.first() else {
            continue;
        };
        let Seat { table, column, .. } = seat(first);
        for batch in ids.chunks(500) {
            let placeholders: Vec<String> =
                (0..batch.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "UPDATE {table} SET last_seen_at = $1 WHERE meeting_id = $2 AND left_at IS NULL
                 AND disconnected_at IS NULL AND {column} IN ({})",
                placeholders.join(",")
            );
            let mut q = sqlx::query(&sql).bind(at).bind(meeting_id);
            for p in batch {
                q = q.bind(seat(*p).id);
            }
            q.execute(&mut *c).await?;
        }
    }
    Ok(())
}

/// Appends a row to the meeting's live log.
pub(crate) async fn live_event(
    c: &mut AnyConnection,
    meeting_id: i64,
    hall_id: Option<i64>,
    at: Timestamp,
    kind: &str,
    detail: &str,
    account_id: Option<i64>,
) -> Result<()> {
    // A guest or an ingest source is named by its own column; `hall_id` stays empty.
    let guest_id = hall_id.and_then(guest_of);
    let feed_id = hall_id.and_then(crate::feeds::source_of);
    let hall_id = hall_id.filter(|_| guest_id.is_none() && feed_id.is_none());
    sqlx::query("INSERT INTO attendance_events (meeting_id, hall_id, guest_id, feed_id, at, kind, detail, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(meeting_id)
        .bind(hall_id)
        .bind(guest_id)
        .bind(feed_id)
        .bind(at)
        .bind(kind)
        .bind(detail)
        .bind(account_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
