//! Administrative units (đơn vị hành chính): a dated tree of any depth, browsed and searched.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Error, Result, Store};

/// The tier a unit sits at. The tree itself is data; these are the labels the
/// General Statistics Office uses, plus `country` for national meetings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The whole country (Chính phủ), above the provinces in national meetings.
    Country,
    /// Tỉnh / thành phố trực thuộc trung ương.
    Province,
    /// Huyện / quận / thị xã / thành phố thuộc tỉnh (abolished 1 July 2025).
    District,
    /// Xã / phường / thị trấn / đặc khu.
    Commune,
}

impl Level {
    /// Every level, top first.
    pub const ALL: [Level; 4] = [
        Level::Country,
        Level::Province,
        Level::District,
        Level::Commune,
    ];

    /// The name stored and used in the API and CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Country => "country",
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// One unit as valid over a date range.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unit {
    /// Our id (one per unit per tree version).
    pub id: i64,
    /// The GSO code, zero-padded as the office writes it.
    pub code: String,
    /// The unit above, none for a root.
    pub parent_id: Option<i64>,
    /// The tier label.
    pub level: Level,
    /// Distance from the root of its tree (0 for a province in a provincial tree).
    pub depth: i64,
    /// `tỉnh`, `huyện`, `xã`, … as the GSO lists it.
    pub division_type: String,
    /// The official name with its prefix (`Huyện Tân Sơn`).
    pub name: String,
    /// Codes from the root down, `/25/240/`: subtree queries are prefix matches.
    pub path: String,
    /// First day this unit is valid (ISO date).
    pub valid_from: String,
    /// Last day this unit is valid, none while it still exists.
    pub valid_to: Option<String>,
}

pub(crate) const UNIT_COLUMNS: &str =
    "u.id, u.code, u.parent_id, u.level, u.depth, u.division_type, u.name, u.path, u.valid_from, u.valid_to";

pub(crate) fn unit_from_row(row: &AnyRow) -> Result<Unit> {
    let level: String = row.try_get("level")?;
    Ok(Unit {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        parent_id: row.try_get("parent_id")?,
        level: Level::parse(&level)
            .ok_or_else(|| Error::Internal(format!("unknown level {level} in store")))?,
        depth: row.try_get("depth")?,
        division_type: row.try_get("division_type")?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
    })
}

