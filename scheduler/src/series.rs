//! Recurring series after scheduling: cancelling "this and following" occurrences, and
//! the reason a meeting was cancelled (shown to the halls on their join page).

use sqlx::Row;

use crate::accounts::Principal;
use crate::meetings::{Meeting, MeetingStatus};
use crate::{time, Error, Result, Store};

impl Store {
    /// Cancels meeting `id` and, when it belongs to a series, every later occurrence of
    /// that series still scheduled (held, live or already cancelled ones stay as they
    /// are), all at once: each gets the `cancelled` event with `reason`, and its halls see
    /// it cancelled. Returns the cancelled meetings, by start. The caller must be allowed
    /// to schedule each of them.
    pub async fn cancel_following(
        &self,
        who: &Principal,
        id: i64,
        reason: &str,
    ) -> Result<Vec<Meeting>> {
        let _serial = self.scheduling.lock().await;
        let current = self.meeting_for(who, id).await?;
        if current.status != MeetingStatus::Scheduled {
            return Err(Error::invalid(
                "status",
                "only a meeting still scheduled can be cancelled with the ones after it",
            ));
        }
        let ids: Vec<i64> = match &current.series_id {
            None => vec![id],
            Some(series) => sqlx::query(
                "SELECT id FROM meetings WHERE series_id = $1 AND starts_at >= $2 AND status = 'scheduled'
                 ORDER BY starts_at, id",
            )
            .bind(series)
            .bind(current.starts_at)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?,
        };
        let mut meetings = Vec::with_capacity(ids.len());
        for &m in &ids {
            let meeting = self.meeting_for(who, m).await?;
            self.authorize_scope(who, &meeting.scope, Some(meeting.host_hall_id))
                .await?;
            meetings.push(meeting);
        }
        let now = time::now();
        let mut tx = self.begin_write().await?;
        for &m in &ids {
            sqlx::query(
                "UPDATE meetings SET status = 'cancelled', sequence = sequence + 1, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(m)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO meeting_events (meeting_id, at, account_id, kind, detail) VALUES ($1, $2, $3, 'cancelled', $4)",
            )
            .bind(m)
            .bind(now)
            .bind(who.account.id)
            .bind(reason.trim())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        tracing::info!(
            meetings = ids.len(),
            first = id,
            by = who.account.id,
            "series cancelled from this occurrence"
        );
        let mut out = Vec::with_capacity(ids.len());
        for m in ids {
            out.push(self.meeting_row(m).await?.meeting);
        }
        Ok(out)
    }

    /// Why meeting `id` was cancelled (the last cancellation's reason), if it was and a
    /// reason was given. For pages that already showed the caller the meeting.
    pub async fn cancel_reason(&self, id: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT e.detail FROM meeting_events e JOIN meetings m ON m.id = e.meeting_id
             WHERE e.meeting_id = $1 AND e.kind = 'cancelled' AND m.status = 'cancelled'
             ORDER BY e.id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>("detail")?).filter(|d| !d.trim().is_empty()),
            None => None,
        })
    }

    /// The cancellation reason of the meeting a join token belongs to (see
    /// [`Store::cancel_reason`]): the token's hall is told why.
    pub async fn cancel_reason_for_token(&self, token: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT meeting_id FROM invitations WHERE join_token = $1")
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => self.cancel_reason(r.try_get("meeting_id")?).await,
            None => Ok(None),
        }
    }
}
