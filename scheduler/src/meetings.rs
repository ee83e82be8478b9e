//! Meetings (cuộc họp): the model, reading one, and listing what a caller may see.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::accounts::{Principal, Role};
use crate::scope::Scope;
use crate::time::Timestamp;
use crate::{Error, Result, Store};

/// What sort of meeting this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// Giao ban: the regular briefing.
    Routine,
    /// Họp đột xuất: called at short notice (may start now).
    Sudden,
    /// Relay of a national meeting to the halls below.
    NationalRelay,
    /// Kiểm tra kết nối: a test session.
    Test,
}

impl MeetingKind {
    /// The stored name (`routine`, `sudden`, …), also the dictionary key's last part.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingKind::Routine => "routine",
            MeetingKind::Sudden => "sudden",
            MeetingKind::NationalRelay => "national_relay",
            MeetingKind::Test => "test",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<MeetingKind> {
        [
            MeetingKind::Routine,
            MeetingKind::Sudden,
            MeetingKind::NationalRelay,
            MeetingKind::Test,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a meeting stands in its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// Planned (possibly moved: see `sequence` and the events).
    Scheduled,
    /// Cancelled: halls see it struck out; join tokens refused.
    Cancelled,
    /// Started by the host and not yet ended.
    Live,
    /// Ended after at least one hall attended.
    Ended,
    /// Ended with no hall having attended (không tổ chức).
    NotHeld,
}

impl MeetingStatus {
    pub(crate) fn parse(s: &str) -> MeetingStatus {
        match s {
            "cancelled" => MeetingStatus::Cancelled,
            "live" => MeetingStatus::Live,
            "ended" => MeetingStatus::Ended,
            "not_held" => MeetingStatus::NotHeld,
            _ => MeetingStatus::Scheduled,
        }
    }
}

/// A meeting as stored, with its scope.
#[derive(Debug, Clone, Serialize)]
pub struct Meeting {
    pub id: i64,
    /// Shared by the meetings of one recurring series.
    pub series_id: Option<String>,
    pub title: String,
    /// Agenda / description (nội dung).
    pub description: String,
    pub kind: MeetingKind,
    pub status: MeetingStatus,
    /// The presenting hall (điểm cầu chính).
    pub host_hall_id: i64,
    pub host_hall_name: String,
    /// Start, UTC Unix seconds.
    pub starts_at: Timestamp,
    /// Planned end, UTC Unix seconds.
    pub ends_at: Timestamp,
    /// Who is invited, as chosen.
    pub scope: Scope,
    /// The scope root's name, for lists.
    pub scope_root_name: String,
    /// The series' rule, on every meeting of it.
    pub recurrence: Option<String>,
    /// Why the secretariat scheduled over a conflict, if it did.
    pub override_reason: Option<String>,
    /// Bumped on every change, so calendars (ICS SEQUENCE) and halls see it.
    pub sequence: i64,
    /// How many halls are invited.
    pub invited: i64,
    /// The account that scheduled it.
    pub created_by: i64,
    pub updated_at: Timestamp,
}

/// A meeting that blocks scheduling because some halls are already invited to it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conflict {
    /// The other meeting; `None` when the caller may not see it (then `title` says only
    /// that another unit's meeting holds the halls).
    pub meeting_id: Option<i64>,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// How many of the new meeting's halls are also invited there.
    pub halls: usize,
    /// A few of their names, to show.
    pub hall_names: Vec<String>,
}

pub(crate) const MEETING_SELECT: &str =
    "SELECT m.id, m.series_id, m.title, m.description, m.kind, m.status,
       m.host_hall_id, h.name AS host_hall_name, m.starts_at, m.ends_at, m.scope_root_unit_id,
       u.name AS scope_root_name, u.path AS scope_root_path, m.scope_levels,
       m.recurrence, m.override_reason, m.sequence, m.created_by, m.updated_at,
       (SELECT COUNT(*) FROM invitations i WHERE i.meeting_id = m.id) AS invited
     FROM meetings m JOIN halls h ON h.id = m.host_hall_id
     JOIN units u ON u.id = m.scope_root_unit_id";

pub(crate) struct MeetingRow {
    pub meeting: Meeting,
    pub scope_root_path: String,
}

pub(crate) fn meeting_from_row(r: &AnyRow) -> Result<MeetingRow> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    let levels: String = r.try_get("scope_levels")?;
    let meeting = Meeting {
        id: r.try_get("id")?,
        series_id: r.try_get("series_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        kind: MeetingKind::parse(&kind).ok_or_else(|| Error::Internal(format!("kind {kind}")))?,
        status: MeetingStatus::parse(&status),
        host_hall_id: r.try_get("host_hall_id")?,
        host_hall_name: r.try_get("host_hall_name")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        scope: Scope {
            root_unit_id: r.try_get("scope_root_unit_id")?,
            levels: Scope::parse_levels(&levels),
            include_halls: Default::default(),
            exclude_halls: Default::default(),
        },
        scope_root_name: r.try_get("scope_root_name")?,
        recurrence: r.try_get("recurrence")?,
        override_reason: r.try_get("override_reason")?,
        sequence: r.try_get("sequence")?,
        invited: r.try_get("invited")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
    };
    Ok(MeetingRow {
        meeting,
        scope_root_path: r.try_get("scope_root_path")?,
    })
}

/// Which meetings to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeetingFilter {
    /// Only meetings ending after this.
    pub from: Option<Timestamp>,
    /// Only meetings starting before this.
    pub to: Option<Timestamp>,
    /// Include cancelled meetings.
    pub include_cancelled: bool,
}

