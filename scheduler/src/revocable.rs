//! What a meeting's guests and feed tokens share: rows staff add up to a limit per meeting
//! and revoke once (`revoked_at`, `revoked_by`), each change in the meeting's history.

use sqlx::{AnyConnection, Row};

use crate::{time, Error, Result};

/// The tables of revocable rows (a closed list: table names never come from input).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Revocable {
    /// `meeting_guests`: guests (khách mời).
    Guests,
    /// `meeting_feeds`: WHIP ingest and WHEP viewer tokens.
    Feeds,
}

impl Revocable {
    fn table(self) -> &'static str {
        match self {
            Revocable::Guests => "meeting_guests",
            Revocable::Feeds => "meeting_feeds",
        }
    }

    /// Refuses a new row when the meeting already has `max` (revoked ones count: the list
    /// is the meeting's record). `what` names them in the message.
    pub(crate) async fn ensure_room(
        self,
        c: &mut AnyConnection,
        meeting_id: i64,
        max: i64,
        what: &str,
    ) -> Result<()> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {} WHERE meeting_id = $1",
            self.table()
        );
        let count: i64 = sqlx::query(&sql)
            .bind(meeting_id)
            .fetch_one(&mut *c)
            .await?
            .try_get("n")?;
        if count >= max {
            return Err(Error::invalid(
                "name",
                format!("a meeting has at most {max} {what}"),
            ));
        }
        Ok(())
    }

    /// Marks row `id` revoked now by `account_id` (a row already revoked is left as it was).
    pub(crate) async fn revoke(
        self,
        c: &mut AnyConnection,
        id: i64,
        account_id: i64,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
            self.table()
        );
        sqlx::query(&sql)
            .bind(time::now())
            .bind(account_id)
            .bind(id)
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}
