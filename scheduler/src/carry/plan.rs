//! A carry as the administrator's page and API run it: read and check the mapping (every
//! problem with its line; nothing applied while there is one), then preview (a dry run) or
//! apply, with the secretariats whose unit ended listed beside the halls.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::mapping::{read_commune_mapping, read_province_mapping, MappingProblem, Part};
use super::secretariats::{SecretariatMove, SecretariatReview};
use super::{CarryKind, CarryOptions, CarryReport, ReviewReason};
use crate::{Result, Store};

/// How many problems a plan lists (`problems_total` counts them all).
pub const MAX_PROBLEMS: usize = 200;

/// The mapping a plan read.
#[derive(Debug, Clone, Serialize)]
pub struct MappingSummary {
    /// `shipped` (the 2024→2025 mapping built into the server) or `uploaded`.
    pub source: String,
    /// Rows read (good ones).
    pub rows: usize,
    /// Rows per `part` kind (`whole`, `main`, `part`).
    pub rows_per_part: BTreeMap<Part, u64>,
    /// Old provinces the province mapping places.
    pub provinces: usize,
    /// The province mapping was worked out from the commune mapping (no province file).
    pub provinces_derived: bool,
}

/// What a carry would do (a preview) or did (applied).
#[derive(Debug, Clone, Serialize)]
pub struct CarryPlan {
    /// The first day of the new tree.
    pub on: NaiveDate,
    /// Written (true) or only a dry run.
    pub applied: bool,
    pub mapping: MappingSummary,
    /// What is wrong with the mapping (the first [`MAX_PROBLEMS`]); with any, nothing else
    /// is worked out and nothing is written.
    pub problems: Vec<MappingProblem>,
    pub problems_total: usize,
    /// The halls' carry (none when there are problems).
    pub halls: Option<CarryReport>,
    /// Moved (or would move) per kind; listed per reason.
    pub moved_per_kind: BTreeMap<CarryKind, u64>,
    pub review_per_reason: BTreeMap<ReviewReason, u64>,
    /// Province secretariats that follow their province.
    pub secretariats_carried: Vec<SecretariatMove>,
    /// Secretariats whose unit ended, for the administrator to re-point or disable.
    pub secretariats_to_review: Vec<SecretariatReview>,
    /// Applied and something was written (false on a second apply).
    pub changed: bool,
}

impl Store {
    /// Reads, checks and previews (or, with `apply`, carries out) a carry on `on` with the
    /// commune mapping `communes_csv` and the province mapping `provinces_csv` — worked out
    /// from the communes when there is none ([`Store::provinces_from_communes`]). Split
    /// communes and district halls are always listed, never moved by a plan.
    pub async fn plan_carry(
        &self,
        source: &str,
        communes_csv: &[u8],
        provinces_csv: Option<&[u8]>,
        on: NaiveDate,
        apply: bool,
    ) -> Result<CarryPlan> {
        let (communes, mut problems) = read_commune_mapping(communes_csv);
        let given = provinces_csv.map(read_province_mapping);
        if let Some((_, province_problems)) = &given {
            problems.extend(province_problems.iter().cloned().map(|mut p| {
                p.column = format!("provinces.{}", p.column);
                p
            }));
        }
        if problems.is_empty() {
            problems = self.check_commune_mapping(&communes, on).await?;
        }
        let provinces_derived = given.is_none();
        let provinces: HashMap<String, String> = match given {
            Some((p, _)) => p,
            None if problems.is_empty() => self.provinces_from_communes(&communes, on).await?,
            None => HashMap::new(),
        };
        let mut plan = CarryPlan {
            on,
            applied: false,
            mapping: MappingSummary {
                source: source.to_string(),
                rows: communes.rows().len(),
                rows_per_part: communes.rows_per_part(),
                provinces: provinces.len(),
                provinces_derived,
            },
            problems_total: problems.len(),
            problems: problems.into_iter().take(MAX_PROBLEMS).collect(),
            halls: None,
            moved_per_kind: BTreeMap::new(),
            review_per_reason: BTreeMap::new(),
            secretariats_carried: Vec::new(),
            secretariats_to_review: Vec::new(),
            changed: false,
        };
        if plan.problems_total > 0 {
            return Ok(plan);
        }
        let options = CarryOptions {
            on,
            dry_run: !apply,
            splits_to_main: false,
            place_districts: false,
        };
        let halls = self
            .carry_halls(&communes, Some(&provinces), options)
            .await?;
        plan.secretariats_carried = self
            .carry_province_secretariats(&provinces, on, !apply)
            .await?;
        plan.secretariats_to_review = self.ended_secretariats(&provinces, on).await?;
        plan.applied = apply;
        plan.changed = apply && (!halls.moved.is_empty() || !plan.secretariats_carried.is_empty());
        plan.moved_per_kind = halls.moved_per_kind();
        plan.review_per_reason = halls.review_per_reason();
        plan.halls = Some(halls);
        Ok(plan)
    }
}
