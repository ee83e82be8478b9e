//! Which mapping a carry of the administrator's page or API reads: the 2024→2025 mapping
//! built into the server (`shipped`: data/vn-admin-units-2024-to-2025.csv with
//! data/vn-provinces-2024-to-2025.csv) or a commune mapping sent as the request body
//! (`upload`; its province mapping is worked out from it).

use chrono::NaiveDate;
use scheduler::carry::CarryPlan;
use scheduler::demo::{reform_day, COMMUNES_2024_TO_2025_CSV, PROVINCES_2024_TO_2025_CSV};
use scheduler::{Error, Result, Store};

/// The mapping named by `mapping=` (`shipped` or `upload`; `upload` when absent and a body
/// came, `shipped` when neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingChoice {
    Shipped,
    Upload,
}

impl MappingChoice {
    /// Reads `mapping=`.
    pub fn parse(value: Option<&str>, has_body: bool) -> Result<MappingChoice> {
        match value.map(str::trim) {
            Some("shipped") => Ok(MappingChoice::Shipped),
            Some("upload") => Ok(MappingChoice::Upload),
            None | Some("") if has_body => Ok(MappingChoice::Upload),
            None | Some("") => Ok(MappingChoice::Shipped),
            Some(_) => Err(Error::invalid("mapping", "must be shipped or upload")),
        }
    }

    /// As written in query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            MappingChoice::Shipped => "shipped",
            MappingChoice::Upload => "upload",
        }
    }
}

/// Reads `on=` (the first day of the new tree; 2025-07-01 when absent).
pub fn parse_on(value: Option<&str>) -> Result<NaiveDate> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(reform_day()),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| Error::invalid("on", "must be YYYY-MM-DD")),
    }
}

/// Previews (or applies) a carry with the chosen mapping; `body` is the uploaded file.
pub async fn plan(
    store: &Store,
    choice: MappingChoice,
    body: &[u8],
    on: NaiveDate,
    apply: bool,
) -> Result<CarryPlan> {
    match choice {
        MappingChoice::Shipped => {
            store
                .plan_carry(
                    "shipped",
                    COMMUNES_2024_TO_2025_CSV,
                    Some(PROVINCES_2024_TO_2025_CSV),
                    on,
                    apply,
                )
                .await
        }
        MappingChoice::Upload if body.iter().all(u8::is_ascii_whitespace) => Err(Error::invalid(
            "mapping",
            "no file was sent: send the commune mapping (old_code,new_code,part) as the body",
        )),
        MappingChoice::Upload => store.plan_carry("uploaded", body, None, on, apply).await,
    }
}
