//! Import of the unit tree from the GSO CSV format: validated whole, written in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::import_diff::{match_rows, overlaps, FileRow, Stored};
pub use crate::import_diff::{CodeChange, RemovedUnit};
use crate::units::search_key;
use crate::{Backend, Error, Result, Store};

/// Which version of the tree a file is: the dates its units are valid in.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// First day the file's units are valid.
    pub valid_from: NaiveDate,
    /// Last day they are valid (none: still valid).
    pub valid_to: Option<NaiveDate>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            // The earliest date any tree here describes; a later version is imported
            // with its own `valid_from` and this one closed with `valid_to`.
            valid_from: NaiveDate::from_ymd_opt(1976, 7, 2).expect("a valid constant date"),
            valid_to: None,
        }
    }
}

/// The deepest unit tree accepted (country → province → district → commune is 4).
const MAX_DEPTH: usize = 12;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows in the file, per level.
    pub per_level: BTreeMap<String, u64>,
    /// Units that were not there before.
    pub inserted: u64,
    /// Units whose name, type, level or parent changed.
    pub updated: u64,
    /// Units already present exactly as in the file.
    pub unchanged: u64,
    /// Of the updated units, how many changed each of `code`, `name`, `parent`, `type`
    /// (level or division type) and `valid_to`.
    pub changed: BTreeMap<String, u64>,
    /// Units that kept their id under a new code (same parent and name).
    pub code_changes: Vec<CodeChange>,
    /// Units of this version the file no longer has, removed.
    pub removed: Vec<RemovedUnit>,
}

mod parse;
use parse::{import_error, parse_csv, paths};

