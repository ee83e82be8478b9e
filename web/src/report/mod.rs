//! Report tables: each report's columns are defined once ([`columns`]), their headers keyed
//! by the words in `pages/words.tsv`, and the same [`Table`] feeds the HTML page, the CSV
//! download ([`csv`]) and the XLSX download ([`xlsx`]).
//!
//! The store ([`scheduler::reports`]) returns data; the words people read — headers,
//! levels, leave reasons, roll-call answers, presence — come from the dictionary here, so
//! a page and a spreadsheet can no longer disagree on a label.

pub mod columns;
pub mod csv;
pub mod docx;
pub mod minutes;
pub mod xlsx;

use scheduler::time::{display_local, display_local_secs, Timestamp};
use serde::Serialize;

use crate::pages::i18n::{lookup, Lang};

/// What a column reads from a report row, before it is put into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text from the records (a name, a code, a reason typed by someone): shown as is.
    Text(String),
    /// A dictionary key (`presence.late`), shown in the reader's language.
    Word(String),
    /// A count or a number of minutes: a number in a spreadsheet.
    Number(i64),
    /// An instant, shown in Việt Nam time.
    Time(Timestamp),
    /// An instant to the second, in Việt Nam time (the floor timeline).
    Clock(Timestamp),
    /// A length of time in seconds, in words (`3 phút 20 giây`).
    Duration(i64),
    /// Nothing to show.
    Empty,
}

impl Value {
    /// `Time` if there is an instant, else `Empty`.
    pub fn time(ts: Option<Timestamp>) -> Value {
        ts.map_or(Value::Empty, Value::Time)
    }

    /// `Number` if there is a number, else `Empty`.
    pub fn number(n: Option<i64>) -> Value {
        n.map_or(Value::Empty, Value::Number)
    }

    /// The dictionary word `{prefix}.{code}`.
    pub fn word(prefix: &str, code: &str) -> Value {
        Value::Word(format!("{prefix}.{code}"))
    }
}

/// One column of a report over rows of type `R`.
pub struct Column<R> {
    /// The header's key in `words.tsv`.
    pub key: &'static str,
    /// The cell of a row.
    pub value: fn(&R) -> Value,
    /// Only in the downloads (codes and levels a spreadsheet sorts by; the page has the
    /// names, or groups by the column).
    pub export_only: bool,
}

impl<R> Column<R> {
    /// A column shown everywhere.
    pub fn new(key: &'static str, value: fn(&R) -> Value) -> Column<R> {
        Column {
            key,
            value,
            export_only: false,
        }
    }

    /// The same column, in the downloads only.
    pub fn export_only(self) -> Column<R> {
        Column {
            export_only: true,
            ..self
        }
    }
}

/// A finished cell: text, or a number a spreadsheet can add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Number(i64),
    Text(String),
}

impl Cell {
    fn of(lang: Lang, value: Value) -> Cell {
        match value {
            Value::Text(s) => Cell::Text(s),
            // A code the dictionary does not know yet shows as the code, never as an error.
            Value::Word(key) => Cell::Text(match lookup(lang, &key) {
                Some(text) => text.to_string(),
                None => key.rsplit('.').next().unwrap_or_default().to_string(),
            }),
            Value::Number(n) => Cell::Number(n),
            Value::Time(ts) => Cell::Text(display_local(ts)),
            Value::Clock(ts) => Cell::Text(display_local_secs(ts)),
            Value::Duration(secs) => Cell::Text(duration(lang, secs)),
            Value::Empty => Cell::Text(String::new()),
        }
    }
}

/// `secs` in words: `1 giờ 2 phút 5 giây`, `40 giây` (parts that are zero left out, but
/// never all of them).
pub fn duration(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    let parts = [
        (secs / 3600, "dur.hours"),
        (secs / 60 % 60, "dur.minutes"),
        (secs % 60, "dur.seconds"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, key)| format!("{n} {}", lookup(lang, key).unwrap_or(key)))
        .collect();
    if words.is_empty() {
        format!("0 {}", lookup(lang, "dur.seconds").unwrap_or("s"))
    } else {
        words.join(" ")
    }
}

/// A size for people: `850 KB`, `12,4 MB`, `1,25 GB` (Vietnamese decimal comma).
pub fn size(lang: Lang, bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    let (n, unit, places) = if b >= 1e9 {
        (b / 1e9, "GB", 2)
    } else if b >= 1e6 {
        (b / 1e6, "MB", 1)
    } else {
        ((b / 1e3).ceil(), "KB", 0)
    };
    let n = format!("{n:.places$}");
    let n = match lang {
        Lang::Vi => n.replace('.', ","),
        _ => n,
    };
    format!("{n} {unit}")
}

/// Which columns a table is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The HTML page: columns marked `export_only` are left out.
    Page,
    /// CSV and XLSX: every column.
    Download,
}

/// A report in one language: headers and rows of cells.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// The column headers.
    pub header: Vec<&'static str>,
    /// Per column, whether it holds numbers (aligned right on the page).
    pub numeric: Vec<bool>,
    /// One row of cells per report row.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// `rows` through `columns` in `lang`, for `audience`.
    pub fn build<R>(lang: Lang, columns: &[Column<R>], rows: &[R], audience: Audience) -> Table {
        let columns: Vec<&Column<R>> = columns
            .iter()
            .filter(|c| audience == Audience::Download || !c.export_only)
            .collect();
        let header = columns
            .iter()
            .map(|c| lookup(lang, c.key).unwrap_or(c.key))
            .collect();
        let rows: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| Cell::of(lang, (c.value)(r)))
                    .collect()
            })
            .collect();
        let numeric = (0..columns.len())
            .map(|i| {
                rows.iter()
                    .any(|r| matches!(r.get(i), Some(Cell::Number(_))))
            })
            .collect();
        Table {
            header,
            numeric,
            rows,
        }
    }
}

#[cfg(test)]
mod tests;
