//! Carrying halls across a reorganisation (`/admin/carry`): choose the mapping (the shipped
//! 2024→2025 one, or a file the page's script sends as the body) and the first day of the
//! new tree, see the preview (the dry run), apply it, then place each listed hall and
//! re-point or disable each secretariat whose unit ended. Same store operations as
//! `hoinghi units carry-halls` and `/api/v1/admin/carry/…`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Form;
use chrono::NaiveDate;
use minijinja::{context, Value};
use scheduler::carry::CarryPlan;
use scheduler::{Error, Principal, Role};
use serde::Deserialize;

use super::auth::Admin;
use super::i18n::{self, Lang};
use super::render::{page_with, script_json, see_other, PageError, PageResult};
use crate::carry_input::{parse_on, plan, MappingChoice};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CarryQuery {
    on: Option<String>,
    mapping: Option<String>,
    /// What was just done (`placed`, `repointed`, `disabled`), to confirm it.
    done: Option<String>,
}

/// What the page shows besides the form.
struct Shown {
    on: NaiveDate,
    choice: MappingChoice,
    plan: Option<CarryPlan>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn render(who: &Principal, lang: Lang, status: StatusCode, shown: Shown) -> PageResult {
    let texts = i18n::texts_with(lang, &["carry.js.", "js.no_results", "level."]);
    let ctx = context! {
        on => shown.on.to_string(),
        mapping => shown.choice.as_str(),
        plan => shown.plan.as_ref().map(Value::from_serialize),
        notice => shown.notice,
        error => shown.error,
        texts => script_json(&texts),
    };
    page_with(status, lang, Some(who), "admin_carry.html", ctx)
}

/// A refusal the administrator can fix, shown on the page; anything else is a fault.
fn refused(
    who: &Principal,
    lang: Lang,
    on: NaiveDate,
    choice: MappingChoice,
    e: Error,
) -> PageResult {
    match e {
        Error::Invalid { .. } | Error::NotFound(_) | Error::Import { .. } => {
            let shown = Shown {
                on,
                choice,
                plan: None,
                notice: None,
                error: Some(e.to_string()),
            };
            render(who, lang, StatusCode::UNPROCESSABLE_ENTITY, shown)
        }
        e => Err(PageError::Store(e)),
    }
}

fn notice_of(done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("placed") => Some("placed"),
        Some("repointed") => Some("repointed"),
        Some("disabled") => Some("disabled"),
        _ => None,
    }
}

/// `GET /admin/carry?on=&mapping=shipped`: the form; with `mapping=shipped` the preview too.
pub async fn show(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<CarryQuery>,
) -> PageResult {
    let choice =
        MappingChoice::parse(q.mapping.as_deref(), false).unwrap_or(MappingChoice::Shipped);
    let on = match parse_on(q.on.as_deref()) {
        Ok(on) => on,
        Err(e) => return refused(&who, lang, scheduler::demo::reform_day(), choice, e),
    };
    let preview = q.mapping.as_deref() == Some("shipped");
    let plan = if preview {
        match plan(&state.store, choice, &[], on, false).await {
            Ok(p) => Some(p),
            Err(e) => return refused(&who, lang, on, choice, e),
        }
    } else {
        None
    };
    let shown = Shown {
        on,
        choice,
        plan,
        notice: notice_of(q.done.as_deref()),
        error: None,
    };
    render(&who, lang, StatusCode::OK, shown)
}

