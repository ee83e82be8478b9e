//! The SQL of roll calls and headcounts, on one connection (as the rest of
//! [`super`]): a roll call started, answered or marked, ended, and a hall's headcount.

use sqlx::{AnyConnection, Row};

use super::live_event;
use crate::attendance::RollCallStatus;
use crate::time::Timestamp;
use crate::{Error, Result};

/// Starts a roll call (with the id of the change that started it, if a room did).
pub(crate) async fn start_roll_call(
    c: &mut AnyConnection,
    meeting_id: i64,
    at: Timestamp,
    by: Option<i64>,
    change_id: Option<&str>,
) -> Result<i64> {
    let row = sqlx::query("INSERT INTO roll_calls (meeting_id, started_at, started_by, change_id) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(meeting_id)
        .bind(at)
        .bind(by)
        .bind(change_id)
        .fetch_one(&mut *c)
        .await?;
    live_event(c, meeting_id, None, at, "roll_call_started", "", by).await?;
    Ok(row.try_get("id")?)
}

/// The roll call a room's change started.
pub(crate) async fn roll_call_by_change(c: &mut AnyConnection, change_id: &str) -> Result<i64> {
    Ok(
        sqlx::query("SELECT id FROM roll_calls WHERE change_id = $1")
            .bind(change_id)
            .fetch_optional(&mut *c)
            .await?
            .ok_or(Error::NotFound("roll call"))?
            .try_get("id")?,
    )
}

/// The meeting a roll call belongs to.
pub(crate) async fn meeting_of_roll_call(c: &mut AnyConnection, roll_call_id: i64) -> Result<i64> {
    Ok(
        sqlx::query("SELECT meeting_id FROM roll_calls WHERE id = $1")
            .bind(roll_call_id)
            .fetch_optional(&mut *c)
            .await?
            .ok_or(Error::NotFound("roll call"))?
            .try_get("meeting_id")?,
    )
}

/// An answer to a roll call; a later answer replaces an earlier one.
pub(crate) async fn answer_roll_call(
    c: &mut AnyConnection,
    roll_call_id: i64,
    hall_id: i64,
    status: RollCallStatus,
    reason: &str,
    at: Timestamp,
    marked_by: Option<i64>,
) -> Result<()> {
    let meeting_id = meeting_of_roll_call(c, roll_call_id).await?;
    let reason = answer_reason(reason)?;
    store_answer(c, roll_call_id, hall_id, status, reason, at, marked_by).await?;
    live_event(
        c,
        meeting_id,
        Some(hall_id),
        at,
        "roll_call_answer",
        &answer_detail(status, reason),
        marked_by,
    )
    .await
}

/// An answer's reason, trimmed; at most 500 characters.
pub(crate) fn answer_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "at most 500 characters"));
    }
    Ok(reason)
}

/// How an answer reads in the live log: `present`, or `absent: mất điện`.
pub(crate) fn answer_detail(status: RollCallStatus, reason: &str) -> String {
    if reason.is_empty() {
        status.as_str().to_string()
    } else {
        format!("{}: {reason}", status.as_str())
    }
}

/// Stores an answer in place of the hall's earlier one (the live log row is the caller's).
pub(crate) async fn store_answer(
    c: &mut AnyConnection,
    roll_call_id: i64,
    hall_id: i64,
    status: RollCallStatus,
    reason: &str,
    at: Timestamp,
    marked_by: Option<i64>,
) -> Result<()> {
    sqlx::query("DELETE FROM roll_call_answers WHERE roll_call_id = $1 AND hall_id = $2")
        .bind(roll_call_id)
        .bind(hall_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("INSERT INTO roll_call_answers (roll_call_id, hall_id, status, reason, answered_at, marked_by) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(roll_call_id)
        .bind(hall_id)
        .bind(status.as_str())
        .bind(reason)
        .bind(at)
        .bind(marked_by)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Closes a roll call; returns whether it was open (closing twice logs nothing).
pub(crate) async fn end_roll_call(
    c: &mut AnyConnection,
    roll_call_id: i64,
    at: Timestamp,
    by: Option<i64>,
    detail: &str,
) -> Result<bool> {
    let meeting_id = meeting_of_roll_call(c, roll_call_id).await?;
    let closed = sqlx::query(
        "UPDATE roll_calls SET ended_at = $1, ended_by = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(at)
    .bind(by)
    .bind(roll_call_id)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if closed == 0 {
        return Ok(false);
    }
    live_event(c, meeting_id, None, at, "roll_call_ended", detail, by).await?;
    Ok(true)
}

/// A hall reports how many people are in the room.
pub(crate) async fn headcount(
    c: &mut AnyConnection,
    meeting_id: i64,
    hall_id: i64,
    people: i64,
    at: Timestamp,
) -> Result<()> {
    check_people(people)?;
    sqlx::query("INSERT INTO headcounts (meeting_id, hall_id, at, people) VALUES ($1, $2, $3, $4)")
        .bind(meeting_id)
        .bind(hall_id)
        .bind(at)
        .bind(people)
        .execute(&mut *c)
        .await?;
    let detail = people.to_string();
    live_event(c, meeting_id, Some(hall_id), at, "headcount", &detail, None).await
}

/// A headcount must be 0 to 10000 people.
pub(crate) fn check_people(people: i64) -> Result<()> {
    if !(0..=10_000).contains(&people) {
        return Err(Error::invalid("people", "must be 0 to 10000"));
    }
    Ok(())
}
