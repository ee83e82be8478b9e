//! Feeds of a meeting: ingest tokens (WHIP, RFC 9725: a national conference, OBS or a
//! presentation PC publishes into the meeting as a named source) and viewer tokens
//! (WHEP: a TV station, a lobby screen or an archive pulls the main picture and the
//! halls' audio).
//!
//! Staff who may run the meeting make, list and revoke them. A token is shown once, when
//! made; only its SHA-256 is kept (as sessions' tokens are). In the live room an ingest
//! source takes part under a *participant id* of its own, [`source_participant`], far
//! above any hall id and never negative (guests are), so it can never be taken for a
//! hall or a guest; WHEP viewers are not participants at all.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::accounts::{random_token, token_hash, Principal};
use crate::history::log_event;
use crate::meetings::Meeting;
use crate::revocable::Revocable;
use crate::time::{self, Timestamp};
use crate::{Error, Result, Store};

/// The most feeds one meeting may have (revoked ones included).
pub const MAX_FEEDS_PER_MEETING: i64 = 50;
/// The longest feed name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Live room ids of ingest sources start above this (hall ids never get near it, and
/// it stays well inside the integers a page's JavaScript holds exactly).
pub const SOURCE_BASE: i64 = 1 << 40;

/// Live room ids of WHEP viewers (per session, never written anywhere) start here.
pub const VIEWER_BASE: i64 = 1 << 44;

/// The live room's id for an ingest source.
pub fn source_participant(feed_id: i64) -> i64 {
    SOURCE_BASE + feed_id
}

/// The ingest feed behind a live room's participant id, if it is one.
pub fn source_of(participant: i64) -> Option<i64> {
    (participant > SOURCE_BASE && participant < VIEWER_BASE).then(|| participant - SOURCE_BASE)
}

/// Whether a live room's participant id is a WHEP viewer's.
pub fn is_viewer(participant: i64) -> bool {
    participant >= VIEWER_BASE
}

/// Which way a feed's media goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// Publishes into the meeting over WHIP.
    Ingest,
    /// Pulls the meeting over WHEP.
    Viewer,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Ingest => "ingest",
            FeedKind::Viewer => "viewer",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "ingest" => Ok(FeedKind::Ingest),
            "viewer" => Ok(FeedKind::Viewer),
            _ => Err(Error::invalid("kind", "kind must be ingest or viewer")),
        }
    }
}

/// What staff send to make a feed token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFeed {
    pub kind: FeedKind,
    pub name: String,
}

impl NewFeed {
    /// The name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
    fn name(&self) -> Result<String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "a feed needs a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                "name",
                format!("at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "no control characters"));
        }
        Ok(name.to_owned())
    }
}

/// One feed token of a meeting (never its clear token, which only [`NewToken`] carries).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Feed {
    pub id: i64,
    pub meeting_id: i64,
    pub kind: FeedKind,
    pub name: String,
    /// The live room's id of an ingest source; `None` for a viewer token.
    pub participant_id: Option<i64>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A feed just made, with its clear token (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    pub feed: Feed,
    pub token: String,
}

const FEED_SELECT: &str =
    "SELECT id, meeting_id, kind, name, created_at, revoked_at FROM meeting_feeds";

