//! The mapping files a carry reads: old commune → new commune(s) with how it went in
//! (`vn-admin-units-2024-to-2025.csv`), and old province → new province.

use std::collections::HashMap;

use serde::Serialize;

use crate::{Error, Result};

/// How an old commune went into a new one (`part` column of the mapping file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The old commune went entirely into the new one.
    Whole,
    /// The old commune was split; this new commune is the source's default (most / seat).
    Main,
    /// The old commune was split; this new commune got a piece of it.
    Part,
}

/// The commune mapping: old code → the new codes it went into, in file order.
#[derive(Debug, Clone, Default)]
pub struct CommuneMapping {
    rows: HashMap<String, Vec<(String, Part)>>,
}

impl CommuneMapping {
    /// Where an old commune went.
    pub fn targets(&self, old_code: &str) -> &[(String, Part)] {
        self.rows.get(old_code).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn csv_error(line: u64, column: &str, message: impl Into<String>) -> Error {
    Error::Import {
        line,
        column: column.to_string(),
        message: message.into(),
    }
}

/// Reads a CSV with the given header; each row's fields, with its line number.
fn read_rows(data: &[u8], columns: &[&str]) -> Result<Vec<(u64, Vec<String>)>> {
    let text = std::str::from_utf8(data).map_err(|_| csv_error(1, "file", "not UTF-8"))?;
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
        return Err(csv_error(
            1,
            "header",
            format!("expected columns {}", columns.join(",")),
        ));
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
        if fields.len() != columns.len() {
            return Err(csv_error(
                line_no,
                "row",
                format!("expected {} fields, found {}", columns.len(), fields.len()),
            ));
        }
        for (f, c) in fields.iter().zip(columns) {
            if c.ends_with("code") && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
                return Err(csv_error(
                    line_no,
                    c,
                    format!("'{f}' is not a GSO code (digits)"),
                ));
            }
        }
        out.push((line_no, fields));
    }
    Ok(out)
}

/// Parses `old_code,new_code,part` (vn-admin-units-2024-to-2025.csv).
pub fn parse_commune_mapping(data: &[u8]) -> Result<CommuneMapping> {
    let mut mapping = CommuneMapping::default();
    for (line, f) in read_rows(data, &["old_code", "new_code", "part"])? {
        let part = match f[2].as_str() {
            "whole" => Part::Whole,
            "main" => Part::Main,
            "part" => Part::Part,
            other => {
                return Err(csv_error(
                    line,
                    "part",
                    format!("'{other}' is not whole, main or part"),
                ))
            }
        };
        let targets = mapping.rows.entry(f[0].clone()).or_default();
        if targets.iter().any(|(code, _)| *code == f[1]) {
            return Err(csv_error(
                line,
                "new_code",
                format!("{} → {} repeats", f[0], f[1]),
            ));
        }
        targets.push((f[1].clone(), part));
    }
    if mapping.rows.is_empty() {
        return Err(csv_error(2, "row", "the mapping has no rows"));
    }
    Ok(mapping)
}

/// Parses `old_code,new_code` (vn-provinces-2024-to-2025.csv): old province → new province.
pub fn parse_province_mapping(data: &[u8]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for (line, f) in read_rows(data, &["old_code", "new_code"])? {
        if out.insert(f[0].clone(), f[1].clone()).is_some() {
            return Err(csv_error(line, "old_code", format!("{} repeats", f[0])));
        }
    }
    Ok(out)
}
