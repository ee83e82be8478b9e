//! Carrying halls across a reorganisation of the unit tree (the reform of 1 July 2025): each
//! hall of a unit that ends moves to the unit that took it over, keeping its id (and so its
//! room accounts, calendar feed, device sessions and attendance), with its unit history
//! (`hall_units`) saying which unit it belonged to when. What the mapping cannot decide
//! (split communes, districts, unmapped units) is listed for review, never guessed.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use sqlx::Row;

use crate::units::valid_on;
use crate::{Error, Result, Store};

mod check;
mod mapping;
mod plan;
mod secretariats;
pub use mapping::{
    parse_commune_mapping, parse_province_mapping, read_commune_mapping, read_province_mapping,
    CommuneMapping, MappingProblem, MappingRow, Part,
};
pub use plan::{CarryPlan, MappingSummary, MAX_PROBLEMS};
pub use secretariats::{SecretariatMove, SecretariatReview};

/// What a carry may decide beyond the mapping's plain cases.
#[derive(Debug, Clone, Copy)]
pub struct CarryOptions {
    /// The first day of the new tree (2025-07-01); the old tree is the one valid the day before.
    pub on: NaiveDate,
    /// Only report what would happen.
    pub dry_run: bool,
    /// Move halls of split communes to the `main` new commune instead of listing them.
    pub splits_to_main: bool,
    /// Move halls of old districts to the suggested commune (see [`CarryKind::District`])
    /// instead of listing them.
    pub place_districts: bool,
}

/// Why a hall moved where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CarryKind {
    /// Its commune went whole into the new one.
    Whole,
    /// Its commune maps to one `main` new commune and to nothing else.
    Main,
    /// Its commune was split; moved to the `main` new commune because the operator asked.
    SplitToMain,
    /// A district hall, moved to the new commune that took the district's seat: the new
    /// commune that received (whole or main) the district's town (thị trấn) or, for a city
    /// or town district, most of its wards; failing those most of its communes; ties go to
    /// the lowest code.
    District,
    /// A province hall, moved to the new province its province went into.
    Province,
}

/// Why a hall was left where it was for an administrator to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// Its commune was split into several new communes.
    Split,
    /// A district hall (districts are gone); `candidates` holds the suggested commune.
    District,
    /// A province hall, and no province mapping says where its province went.
    Province,
    /// The mapping has no row for its unit.
    Unmapped,
    /// The mapping names a unit that is not in the tree valid on the date.
    TargetMissing,
}

/// A unit as shown in a carry report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitRef {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// A hall that moves (or would move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HallMove {
    pub hall_id: i64,
    pub hall_name: String,
    pub from: UnitRef,
    pub to: UnitRef,
    pub kind: CarryKind,
}

/// A hall left on its old unit, with where it might go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HallReview {
    pub hall_id: i64,
    pub hall_name: String,
    pub from: UnitRef,
    pub reason: ReviewReason,
    /// New units it could go to (for a split commune: the `main` one first).
    pub candidates: Vec<UnitRef>,
}

/// What a carry did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CarryReport {
    pub on: NaiveDate,
    pub dry_run: bool,
    pub moved: Vec<HallMove>,
    pub review: Vec<HallReview>,
    /// Halls already on a unit of the new tree (carried before, or created on it).
    pub already: u64,
}

impl CarryReport {
    /// Moved halls per kind.
    pub fn moved_per_kind(&self) -> BTreeMap<CarryKind, u64> {
        let mut out = BTreeMap::new();
        for m in &self.moved {
            *out.entry(m.kind).or_default() += 1;
        }
        out
    }

    /// Listed halls per reason.
    pub fn review_per_reason(&self) -> BTreeMap<ReviewReason, u64> {
        let mut out = BTreeMap::new();
        for r in &self.review {
            *out.entry(r.reason).or_default() += 1;
        }
        out
    }
}

/// A hall with its current unit, as the carry sees it.
struct HallAt {
    id: i64,
    name: String,
    unit: UnitRef,
    level: String,
    valid_from: String,
    valid_to: Option<String>,
}

/// Where one hall goes.
enum Decision {
    Move(UnitRef, CarryKind),
    Review(ReviewReason, Vec<UnitRef>),
}

