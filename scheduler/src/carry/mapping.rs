//! The mapping files a carry reads: old commune → new commune(s) with how it went in
//! (`vn-admin-units-2024-to-2025.csv`), and old province → new province. Reading collects
//! every broken row (with its line) instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::{Error, Result};

/// How an old commune went into a new one (`part` column of the mapping file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The old commune went entirely into the new one.
    Whole,
    /// The old commune was split; this new commune is the source's default (most / seat).
    Main,
    /// The old commune was split; this new commune got a piece of it.
    Part,
}

/// One row of the commune mapping, with the line it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub line: u64,
    pub old_code: String,
    pub new_code: String,
    pub part: Part,
}

/// The commune mapping: old code → the new codes it went into, in file order.
#[derive(Debug, Clone, Default)]
pub struct CommuneMapping {
    rows: HashMap<String, Vec<(String, Part)>>,
    /// Every row in file order (for checking codes against the store, by line).
    ordered: Vec<MappingRow>,
}

impl CommuneMapping {
    /// Where an old commune went.
    pub fn targets(&self, old_code: &str) -> &[(String, Part)] {
        self.rows.get(old_code).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every row, in file order.
    pub fn rows(&self) -> &[MappingRow] {
        &self.ordered
    }

    /// Rows per `part` kind.
    pub fn rows_per_part(&self) -> BTreeMap<Part, u64> {
        let mut out = BTreeMap::new();
        for r in &self.ordered {
            *out.entry(r.part).or_default() += 1;
        }
        out
    }
}

/// One thing wrong with a mapping file, with where it is; a carry with any is not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingProblem {
    /// The file's line (1 is the header); 0 for the file (or the date) as a whole.
    pub line: u64,
    /// The column (`old_code`, `new_code`, `part`, `row`, `header`, `file`, `on`).
    pub column: String,
    /// A stable code: `not_utf8`, `bad_header`, `bad_row`, `bad_code`, `bad_part`,
    /// `repeated`, `empty`, `unknown_code`, `not_a_commune`, `no_known_codes`, `nothing_ends`.
    pub code: &'static str,
    /// The value as written (a code), empty when there is none.
    pub value: String,
    /// What is wrong, in English.
    pub message: String,
}

impl MappingProblem {
    pub(crate) fn new(
        line: u64,
        column: &str,
        code: &'static str,
        value: &str,
        message: impl Into<String>,
    ) -> MappingProblem {
        MappingProblem {
            line,
            column: column.to_string(),
            code,
            value: value.to_string(),
            message: message.into(),
        }
    }

    /// As the error the CLI (and the demo) stop at.
    pub fn into_error(self) -> Error {
        Error::Import {
            line: self.line,
            column: self.column,
            message: self.message,
        }
    }
}

/// Reads a CSV with the given header: each good row's fields with its line number, and
/// every broken row.
fn read_rows(data: &[u8], columns: &[&str]) -> (Vec<(u64, Vec<String>)>, Vec<MappingProblem>) {
    let mut problems = Vec::new();
    let Ok(text) = std::str::from_utf8(data) else {
        problems.push(MappingProblem::new(1, "file", "not_utf8", "", "not UTF-8"));
        return (Vec::new(), problems);
    };
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| {
            h.trim_start_matches('\u{feff}')
                .split(',')
                .map(str::trim)
                .collect()
        })
        .unwrap_or_default();
    if header != columns {
        problems.push(MappingProblem::new(
            1,
            "header",
            "bad_header",
            &header.join(","),
            format!("expected columns {}", columns.join(",")),
        ));
        return (Vec::new(), problems);
    }
    let mut out = Vec::new();
    'rows: for (i, line) in lines {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
        if fields.len() != columns.len() {
            problems.push(MappingProblem::new(
                line_no,
                "row",
                "bad_row",
                line.trim(),
                format!("expected {} fields, found {}", columns.len(), fields.len()),
            ));
            continue;
        }
        for (f, c) in fields.iter().zip(columns) {
            if c.ends_with("code") && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
                problems.push(MappingProblem::new(
                    line_no,
                    c,
                    "bad_code",
                    f,
                    format!("'{f}' is not a GSO code (digits)"),
                ));
                continue 'rows;
            }
        }
        out.push((line_no, fields));
    }
    (out, problems)
}

