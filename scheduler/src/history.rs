//! The meeting's history (table `meeting_events`): the one writer of its entries, used by
//! scheduling, cancelling, the revocable rows (guests, feed tokens) and recordings.

use sqlx::AnyConnection;

use crate::{time, Result};

/// Writes one entry of a meeting's history, in the caller's transaction.
pub(crate) async fn log_event(
    c: &mut AnyConnection,
    meeting_id: i64,
    account_id: i64,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO meeting_events (meeting_id, at, account_id, kind, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(meeting_id)
        .bind(time::now())
        .bind(account_id)
        .bind(kind)
        .bind(detail)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Writes one entry the server made by itself (no account: a crash's recovery, the
/// recordings' retention), in the caller's transaction.
pub(crate) async fn log_system_event(
    c: &mut AnyConnection,
    meeting_id: i64,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO meeting_events (meeting_id, at, account_id, kind, detail) VALUES ($1, $2, NULL, $3, $4)")
        .bind(meeting_id)
        .bind(time::now())
        .bind(kind)
        .bind(detail)
        .execute(&mut *c)
        .await?;
    Ok(())
}
