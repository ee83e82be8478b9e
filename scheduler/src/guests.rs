//! Guests (khách mời): someone invited to one meeting who is not a hall — a department,
//! an expert, a journalist pool — with a name, a contact and a join link of their own.
//!
//! Staff who may run the meeting add, list and revoke guests. A guest's link works like
//! a hall's join token, for that meeting only and within its join window; a revoked
//! guest is refused ([`JoinRefusal::GuestRevoked`]). In the live room a guest takes part
//! under a *participant id* of its own, the negative of its guest id
//! ([`participant_id`]), so it can never be taken for a hall; its presence intervals are
//! kept in `guest_sessions`, apart from the halls' (see `attendance::write`).

mod report;

pub use report::GuestAttendance;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::accounts::{random_token, Principal};
use crate::error::JoinRefusal;
use crate::history::log_event;
use crate::invitations::JoinGrant;
use crate::meetings::{Meeting, MeetingStatus};
use crate::revocable::Revocable;
use crate::time::{self, Timestamp};
use crate::{Error, Result, Store};

/// The most guests one meeting may have (revoked ones included).
pub const MAX_GUESTS_PER_MEETING: i64 = 200;
/// The longest guest name and organisation, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest phone number and e-mail address, in characters.
pub const MAX_CONTACT_CHARS: usize = 254;

/// The live room's id for a guest: the negative of its guest id (hall ids are positive).
pub fn participant_id(guest_id: i64) -> i64 {
    -guest_id
}

/// The guest behind a live room's participant id, if it is one (not a hall).
pub fn guest_of(participant: i64) -> Option<i64> {
    (participant < 0).then(|| -participant)
}

/// What staff send to add a guest: a name and at least one way to reach them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGuest {
    pub name: String,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A guest of a meeting, as staff see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Guest {
    pub id: i64,
    pub meeting_id: i64,
    /// Its id in the live room (on the host's board and in protocol messages).
    pub participant_id: i64,
    pub name: String,
    pub organisation: String,
    pub phone: String,
    pub email: String,
    pub join_token: String,
    pub created_at: Timestamp,
    /// When it was revoked (its link refused, its socket closed), if it was.
    pub revoked_at: Option<Timestamp>,
}

/// Checks a one-line text field: trimmed, at most `max` characters, no control
/// characters; empty is allowed only when `required` is false.
fn one_line(field: &str, value: &str, max: usize, required: bool) -> Result<String> {
    let v = value.trim();
    if (required && v.is_empty()) || v.chars().count() > max {
        let least = if required { 1 } else { 0 };
        return Err(Error::invalid(
            field,
            format!("must be {least} to {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must not contain control characters (line breaks, tabs)",
        ));
    }
    Ok(v.to_string())
}

/// A phone number: digits with an optional leading `+`, spaces, dots, dashes and
/// brackets; 8 to 15 digits (E.164's longest).
fn parse_phone(value: &str) -> Result<String> {
    let v = one_line("phone", value, 32, false)?;
    if v.is_empty() {
        return Ok(v);
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || " .-()".contains(c) || (c == '+' && i == 0));
    if !allowed || !(8..=15).contains(&digits) {
        return Err(Error::invalid(
            "phone",
            "must be a phone number: 8 to 15 digits, optionally starting with +",
        ));
    }
    Ok(v)
}

/// An e-mail address: one `@` with something on each side, a dot in the domain, no spaces.
fn parse_email(value: &str) -> Result<String> {
    let v = one_line("email", value, MAX_CONTACT_CHARS, false)?;
    if v.is_empty() {
        return Ok(v);
    }
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        return Err(Error::invalid("email", "must be an e-mail address"));
    }
    Ok(v)
}

/// A checked [`NewGuest`]: name, organisation, phone, email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFields {
    pub name: String,
    pub organisation: String,
    pub phone: String,
    pub email: String,
}

impl NewGuest {
    /// Parses the fields: a name of 1 to 200 characters, an optional organisation, and a
    /// phone number or an e-mail address (at least one). Fails with the first mistake.
    pub fn parse(&self) -> Result<GuestFields> {
        self.check().map_err(|mut all| all.swap_remove(0))
    }

