//! Administration of halls (`/admin/halls`): the halls of a unit's subtree; add, rename,
//! deactivate or reactivate.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Form;
use minijinja::context;
use scheduler::time::{local_date, now};
use scheduler::{Error, Principal};
use serde::Deserialize;

use super::auth::Admin;
use super::i18n::Lang;
use super::render::{page_with, see_other, PageError, PageResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    /// The unit whose subtree is listed; the tree holding the first hall by default.
    unit: Option<i64>,
    /// What was just done (a dictionary key suffix), to confirm it.
    done: Option<String>,
}

async fn render(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    unit: Option<i64>,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let unit_id = match unit {
        Some(id) => Some(id),
        None => match state.store.halls_in("/").await?.first() {
            Some(h) => state
                .store
                .unit_ancestry(h.unit_id)
                .await?
                .first()
                .map(|u| u.id),
            None => None,
        },
    };
    let Some(unit_id) = unit_id else {
        let ctx = context! { unit => (), halls => (), children => (), ancestry => (), notice => notice, error => error };
        return page_with(status, lang, Some(who), "admin_halls.html", ctx);
    };
    let unit = state.store.unit(unit_id).await?;
    let ancestry = state.store.unit_ancestry(unit_id).await?;
    let children = state
        .store
        .unit_children(Some(unit_id), local_date(now()))
        .await?;
    let halls = state.store.halls_in(&unit.path).await?;
    // Signed-in kiosk PCs per hall (see `admin_devices`).
    let devices: std::collections::HashMap<String, i64> = state
        .store
        .device_counts()
        .await?
        .into_iter()
        .map(|(hall, n)| (hall.to_string(), n))
        .collect();
    let ctx = context! {
        devices => devices,
        unit => unit,
        ancestry => ancestry,
        children => children,
        halls => halls,
        notice => notice,
        error => error,
    };
    page_with(status, lang, Some(who), "admin_halls.html", ctx)
}

/// `GET /admin/halls?unit=`.
pub async fn list(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let notice = match q.done.as_deref() {
        Some("created" | "renamed" | "deactivated" | "activated") => q.done,
        _ => None,
    };
    render(&state, &who, lang, q.unit, StatusCode::OK, notice, None).await
}

/// A refusal the admin can fix (shown on the page), or a fault (the error page).
async fn refused(state: &AppState, who: &Principal, lang: Lang, unit: i64, e: Error) -> PageResult {
    match e {
        Error::Invalid { .. } | Error::Duplicate(_) | Error::NotFound(_) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(
                state,
                who,
                lang,
                Some(unit),
                status,
                None,
                Some(e.to_string()),
            )
            .await
        }
        e => Err(PageError::Store(e)),
    }
}

#[derive(Deserialize)]
pub struct NewHall {
    unit_id: i64,
    name: String,
}

/// `POST /admin/halls`: adds a hall to a unit.
pub async fn create(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Form(f): Form<NewHall>,
) -> PageResult {
    match state.store.create_hall(f.unit_id, &f.name).await {
        Ok(h) => Ok(see_other(&format!(
            "/admin/halls?unit={}&done=created",
            h.unit_id
        ))),
        Err(e) => refused(&state, &who, lang, f.unit_id, e).await,
    }
}

#[derive(Deserialize)]
pub struct HallChange {
    /// A new name (the rename form).
    name: Option<String>,
    /// `1` to reactivate, `0` to deactivate (the buttons).
    active: Option<u8>,
    /// The unit whose list to go back to.
    back: i64,
}

/// `POST /admin/halls/{id}`: renames, deactivates or reactivates.
pub async fn update(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Path(id): Path<i64>,
    Form(f): Form<HallChange>,
) -> PageResult {
    let active = f.active.map(|a| a == 1);
    let done = match (active, &f.name) {
        (Some(true), _) => "activated",
        (Some(false), _) => "deactivated",
        _ => "renamed",
    };
    let changed = match state.store.update_hall(id, f.name.as_deref(), active).await {
        Ok(hall) => state.enforce_hall_access(hall.id).await.map(|()| hall),
        Err(e) => Err(e),
    };
    match changed {
        Ok(_) => Ok(see_other(&format!(
            "/admin/halls?unit={}&done={done}",
            f.back
        ))),
        Err(e) => refused(&state, &who, lang, f.back, e).await,
    }
}
