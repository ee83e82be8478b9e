//! Units: browse the tree, search by name without diacritics, import a GSO file.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;

fn date_or_today(date: Option<&str>) -> ApiResult<NaiveDate> {
    match date {
        None => Ok(scheduler::time::local_date(scheduler::time::now())),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::field("date", "must be YYYY-MM-DD")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    parent: Option<i64>,
    date: Option<String>,
}

/// `GET /units?parent=ID&date=YYYY-MM-DD`: the children of a unit (the roots without `parent`).
pub async fn list(
    State(state): State<AppState>,
    Auth(_): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let date = date_or_today(q.date.as_deref())?;
    let nodes = state.store.unit_children(q.parent, date).await?;
    Ok(Json(json!({ "date": date, "units": nodes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: String,
    within: Option<i64>,
    date: Option<String>,
    limit: Option<i64>,
}

/// `GET /units/search?q=tan son`: names containing the words, diacritics and case ignored.
pub async fn search(
    State(state): State<AppState>,
    Auth(_): Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let date = date_or_today(q.date.as_deref())?;
    let within = match q.within {
        Some(id) => Some(state.store.unit(id).await?.path),
        None => None,
    };
    let limit = q.limit.unwrap_or(20).clamp(1, 200);
    let units = state
        .store
        .search_units(&q.q, date, within.as_deref(), limit)
        .await?;
    Ok(Json(json!({ "units": units })))
}

/// `GET /units/{id}`: a unit, the chain above it and its children; its halls only for
/// staff whose unit holds it (as `GET /halls?unit=`).
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let unit = state.store.unit(id).await?;
    let ancestry = state.store.unit_ancestry(id).await?;
    let date = NaiveDate::parse_from_str(&unit.valid_from, "%Y-%m-%d")
        .ok()
        .max(Some(date_or_today(None)?));
    let children = state
        .store
        .unit_children(Some(id), date.unwrap_or_default())
        .await?;
    let halls = if who.require_staff().is_ok() && who.covers(&unit.path) {
        state
            .store
            .halls_in(&unit.path)
            .await?
            .into_iter()
            .filter(|h| h.unit_id == id)
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    Ok(Json(
        json!({ "unit": unit, "ancestry": ancestry, "children": children, "halls": halls }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelsQuery {
    date: Option<String>,
}

/// `GET /units/{id}/levels?date=YYYY-MM-DD`: the levels a scope rooted at this unit can
/// invite on that date (today without one), with units and active halls per level. The
/// root answered is the unit standing for `id` on the date: itself, or the unit with its
/// code in the tree valid then (422 on `date` when there is none).
pub async fn levels(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<LevelsQuery>,
) -> ApiResult<Json<Value>> {
    let date = date_or_today(q.date.as_deref())?;
    let unit = state.store.unit_on(id, date).await?;
    let tiers = state.store.tiers(&unit, date).await?;
    Ok(Json(json!({ "date": date, "unit": unit, "levels": tiers })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    valid_from: Option<String>,
    valid_to: Option<String>,
    /// Puts a country unit of this name above the file's provinces (see `--country`).
    country: Option<String>,
    /// The country unit's code (default `0`).
    country_code: Option<String>,
}

/// `POST /units/import` (administrators, `text/csv` body): the GSO format, all or nothing.
pub async fn import(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let mut options = scheduler::ImportOptions::default();
    if let Some(d) = q.valid_from.as_deref() {
        options.valid_from = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::field("valid_from", "must be YYYY-MM-DD"))?;
    }
    if let Some(d) = q.valid_to.as_deref() {
        options.valid_to = Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| ApiError::field("valid_to", "must be YYYY-MM-DD"))?,
        );
    }
    let rooted;
    let data = match (q.country, q.country_code) {
        (None, None) => &body[..],
        (name, code) => {
            let mut country = scheduler::national::CountryRoot::default();
            if let Some(name) = name {
                country.name = name;
            }
            if let Some(code) = code {
                country.code = code;
            }
            rooted = scheduler::national::with_country_root(&body, &country)?;
            &rooted[..]
        }
    };
    let report = state.store.import_units(data, options, |_, _| {}).await?;
    Ok(Json(json!({ "report": report })))
}
