//! CSV downloads: UTF-8 with a byte-order mark (Excel then shows Vietnamese), CRLF lines.

use super::{Cell, Table};

/// The table as CSV.
pub fn to_csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(&table.header)?;
        for row in &table.rows {
            w.write_record(row.iter().map(|cell| match cell {
                Cell::Number(n) => n.to_string(),
                Cell::Text(s) => s.clone(),
            }))?;
        }
        w.flush()?;
    }
    Ok(out)
}
