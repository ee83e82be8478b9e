//! XLSX downloads: one sheet per table, a bold title and header, text written as text
//! (codes keep their leading zeros, a hall named `1e5` stays `1e5`) and counts as numbers.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{Cell, Table};

/// One sheet of a workbook.
pub struct Sheet<'a> {
    /// The tab's name (at most 31 characters, none of `[]:*?/\`).
    pub name: &'a str,
    /// The first line: what the sheet is about.
    pub title: &'a str,
    /// The header and rows.
    pub table: &'a Table,
}

/// A workbook with `sheets`, in order.
pub fn to_xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    for sheet in sheets {
        let ws = book.add_worksheet();
        ws.set_name(sheet.name)?;
        ws.write_string_with_format(0, 0, sheet.title, &bold)?;
        for (c, h) in sheet.table.header.iter().enumerate() {
            let col = c as u16;
            ws.write_string_with_format(2, col, *h, &bold)?;
            let width = if sheet.table.numeric.get(c) == Some(&true) {
                12
            } else {
                24
            };
            ws.set_column_width(col, width)?;
        }
        for (r, row) in sheet.table.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (row_i, col) = (r as u32 + 3, c as u16);
                match cell {
                    Cell::Number(n) => {
                        ws.write_number(row_i, col, *n as f64)?;
                    }
                    Cell::Text(s) if s.is_empty() => {}
                    Cell::Text(s) => {
                        ws.write_string(row_i, col, s)?;
                    }
                }
            }
        }
    }
    book.save_to_buffer()
}