async fn run(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    q: CarryQuery,
    headers: &HeaderMap,
    body: Body,
    apply: bool,
) -> PageResult {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let choice =
        MappingChoice::parse(q.mapping.as_deref(), false).unwrap_or(MappingChoice::Shipped);
    let on = match parse_on(q.on.as_deref()) {
        Ok(on) => on,
        Err(e) => return refused(who, lang, scheduler::demo::reform_day(), choice, e),
    };
    if multipart && choice == MappingChoice::Upload {
        let e = Error::invalid("mapping", i18n::text(lang, "carry.need_js"));
        return refused(who, lang, on, choice, e);
    }
    let Ok(data) = axum::body::to_bytes(body, state.settings.max_import_bytes).await else {
        let e = Error::invalid("mapping", i18n::text(lang, "admin.units.too_large"));
        return refused(who, lang, on, choice, e);
    };
    match plan(&state.store, choice, &data, on, apply).await {
        Ok(plan) => {
            let status = if plan.problems_total > 0 {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            let shown = Shown {
                on,
                choice,
                plan: Some(plan),
                notice: None,
                error: None,
            };
            render(who, lang, status, shown)
        }
        Err(e) => refused(who, lang, on, choice, e),
    }
}

/// `POST /admin/carry/preview?on=&mapping=` with the uploaded mapping as the body.
pub async fn preview(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<CarryQuery>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    run(&state, &who, lang, q, &headers, body, false).await
}

/// `POST /admin/carry/apply?on=&mapping=` (the uploaded mapping as the body).
pub async fn apply(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<CarryQuery>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    run(&state, &who, lang, q, &headers, body, true).await
}

/// Where a form goes back to: the preview again for the shipped mapping.
fn back(on: NaiveDate, mapping: &str, done: &str) -> String {
    let mapping = if mapping == "upload" {
        "upload"
    } else {
        "shipped"
    };
    format!("/admin/carry?on={on}&mapping={mapping}&done={done}")
}

#[derive(Deserialize)]
pub struct PlaceForm {
    hall_id: i64,
    unit_id: i64,
    on: String,
    mapping: String,
}

/// `POST /admin/carry/place`: places a listed hall (as `Store::move_hall`, history kept).
pub async fn place(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Form(f): Form<PlaceForm>,
) -> PageResult {
    let choice = MappingChoice::parse(Some(&f.mapping), false).unwrap_or(MappingChoice::Shipped);
    let on = match parse_on(Some(&f.on)) {
        Ok(on) => on,
        Err(e) => return refused(&who, lang, scheduler::demo::reform_day(), choice, e),
    };
    match state
        .store
        .place_listed_hall(f.hall_id, f.unit_id, on)
        .await
    {
        Ok(_) => Ok(see_other(&back(on, &f.mapping, "placed"))),
        Err(e) => refused(&who, lang, on, choice, e),
    }
}

#[derive(Deserialize)]
pub struct SecretariatForm {
    /// The unit to re-point to (the "re-point" button).
    unit_id: Option<i64>,
    /// `1`: disable the account instead (the "disable" button).
    disable: Option<u8>,
    on: String,
    mapping: String,
}

/// `POST /admin/carry/secretariats/{id}`: re-points or disables a secretariat whose unit ended.
pub async fn secretariat(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Path(id): Path<i64>,
    Form(f): Form<SecretariatForm>,
) -> PageResult {
    let choice = MappingChoice::parse(Some(&f.mapping), false).unwrap_or(MappingChoice::Shipped);
    let on = match parse_on(Some(&f.on)) {
        Ok(on) => on,
        Err(e) => return refused(&who, lang, scheduler::demo::reform_day(), choice, e),
    };
    let done = if f.disable == Some(1) {
        "disabled"
    } else {
        "repointed"
    };
    let result = match (f.disable, f.unit_id) {
        (Some(1), _) => match state.store.account(id).await {
            Ok(a) if matches!(a.role, Role::Secretariat { .. }) => {
                state.store.update_account(id, None, Some(false)).await
            }
            Ok(_) => Err(Error::invalid("account_id", "not a secretariat account")),
            Err(e) => Err(e),
        },
        (_, Some(unit_id)) => state.store.repoint_secretariat(id, unit_id, on).await,
        _ => Err(Error::invalid(
            "unit_id",
            i18n::text(lang, "carry.pick_unit"),
        )),
    };
    match result {
        Ok(_) => Ok(see_other(&back(on, &f.mapping, done))),
        Err(e) => refused(&who, lang, on, choice, e),
    }
}
