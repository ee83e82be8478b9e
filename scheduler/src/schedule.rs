//! Scheduling: creating, editing, postponing and cancelling meetings, with conflict checks.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use sqlx::{Any, Row, Transaction};

use crate::accounts::{random_token, Principal};
use crate::conflicts::conflicts_on;
use crate::history::log_event;
use crate::meetings::{Meeting, MeetingKind, MeetingStatus};
use crate::scope::Scope;
use crate::time::{self, local_date, Timestamp};
use crate::{recurrence, Error, Result, Store};

/// How far in the past a new meeting may start (clock skew, a form left open).
const PAST_GRACE_SECS: i64 = 10 * 60;
/// How far back an edit may move a meeting's start (correcting the record of one held
/// today; never into another year).
const MOVE_BACK_SECS: i64 = 24 * 3600;

mod checks;
pub use checks::parse_title;
use checks::{check_description, check_start, check_times};

/// What a secretariat fills in to schedule a meeting (or a series).
#[derive(Debug, Clone)]
pub struct MeetingDraft {
    pub title: String,
    pub description: String,
    pub kind: MeetingKind,
    pub host_hall_id: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub scope: Scope,
    /// RRULE subset (see [`recurrence`]); none for a single meeting.
    pub recurrence: Option<String>,
}

/// A change to one meeting; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingChange {
    pub title: Option<String>,
    pub description: Option<String>,
    pub kind: Option<MeetingKind>,
    pub host_hall_id: Option<i64>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub scope: Option<Scope>,
}

impl Store {
    /// Checks that `who` may schedule `scope` hosted by `host_hall_id` (if given): the
    /// scope root, the host hall and every added hall inside the caller's unit.
    pub async fn authorize_scope(
        &self,
        who: &Principal,
        scope: &Scope,
        host_hall_id: Option<i64>,
    ) -> Result<()> {
        who.require_staff()?;
        let root = self
            .unit(scope.root_unit_id)
            .await
            .map_err(|_| Error::invalid("scope.root_unit_id", "no such unit"))?;
        if !who.covers(&root.path) {
            return Err(Error::Forbidden(if root.level == crate::Level::Country {
                "national meetings are scheduled by the national secretariat (the country unit's)"
            } else {
                "the scope is outside your unit"
            }));
        }
        if let Some(host_hall_id) = host_hall_id {
            let host = self
                .hall(host_hall_id)
                .await
                .map_err(|_| Error::invalid("host_hall_id", "no such hall"))?;
            if !who.covers(&host.unit_path) {
                return Err(Error::Forbidden("the host hall is outside your unit"));
            }
        }
        for id in &scope.include_halls {
            let hall = self
                .hall(*id)
                .await
                .map_err(|_| Error::invalid("scope.include_halls", format!("no hall {id}")))?;
            if !who.covers(&hall.unit_path) {
                return Err(Error::Forbidden("an added hall is outside your unit"));
            }
        }
        Ok(())
    }

    /// Schedules a meeting, or a series when `draft.recurrence` is set. Overlaps with
    /// meetings already inviting the same halls fail with [`Error::Conflict`] unless
    /// `override_reason` is given (it is recorded). Returns the created meetings.
    pub async fn schedule(
        &self,
        who: &Principal,
        draft: MeetingDraft,
        override_reason: Option<&str>,
    ) -> Result<Vec<Meeting>> {
        let _serial = self.scheduling.lock().await;
        let title = parse_title(&draft.title)?;
        let description = check_description(&draft.description)?;
        check_times(draft.starts_at, draft.ends_at)?;
        check_start(draft.starts_at, time::now() - PAST_GRACE_SECS)?;
        self.authorize_scope(who, &draft.scope, Some(draft.host_hall_id))
            .await?;
        let duration = draft.ends_at - draft.starts_at;
        let starts = match &draft.recurrence {
            Some(rule) => recurrence::expand(rule, draft.starts_at)?,
            None => vec![draft.starts_at],
        };
        let rule = draft
            .recurrence
            .as_deref()
            .map(recurrence::parse_rule)
            .transpose()?;
        // Resolve each occurrence on its own date: a series may cross a change of the tree.
        let mut plans = Vec::with_capacity(starts.len());
        let mut by_date: HashMap<chrono::NaiveDate, Vec<i64>> = HashMap::new();
        for &s in &starts {
            let date = local_date(s);
            if let std::collections::hash_map::Entry::Vacant(slot) = by_date.entry(date) {
                let preview = self
                    .resolve_scope(&draft.scope, Some(draft.host_hall_id), date)
                    .await?;
                slot.insert(preview.hall_ids);
            }
            plans.push((s, s + duration, date));
        }
        let all_halls: Vec<i64> = by_date
            .values()
            .flatten()
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let slots: Vec<(i64, i64)> = plans.iter().map(|p| (p.0, p.1)).collect();
        // The check and the insert in one transaction no other node can interleave with.
        let mut tx = self.begin_scheduling().await?;
        let conflicts = conflicts_on(&mut tx, &all_halls, &slots, &[]).await?;
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !conflicts.is_empty() && override_reason.is_none() {
            tx.rollback().await?;
            return Err(Error::Conflict(self.conflicts_for(who, conflicts).await?));
        }
        let series_id = rule.as_ref().map(|_| uuid::Uuid::new_v4().to_string());
        let now = time::now();
        let mut ids = Vec::new();
        for (s, e, date) in plans {
            let row = sqlx::query(
                "INSERT INTO meetings (series_id, title, description, kind, status, host_hall_id, starts_at, ends_at,
                   scope_root_unit_id, scope_levels, recurrence, override_reason, sequence, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $13) RETURNING id",
            )
            .bind(series_id.clone())
            .bind(&title)
            .bind(&description)
            .bind(draft.kind.as_str())
            .bind(draft.host_hall_id)
            .bind(s)
            .bind(e)
            .bind(draft.scope.root_unit_id)
            .bind(draft.scope.levels_text())
            .bind(rule.clone())
            .bind(if conflicts.is_empty() { None } else { override_reason.map(str::to_string) })
            .bind(who.account.id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            write_scope_halls(&mut tx, id, &draft.scope).await?;
            insert_invitations(&mut tx, id, &by_date[&date]).await?;
            let detail = if conflicts.is_empty() {
                String::new()
            } else {
                format!("conflict override: {}", override_reason.unwrap_or_default())
            };
            log_event(&mut tx, id, who.account.id, "scheduled", &detail).await?;
            ids.push(id);
        }
        tx.commit().await?;
        let out = self.meetings_by_id(&ids).await?;
        tracing::info!(
            meetings = out.len(),
            by = who.account.id,
            "meeting scheduled"
        );
        Ok(out)
    }