impl Store {
    async fn load_scope_halls(&self, meeting: &mut Meeting) -> Result<()> {
        let rows =
            sqlx::query("SELECT hall_id, mode FROM meeting_scope_halls WHERE meeting_id = $1")
                .bind(meeting.id)
                .fetch_all(&self.pool)
                .await?;
        for r in rows {
            let mode: String = r.try_get("mode")?;
            let id: i64 = r.try_get("hall_id")?;
            if mode == "include" {
                meeting.scope.include_halls.insert(id);
            } else {
                meeting.scope.exclude_halls.insert(id);
            }
        }
        Ok(())
    }

    /// The meetings `ids`, in that order (what a write that made or changed them answers).
    pub(crate) async fn meetings_by_id(&self, ids: &[i64]) -> Result<Vec<Meeting>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.push(self.meeting_row(id).await?.meeting);
        }
        Ok(out)
    }

    pub(crate) async fn meeting_row(&self, id: i64) -> Result<MeetingRow> {
        let row = sqlx::query(&format!("{MEETING_SELECT} WHERE m.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("meeting"))?;
        let mut m = meeting_from_row(&row)?;
        self.load_scope_halls(&mut m.meeting).await?;
        Ok(m)
    }

    /// True when `who` may see meeting `m`: the admin; a secretariat whose subtree holds
    /// its scope root (the unit the meeting belongs to: where its host hall sits gives
    /// no right to it); a hall invited to it or hosting it.
    pub(crate) async fn may_see(&self, who: &Principal, m: &MeetingRow) -> Result<bool> {
        Ok(match who.account.role {
            Role::Admin => true,
            Role::Secretariat { .. } => who.covers(&m.scope_root_path),
            Role::Hall { hall_id } => {
                m.meeting.host_hall_id == hall_id
                    || sqlx::query(
                        "SELECT 1 FROM invitations WHERE meeting_id = $1 AND hall_id = $2",
                    )
                    .bind(m.meeting.id)
                    .bind(hall_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some()
            }
        })
    }

    /// One meeting, if `who` may see it; otherwise "not found", so foreign ids leak nothing.
    pub async fn meeting_for(&self, who: &Principal, id: i64) -> Result<Meeting> {
        let m = self.meeting_row(id).await?;
        if !self.may_see(who, &m).await? {
            return Err(Error::NotFound("meeting"));
        }
        Ok(m.meeting)
    }

    /// The meetings `who` may see, by start time.
    pub async fn meetings_for(
        &self,
        who: &Principal,
        filter: MeetingFilter,
    ) -> Result<Vec<Meeting>> {
        let mut sql = format!("{MEETING_SELECT} WHERE m.ends_at > $1 AND m.starts_at < $2");
        if !filter.include_cancelled {
            sql.push_str(" AND m.status <> 'cancelled'");
        }
        match who.account.role {
            Role::Admin => {}
            Role::Secretariat { .. } => sql.push_str(&format!(
                " AND {}",
                crate::units::in_subtree("u.path", 3)
            )),
            Role::Hall { .. } => sql.push_str(
                " AND (m.host_hall_id = $3 OR EXISTS (SELECT 1 FROM invitations i WHERE i.meeting_id = m.id AND i.hall_id = $3))",
            ),
        }
        sql.push_str(" ORDER BY m.starts_at, m.id LIMIT 1000");
        let q = sqlx::query(&sql)
            .bind(filter.from.unwrap_or(i64::MIN))
            .bind(filter.to.unwrap_or(i64::MAX));
        let q = match who.account.role {
            Role::Admin => q,
            Role::Secretariat { .. } => {
                // A secretariat without a scope path sees nothing: the empty range.
                let (lo, hi) = who
                    .scope_path
                    .as_deref()
                    .map(crate::units::subtree_bounds)
                    .unwrap_or_default();
                q.bind(lo).bind(hi)
            }
            Role::Hall { hall_id } => q.bind(hall_id),
        };
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut m = meeting_from_row(r)?.meeting;
            self.load_scope_halls(&mut m).await?;
            out.push(m);
        }
        Ok(out)
    }
}
