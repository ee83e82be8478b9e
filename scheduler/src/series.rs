//! Recurring series after scheduling: editing or cancelling "this and following"
//! occurrences, and the reason a meeting was cancelled (shown to the halls on their join
//! page).

use sqlx::Row;

use crate::accounts::Principal;
use crate::meetings::{Meeting, MeetingStatus};
use crate::schedule::{write_edit, MeetingChange};
use crate::{time, Error, Result, Store};

impl Store {
    /// The ids of meeting `current` and the later occurrences of its series still
    /// scheduled, by start (just `current` outside a series).
    async fn this_and_following(&self, current: &Meeting) -> Result<Vec<i64>> {
        let Some(series) = &current.series_id else {
            return Ok(vec![current.id]);
        };
        let rows = sqlx::query(
            "SELECT id FROM meetings WHERE series_id = $1 AND starts_at >= $2 AND status = 'scheduled'
             ORDER BY starts_at, id",
        )
        .bind(series)
        .bind(current.starts_at)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Edits meeting `id` and every later occurrence of its series still scheduled, all or
    /// none: title, description, kind, host and scope are set on each; a new start moves
    /// each by the same amount (the 08:00 briefing becomes a 14:00 one from this week on)
    /// and a new end sets each one's length. Each occurrence is checked as
    /// [`Store::update_meeting`] checks one (conflicts with other meetings refused unless
    /// `override_reason` is given); occurrences before this one keep what they were.
    /// Returns the edited meetings, by start.
    pub async fn update_following(
        &self,
        who: &Principal,
        id: i64,
        change: MeetingChange,
        override_reason: Option<&str>,
    ) -> Result<Vec<Meeting>> {
        let _serial = self.scheduling.lock().await;
        let current = self.meeting_for(who, id).await?;
        if current.status != MeetingStatus::Scheduled {
            return Err(Error::invalid(
                "status",
                "only a meeting still scheduled can be edited with the ones after it",
            ));
        }
        let shift = change.starts_at.map(|s| s - current.starts_at).unwrap_or(0);
        let new_start = current.starts_at + shift;
        // A new end gives every occurrence that length; otherwise each keeps its own.
        let length = change.ends_at.map(|e| e - new_start);
        let ids = self.this_and_following(&current).await?;
        let mut edits = Vec::with_capacity(ids.len());
        let mut conflicts = Vec::new();
        for &m in &ids {
            let occurrence = self.meeting_for(who, m).await?;
            let starts_at = occurrence.starts_at + shift;
            let ends_at = match length {
                Some(length) => starts_at + length,
                None => occurrence.ends_at + shift,
            };
            let own = MeetingChange {
                starts_at: Some(starts_at),
                ends_at: Some(ends_at),
                ..change.clone()
            };
            edits.push(self.plan_edit(who, occurrence, &own).await?);
        }
        let mut tx = self.begin_scheduling().await?;
        for edit in &mut edits {
            edit.conflicts = edit.conflicts_on(&mut tx, &ids).await?;
            conflicts.extend(edit.conflicts.iter().cloned());
        }
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !conflicts.is_empty() && override_reason.is_none() {
            tx.rollback().await?;
            return Err(Error::Conflict(self.conflicts_for(who, conflicts).await?));
        }
        for edit in &edits {
            write_edit(&mut tx, who, edit, override_reason).await?;
        }
        tx.commit().await?;
        tracing::info!(
            meetings = ids.len(),
            first = id,
            by = who.account.id,
            "series edited from this occurrence"
        );
        self.meetings_by_id(&ids).await
    }

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
        let ids = self.this_and_following(&current).await?;
        for &m in &ids {
            let meeting = self.meeting_for(who, m).await?;
            self.authorize_scope(who, &meeting.scope, Some(meeting.host_hall_id))
                .await?;
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
        self.meetings_by_id(&ids).await
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
