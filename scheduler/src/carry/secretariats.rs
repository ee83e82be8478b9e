//! Secretariat accounts across a reorganisation: those of provinces that end follow their
//! province; the others whose unit ended (the 2024 districts) are listed with a suggested
//! unit for the administrator to re-point or disable — never moved silently, since a
//! district's office may go to the province or to a commune.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::Row;

use super::UnitRef;
use crate::units::{valid_on, Level};
use crate::{Account, Error, Result, Role, Store};

/// A secretariat account re-pointed to the province its province went into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretariatMove {
    pub username: String,
    pub from: UnitRef,
    pub to: UnitRef,
}

impl Store {
    /// Re-points the secretariats of provinces that end the day before `on` to the province
    /// each went into (a merged province's secretariats all serve the new one). District
    /// secretariats stay on their district: they keep its history, and schedule nothing new.
    pub async fn carry_province_secretariats(
        &self,
        provinces: &HashMap<String, String>,
        on: NaiveDate,
        dry_run: bool,
    ) -> Result<Vec<SecretariatMove>> {
        let old_day = (on - Duration::days(1)).to_string();
        let on_s = on.to_string();
        let rows = sqlx::query(&format!(
            "SELECT a.id, a.username, u.id AS unit_id, u.code, u.name FROM accounts a JOIN units u ON u.id = a.unit_id
             WHERE a.role = 'secretariat' AND u.level = 'province' AND {} AND u.valid_to < $2 ORDER BY a.id",
            valid_on(1)
        ))
        .bind(&old_day)
        .bind(&on_s)
        .fetch_all(&self.pool)
        .await?;
        let mut moves = Vec::new();
        for r in &rows {
            let code: String = r.try_get("code")?;
            let Some(new_code) = provinces.get(&code) else {
                continue;
            };
            let Ok(to) = self.unit_by_code(new_code, on).await else {
                continue;
            };
            moves.push((
                r.try_get::<i64, _>("id")?,
                SecretariatMove {
                    username: r.try_get("username")?,
                    from: UnitRef {
                        id: r.try_get("unit_id")?,
                        code,
                        name: r.try_get("name")?,
                    },
                    to: UnitRef {
                        id: to.id,
                        code: to.code,
                        name: to.name,
                    },
                },
            ));
        }
        if !dry_run && !moves.is_empty() {
            let mut tx = self.begin_write().await?;
            for (id, m) in &moves {
                sqlx::query("UPDATE accounts SET unit_id = $1 WHERE id = $2")
                    .bind(m.to.id)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(moves.into_iter().map(|(_, m)| m).collect())
    }
}

/// A secretariat whose unit ended the day before the carry, for the administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretariatReview {
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    /// Its unit, which ended.
    pub from: UnitRef,
    /// The unit's level (`district` for the 2024 districts).
    pub level: Level,
    /// Where it might serve now: the province its unit's province went into, when the
    /// province mapping says.
    pub suggested: Option<UnitRef>,
}

impl Store {
    /// Active secretariats whose unit is valid the day before `on` and not on `on`, except
    /// province secretariats that [`Store::carry_province_secretariats`] re-points; each with
    /// its suggested unit. Re-pointed or disabled accounts drop out of the list.
    pub async fn ended_secretariats(
        &self,
        provinces: &HashMap<String, String>,
        on: NaiveDate,
    ) -> Result<Vec<SecretariatReview>> {
        let old_day = (on - Duration::days(1)).to_string();
        let rows = sqlx::query(&format!(
            "SELECT a.id, a.username, a.display_name, u.id AS unit_id, u.code, u.name, u.level
             FROM accounts a JOIN units u ON u.id = a.unit_id
             WHERE a.role = 'secretariat' AND a.active = 1 AND {} AND u.valid_to < $2
             ORDER BY u.path, a.username",
            valid_on(1)
        ))
        .bind(&old_day)
        .bind(on.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let unit_id: i64 = r.try_get("unit_id")?;
            let level: String = r.try_get("level")?;
            let level = Level::parse(&level)
                .ok_or_else(|| Error::Internal(format!("unknown level {level} in store")))?;
            let province = self
                .unit_ancestry(unit_id)
                .await?
                .into_iter()
                .find(|u| u.level == Level::Province);
            let suggested = match province.and_then(|p| provinces.get(&p.code)) {
                Some(code) => self.unit_by_code(code, on).await.ok().map(|u| UnitRef {
                    id: u.id,
                    code: u.code,
                    name: u.name,
                }),
                None => None,
            };
            if level == Level::Province && suggested.is_some() {
                // Follows its province on apply.
                continue;
            }
            out.push(SecretariatReview {
                account_id: r.try_get("id")?,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                from: UnitRef {
                    id: unit_id,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                },
                level,
                suggested,
            });
        }
        Ok(out)
    }

    /// Points a secretariat account at another unit, valid on `on` (an administrator
    /// placing the secretariat of a unit that ended). Its sessions stay: its rights follow
    /// from its unit on every request.
    pub async fn repoint_secretariat(
        &self,
        account_id: i64,
        unit_id: i64,
        on: NaiveDate,
    ) -> Result<Account> {
        let account = self.account(account_id).await?;
        if !matches!(account.role, Role::Secretariat { .. }) {
            return Err(Error::invalid(
                "account_id",
                format!("{} is not a secretariat account", account.username),
            ));
        }
        let unit = self.unit(unit_id).await?;
        let on_s = on.to_string();
        if unit.valid_from > on_s
            || unit
                .valid_to
                .as_deref()
                .is_some_and(|to| to < on_s.as_str())
        {
            return Err(Error::invalid(
                "unit_id",
                format!("{} is not valid on {on}", unit.name),
            ));
        }
        sqlx::query("UPDATE accounts SET unit_id = $1 WHERE id = $2")
            .bind(unit_id)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        tracing::info!(account = %account.username, unit = %unit.code, %on, "secretariat re-pointed");
        self.account(account_id).await
    }
}