impl Store {
    /// Moves every hall of a unit that ends the day before `options.on` to its unit on the
    /// new tree, as the mappings say; see [`CarryReport`]. Running it again changes nothing.
    pub async fn carry_halls(
        &self,
        communes: &CommuneMapping,
        provinces: Option<&HashMap<String, String>>,
        options: CarryOptions,
    ) -> Result<CarryReport> {
        let on = options.on;
        let old_day = on - Duration::days(1);
        let (on_s, old_s) = (on.to_string(), old_day.to_string());
        let units_on = |day: &str| {
            let sql = format!(
                "SELECT u.id, u.code, u.name, u.level, u.parent_id, u.division_type FROM units u WHERE {}",
                valid_on(1)
            );
            let day = day.to_string();
            async move { sqlx::query(&sql).bind(day).fetch_all(&self.pool).await }
        };
        let mut new_units: HashMap<String, UnitRef> = HashMap::new();
        for r in units_on(&on_s).await? {
            let unit = UnitRef {
                id: r.try_get("id")?,
                code: r.try_get("code")?,
                name: r.try_get("name")?,
            };
            new_units.insert(unit.code.clone(), unit);
        }
        // The old tree's communes by district, for placing district halls.
        let mut communes_of: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        for r in units_on(&old_s).await? {
            let level: String = r.try_get("level")?;
            if let (true, Some(parent)) = (
                level == "commune",
                r.try_get::<Option<i64>, _>("parent_id")?,
            ) {
                communes_of
                    .entry(parent)
                    .or_default()
                    .push((r.try_get("code")?, r.try_get("division_type")?));
            }
        }
        let rows = sqlx::query(
            "SELECT h.id, h.name, u.id AS unit_id, u.code, u.name AS unit_name, u.level, u.valid_from, u.valid_to
             FROM halls h JOIN units u ON u.id = h.unit_id ORDER BY h.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut report = CarryReport {
            on,
            dry_run: options.dry_run,
            moved: Vec::new(),
            review: Vec::new(),
            already: 0,
        };
        for r in &rows {
            let hall = HallAt {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                unit: UnitRef {
                    id: r.try_get("unit_id")?,
                    code: r.try_get("code")?,
                    name: r.try_get("unit_name")?,
                },
                level: r.try_get("level")?,
                valid_from: r.try_get("valid_from")?,
                valid_to: r.try_get("valid_to")?,
            };
            let valid = |day: &str| {
                hall.valid_from.as_str() <= day
                    && hall.valid_to.as_deref().is_none_or(|to| to >= day)
            };
            if valid(&on_s) {
                report.already += 1;
                continue;
            }
            if !valid(&old_s) {
                // Its unit ended before this reorganisation: not this carry's business.
                continue;
            }
            let decision = match hall.level.as_str() {
                "commune" => {
                    commune_decision(communes.targets(&hall.unit.code), &new_units, options)
                }
                "district" => {
                    let suggested = district_seat(
                        communes_of
                            .get(&hall.unit.id)
                            .map(Vec::as_slice)
                            .unwrap_or(&[]),
                        communes,
                    )
                    .and_then(|code| new_units.get(&code).cloned());
                    match suggested {
                        Some(to) if options.place_districts => {
                            Decision::Move(to, CarryKind::District)
                        }
                        Some(to) => Decision::Review(ReviewReason::District, vec![to]),
                        None => Decision::Review(ReviewReason::District, Vec::new()),
                    }
                }
                "province" => match provinces.and_then(|p| p.get(&hall.unit.code)) {
                    Some(code) => match new_units.get(code) {
                        Some(to) => Decision::Move(to.clone(), CarryKind::Province),
                        None => Decision::Review(ReviewReason::TargetMissing, Vec::new()),
                    },
                    None => Decision::Review(ReviewReason::Province, Vec::new()),
                },
                _ => Decision::Review(ReviewReason::Unmapped, Vec::new()),
            };
            match decision {
                Decision::Move(to, kind) => report.moved.push(HallMove {
                    hall_id: hall.id,
                    hall_name: hall.name,
                    from: hall.unit,
                    to,
                    kind,
                }),
                Decision::Review(reason, candidates) => report.review.push(HallReview {
                    hall_id: hall.id,
                    hall_name: hall.name,
                    from: hall.unit,
                    reason,
                    candidates,
                }),
            }
        }
        if !options.dry_run && !report.moved.is_empty() {
            let mut tx = self.begin_write().await?;
            for m in &report.moved {
                move_hall(&mut tx, m.hall_id, m.from.id, m.to.id, on).await?;
            }
            tx.commit().await?;
            tracing::info!(moved = report.moved.len(), listed = report.review.len(), %on, "halls carried");
        }
        Ok(report)
    }

    /// Places one hall on `unit_id` from `on` (an administrator placing a listed hall):
    /// its history closes the day before.
    pub async fn move_hall(
        &self,
        hall_id: i64,
        unit_id: i64,
        on: NaiveDate,
    ) -> Result<crate::Hall> {
        let hall = self.hall(hall_id).await?;
        let unit = self.unit(unit_id).await?;
        let on_s = on.to_string();
        if unit.valid_from > on_s
            || unit
                .valid_to
                .as_deref()
                .is_some_and(|to| to < on_s.as_str())
        {
            return Err(Error::invalid(
                "unit_id",
                format!("{} is not valid on {on}", unit.name),
            ));
        }
        if hall.unit_id != unit_id {
            let mut tx = self.begin_write().await?;
            move_hall(&mut tx, hall_id, hall.unit_id, unit_id, on).await?;
            tx.commit().await?;
        }
        self.hall(hall_id).await
    }

    /// Places a hall the carry on `on` listed (its unit is valid the day before `on` and not
    /// on it) on `unit_id`, with [`Store::move_hall`]; any other hall is refused
    /// (`hall_id`), so a hall already on the new tree is never given a second history row.
    pub async fn place_listed_hall(
        &self,
        hall_id: i64,
        unit_id: i64,
        on: NaiveDate,
    ) -> Result<crate::Hall> {
        let hall = self.hall(hall_id).await?;
        let unit = self.unit(hall.unit_id).await?;
        let (on_s, old_s) = (on.to_string(), (on - Duration::days(1)).to_string());
        let valid = |day: &str| {
            unit.valid_from.as_str() <= day && unit.valid_to.as_deref().is_none_or(|to| to >= day)
        };
        if !valid(&old_s) || valid(&on_s) {
            return Err(Error::invalid(
                "hall_id",
                format!(
                    "{} ({}) is not waiting to be placed on {on}: its unit does not end the day before",
                    hall.name, unit.name
                ),
            ));
        }
        self.move_hall(hall_id, unit_id, on).await
    }
}

/// Where a commune's hall goes, from the commune's mapping rows.
fn commune_decision(
    targets: &[(String, Part)],
    new_units: &HashMap<String, UnitRef>,
    options: CarryOptions,
) -> Decision {
    if targets.is_empty() {
        return Decision::Review(ReviewReason::Unmapped, Vec::new());
    }
    // Main first, then the pieces, in file order.
    let mut ordered: Vec<&(String, Part)> = targets.iter().filter(|t| t.1 != Part::Part).collect();
    ordered.extend(targets.iter().filter(|t| t.1 == Part::Part));
    let Some(candidates) = ordered
        .iter()
        .map(|(code, _)| new_units.get(code).cloned())
        .collect::<Option<Vec<_>>>()
    else {
        return Decision::Review(ReviewReason::TargetMissing, Vec::new());
    };
    match targets {
        [(_, Part::Whole)] => Decision::Move(candidates[0].clone(), CarryKind::Whole),
        [(_, Part::Main)] => Decision::Move(candidates[0].clone(), CarryKind::Main),
        _ => {
            let mains = targets.iter().filter(|t| t.1 == Part::Main).count();
            if mains == 1 && targets.iter().all(|t| t.1 != Part::Whole) {
                if options.splits_to_main {
                    Decision::Move(candidates[0].clone(), CarryKind::SplitToMain)
                } else {
                    Decision::Review(ReviewReason::Split, candidates)
                }
            } else {
                // Not a shape the mapping file should have (two `whole` rows, pieces only).
                Decision::Review(ReviewReason::Unmapped, candidates)
            }
        }
    }
}

/// The new commune an old district's seat went into (see [`CarryKind::District`]).
fn district_seat(communes: &[(String, String)], mapping: &CommuneMapping) -> Option<String> {
    let seats: Vec<&(String, String)> = communes
        .iter()
        .filter(|(_, t)| t == "thị trấn" || t == "phường")
        .collect();
    let pool: Vec<&(String, String)> = if seats.is_empty() {
        communes.iter().collect()
    } else {
        seats
    };
    let mut votes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, _) in pool {
        if let Some((new, _)) = mapping.targets(code).iter().find(|t| t.1 != Part::Part) {
            *votes.entry(new.clone()).or_default() += 1;
        }
    }
    // Most votes; among equals the lowest code (the map iterates codes in order).
    let best = votes.values().copied().max()?;
    votes
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(code, _)| code)
}

/// Moves a hall to `to` from `on`: closes its open history the day before (writing the old
/// period first when the hall has no history yet).
async fn move_hall(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    hall_id: i64,
    from: i64,
    to: i64,
    on: NaiveDate,
) -> Result<()> {
    let last = (on - Duration::days(1)).to_string();
    let history: i64 = sqlx::query("SELECT COUNT(*) AS n FROM hall_units WHERE hall_id = $1")
        .bind(hall_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if history == 0 {
        sqlx::query(
            "INSERT INTO hall_units (hall_id, unit_id, valid_from, valid_to)
             SELECT $1, u.id, u.valid_from, $2 FROM units u WHERE u.id = $3",
        )
        .bind(hall_id)
        .bind(&last)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query("UPDATE hall_units SET valid_to = $1 WHERE hall_id = $2 AND valid_to IS NULL")
            .bind(&last)
            .bind(hall_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO hall_units (hall_id, unit_id, valid_from, valid_to) VALUES ($1, $2, $3, NULL)",
    )
    .bind(hall_id)
    .bind(to)
    .bind(on.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE halls SET unit_id = $1 WHERE id = $2")
        .bind(to)
        .bind(hall_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
