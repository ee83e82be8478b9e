//! Halls (điểm cầu): the meeting rooms of a unit, each joined by a kiosk PC with its room account.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Error, Result, Store};

/// A meeting room belonging to a unit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hall {
    /// Our id.
    pub id: i64,
    /// The unit the hall belongs to.
    pub unit_id: i64,
    /// The unit's name, for lists.
    pub unit_name: String,
    /// The unit's path, for scope checks.
    pub unit_path: String,
    /// The room's name ("Hội trường UBND tỉnh", "Phòng họp trực tuyến").
    pub name: String,
    /// Inactive halls are kept for the records but never invited.
    pub active: bool,
}

pub(crate) const HALL_SELECT: &str =
    "SELECT h.id, h.unit_id, u.name AS unit_name, u.path AS unit_path, h.name, h.active
     FROM halls h JOIN units u ON u.id = h.unit_id";

pub(crate) fn hall_from_row(r: &AnyRow) -> Result<Hall> {
    let active: i64 = r.try_get("active")?;
    Ok(Hall {
        id: r.try_get("id")?,
        unit_id: r.try_get("unit_id")?,
        unit_name: r.try_get("unit_name")?,
        unit_path: r.try_get("unit_path")?,
        name: r.try_get("name")?,
        active: active == 1,
    })
}

/// SQL for the id of the unit hall `h` belonged to on the date bound at `$n` (its unit
/// history, `hall_units`), or its current unit when the history says nothing for that date.
pub(crate) fn unit_of_hall_on(n: usize) -> String {
    format!(
        "COALESCE((SELECT hu.unit_id FROM hall_units hu WHERE hu.hall_id = h.id AND hu.valid_from <= ${n}
           AND (hu.valid_to IS NULL OR hu.valid_to >= ${n}) ORDER BY hu.valid_from DESC LIMIT 1), h.unit_id)"
    )
}

/// One period of a hall's unit history.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HallUnitPeriod {
    /// The unit.
    pub unit_id: i64,
    /// Its code and name, for display.
    pub unit_code: String,
    pub unit_name: String,
    /// First day the hall belonged to it (ISO date).
    pub valid_from: String,
    /// Last day, none while it still does.
    pub valid_to: Option<String>,
}

/// Checks a hall name: 1 to 200 characters after trimming, on one line (control
/// characters would break calendar feeds and exports).
pub fn parse_hall_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must not contain control characters (line breaks, tabs)",
        ));
    }
    Ok(name.to_string())
}

impl Store {
    /// Adds a hall to a unit.
    pub async fn create_hall(&self, unit_id: i64, name: &str) -> Result<Hall> {
        let name = parse_hall_name(name)?;
        let unit = self.unit(unit_id).await?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO halls (unit_id, name, feed_token, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING id",
        )
            .bind(unit_id)
            .bind(name)
            .bind(crate::accounts::random_token())
            .bind(crate::time::now())
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = row.try_get("id")?;
        // The hall belongs to its unit for as long as the unit exists (until a carry).
        sqlx::query("INSERT INTO hall_units (hall_id, unit_id, valid_from, valid_to) VALUES ($1, $2, $3, NULL)")
            .bind(id)
            .bind(unit_id)
            .bind(&unit.valid_from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.hall(id).await
    }

    /// One hall by id.
    pub async fn hall(&self, id: i64) -> Result<Hall> {
        let row = sqlx::query(&format!("{HALL_SELECT} WHERE h.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("hall"))?;
        hall_from_row(&row)
    }

    /// Halls in the subtree at `path` (all halls for `/`), by unit path then name.
    pub async fn halls_in(&self, path: &str) -> Result<Vec<Hall>> {
        let rows = sqlx::query(&format!(
            "{HALL_SELECT} WHERE {} ORDER BY u.path, h.name",
            crate::units::in_subtree("u.path", 1)
        ))
        .bind(crate::units::subtree_bounds(path).0)
        .bind(crate::units::subtree_bounds(path).1)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hall_from_row).collect()
    }

    /// The secret of a hall's calendar feed (calendars cannot log in; the URL is the key).
    pub async fn hall_feed_token(&self, id: i64) -> Result<String> {
        let row = sqlx::query("SELECT feed_token FROM halls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("hall"))?;
        Ok(row.try_get("feed_token")?)
    }

    /// The hall whose calendar feed secret is `token`, unless it was disabled (or its
    /// room accounts were): a disabled hall's feed is gone.
    pub async fn hall_by_feed_token(&self, token: &str) -> Result<Hall> {
        let row = sqlx::query(&format!(
            "{HALL_SELECT} WHERE h.feed_token = $1 AND {} = 1",
            crate::invitations::HALL_ENABLED
        ))
        .bind(token)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("calendar"))?;
        hall_from_row(&row)
    }

    /// Whether a hall may take part in meetings: it is active, and has no room account or
    /// at least one active one.
    pub async fn hall_enabled(&self, id: i64) -> Result<bool> {
        let row = sqlx::query(&format!(
            "SELECT {} AS enabled FROM halls h WHERE h.id = $1",
            crate::invitations::HALL_ENABLED
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("hall"))?;
        Ok(row.try_get::<i64, _>("enabled")? == 1)
    }

    /// Which unit a hall belonged to when, oldest first.
    pub async fn hall_unit_history(&self, id: i64) -> Result<Vec<HallUnitPeriod>> {
        let rows = sqlx::query(
            "SELECT hu.unit_id, u.code, u.name, hu.valid_from, hu.valid_to FROM hall_units hu
             JOIN units u ON u.id = hu.unit_id WHERE hu.hall_id = $1 ORDER BY hu.valid_from",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HallUnitPeriod {
                    unit_id: r.try_get("unit_id")?,
                    unit_code: r.try_get("code")?,
                    unit_name: r.try_get("name")?,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: r.try_get("valid_to")?,
                })
            })
            .collect()
    }

    /// Renames a hall or (de)activates it; deactivation ends every session of its room
    /// accounts, device sessions included.
    pub async fn update_hall(
        &self,
        id: i64,
        name: Option<&str>,
        active: Option<bool>,
    ) -> Result<Hall> {
        let hall = self.hall(id).await?;
        let name = match name {
            Some(n) => parse_hall_name(n)?,
            None => hall.name,
        };
        let active = active.unwrap_or(hall.active);
        sqlx::query("UPDATE halls SET name = $1, active = $2 WHERE id = $3")
            .bind(name)
            .bind(if active { 1i64 } else { 0 })
            .bind(id)
            .execute(&self.pool)
            .await?;
        if !active {
            self.revoke_hall_sessions(id).await?;
        }
        self.hall(id).await
    }
}
