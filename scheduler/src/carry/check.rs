//! Checking a commune mapping against the stored trees before a carry (codes that name no
//! unit, a date on which nothing ends), and the province mapping a commune mapping implies.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use sqlx::Row;

use super::mapping::{CommuneMapping, MappingProblem, Part};
use crate::units::valid_on;
use crate::{Result, Store};

/// A unit of one day's tree, as the checks need it.
struct TreeUnit {
    code: String,
    level: String,
    parent_id: Option<i64>,
    valid_to: Option<String>,
}

/// The units valid on `day`, by id.
async fn tree_on(store: &Store, day: NaiveDate) -> Result<HashMap<i64, TreeUnit>> {
    let sql = format!(
        "SELECT u.id, u.code, u.level, u.parent_id, u.valid_to FROM units u WHERE {}",
        valid_on(1)
    );
    let mut out = HashMap::new();
    for r in sqlx::query(&sql)
        .bind(day.to_string())
        .fetch_all(&store.pool)
        .await?
    {
        out.insert(
            r.try_get("id")?,
            TreeUnit {
                code: r.try_get("code")?,
                level: r.try_get("level")?,
                parent_id: r.try_get("parent_id")?,
                valid_to: r.try_get("valid_to")?,
            },
        );
    }
    Ok(out)
}

/// Level by code in one day's tree.
fn levels_by_code(tree: &HashMap<i64, TreeUnit>) -> HashMap<&str, &str> {
    tree.values()
        .map(|u| (u.code.as_str(), u.level.as_str()))
        .collect()
}

/// The code of the province above (or at) a unit of one day's tree.
fn province_code(tree: &HashMap<i64, TreeUnit>, mut id: i64) -> Option<&str> {
    for _ in 0..16 {
        let unit = tree.get(&id)?;
        if unit.level == "province" {
            return Some(&unit.code);
        }
        id = unit.parent_id?;
    }
    None
}

impl Store {
    /// What is wrong with a commune mapping for a carry on `on`, in file order: a row whose
    /// old commune is in the tree that ends the day before must name a commune of the tree
    /// valid on `on` (`unknown_code`, `not_a_commune`). Rows whose old code this store does
    /// not hold are other provinces' and pass. The file as a whole (line 0) must name at
    /// least one stored old commune (`no_known_codes`), and some unit must end the day
    /// before `on` (`nothing_ends`: the date is not the first day of a new tree).
    pub async fn check_commune_mapping(
        &self,
        mapping: &CommuneMapping,
        on: NaiveDate,
    ) -> Result<Vec<MappingProblem>> {
        let old_day = on - Duration::days(1);
        let old_tree = tree_on(self, old_day).await?;
        let new_tree = tree_on(self, on).await?;
        let old_s = old_day.to_string();
        let mut problems = Vec::new();
        if !old_tree
            .values()
            .any(|u| u.valid_to.as_deref() == Some(old_s.as_str()))
        {
            problems.push(MappingProblem::new(
                0,
                "on",
                "nothing_ends",
                &on.to_string(),
                format!(
                    "no unit ends on {old_day}: the date must be the first day of the new tree"
                ),
            ));
            return Ok(problems);
        }
        let (old, new) = (levels_by_code(&old_tree), levels_by_code(&new_tree));
        let mut known = 0;
        for row in mapping.rows() {
            let Some(level) = old.get(row.old_code.as_str()) else {
                continue;
            };
            known += 1;
            if *level != "commune" {
                problems.push(MappingProblem::new(
                    row.line,
                    "old_code",
                    "not_a_commune",
                    &row.old_code,
                    format!(
                        "{} is a {level} of the tree valid on {old_day}",
                        row.old_code
                    ),
                ));
                continue;
            }
            match new.get(row.new_code.as_str()) {
                None => problems.push(MappingProblem::new(
                    row.line,
                    "new_code",
                    "unknown_code",
                    &row.new_code,
                    format!("{} is no unit of the tree valid on {on}", row.new_code),
                )),
                Some(level) if *level != "commune" => problems.push(MappingProblem::new(
                    row.line,
                    "new_code",
                    "not_a_commune",
                    &row.new_code,
                    format!("{} is a {level} of the tree valid on {on}", row.new_code),
                )),
                Some(_) => {}
            }
        }
        let has_communes = old_tree.values().any(|u| u.level == "commune");
        if known == 0 && has_communes && !mapping.rows().is_empty() {
            problems.push(MappingProblem::new(
                0,
                "old_code",
                "no_known_codes",
                "",
                format!("no old_code of the file is a unit of the tree valid on {old_day}"),
            ));
        }
        Ok(problems)
    }

    /// The province mapping a commune mapping implies (for an uploaded commune mapping that
    /// comes without one): each old province → the new province that received its communes
    /// (whole or main). A province whose communes went into several new provinces is left
    /// out (its halls and secretariats are then listed, not guessed).
    pub async fn provinces_from_communes(
        &self,
        mapping: &CommuneMapping,
        on: NaiveDate,
    ) -> Result<HashMap<String, String>> {
        let old_tree = tree_on(self, on - Duration::days(1)).await?;
        let new_tree = tree_on(self, on).await?;
        let new_by_code: HashMap<&str, i64> = new_tree
            .iter()
            .map(|(id, u)| (u.code.as_str(), *id))
            .collect();
        let mut into: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (id, unit) in &old_tree {
            if unit.level != "commune" {
                continue;
            }
            let Some(old_province) = province_code(&old_tree, *id) else {
                continue;
            };
            for (code, part) in mapping.targets(&unit.code) {
                if *part == Part::Part {
                    continue;
                }
                if let Some(new_province) = new_by_code
                    .get(code.as_str())
                    .and_then(|id| province_code(&new_tree, *id))
                {
                    into.entry(old_province.to_string())
                        .or_default()
                        .insert(new_province.to_string());
                }
            }
        }
        Ok(into
            .into_iter()
            .filter(|(_, to)| to.len() == 1)
            .filter_map(|(from, to)| to.into_iter().next().map(|t| (from, t)))
            .collect())
    }
}
