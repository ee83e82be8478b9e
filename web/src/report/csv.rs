//! CSV downloads: UTF-8 with a byte-order mark (Excel then shows Vietnamese), CRLF lines,
//! and no cell a spreadsheet would run as a formula.

use super::{Cell, Table};

/// The characters a spreadsheet reads as the start of a formula (or that hide one: a tab
/// or a carriage return before it), per OWASP's "CSV Injection".
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell as written: one that starts like a formula gets a leading `'`, so a hall
/// named `=HYPERLINK(…)` or a roll-call reason `@SUM(…)` stays text when the file is opened.
fn neutralised(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_START) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The table as CSV.
pub fn to_csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(table.header.iter().map(|h| neutralised(h).into_owned()))?;
        for row in &table.rows {
            w.write_record(row.iter().map(|cell| match cell {
                Cell::Number(n) => n.to_string(),
                Cell::Text(s) => neutralised(s).into_owned(),
            }))?;
        }
        w.flush()?;
    }
    Ok(out)
}