impl Store {
    /// Imports a unit file as the version of the tree valid from `options.valid_from`.
    /// Re-importing the same file changes nothing; a corrected file updates the version in
    /// place (a unit keeps its id when its code changes, see [`ImportReport`]); a bad file
    /// changes nothing and the error names its line and column. A code may be valid in one
    /// version only on any day: a file whose dates overlap another version's for the same
    /// code is refused (`validity_overlap`). `progress` is called with (rows done, rows in
    /// all) as the rows are written.
    pub async fn import_units(
        &self,
        data: &[u8],
        options: ImportOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ImportReport> {
        let rows = parse_csv(data)?;
        let paths = paths(&rows)?;
        let mut report = ImportReport::default();
        for (_, r) in &rows {
            *report
                .per_level
                .entry(r.level.as_str().to_string())
                .or_default() += 1;
        }
        let valid_from = options.valid_from.to_string();
        let valid_to = options.valid_to.map(|d| d.to_string());
        if valid_to
            .as_deref()
            .is_some_and(|to| to < valid_from.as_str())
        {
            return Err(Error::invalid(
                "valid_to",
                format!(
                    "ends ({}) before it begins ({valid_from})",
                    valid_to.as_deref().unwrap_or("")
                ),
            ));
        }
        let total = rows.len() as u64;

        let mut tx = self.begin_write().await?;
        // Other versions of the tree: no code may be valid in two of them on the same day.
        let others = sqlx::query(
            "SELECT code, name, valid_from, valid_to FROM units WHERE valid_from <> $1",
        )
        .bind(&valid_from)
        .fetch_all(&mut *tx)
        .await?;
        let mut other_versions: HashMap<String, Vec<(String, String, Option<String>)>> =
            HashMap::new();
        for r in &others {
            other_versions.entry(r.try_get("code")?).or_default().push((
                r.try_get("name")?,
                r.try_get("valid_from")?,
                r.try_get("valid_to")?,
            ));
        }
        for (line, row) in &rows {
            for (name, from, to) in other_versions.get(&row.code).into_iter().flatten() {
                if overlaps(&valid_from, valid_to.as_deref(), from, to.as_deref()) {
                    return Err(import_error(
                        *line,
                        "code",
                        format!(
                            "validity_overlap: code {} is already {name}, valid {from} to {}, which overlaps this file's {valid_from} to {}; \
                             close the other version first (import its file again with its last day as valid_to)",
                            row.code,
                            to.as_deref().unwrap_or("(no end)"),
                            valid_to.as_deref().unwrap_or("(no end)"),
                        ),
                    ));
                }
            }
        }
        // What this version of the tree already holds.
        let existing = sqlx::query(
            "SELECT id, code, parent_id, level, depth, division_type, name, path, valid_to FROM units WHERE valid_from = $1",
        )
        .bind(&valid_from)
        .fetch_all(&mut *tx)
        .await?;
        let mut stored = Vec::with_capacity(existing.len());
        for r in &existing {
            stored.push(Stored {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                parent_id: r.try_get("parent_id")?,
                level: r.try_get("level")?,
                depth: r.try_get("depth")?,
                division_type: r.try_get("division_type")?,
                name: r.try_get("name")?,
                path: r.try_get("path")?,
                valid_to: r.try_get("valid_to")?,
            });
        }
        let file_rows: Vec<FileRow<'_>> = rows
            .iter()
            .map(|(_, r)| FileRow {
                code: &r.code,
                parent_code: r.parent_code.as_deref(),
                name: &r.name,
            })
            .collect();
        let matched = match_rows(&file_rows, &stored);
        // Units whose code changes first take a code no file has, so that two communes
        // swapping codes never meet the (code, valid_from) uniqueness half-way.
        for (i, m) in matched.iter().enumerate() {
            if let Some(k) = m {
                if stored[*k].code != rows[i].1.code {
                    sqlx::query("UPDATE units SET code = $1 WHERE id = $2")
                        .bind(format!("~{}", stored[*k].id))
                        .bind(stored[*k].id)
                        .execute(&mut *tx)
                        .await?;
                    report.code_changes.push(CodeChange {
                        old_code: stored[*k].code.clone(),
                        new_code: rows[i].1.code.clone(),
                        name: rows[i].1.name.clone(),
                    });
                }
            }
        }
        let mut ids: HashMap<String, i64> = HashMap::new();
        // Parents before children: write depth by depth.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| paths[i].1);
        let mut done = 0u64;
        for chunk_depth in order.chunk_by(|&a, &b| paths[a].1 == paths[b].1) {
            let mut to_insert = Vec::new();
            for &i in chunk_depth {
                let row = &rows[i].1;
                let parent_id = match &row.parent_code {
                    Some(p) => Some(
                        *ids.get(p)
                            .ok_or_else(|| Error::Internal(format!("parent {p} not written")))?,
                    ),
                    None => None,
                };
                let Some(k) = matched[i] else {
                    to_insert.push((i, parent_id));
                    continue;
                };
                let s = &stored[k];
                ids.insert(row.code.clone(), s.id);
                let mut changed = Vec::new();
                if s.code != row.code {
                    changed.push("code");
                }
                if s.parent_id != parent_id || s.path != paths[i].0 || s.depth != paths[i].1 {
                    changed.push("parent");
                }
                if s.level != row.level.as_str() || s.division_type != row.division_type {
                    changed.push("type");
                }
                if s.name != row.name {
                    changed.push("name");
                }
                if s.valid_to != valid_to {
                    changed.push("valid_to");
                }
                if changed.is_empty() {
                    report.unchanged += 1;
                    continue;
                }
                for c in changed {
                    *report.changed.entry(c.to_string()).or_default() += 1;
                }
                sqlx::query(
                    "UPDATE units SET code = $1, parent_id = $2, level = $3, depth = $4, division_type = $5, name = $6,
                     search_name = $7, path = $8, valid_to = $9 WHERE id = $10",
                )
                .bind(&row.code)
                .bind(parent_id)
                .bind(row.level.as_str())
                .bind(paths[i].1)
                .bind(&row.division_type)
                .bind(&row.name)
                .bind(search_key(&row.name))
                .bind(&paths[i].0)
                .bind(&valid_to)
                .bind(s.id)
                .execute(&mut *tx)
                .await?;
                report.updated += 1;
            }
            // Multi-row inserts keep a 10,000-unit file to a few dozen statements.
            for batch in to_insert.chunks(400) {
                let mut sql = String::from(
                    "INSERT INTO units (code, parent_id, level, depth, division_type, name, search_name, path, valid_from, valid_to) VALUES ",
                );
                for k in 0..batch.len() {
                    let b = k * 10;
                    if k > 0 {
                        sql.push(',');
                    }
                    let params: Vec<String> = (1..=10).map(|j| format!("${}", b + j)).collect();
                    sql.push_str(&format!("({})", params.join(",")));
                }
                sql.push_str(" RETURNING id, code");
                let mut q = sqlx::query(&sql);
                for &(i, parent_id) in batch {
                    let row = &rows[i].1;
                    q = q
                        .bind(row.code.clone())
                        .bind(parent_id)
                        .bind(row.level.as_str())
                        .bind(paths[i].1)
                        .bind(row.division_type.clone())
                        .bind(row.name.clone())
                        .bind(search_key(&row.name))
                        .bind(paths[i].0.clone())
                        .bind(valid_from.clone())
                        .bind(valid_to.clone());
                }
                for r in q.fetch_all(&mut *tx).await? {
                    ids.insert(r.try_get("code")?, r.try_get("id")?);
                }
                report.inserted += batch.len() as u64;
            }
            done += chunk_depth.len() as u64;
            progress(done, total);
        }
        // Units of this version the file no longer has: removed, deepest first, unless
        // something still refers to them. A file speaks for the trees whose roots it holds
        // (a file of one province leaves the other provinces alone).
        let roots: std::collections::HashSet<&str> = rows
            .iter()
            .filter(|(_, r)| r.parent_code.is_none())
            .map(|(_, r)| r.code.as_str())
            .collect();
        let mut kept: Vec<bool> = stored
            .iter()
            .map(|s| !roots.contains(s.path.split('/').nth(1).unwrap_or("")))
            .collect();
        for k in matched.iter().flatten() {
            kept[*k] = true;
        }
        let mut gone: Vec<&Stored> = stored
            .iter()
            .zip(&kept)
            .filter(|(_, k)| !**k)
            .map(|(s, _)| s)
            .collect();
        gone.sort_by_key(|s| std::cmp::Reverse(s.depth));
        for s in gone {
            let uses: i64 = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM halls WHERE unit_id = $1) + (SELECT COUNT(*) FROM hall_units WHERE unit_id = $1)
                      + (SELECT COUNT(*) FROM accounts WHERE unit_id = $1) + (SELECT COUNT(*) FROM meetings WHERE scope_root_unit_id = $1)
                      + (SELECT COUNT(*) FROM units WHERE parent_id = $1) AS n",
            )
            .bind(s.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if uses > 0 {
                return Err(import_error(
                    0,
                    "code",
                    format!(
                        "unit_in_use: {} {} is not in the file but halls, accounts, meetings or units refer to it; \
                         nothing was imported (keep it in the file, or move what refers to it first)",
                        s.code, s.name
                    ),
                ));
            }
            sqlx::query("DELETE FROM units WHERE id = $1")
                .bind(s.id)
                .execute(&mut *tx)
                .await?;
            report.removed.push(RemovedUnit {
                code: s.code.clone(),
                name: s.name.clone(),
            });
        }
        tx.commit().await?;
        if self.backend() == Backend::Postgres {
            // Fresh statistics for the tree: without them the planner walks every hall
            // for each unit of a subtree (`tiers` of the country root: 782 → 88 ms after
            // ANALYZE, BENCHMARKS.md) until autovacuum gets round to it.
            sqlx::query("ANALYZE units").execute(&self.pool).await?;
        }
        tracing::info!(
            inserted = report.inserted,
            updated = report.updated,
            unchanged = report.unchanged,
            code_changes = report.code_changes.len(),
            removed = report.removed.len(),
            "units imported"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
