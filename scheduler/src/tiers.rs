//! The tiers (levels) a scope can invite on a date — what the tier picker offers, with
//! per-level counts, and what scheduling enforces: after the 2025 reform a province has
//! no districts, so a scope dated after 1 July 2025 cannot ask for them.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::units::{in_subtree, subtree_bounds, valid_on, Level, Unit};
use crate::{Error, Result, Store};

/// One level present under a root on a date.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tier {
    /// The level.
    pub level: Level,
    /// Units of that level valid on the date in the subtree (the root included).
    pub units: i64,
    /// Active halls attached to those units.
    pub halls: i64,
}

impl Unit {
    /// Whether the unit exists on `date` (its `valid_from`..=`valid_to`).
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        let d = date.to_string();
        self.valid_from <= d && self.valid_to.as_deref().is_none_or(|to| to >= d.as_str())
    }
}

impl Store {
    /// The unit that stands for unit `id` on `date`: itself when it is valid then, else
    /// the unit with the same GSO code in the tree valid on that date (Tỉnh Phú Thọ of the
    /// 2024 tree → Tỉnh Phú Thọ of the 2025 tree). Fails with an invalid `date` when the
    /// code has no unit then (a district after the reform, a merged province).
    pub async fn unit_on(&self, id: i64, date: NaiveDate) -> Result<Unit> {
        let unit = self.unit(id).await?;
        if unit.is_valid_on(date) {
            return Ok(unit);
        }
        match self.unit_by_code(&unit.code, date).await {
            Err(Error::NotFound(_)) => Err(Error::invalid(
                "date",
                format!("{} ({}) does not exist on {date}", unit.name, unit.code),
            )),
            other => other,
        }
    }

    /// The levels that have units under `root` (itself included) on `date`, top first,
    /// with how many units and active halls each has.
    pub async fn tiers(&self, root: &Unit, date: NaiveDate) -> Result<Vec<Tier>> {
        // Two plain aggregations rather than one outer join counted DISTINCT: PostgreSQL
        // planned that join as a nested loop over every hall for each unit (seconds on
        // the national tree; see BENCHMARKS.md).
        let units = format!(
            "SELECT u.level, COUNT(*) AS n FROM units u WHERE {} AND {} GROUP BY u.level",
            in_subtree("u.path", 1),
            valid_on(3)
        );
        let halls = format!(
            "SELECT u.level, COUNT(*) AS n FROM halls h JOIN units u ON u.id = h.unit_id
             WHERE {} AND {} AND h.active = 1 GROUP BY u.level",
            in_subtree("u.path", 1),
            valid_on(3)
        );
        let (lo, hi) = subtree_bounds(&root.path);
        let mut out: Vec<Tier> = Vec::new();
        for (sql, is_units) in [(units, true), (halls, false)] {
            let rows = sqlx::query(&sql)
                .bind(lo.clone())
                .bind(hi.clone())
                .bind(date.to_string())
                .fetch_all(&self.pool)
                .await?;
            for r in rows {
                let level: String = r.try_get("level")?;
                let level = Level::parse(&level)
                    .ok_or_else(|| Error::Internal(format!("unknown level {level} in store")))?;
                let n: i64 = r.try_get("n")?;
                match out.iter_mut().find(|t| t.level == level) {
                    Some(t) if is_units => t.units = n,
                    Some(t) => t.halls = n,
                    // Halls are only counted at levels that have units.
                    None if is_units => out.push(Tier {
                        level,
                        units: n,
                        halls: 0,
                    }),
                    None => {}
                }
            }
        }
        out.sort_by_key(|t| t.level);
        Ok(out)
    }

    /// Fails with [`Error::LevelNotOnDate`] unless some unit of `level` under `root` is
    /// valid on `date`.
    pub(crate) async fn require_level(
        &self,
        root: &Unit,
        level: Level,
        date: NaiveDate,
    ) -> Result<()> {
        let sql = format!(
            "SELECT u.id FROM units u WHERE {} AND {} AND u.level = $4 LIMIT 1",
            in_subtree("u.path", 1),
            valid_on(3)
        );
        let (lo, hi) = subtree_bounds(&root.path);
        let found = sqlx::query(&sql)
            .bind(lo)
            .bind(hi)
            .bind(date.to_string())
            .bind(level.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(Error::LevelNotOnDate {
                level,
                root: root.name.clone(),
                date,
            }),
        }
    }
}