/// Lower-case ASCII form of a name for searching without diacritics ("Tân Sơn" → "tan son").
pub fn search_key(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_lowercase();
    ascii.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The subtree at `path` as a half-open range of paths, `[path, upper)`: every
/// descendant's path starts with `path`, and `upper` is `path` with its final `/`
/// raised to `0`, the next byte. Unlike `LIKE 'prefix%'` a range uses the index on
/// both backends (paths compare bytewise: `COLLATE "C"` on PostgreSQL).
pub fn subtree_bounds(path: &str) -> (String, String) {
    let upper = match path.strip_suffix('/') {
        Some(stem) => format!("{stem}0"),
        None => format!("{path}\u{10FFFF}"),
    };
    (path.to_string(), upper)
}

/// SQL condition on `col` for the subtree whose bounds are bound at `$lo` and `$lo+1`.
pub(crate) fn in_subtree(col: &str, lo: usize) -> String {
    format!("{col} >= ${lo} AND {col} < ${}", lo + 1)
}

/// SQL condition (on alias `u`) for units valid on the date bound at `$n`.
pub(crate) fn valid_on(n: usize) -> String {
    format!("u.valid_from <= ${n} AND (u.valid_to IS NULL OR u.valid_to >= ${n})")
}

/// A unit with how much hangs below it, for browsing the tree.
#[derive(Debug, Clone, Serialize)]
pub struct UnitNode {
    /// The unit itself.
    #[serde(flatten)]
    pub unit: Unit,
    /// Direct children valid on the same date.
    pub children: i64,
    /// Halls attached to this unit.
    pub halls: i64,
}

/// Longest unit search accepted.
pub const MAX_SEARCH_CHARS: usize = 200;

impl Store {
    /// One unit by id.
    pub async fn unit(&self, id: i64) -> Result<Unit> {
        let sql = format!("SELECT {UNIT_COLUMNS} FROM units u WHERE u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("unit"))?;
        unit_from_row(&row)
    }

    /// The unit with a GSO code valid on `date`.
    pub async fn unit_by_code(&self, code: &str, date: NaiveDate) -> Result<Unit> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units u WHERE u.code = $1 AND {}",
            valid_on(2)
        );
        let row = sqlx::query(&sql)
            .bind(code)
            .bind(date.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("unit"))?;
        unit_from_row(&row)
    }

    /// Children of `parent` (roots when none) valid on `date`, with counts, by code.
    pub async fn unit_children(
        &self,
        parent: Option<i64>,
        date: NaiveDate,
    ) -> Result<Vec<UnitNode>> {
        let parent_cond = if parent.is_some() {
            "u.parent_id = $2"
        } else {
            "u.parent_id IS NULL AND $2 = 0"
        };
        let sql = format!(
            "SELECT {UNIT_COLUMNS},
               (SELECT COUNT(*) FROM units c WHERE c.parent_id = u.id) AS children,
               (SELECT COUNT(*) FROM halls h WHERE h.unit_id = u.id AND h.active = 1) AS halls
             FROM units u WHERE {} AND {parent_cond} ORDER BY u.code",
            valid_on(1)
        );
        let rows = sqlx::query(&sql)
            .bind(date.to_string())
            .bind(parent.unwrap_or(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UnitNode {
                    unit: unit_from_row(r)?,
                    children: r.try_get("children")?,
                    halls: r.try_get("halls")?,
                })
            })
            .collect()
    }

    /// Units whose name contains `query`, compared without diacritics or case,
    /// valid on `date`; optionally only inside the subtree at `within` (a path).
    pub async fn search_units(
        &self,
        query: &str,
        date: NaiveDate,
        within: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Unit>> {
        // A unit name is short; a long pattern only costs the database (SQLite refuses
        // LIKE patterns over 50,000 bytes).
        if query.chars().count() > MAX_SEARCH_CHARS {
            return Err(Error::invalid(
                "q",
                format!("at most {MAX_SEARCH_CHARS} characters"),
            ));
        }
        let key = search_key(query).replace(['%', '_'], "");
        if key.trim().is_empty() {
            return Ok(Vec::new());
        }
        let pattern = format!("%{key}%");
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units u
             WHERE u.search_name LIKE $1 AND {} AND {}
             ORDER BY u.depth, u.name LIMIT $5",
            valid_on(2),
            in_subtree("u.path", 3)
        );
        let (lo, hi) = subtree_bounds(within.unwrap_or("/"));
        let rows = sqlx::query(&sql)
            .bind(pattern)
            .bind(date.to_string())
            .bind(lo)
            .bind(hi)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(unit_from_row).collect()
    }

    /// The chain of units from the root down to `id` (for breadcrumbs).
    pub async fn unit_ancestry(&self, id: i64) -> Result<Vec<Unit>> {
        let mut chain = vec![self.unit(id).await?];
        while let Some(parent) = chain.last().and_then(|u| u.parent_id) {
            if chain.len() > 16 {
                return Err(Error::Internal("unit tree deeper than 16 levels".into()));
            }
            chain.push(self.unit(parent).await?);
        }
        chain.reverse();
        Ok(chain)
    }

    /// How many units of each level are valid on `date`.
    pub async fn unit_counts(&self, date: NaiveDate) -> Result<Vec<(Level, i64)>> {
        let sql = format!(
            "SELECT u.level, COUNT(*) AS n FROM units u WHERE {} GROUP BY u.level",
            valid_on(1)
        );
        let rows = sqlx::query(&sql)
            .bind(date.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let level: String = r.try_get("level")?;
            if let Some(l) = Level::parse(&level) {
                out.push((l, r.try_get("n")?));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_bounds_hold_descendants_only() {
        let (lo, hi) = subtree_bounds("/25/");
        for inside in ["/25/", "/25/240/", "/25/240/08578/"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["/250/", "/24/", "/26/", "/2/"] {
            assert!(
                !(outside >= lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
        let (lo, hi) = subtree_bounds("/");
        assert!("/01/" >= lo.as_str() && "/99/999/" < hi.as_str());
    }

    #[test]
    fn search_key_drops_diacritics() {
        assert_eq!(search_key("Huyện  Tân Sơn"), "huyen tan son");
        assert_eq!(search_key("Thành phố Việt Trì"), "thanh pho viet tri");
        assert_eq!(search_key("Đoan Hùng"), "doan hung");
    }
}