/// Reads `old_code,new_code,part` (vn-admin-units-2024-to-2025.csv): the good rows, and
/// every broken one (an empty list when the file is sound).
pub fn read_commune_mapping(data: &[u8]) -> (CommuneMapping, Vec<MappingProblem>) {
    let mut mapping = CommuneMapping::default();
    let (rows, mut problems) = read_rows(data, &["old_code", "new_code", "part"]);
    let header_ok = !problems.iter().any(|p| p.line <= 1);
    for (line, f) in rows {
        let part = match f[2].as_str() {
            "whole" => Part::Whole,
            "main" => Part::Main,
            "part" => Part::Part,
            other => {
                problems.push(MappingProblem::new(
                    line,
                    "part",
                    "bad_part",
                    other,
                    format!("'{other}' is not whole, main or part"),
                ));
                continue;
            }
        };
        let targets = mapping.rows.entry(f[0].clone()).or_default();
        if targets.iter().any(|(code, _)| *code == f[1]) {
            problems.push(MappingProblem::new(
                line,
                "new_code",
                "repeated",
                &f[1],
                format!("{} → {} repeats", f[0], f[1]),
            ));
            continue;
        }
        targets.push((f[1].clone(), part));
        mapping.ordered.push(MappingRow {
            line,
            old_code: f[0].clone(),
            new_code: f[1].clone(),
            part,
        });
    }
    if header_ok && mapping.ordered.is_empty() && problems.is_empty() {
        problems.push(MappingProblem::new(
            2,
            "row",
            "empty",
            "",
            "the mapping has no rows",
        ));
    }
    problems.sort_by_key(|p| p.line);
    (mapping, problems)
}

/// Parses `old_code,new_code,part`, stopping at the first broken row.
pub fn parse_commune_mapping(data: &[u8]) -> Result<CommuneMapping> {
    let (mapping, problems) = read_commune_mapping(data);
    match problems.into_iter().next() {
        Some(p) => Err(p.into_error()),
        None => Ok(mapping),
    }
}

/// Reads `old_code,new_code` (vn-provinces-2024-to-2025.csv): old province → new province,
/// and every broken row.
pub fn read_province_mapping(data: &[u8]) -> (HashMap<String, String>, Vec<MappingProblem>) {
    let mut out = HashMap::new();
    let (rows, mut problems) = read_rows(data, &["old_code", "new_code"]);
    for (line, f) in rows {
        if out.contains_key(&f[0]) {
            problems.push(MappingProblem::new(
                line,
                "old_code",
                "repeated",
                &f[0],
                format!("{} repeats", f[0]),
            ));
            continue;
        }
        out.insert(f[0].clone(), f[1].clone());
    }
    (out, problems)
}

/// Parses `old_code,new_code` (vn-provinces-2024-to-2025.csv), stopping at the first broken row.
pub fn parse_province_mapping(data: &[u8]) -> Result<HashMap<String, String>> {
    let (out, problems) = read_province_mapping(data);
    match problems.into_iter().next() {
        Some(p) => Err(p.into_error()),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broken_row_is_named_with_its_line() {
        let csv = "old_code,new_code,part\n00001,00004,whole\n0000x,00004,whole\n00002,00004\n00003,00005,half\n00001,00004,main\n00006,00007,main\n";
        let (mapping, problems) = read_commune_mapping(csv.as_bytes());
        let seen: Vec<(u64, &str, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str(), p.code))
            .collect();
        assert_eq!(
            seen,
            [
                (3, "old_code", "bad_code"),
                (4, "row", "bad_row"),
                (5, "part", "bad_part"),
                (6, "new_code", "repeated"),
            ]
        );
        assert_eq!(mapping.rows().len(), 2, "the good rows are kept");
        assert_eq!(mapping.rows()[1].line, 7);
        let first = parse_commune_mapping(csv.as_bytes()).unwrap_err();
        assert_eq!(
            first.to_string(),
            "line 3, column old_code: '0000x' is not a GSO code (digits)"
        );
    }

    #[test]
    fn a_wrong_header_is_one_problem_on_line_one() {
        let (_, problems) = read_commune_mapping(b"code,parent_code\n01,\n");
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].line, problems[0].code), (1, "bad_header"));
        let (_, problems) = read_commune_mapping(b"old_code,new_code,part\n");
        assert_eq!(problems[0].code, "empty");
    }
}