    /// Edits or postpones one meeting; the invitations follow the new scope (halls still
    /// invited keep their join tokens). Conflicts as for [`Store::schedule`].
    pub async fn update_meeting(
        &self,
        who: &Principal,
        id: i64,
        change: MeetingChange,
        override_reason: Option<&str>,
    ) -> Result<Meeting> {
        let _serial = self.scheduling.lock().await;
        let current = self.meeting_for(who, id).await?;
        let mut edit = self.plan_edit(who, current, &change).await?;
        let mut tx = self.begin_scheduling().await?;
        edit.conflicts = edit.conflicts_on(&mut tx, &[id]).await?;
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if !edit.conflicts.is_empty() && override_reason.is_none() {
            tx.rollback().await?;
            return Err(Error::Conflict(
                self.conflicts_for(who, edit.conflicts).await?,
            ));
        }
        write_edit(&mut tx, who, &edit, override_reason).await?;
        tx.commit().await?;
        Ok(self.meeting_row(id).await?.meeting)
    }

    /// Checks `change` to meeting `current` for `who` (fields, times, the caller's right
    /// to the meeting as it is and as it would be) and finds the halls it would invite;
    /// writes nothing. Its conflicts are found by [`Edit::conflicts_on`], inside the
    /// scheduling transaction that writes it.
    pub(crate) async fn plan_edit(
        &self,
        who: &Principal,
        current: Meeting,
        change: &MeetingChange,
    ) -> Result<Edit> {
        if current.status == MeetingStatus::Cancelled {
            return Err(Error::invalid(
                "status",
                "a cancelled meeting cannot be edited",
            ));
        }
        let title = change
            .title
            .as_deref()
            .map(parse_title)
            .transpose()?
            .unwrap_or(current.title.clone());
        let description = change
            .description
            .as_deref()
            .map(check_description)
            .transpose()?
            .unwrap_or(current.description.clone());
        let kind = change.kind.unwrap_or(current.kind);
        let host = change.host_hall_id.unwrap_or(current.host_hall_id);
        let starts_at = change.starts_at.unwrap_or(current.starts_at);
        let ends_at = change.ends_at.unwrap_or(current.ends_at);
        let scope = change.scope.clone().unwrap_or(current.scope.clone());
        check_times(starts_at, ends_at)?;
        if starts_at != current.starts_at {
            check_start(starts_at, time::now() - MOVE_BACK_SECS)?;
        }
        // Both the meeting as it is and as it would be must be the caller's to schedule:
        // nobody edits a meeting into or out of a unit that is not theirs.
        self.authorize_scope(who, &current.scope, Some(current.host_hall_id))
            .await?;
        self.authorize_scope(who, &scope, Some(host)).await?;
        let halls = self
            .resolve_scope(&scope, Some(host), local_date(starts_at))
            .await?
            .hall_ids;
        Ok(Edit {
            current,
            title,
            description,
            kind,
            host,
            starts_at,
            ends_at,
            scope,
            halls,
            conflicts: Vec::new(),
        })
    }

