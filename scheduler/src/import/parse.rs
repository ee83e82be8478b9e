//! Reading a unit file: the GSO CSV rows validated (levels, parents, depth) and each
//! unit's path computed, before anything is written.

use std::collections::HashMap;

use crate::units::Level;
use crate::{Error, Result};

use super::MAX_DEPTH;

/// A row of the file after validation.
#[derive(Debug, Clone)]
pub(super) struct Row_ {
    pub(super) code: String,
    pub(super) parent_code: Option<String>,
    pub(super) level: Level,
    pub(super) division_type: String,
    pub(super) name: String,
}

pub(super) fn import_error(line: u64, column: &str, message: impl Into<String>) -> Error {
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
pub(super) fn parse_csv(data: &[u8]) -> Result<Vec<(u64, Row_)>> {
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
pub(super) fn paths(rows: &[(u64, Row_)]) -> Result<Vec<(String, i64)>> {
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
