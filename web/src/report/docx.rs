//! A Word document (DOCX, through `docx-rs`) of headings, paragraphs and report
//! [`Table`]s: what the meeting record is written with, as `xlsx.rs` writes workbooks.
//! Times New Roman 13 pt, the font and size of Vietnamese administrative documents.

use docx_rs::{
    AlignmentType, Docx, PageOrientationType, Paragraph, Run, RunFonts, Shading,
    Table as DocxTable, TableCell, TableRow, WidthType,
};

use super::{Cell, Table};

/// Font sizes in half-points.
const BODY: usize = 26;
const TITLE: usize = 30;
const HEADING: usize = 27;
const SMALL: usize = 22;

/// Text Word can hold: control characters (which XML 1.0 cannot carry) become spaces.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A document being written, top to bottom.
pub struct Document {
    docx: Docx,
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

impl Document {
    /// An empty A4 landscape document (room for the attendance table) in Times New Roman.
    pub fn new() -> Document {
        let font = "Times New Roman";
        Document {
            docx: Docx::new()
                .page_size(16838, 11906)
                .page_orient(PageOrientationType::Landscape)
                .default_fonts(
                    RunFonts::new()
                        .ascii(font)
                        .hi_ansi(font)
                        .cs(font)
                        .east_asia(font),
                )
                .default_size(BODY),
        }
    }

    /// A centred line in capitals and bold: the document's name.
    pub fn title(mut self, text: &str) -> Document {
        self.docx = self.docx.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .add_run(Run::new().add_text(clean(text)).bold().size(TITLE)),
        );
        self
    }

    /// A centred line under the title (the meeting's name).
    pub fn subtitle(mut self, text: &str) -> Document {
        self.docx = self.docx.add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .add_run(Run::new().add_text(clean(text)).bold()),
        );
        self
    }

    /// A section heading.
    pub fn heading(mut self, text: &str) -> Document {
        self.docx = self.docx.add_paragraph(
            Paragraph::new()
                .keep_next(true)
                .add_run(Run::new().add_text(clean(text)).bold().size(HEADING)),
        );
        self
    }

    /// A paragraph of plain text.
    pub fn text(mut self, text: &str) -> Document {
        self.docx = self
            .docx
            .add_paragraph(Paragraph::new().add_run(Run::new().add_text(clean(text))));
        self
    }

    /// A paragraph starting with a bold label: `Thời gian: 08:00 …`.
    pub fn field(mut self, label: &str, value: &str) -> Document {
        self.docx = self.docx.add_paragraph(
            Paragraph::new()
                .add_run(Run::new().add_text(clean(&format!("{label}: "))).bold())
                .add_run(Run::new().add_text(clean(value))),
        );
        self
    }

    /// A table: its header row shaded and bold, then its rows; numbers aligned right.
    pub fn table(mut self, table: &Table) -> Document {
        let cell = |text: String, right: bool, bold: bool| {
            let mut run = Run::new().add_text(clean(&text)).size(SMALL);
            if bold {
                run = run.bold();
            }
            let align = if right {
                AlignmentType::Right
            } else {
                AlignmentType::Left
            };
            TableCell::new().add_paragraph(Paragraph::new().align(align).add_run(run))
        };
        let header = TableRow::new(
            table
                .header
                .iter()
                .map(|h| cell(h.to_string(), false, true).shading(Shading::new().fill("D9D9D9")))
                .collect(),
        );
        let rows = table.rows.iter().map(|row| {
            TableRow::new(
                row.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let right = table.numeric.get(i).copied().unwrap_or(false);
                        match c {
                            Cell::Number(n) => cell(n.to_string(), right, false),
                            Cell::Text(t) => cell(t.clone(), right, false),
                        }
                    })
                    .collect(),
            )
        });
        let rows = std::iter::once(header).chain(rows).collect();
        self.docx = self
            .docx
            .add_table(DocxTable::new(rows).width(5000, WidthType::Pct));
        self
    }

    /// The finished file.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        let mut out = std::io::Cursor::new(Vec::new());
        self.docx.pack(&mut out).map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }
}