    /// Cancels a meeting; invited halls see it cancelled and its tokens stop working.
    pub async fn cancel_meeting(&self, who: &Principal, id: i64, reason: &str) -> Result<Meeting> {
        let current = self.meeting_for(who, id).await?;
        self.authorize_scope(who, &current.scope, Some(current.host_hall_id))
            .await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE meetings SET status = 'cancelled', sequence = sequence + 1, updated_at = $1 WHERE id = $2")
            .bind(time::now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        log_event(&mut tx, id, who.account.id, "cancelled", reason.trim()).await?;
        tx.commit().await?;
        Ok(self.meeting_row(id).await?.meeting)
    }
}

/// A checked edit of one meeting (see [`Store::plan_edit`]), ready to write.
pub(crate) struct Edit {
    pub current: Meeting,
    pub title: String,
    pub description: String,
    pub kind: MeetingKind,
    pub host: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub scope: Scope,
    pub halls: Vec<i64>,
    /// Meetings it would overlap (filled by [`Edit::conflicts_on`]).
    pub conflicts: Vec<crate::Conflict>,
}

impl Edit {
    /// The meetings other than `except` the edited meeting would overlap, read on `c`
    /// (the scheduling transaction that writes it).
    pub(crate) async fn conflicts_on(
        &self,
        c: &mut sqlx::AnyConnection,
        except: &[i64],
    ) -> Result<Vec<crate::Conflict>> {
        conflicts_on(c, &self.halls, &[(self.starts_at, self.ends_at)], except).await
    }
}

/// Writes a planned edit: the meeting's fields, its added and removed halls (halls still
/// invited keep their tokens), and its `edited` or `rescheduled` event.
pub(crate) async fn write_edit(
    tx: &mut Transaction<'_, Any>,
    who: &Principal,
    edit: &Edit,
    override_reason: Option<&str>,
) -> Result<()> {
    let id = edit.current.id;
    let overridden = !edit.conflicts.is_empty();
    sqlx::query(
        "UPDATE meetings SET title = $1, description = $2, kind = $3, host_hall_id = $4, starts_at = $5, ends_at = $6,
           scope_root_unit_id = $7, scope_levels = $8, override_reason = COALESCE($9, override_reason),
           sequence = sequence + 1, updated_at = $10 WHERE id = $11",
    )
    .bind(&edit.title)
    .bind(&edit.description)
    .bind(edit.kind.as_str())
    .bind(edit.host)
    .bind(edit.starts_at)
    .bind(edit.ends_at)
    .bind(edit.scope.root_unit_id)
    .bind(edit.scope.levels_text())
    .bind(if overridden { override_reason.map(str::to_string) } else { None })
    .bind(time::now())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM meeting_scope_halls WHERE meeting_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    write_scope_halls(tx, id, &edit.scope).await?;
    let existing: HashSet<i64> =
        sqlx::query("SELECT hall_id FROM invitations WHERE meeting_id = $1")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("hall_id"))
            .collect::<Result<_, _>>()?;
    let wanted: HashSet<i64> = edit.halls.iter().copied().collect();
    for gone in existing.difference(&wanted) {
        sqlx::query("DELETE FROM invitations WHERE meeting_id = $1 AND hall_id = $2")
            .bind(id)
            .bind(*gone)
            .execute(&mut **tx)
            .await?;
    }
    let added: Vec<i64> = wanted.difference(&existing).copied().collect();
    insert_invitations(tx, id, &added).await?;
    let current = &edit.current;
    let moved = edit.starts_at != current.starts_at || edit.ends_at != current.ends_at;
    let kind_of_change = if moved { "rescheduled" } else { "edited" };
    let mut detail = if moved {
        format!(
            "{} → {}",
            time::display_local(current.starts_at),
            time::display_local(edit.starts_at)
        )
    } else {
        String::new()
    };
    if let (true, Some(reason)) = (overridden, override_reason) {
        detail.push_str(&format!(" conflict override: {reason}"));
    }
    log_event(tx, id, who.account.id, kind_of_change, detail.trim()).await
}

async fn write_scope_halls(tx: &mut Transaction<'_, Any>, id: i64, scope: &Scope) -> Result<()> {
    let modes = scope
        .include_halls
        .iter()
        .map(|h| (h, "include"))
        .chain(scope.exclude_halls.iter().map(|h| (h, "exclude")));
    for (hall, mode) in modes {
        sqlx::query(
            "INSERT INTO meeting_scope_halls (meeting_id, hall_id, mode) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(*hall)
        .bind(mode)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_invitations(
    tx: &mut Transaction<'_, Any>,
    meeting_id: i64,
    halls: &[i64],
) -> Result<()> {
    let now = time::now();
    for batch in halls.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO invitations (meeting_id, hall_id, join_token, created_at) VALUES ",
        );
        for k in 0..batch.len() {
            if k > 0 {
                sql.push(',');
            }
            let b = k * 4;
            sql.push_str(&format!("(${},${},${},${})", b + 1, b + 2, b + 3, b + 4));
        }
        let mut q = sqlx::query(&sql);
        for hall in batch {
            q = q
                .bind(meeting_id)
                .bind(*hall)
                .bind(random_token())
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
