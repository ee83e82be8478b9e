//! National meetings: a country unit (level `country`) put above a file's provinces when
//! the file is imported, so one scope root covers the whole country.
//!
//! The GSO files have no row for the country; the root is data the operator adds with
//! `hoinghi units import --country` (or `?country=` on the import API), never a unit the
//! code invents. Import every version of the tree with the same country code: paths then
//! start the same way in each version (`/0/25/…`), and a secretariat's unit (a path prefix)
//! covers its subtree in every version (see docs/national.md).

use crate::{Error, Result};

/// The country unit to add above a file's root rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRoot {
    /// Its code: digits, not used by any unit of the file (the GSO gives provinces two
    /// digits, so the default `0` never collides).
    pub code: String,
    /// Its name as pages show it (`Việt Nam`).
    pub name: String,
}

impl Default for CountryRoot {
    fn default() -> Self {
        CountryRoot {
            code: "0".into(),
            name: "Việt Nam".into(),
        }
    }
}

/// What the country row's `division_type` says.
pub const COUNTRY_DIVISION_TYPE: &str = "quốc gia";

fn invalid(message: impl Into<String>) -> Error {
    Error::Import {
        line: 1,
        column: "country".into(),
        message: message.into(),
    }
}

/// The unit file `csv` (GSO columns `code,parent_code,level,division_type,name`) with a
/// `country` row first and every root row (empty `parent_code`) placed under it. Refuses a
/// file that already has a country row or uses the country's code. Rows are otherwise
/// passed through untouched; the import validates them as usual.
pub fn with_country_root(csv: &[u8], country: &CountryRoot) -> Result<Vec<u8>> {
    let code = country.code.trim();
    if code.is_empty() || code.len() > 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("country code '{code}' is not digits")));
    }
    let name = country.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid("country name must be 1 to 200 characters"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(csv);
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(csv.len() + 128));
    let write_err = |e: csv::Error| Error::Internal(format!("writing the unit file: {e}"));
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::Import {
            line: e.position().map(|p| p.line()).unwrap_or(0),
            column: "row".into(),
            message: e.to_string(),
        })?;
        if i == 0 {
            // The header; the import checks it.
            writer.write_record(&record).map_err(write_err)?;
            writer
                .write_record([code, "", "country", COUNTRY_DIVISION_TYPE, name])
                .map_err(write_err)?;
            continue;
        }
        let field = |k: usize| record.get(k).unwrap_or("").trim();
        if field(0) == code {
            return Err(invalid(format!(
                "code {code} is already a unit of the file (line {}); choose another --country-code",
                i + 1
            )));
        }
        if field(2) == "country" {
            return Err(invalid(format!(
                "the file already has a country row (line {})",
                i + 1
            )));
        }
        if field(1).is_empty() && record.len() >= 2 {
            let mut row: Vec<&str> = record.iter().collect();
            row[1] = code;
            writer.write_record(&row).map_err(write_err)?;
        } else {
            writer.write_record(&record).map_err(write_err)?;
        }
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing the unit file: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_go_under_the_country() {
        let csv = "code,parent_code,level,division_type,name\n25,,province,tỉnh,Tỉnh Phú Thọ\n08578,25,commune,xã,\"Xã A, B\"\n";
        let out = with_country_root(csv.as_bytes(), &CountryRoot::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "0,,country,quốc gia,Việt Nam");
        assert_eq!(lines[2], "25,0,province,tỉnh,Tỉnh Phú Thọ");
        assert_eq!(lines[3], "08578,25,commune,xã,\"Xã A, B\"");
    }

    #[test]
    fn a_taken_code_or_a_second_country_is_refused() {
        let taken = "code,parent_code,level,division_type,name\n0,,province,tỉnh,X\n";
        assert!(matches!(
            with_country_root(taken.as_bytes(), &CountryRoot::default()),
            Err(Error::Import { .. })
        ));
        let twice = "code,parent_code,level,division_type,name\n9,,country,quốc gia,VN\n";
        assert!(with_country_root(twice.as_bytes(), &CountryRoot::default()).is_err());
        let bad = CountryRoot {
            code: "VN".into(),
            name: "Việt Nam".into(),
        };
        assert!(with_country_root(b"code\n", &bad).is_err());
    }
}
