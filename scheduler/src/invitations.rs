//! Invitations (one per hall per meeting, frozen when scheduled) and their join tokens.

use serde::Serialize;
use sqlx::Row;

use crate::accounts::Principal;
use crate::error::JoinRefusal;
use crate::meetings::{Meeting, MeetingStatus};
use crate::time::{self, Timestamp};
use crate::{Error, Result, Store};

/// How long before the start a join token opens (halls connect early to test).
pub const JOIN_OPENS_BEFORE_SECS: i64 = 30 * 60;

/// One invited hall.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub hall_id: i64,
    pub hall_name: String,
    pub unit_id: i64,
    pub unit_name: String,
    /// The unit's level (province / district / commune).
    pub level: String,
    /// Only shown to whoever may hand it to the hall (admin, the secretariat, the hall itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_token: Option<String>,
}

/// A meeting event: who changed what, when.
#[derive(Debug, Clone, Serialize)]
pub struct MeetingEvent {
    pub at: Timestamp,
    pub account_id: Option<i64>,
    pub kind: String,
    pub detail: String,
}

/// A valid join: which hall joins which meeting.
#[derive(Debug, Clone, Serialize)]
pub struct JoinGrant {
    pub meeting: Meeting,
    /// The hall, or for a guest its participant id (negative: `guests::participant_id`).
    pub hall_id: i64,
    /// The hall's name, or the guest's.
    pub hall_name: String,
    /// A guest (khách mời), not a hall.
    pub guest: bool,
}

impl Store {
    /// The halls invited to a meeting `who` may see, by unit path. Tokens are included
    /// for staff; a hall sees only its own.
    pub async fn invitations(&self, who: &Principal, meeting_id: i64) -> Result<Vec<Invitation>> {
        self.meeting_for(who, meeting_id).await?;
        let rows = sqlx::query(
            "SELECT i.hall_id, h.name AS hall_name, u.id AS unit_id, u.name AS unit_name, u.level, i.join_token
             FROM invitations i JOIN halls h ON h.id = i.hall_id JOIN units u ON u.id = h.unit_id
             WHERE i.meeting_id = $1 ORDER BY u.path, h.name",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        let own = who.hall_id();
        rows.iter()
            .map(|r| {
                let hall_id: i64 = r.try_get("hall_id")?;
                let show = who.require_staff().is_ok() || own == Some(hall_id);
                Ok(Invitation {
                    hall_id,
                    hall_name: r.try_get("hall_name")?,
                    unit_id: r.try_get("unit_id")?,
                    unit_name: r.try_get("unit_name")?,
                    level: r.try_get("level")?,
                    join_token: if show {
                        Some(r.try_get("join_token")?)
                    } else {
                        None
                    },
                })
            })
            .collect()
    }

    /// The join token of `hall_id` for a meeting, if invited.
    pub async fn join_token_of(&self, meeting_id: i64, hall_id: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT join_token FROM invitations WHERE meeting_id = $1 AND hall_id = $2",
        )
        .bind(meeting_id)
        .bind(hall_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("join_token")).transpose()?)
    }

    /// Checks a join token at `now`. It is valid only for its own hall (a logged-in room
    /// account of another hall is refused) and only from [`JOIN_OPENS_BEFORE_SECS`]
    /// before the start until the end; a cancelled meeting refuses it. A guest's token
    /// (`guests`) grants the guest's participant id, negative, as `hall_id`.
    pub async fn check_join_token(
        &self,
        token: &str,
        presenter: Option<&Principal>,
        now: Timestamp,
    ) -> Result<JoinGrant> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NotFound("join token"));
        }
        let row = sqlx::query(&format!(
            "SELECT i.meeting_id, i.hall_id, h.name, {HALL_ENABLED} AS enabled
             FROM invitations i JOIN halls h ON h.id = i.hall_id WHERE i.join_token = $1"
        ))
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Not a hall's: perhaps a guest's (any presenter may open a guest's link).
            return self.check_guest_token(token, now).await;
        };
        let hall_id: i64 = row.try_get("hall_id")?;
        if let Some(p) = presenter {
            if let Some(own) = p.hall_id() {
                if own != hall_id {
                    return Err(Error::JoinRefused(JoinRefusal::ForeignHall));
                }
            }
        }
        if row.try_get::<i64, _>("enabled")? != 1 {
            return Err(Error::JoinRefused(JoinRefusal::HallDisabled));
        }
        let meeting = self.meeting_row(row.try_get("meeting_id")?).await?.meeting;
        meeting.open_at(now)?;
        Ok(JoinGrant {
            meeting,
            hall_id,
            hall_name: row.try_get("name")?,
            guest: false,
        })
    }

    /// The history of a meeting `who` may see.
    pub async fn meeting_events(
        &self,
        who: &Principal,
        meeting_id: i64,
    ) -> Result<Vec<MeetingEvent>> {
        self.meeting_for(who, meeting_id).await?;
        let rows = sqlx::query("SELECT at, account_id, kind, detail FROM meeting_events WHERE meeting_id = $1 ORDER BY id")
            .bind(meeting_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MeetingEvent {
                    at: r.try_get("at")?,
                    account_id: r.try_get("account_id")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// SQL: 1 when hall `h` may take part: it is active, and it has no room account or at
/// least one active one (disabling a hall's only account shuts the hall out too).
pub(crate) const HALL_ENABLED: &str = "(CASE WHEN h.active = 1 AND (NOT EXISTS (SELECT 1 FROM accounts a WHERE a.hall_id = h.id)
       OR EXISTS (SELECT 1 FROM accounts a WHERE a.hall_id = h.id AND a.active = 1)) THEN 1 ELSE 0 END)";

impl Meeting {
    /// Whether halls may join at `now`: not cancelled, and within the meeting's window
    /// (from [`JOIN_OPENS_BEFORE_SECS`] before the start to the planned end).
    pub fn open_at(&self, now: Timestamp) -> Result<()> {
        if self.status == MeetingStatus::Cancelled {
            return Err(Error::JoinRefused(JoinRefusal::Cancelled));
        }
        if now < self.starts_at - JOIN_OPENS_BEFORE_SECS {
            return Err(Error::JoinRefused(JoinRefusal::TooEarly));
        }
        if now >= self.ends_at {
            return Err(Error::JoinRefused(JoinRefusal::Expired));
        }
        Ok(())
    }

    /// Whether staff may run the meeting's live controls at `now`: never once cancelled;
    /// while it is live (even past its planned end); otherwise only within its window.
    pub fn controllable_at(&self, now: Timestamp) -> Result<()> {
        match self.status {
            MeetingStatus::Live => Ok(()),
            _ => self.open_at(now),
        }
    }
}

/// Now, for callers that check tokens against the wall clock.
pub fn now() -> Timestamp {
    time::now()
}
