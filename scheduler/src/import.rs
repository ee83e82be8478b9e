//! Import of the unit tree from the GSO CSV format: validated whole, written in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use crate::import_diff::{match_rows, overlaps, FileRow, Stored};
pub use crate::import_diff::{CodeChange, RemovedUnit};
use crate::units::{search_key, Level};
use crate::{Error, Result, Store};

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

/// A row of the file after validation.
#[derive(Debug, Clone)]
struct Row_ {
    code: String,
    parent_code: Option<String>,
    level: Level,
    division_type: String,
    name: String,
}

fn import_error(line: u64, column: &str, message: impl Into<String>) -> Error {
    Error::Import {
        line,
        column: column.to_string(),
        message: message.into(),
    }
}

/// Where a record really starts: the csv crate reports CRLF records from their `\n`.
fn record_start(data: &[u8], byte: u64) -> usize {
    let mut at = (byte as usize).min(data.len());
    while at < data.len() && (data[at] == b'\n' || data[at] == b'\r') {
        at += 1;
    }
    at
}

/// The 1-based line number of a byte offset (the csv crate miscounts CRLF files).
fn line_at(data: &[u8], byte: u64) -> u64 {
    let end = record_start(data, byte);
    data[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Reads and validates the whole file; the first bad row stops it with its line and column.
/// Rows carry their line number.
fn parse_csv(data: &[u8]) -> Result<Vec<(u64, Row_)>> {
    const COLUMNS: [&str; 5] = ["code", "parent_code", "level", "division_type", "name"];
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| import_error(1, "header", e.to_string()))?
        .clone();
    let header: Vec<&str> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    if header != COLUMNS {
        return Err(import_error(
            1,
            "header",
            format!("expected columns {}", COLUMNS.join(",")),
        ));
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let (mut line, mut last_byte) = (1u64, 0u64);
    let line_from = |line: u64, last: &mut u64, byte: u64| {
        let from = (*last as usize).min(data.len());
        let to = record_start(data, byte).max(from);
        *last = to as u64;
        line + data[from..to].iter().filter(|&&b| b == b'\n').count() as u64
    };
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| line_at(data, p.byte())).unwrap_or(0);
            import_error(line, "row", e.to_string())
        })?;
        // Counting from the last row keeps this linear over the file.
        let byte = record.position().map(|p| p.byte()).unwrap_or(0);
        line = line_from(line, &mut last_byte, byte);
        if record.len() != COLUMNS.len() {
            return Err(import_error(
                line,
                "row",
                format!("expected {} fields, found {}", COLUMNS.len(), record.len()),
            ));
        }
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let code = field(0);
        if code.is_empty() || code.len() > 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(import_error(
                line,
                "code",
                format!("'{code}' is not a GSO code (digits)"),
            ));
        }
        if let Some(first) = seen.insert(code.clone(), line) {
            return Err(import_error(
                line,
                "code",
                format!("code {code} repeats line {first}"),
            ));
        }
        let parent = field(1);
        let parent_code = if parent.is_empty() {
            None
        } else {
            Some(parent)
        };
        let level_s = field(2);
        let level = Level::parse(&level_s)
            .ok_or_else(|| import_error(line, "level", format!("unknown level '{level_s}'")))?;
        let division_type = field(3);
        if division_type.is_empty() {
            return Err(import_error(line, "division_type", "is empty"));
        }
        let name = field(4);
        if name.is_empty() || name.chars().count() > 200 {
            return Err(import_error(line, "name", "must be 1 to 200 characters"));
        }
        rows.push((
            line,
            Row_ {
                code,
                parent_code,
                level,
                division_type,
                name,
            },
        ));
    }
    if rows.is_empty() {
        return Err(import_error(2, "row", "the file has no units"));
    }
    Ok(rows)
}

/// Computes each row's path and depth; parents must exist in the file, without cycles.
fn paths(rows: &[(u64, Row_)]) -> Result<Vec<(String, i64)>> {
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, r))| (r.code.as_str(), i))
        .collect();
    let mut out: Vec<Option<(String, i64)>> = vec![None; rows.len()];
    for start in 0..rows.len() {
        let mut chain = vec![start];
        // Walk up until a computed ancestor or a root.
        loop {
            let &i = chain.last().expect("chain starts non-empty");
            if out[i].is_some() {
                break;
            }
            let (line, row) = &rows[i];
            let Some(parent) = &row.parent_code else {
                break;
            };
            let &p = index.get(parent.as_str()).ok_or_else(|| {
                import_error(
                    *line,
                    "parent_code",
                    format!("parent {parent} is not in the file"),
                )
            })?;
            // Real trees are three or four levels deep; a long chain is a broken file
            // (and would make this walk, and the path strings, quadratic).
            if chain.len() > MAX_DEPTH {
                return Err(import_error(
                    *line,
                    "parent_code",
                    format!("the units nest deeper than {MAX_DEPTH} levels"),
                ));
            }
            if chain.contains(&p) {
                return Err(import_error(
                    *line,
                    "parent_code",
                    "the parents form a cycle",
                ));
            }
            chain.push(p);
        }
        while let Some(i) = chain.pop() {
            if out[i].is_some() {
                continue;
            }
            let row = &rows[i].1;
            let computed = match &row.parent_code {
                None => (format!("/{}/", row.code), 0),
                Some(parent) => {
                    let (pp, pd) = out[index[parent.as_str()]]
                        .clone()
                        .expect("parent computed first");
                    (format!("{pp}{}/", row.code), pd + 1)
                }
            };
            if computed.1 as usize >= MAX_DEPTH {
                return Err(import_error(
                    rows[i].0,
                    "parent_code",
                    format!("the units nest deeper than {MAX_DEPTH} levels"),
                ));
            }
            out[i] = Some(computed);
        }
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every row computed"))
        .collect())
}
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
