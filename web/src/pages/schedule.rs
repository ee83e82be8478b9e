//! The scheduling form (`/meetings/new`): the page is served here; `static/schedule.js`
//! previews the invite count and submits to the JSON API (`POST /api/v1/meetings`).

use axum::extract::State;
use chrono::{Duration, NaiveTime};
use minijinja::context;
use scheduler::time::{local_date, now};
use scheduler::{Level, Principal, Role, Store, Unit};
use serde_json::json;

use super::auth::Staff;
use super::i18n::{self, Lang};
use super::render::{page, script_json, PageResult};
use crate::state::AppState;

/// The unit the tier picker starts at: a secretariat's own; for the administrator the
/// top of the tree that holds the first hall (else the first root).
async fn default_root(store: &Store, who: &Principal) -> scheduler::Result<Option<Unit>> {
    if let Role::Secretariat { unit_id } = who.account.role {
        return Ok(Some(store.unit(unit_id).await?));
    }
    if let Some(hall) = store.halls_in("/").await?.into_iter().find(|h| h.active) {
        return Ok(store.unit_ancestry(hall.unit_id).await?.into_iter().next());
    }
    let roots = store.unit_children(None, local_date(now())).await?;
    Ok(roots.into_iter().next().map(|n| n.unit))
}

/// The root on the form's first date and the tier picker's rows: every level, each marked
/// offered (it has units under the root on that date) with its counts. A root that does
/// not exist on that date (a district after the 2025 reform) is kept, with nothing offered.
async fn tier_rows(
    store: &Store,
    root: Option<Unit>,
    date: chrono::NaiveDate,
) -> scheduler::Result<(Option<Unit>, bool, Vec<serde_json::Value>)> {
    let (root, tiers, exists) = match root {
        Some(unit) => match store.unit_on(unit.id, date).await {
            Ok(on_date) => {
                let tiers = store.tiers(&on_date, date).await?;
                (Some(on_date), tiers, true)
            }
            Err(scheduler::Error::Invalid { .. }) => (Some(unit), Vec::new(), false),
            Err(e) => return Err(e),
        },
        None => (None, Vec::new(), true),
    };
    let rows = Level::ALL
        .iter()
        .map(|level| {
            let tier = tiers.iter().find(|t| t.level == *level);
            json!({
                "level": level.as_str(),
                "offered": tier.is_some(),
                "units": tier.map_or(0, |t| t.units),
                "halls": tier.map_or(0, |t| t.halls),
            })
        })
        .collect();
    Ok((root, exists, rows))
}

/// Texts the script shows (messages for each field, conflicts, states).
fn script_texts(lang: Lang) -> serde_json::Value {
    let keys = [
        "js.saving",
        "js.failed",
        "js.no_levels",
        "js.reason_needed",
        "js.halls",
        "js.remove",
        "js.no_results",
        "js.session_over",
        "js.forbidden",
        "js.level_gone",
        "js.root_gone",
        "js.tiers_on",
        "sched.units",
        "sched.halls",
        "level.province",
        "level.district",
        "level.commune",
        "level.country",
        "field.title",
        "field.description",
        "field.kind",
        "field.host_hall_id",
        "field.starts_at",
        "field.ends_at",
        "field.duration_minutes",
        "field.scope.levels",
        "field.scope.root_unit_id",
        "field.scope.include_halls",
        "field.recurrence",
    ];
    let map: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.to_string(), json!(i18n::text(lang, k))))
        .collect();
    serde_json::Value::Object(map)
}

/// `GET /meetings/new`.
pub async fn form(State(state): State<AppState>, Staff { who, lang }: Staff) -> PageResult {
    let root = default_root(&state.store, &who).await?;
    let scope_path = who.scope_path.clone().unwrap_or_else(|| "/".into());
    let halls: Vec<_> = state
        .store
        .halls_in(&scope_path)
        .await?
        .into_iter()
        .filter(|h| h.active)
        .collect();
    let within = match who.account.role {
        Role::Secretariat { unit_id } => Some(unit_id),
        _ => None,
    };
    let tomorrow = local_date(now()) + Duration::days(1);
    let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default();
    let start = tomorrow
        .and_time(eight)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (root, root_exists, tiers) = tier_rows(&state.store, root, tomorrow).await?;
    page(
        lang,
        Some(&who),
        "schedule.html",
        context! {
            root => root,
            root_exists => root_exists,
            tiers => tiers,
            tiers_date => tomorrow.format("%d/%m/%Y").to_string(),
            within => within,
            halls => halls,
            start => start,
            texts => script_json(&script_texts(lang)),
        },
    )
}
