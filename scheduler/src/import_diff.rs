//! How a unit file compares with what the store holds: which stored unit each row is (also
//! when the statistics office gave a commune a new code), and which codes would be valid
//! twice on one day in two versions of the tree.

use std::collections::HashMap;

use serde::Serialize;

use crate::units::search_key;

/// A unit of this version of the tree already in the store.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub id: i64,
    pub code: String,
    pub parent_id: Option<i64>,
    pub level: String,
    pub depth: i64,
    pub division_type: String,
    pub name: String,
    pub path: String,
    pub valid_to: Option<String>,
}

/// A unit whose code changed on re-import (same parent and name, new code): it keeps its id,
/// so its halls, accounts and meetings stay with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeChange {
    pub old_code: String,
    pub new_code: String,
    pub name: String,
}

/// A unit of this version that the file no longer has (removed from the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedUnit {
    pub code: String,
    pub name: String,
}

/// A file row as the matcher needs it: code, parent code, name.
pub(crate) struct FileRow<'a> {
    pub code: &'a str,
    pub parent_code: Option<&'a str>,
    pub name: &'a str,
}

/// For each file row the index of the stored unit it is (into `stored`), or none (new).
/// In order: same code, parent and name (without diacritics); then same parent and name
/// (a new code); then same code (a renamed or moved unit). Codes swapped between two
/// communes therefore follow the names, not the numbers.
pub(crate) fn match_rows(rows: &[FileRow<'_>], stored: &[Stored]) -> Vec<Option<usize>> {
    let code_of_id: HashMap<i64, &str> = stored.iter().map(|s| (s.id, s.code.as_str())).collect();
    let parent_code = |s: &Stored| s.parent_id.and_then(|p| code_of_id.get(&p).copied());
    let by_code: HashMap<&str, usize> = stored
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code.as_str(), i))
        .collect();
    let mut taken = vec![false; stored.len()];
    let mut out: Vec<Option<usize>> = vec![None; rows.len()];
    for (r, row) in rows.iter().enumerate() {
        if let Some(&i) = by_code.get(row.code) {
            let s = &stored[i];
            if search_key(&s.name) == search_key(row.name) && parent_code(s) == row.parent_code {
                out[r] = Some(i);
                taken[i] = true;
            }
        }
    }
    // Names are unique among a parent's children in real trees; a name that is not is
    // left to the code match.
    let mut by_name: HashMap<(Option<&str>, String), Vec<usize>> = HashMap::new();
    for (i, s) in stored.iter().enumerate() {
        if !taken[i] {
            by_name
                .entry((parent_code(s), search_key(&s.name)))
                .or_default()
                .push(i);
        }
    }
    for (r, row) in rows.iter().enumerate() {
        if out[r].is_some() {
            continue;
        }
        if let Some([i]) = by_name
            .get(&(row.parent_code, search_key(row.name)))
            .map(Vec::as_slice)
        {
            if !taken[*i] {
                out[r] = Some(*i);
                taken[*i] = true;
            }
        }
    }
    for (r, row) in rows.iter().enumerate() {
        if out[r].is_some() {
            continue;
        }
        if let Some(&i) = by_code.get(row.code) {
            if !taken[i] {
                out[r] = Some(i);
                taken[i] = true;
            }
        }
    }
    out
}

/// Whether `[a_from, a_to]` and `[b_from, b_to]` (ISO dates, none: no end) share a day.
pub(crate) fn overlaps(a_from: &str, a_to: Option<&str>, b_from: &str, b_to: Option<&str>) -> bool {
    a_to.is_none_or(|a_to| b_from <= a_to) && b_to.is_none_or(|b_to| a_from <= b_to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, code: &str, parent: Option<i64>, name: &str) -> Stored {
        Stored {
            id,
            code: code.into(),
            parent_id: parent,
            level: "commune".into(),
            depth: 1,
            division_type: "phường".into(),
            name: name.into(),
            path: String::new(),
            valid_to: None,
        }
    }

    #[test]
    fn swapped_codes_follow_the_names() {
        let s = vec![
            stored(1, "01", None, "Thành phố Hà Nội"),
            stored(2, "00226", Some(1), "Phường Kim Liên"),
            stored(3, "00196", Some(1), "Phường Văn Miếu - Quốc Tử Giám"),
            stored(4, "00187", Some(1), "Phường Láng"),
        ];
        let rows = [
            FileRow {
                code: "01",
                parent_code: None,
                name: "Thành phố Hà Nội",
            },
            FileRow {
                code: "00229",
                parent_code: Some("01"),
                name: "Phường Kim Liên",
            },
            FileRow {
                code: "00226",
                parent_code: Some("01"),
                name: "Phường Văn Miếu - Quốc Tử Giám",
            },
            FileRow {
                code: "00187",
                parent_code: Some("01"),
                name: "Phường Láng Mới",
            },
            FileRow {
                code: "00999",
                parent_code: Some("01"),
                name: "Phường Mới",
            },
        ];
        assert_eq!(
            match_rows(&rows, &s),
            vec![Some(0), Some(1), Some(2), Some(3), None]
        );
    }

    #[test]
    fn overlap_counts_shared_days_only() {
        assert!(!overlaps(
            "1976-07-02",
            Some("2025-06-30"),
            "2025-07-01",
            None
        ));
        assert!(overlaps("1976-07-02", None, "2025-07-01", None));
        assert!(overlaps(
            "2025-07-01",
            None,
            "1976-07-02",
            Some("2025-07-01")
        ));
    }
}
