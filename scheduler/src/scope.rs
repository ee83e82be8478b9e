//! A meeting's scope — a root unit, the levels taking part, halls added or excluded by hand —
//! and its resolution into the set of invited halls as of the meeting's date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::halls::unit_of_hall_on;
use crate::units::{in_subtree, subtree_bounds, valid_on, Level};
use crate::{Error, Result, Store};

/// Who a meeting invites, as the secretariat chose it in the tier picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The unit whose subtree takes part (e.g. Tỉnh Phú Thọ).
    pub root_unit_id: i64,
    /// The levels whose halls are invited (e.g. province + district).
    pub levels: BTreeSet<Level>,
    /// Halls invited on top of the levels (a hall outside them, or outside the subtree).
    #[serde(default)]
    pub include_halls: BTreeSet<i64>,
    /// Halls left out by hand.
    #[serde(default)]
    pub exclude_halls: BTreeSet<i64>,
}

/// How many halls a scope invites, before saving.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScopePreview {
    /// Halls that would be invited (the host included).
    pub total: usize,
    /// Of which at each level.
    pub per_level: BTreeMap<String, usize>,
    /// The invited hall ids.
    pub hall_ids: Vec<i64>,
}

impl Scope {
    /// The stored form of the level set: `province,district`.
    pub fn levels_text(&self) -> String {
        self.levels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses the stored form of the level set.
    pub fn parse_levels(text: &str) -> BTreeSet<Level> {
        text.split(',').filter_map(Level::parse).collect()
    }
}

impl Store {
    /// Resolves `scope` on `date` (plus the host hall) into the invited halls, by level.
    pub async fn resolve_scope(
        &self,
        scope: &Scope,
        host_hall_id: Option<i64>,
        date: NaiveDate,
    ) -> Result<ScopePreview> {
        if scope.levels.is_empty() && scope.include_halls.is_empty() {
            return Err(Error::invalid(
                "scope.levels",
                "choose at least one level or hall",
            ));
        }
        let root = self
            .unit(scope.root_unit_id)
            .await
            .map_err(|_| Error::invalid("scope.root_unit_id", "no such unit"))?;
        let date_s = date.to_string();
        if !root.is_valid_on(date) {
            return Err(Error::invalid(
                "scope.root_unit_id",
                format!("{} is not valid on {date}", root.name),
            ));
        }
        let mut halls: BTreeMap<i64, String> = BTreeMap::new();
        if !scope.levels.is_empty() {
            let placeholders: Vec<String> = (0..scope.levels.len())
                .map(|i| format!("${}", i + 4))
                .collect();
            let sql = format!(
                "SELECT h.id, u.level FROM halls h JOIN units u ON u.id = {}
                 WHERE {} AND {} AND h.active = 1 AND u.level IN ({})",
                unit_of_hall_on(3),
                in_subtree("u.path", 1),
                valid_on(3),
                placeholders.join(",")
            );
            let (lo, hi) = subtree_bounds(&root.path);
            let mut q = sqlx::query(&sql).bind(lo).bind(hi).bind(date_s.clone());
            for l in &scope.levels {
                q = q.bind(l.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                halls.insert(r.try_get("id")?, r.try_get("level")?);
            }
            // A level without halls may still exist (units without halls yet); one that
            // has no units on this date (districts after the 2025 reform) is refused,
            // not silently ignored: the secretariat asked for halls that cannot come.
            for level in &scope.levels {
                if !halls.values().any(|l| l == level.as_str()) {
                    self.require_level(&root, *level, date).await?;
                }
            }
        }
        let extra: Vec<i64> = scope
            .include_halls
            .iter()
            .copied()
            .chain(host_hall_id)
            .filter(|id| !halls.contains_key(id))
            .collect();
        for id in extra {
            let row = sqlx::query(&format!(
                "SELECT h.active, u.level FROM halls h JOIN units u ON u.id = {} WHERE h.id = $1",
                unit_of_hall_on(2)
            ))
            .bind(id)
            .bind(date_s.clone())
            .fetch_optional(&self.pool)
            .await?;
            let field = if Some(id) == host_hall_id {
                "host_hall_id"
            } else {
                "scope.include_halls"
            };
            let row = row.ok_or_else(|| Error::invalid(field, format!("no hall {id}")))?;
            let active: i64 = row.try_get("active")?;
            if active != 1 {
                return Err(Error::invalid(field, format!("hall {id} is inactive")));
            }
            halls.insert(id, row.try_get("level")?);
        }
        for id in &scope.exclude_halls {
            if Some(*id) != host_hall_id {
                halls.remove(id);
            }
        }
        let mut per_level = BTreeMap::new();
        for level in halls.values() {
            *per_level.entry(level.clone()).or_insert(0) += 1;
        }
        Ok(ScopePreview {
            total: halls.len(),
            per_level,
            hall_ids: halls.into_keys().collect(),
        })
    }
}