    /// As [`parse`](Self::parse), with every mistake (a form shows them all at once).
    pub fn check(&self) -> std::result::Result<GuestFields, Vec<Error>> {
        let mut errors = Vec::new();
        let mut keep = |r: Result<String>| r.map_err(|e| errors.push(e)).unwrap_or_default();
        let name = keep(one_line("name", &self.name, MAX_NAME_CHARS, true));
        let organisation = keep(one_line(
            "organisation",
            self.organisation.as_deref().unwrap_or(""),
            MAX_NAME_CHARS,
            false,
        ));
        let phone = keep(parse_phone(self.phone.as_deref().unwrap_or("")));
        let email = keep(parse_email(self.email.as_deref().unwrap_or("")));
        let (no_phone, no_email) = (
            self.phone.as_deref().unwrap_or("").trim().is_empty(),
            self.email.as_deref().unwrap_or("").trim().is_empty(),
        );
        if no_phone && no_email {
            errors.push(Error::invalid(
                "phone",
                "give a phone number or an e-mail address",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(GuestFields {
            name,
            organisation,
            phone,
            email,
        })
    }
}

const GUEST_SELECT: &str = "SELECT id, meeting_id, name, organisation, phone, email, join_token, created_at, revoked_at FROM meeting_guests";

fn guest_from_row(r: &sqlx::any::AnyRow) -> Result<Guest> {
    let id: i64 = r.try_get("id")?;
    Ok(Guest {
        id,
        meeting_id: r.try_get("meeting_id")?,
        participant_id: participant_id(id),
        name: r.try_get("name")?,
        organisation: r.try_get("organisation")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        join_token: r.try_get("join_token")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// Whether a guest may still be added to `m` at `now`: not cancelled, not ended (by the
/// host or by its planned end).
fn open_for_guests(m: &Meeting, now: Timestamp) -> Result<()> {
    match m.status {
        MeetingStatus::Cancelled => Err(Error::JoinRefused(JoinRefusal::Cancelled)),
        MeetingStatus::Ended | MeetingStatus::NotHeld => {
            Err(Error::JoinRefused(JoinRefusal::Expired))
        }
        _ if now >= m.ends_at => Err(Error::JoinRefused(JoinRefusal::Expired)),
        _ => Ok(()),
    }
}

impl Store {
    /// The meeting, if `who` is staff who may run it (others: not found, or forbidden
    /// for a hall that may see it).
    async fn guest_meeting(&self, who: &Principal, meeting_id: i64) -> Result<Meeting> {
        let m = self.meeting_for(who, meeting_id).await?;
        who.require_staff()?;
        Ok(m)
    }

    /// Adds a guest to a meeting that has not ended; answers it with its join token.
    pub async fn add_guest(
        &self,
        who: &Principal,
        meeting_id: i64,
        new: &NewGuest,
    ) -> Result<Guest> {
        let m = self.guest_meeting(who, meeting_id).await?;
        let fields = new.parse()?;
        let now = time::now();
        open_for_guests(&m, now)?;
        let mut tx = self.begin_write().await?;
        Revocable::Guests
            .ensure_room(&mut tx, meeting_id, MAX_GUESTS_PER_MEETING, "guests")
            .await?;
        let id: i64 = sqlx::query(
            "INSERT INTO meeting_guests (meeting_id, name, organisation, phone, email, join_token, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(meeting_id)
        .bind(&fields.name)
        .bind(&fields.organisation)
        .bind(&fields.phone)
        .bind(&fields.email)
        .bind(random_token())
        .bind(who.account.id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        log_event(
            &mut tx,
            meeting_id,
            who.account.id,
            "guest_added",
            &fields.name,
        )
        .await?;
        tx.commit().await?;
        self.guest(meeting_id, id).await
    }

    /// The guests of a meeting, oldest first (revoked ones too, marked).
    pub async fn guests(&self, who: &Principal, meeting_id: i64) -> Result<Vec<Guest>> {
        self.guest_meeting(who, meeting_id).await?;
        let rows = sqlx::query(&format!("{GUEST_SELECT} WHERE meeting_id = $1 ORDER BY id"))
            .bind(meeting_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(guest_from_row).collect()
    }

    /// Revokes a guest: its link is refused from now on (the caller closes its live
    /// socket). Revoking again changes nothing.
    pub async fn revoke_guest(
        &self,
        who: &Principal,
        meeting_id: i64,
        guest_id: i64,
    ) -> Result<Guest> {
        self.guest_meeting(who, meeting_id).await?;
        let guest = self.guest(meeting_id, guest_id).await?;
        if guest.revoked_at.is_some() {
            return Ok(guest);
        }
        let mut tx = self.begin_write().await?;
        Revocable::Guests
            .revoke(&mut tx, guest_id, who.account.id)
            .await?;
        log_event(
            &mut tx,
            meeting_id,
            who.account.id,
            "guest_revoked",
            &guest.name,
        )
        .await?;
        tx.commit().await?;
        self.guest(meeting_id, guest_id).await
    }

    /// One guest of a meeting.
    async fn guest(&self, meeting_id: i64, guest_id: i64) -> Result<Guest> {
        let row = sqlx::query(&format!("{GUEST_SELECT} WHERE id = $1 AND meeting_id = $2"))
            .bind(guest_id)
            .bind(meeting_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("guest"))?;
        guest_from_row(&row)
    }

    /// Checks a guest's join token at `now` (called by `check_join_token` when no hall
    /// holds the token): the grant names the guest by its participant id.
    pub(crate) async fn check_guest_token(&self, token: &str, now: Timestamp) -> Result<JoinGrant> {
        let row = sqlx::query(&format!("{GUEST_SELECT} WHERE join_token = $1"))
            .bind(token)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("join token"))?;
        let guest = guest_from_row(&row)?;
        if guest.revoked_at.is_some() {
            return Err(Error::JoinRefused(JoinRefusal::GuestRevoked));
        }
        let meeting = self.meeting_row(guest.meeting_id).await?.meeting;
        meeting.open_at(now)?;
        Ok(JoinGrant {
            meeting,
            hall_id: guest.participant_id,
            hall_name: guest.name,
            guest: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, phone: Option<&str>, email: Option<&str>) -> NewGuest {
        NewGuest {
            name: name.into(),
            organisation: None,
            phone: phone.map(Into::into),
            email: email.map(Into::into),
        }
    }

    fn field_of(r: Result<GuestFields>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_guest_needs_a_name_on_one_line_and_a_contact() {
        let ok = new("  Sở Y tế tỉnh Phú Thọ ", Some("+84 210 3846 123"), None)
            .parse()
            .expect("valid");
        assert_eq!(ok.name, "Sở Y tế tỉnh Phú Thọ");
        assert_eq!(ok.phone, "+84 210 3846 123");
        assert_eq!(field_of(new("", Some("0912345678"), None).parse()), "name");
        assert_eq!(
            field_of(new("A\nB", Some("0912345678"), None).parse()),
            "name"
        );
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            field_of(new(&long, Some("0912345678"), None).parse()),
            "name"
        );
        assert_eq!(field_of(new("Báo Phú Thọ", None, None).parse()), "phone");
        assert_eq!(
            field_of(new("Báo Phú Thọ", Some("12ab"), None).parse()),
            "phone"
        );
        assert_eq!(
            field_of(new("Báo Phú Thọ", Some("1+2345678"), None).parse()),
            "phone"
        );
        assert_eq!(
            field_of(new("Báo Phú Thọ", None, Some("a@b")).parse()),
            "email"
        );
        assert_eq!(
            field_of(new("Báo Phú Thọ", None, Some("a b@c.vn")).parse()),
            "email"
        );
        let email = new("Báo Phú Thọ", None, Some("toasoan@baophutho.vn"))
            .parse()
            .expect("valid");
        assert_eq!(email.email, "toasoan@baophutho.vn");
    }

    #[test]
    fn participant_ids_never_meet_hall_ids() {
        assert_eq!(participant_id(5), -5);
        assert_eq!(guest_of(-5), Some(5));
        assert_eq!(guest_of(5), None);
        assert_eq!(guest_of(0), None);
    }
}