fn feed_from_row(r: &sqlx::any::AnyRow) -> Result<Feed> {
    let id: i64 = r.try_get("id")?;
    let kind = FeedKind::parse(&r.try_get::<String, _>("kind")?)?;
    Ok(Feed {
        id,
        meeting_id: r.try_get("meeting_id")?,
        kind,
        name: r.try_get("name")?,
        participant_id: (kind == FeedKind::Ingest).then(|| source_participant(id)),
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// The meeting, if `who` is staff who may run it.
    async fn feed_meeting(&self, who: &Principal, meeting_id: i64) -> Result<Meeting> {
        let m = self.meeting_for(who, meeting_id).await?;
        who.require_staff()?;
        Ok(m)
    }

    /// Makes an ingest or viewer token for a meeting; answers it with its clear token.
    pub async fn add_feed(
        &self,
        who: &Principal,
        meeting_id: i64,
        new: &NewFeed,
    ) -> Result<NewToken> {
        self.feed_meeting(who, meeting_id).await?;
        let name = new.name()?;
        let now = time::now();
        let token = random_token();
        let mut tx = self.begin_write().await?;
        Revocable::Feeds
            .ensure_room(&mut tx, meeting_id, MAX_FEEDS_PER_MEETING, "feed tokens")
            .await?;
        let id: i64 = sqlx::query(
            "INSERT INTO meeting_feeds (meeting_id, kind, name, token_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(meeting_id)
        .bind(new.kind.as_str())
        .bind(&name)
        .bind(token_hash(&token))
        .bind(who.account.id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        meeting_event(
            &mut tx,
            meeting_id,
            who.account.id,
            "feed_added",
            new.kind,
            &name,
        )
        .await?;
        tx.commit().await?;
        let feed = self.feed(meeting_id, id).await?;
        Ok(NewToken { feed, token })
    }

    /// The feed tokens of a meeting, oldest first (revoked ones too, marked).
    pub async fn feeds(&self, who: &Principal, meeting_id: i64) -> Result<Vec<Feed>> {
        self.feed_meeting(who, meeting_id).await?;
        let rows = sqlx::query(&format!("{FEED_SELECT} WHERE meeting_id = $1 ORDER BY id"))
            .bind(meeting_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(feed_from_row).collect()
    }

    /// Revokes a feed token: refused from now on (the caller ends its live sessions).
    /// Revoking again changes nothing.
    pub async fn revoke_feed(
        &self,
        who: &Principal,
        meeting_id: i64,
        feed_id: i64,
    ) -> Result<Feed> {
        self.feed_meeting(who, meeting_id).await?;
        let feed = self.feed(meeting_id, feed_id).await?;
        if feed.revoked_at.is_some() {
            return Ok(feed);
        }
        let mut tx = self.begin_write().await?;
        Revocable::Feeds
            .revoke(&mut tx, feed_id, who.account.id)
            .await?;
        meeting_event(
            &mut tx,
            meeting_id,
            who.account.id,
            "feed_revoked",
            feed.kind,
            &feed.name,
        )
        .await?;
        tx.commit().await?;
        self.feed(meeting_id, feed_id).await
    }

    /// One feed of a meeting.
    async fn feed(&self, meeting_id: i64, feed_id: i64) -> Result<Feed> {
        let row = sqlx::query(&format!("{FEED_SELECT} WHERE id = $1 AND meeting_id = $2"))
            .bind(feed_id)
            .bind(meeting_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("feed"))?;
        feed_from_row(&row)
    }

    /// The feed a clear token of `kind` names, and its meeting. An unknown, revoked or
    /// other-kind token is not found (a WHIP token never works for WHEP).
    pub async fn feed_by_token(&self, token: &str, kind: FeedKind) -> Result<(Feed, Meeting)> {
        let not_found = Error::NotFound(match kind {
            FeedKind::Ingest => "ingest token",
            FeedKind::Viewer => "viewer token",
        });
        let row = sqlx::query(&format!("{FEED_SELECT} WHERE token_hash = $1"))
            .bind(token_hash(token))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(not_found);
        };
        let feed = feed_from_row(&row)?;
        if feed.kind != kind || feed.revoked_at.is_some() {
            return Err(not_found);
        }
        let meeting = self.meeting_row(feed.meeting_id).await?.meeting;
        Ok((feed, meeting))
    }
}

/// Writes a feed's making or revoking into the meeting's history.
async fn meeting_event(
    c: &mut sqlx::AnyConnection,
    meeting_id: i64,
    account_id: i64,
    kind: &str,
    feed: FeedKind,
    name: &str,
) -> Result<()> {
    let detail = format!("{}: {name}", feed.as_str());
    log_event(c, meeting_id, account_id, kind, &detail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_never_meet_hall_or_guest_ids() {
        assert_eq!(source_of(source_participant(7)), Some(7));
        assert_eq!(source_of(7), None);
        assert_eq!(source_of(-7), None);
        assert_eq!(source_of(VIEWER_BASE + 7), None);
        assert!(is_viewer(VIEWER_BASE + 7) && !is_viewer(source_participant(7)));
        assert!(crate::guests::guest_of(source_participant(7)).is_none());
        // JavaScript numbers hold it exactly.
        assert!(source_participant(1_000_000) < (1 << 53));
    }

    #[test]
    fn names_are_checked() {
        let named = |name: &str| NewFeed {
            kind: FeedKind::Ingest,
            name: name.into(),
        };
        assert_eq!(
            named("  Máy trình chiếu ").name().ok().as_deref(),
            Some("Máy trình chiếu")
        );
        assert!(named("   ").name().is_err());
        assert!(named(&"x".repeat(201)).name().is_err());
        assert!(named("a\u{7}b").name().is_err());
    }
}
