//! Halls: list a subtree's halls (staff), add and change halls (administrators).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    unit: Option<i64>,
}

/// `GET /halls?unit=ID`: halls in a unit's subtree (a secretariat: only inside its own).
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    who.require_staff()?;
    let path = match q.unit {
        Some(id) => state.store.unit(id).await?.path,
        None => who.scope_path.clone().unwrap_or_else(|| "/".into()),
    };
    if !who.covers(&path) {
        return Err(scheduler::Error::Forbidden("outside your unit").into());
    }
    let halls = state.store.halls_in(&path).await?;
    Ok(Json(json!({ "halls": halls })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHall {
    unit_id: i64,
    name: String,
}

/// `POST /halls`: adds a hall to a unit.
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<NewHall>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let hall = state.store.create_hall(body.unit_id, &body.name).await?;
    let feed = state.store.hall_feed_token(hall.id).await?;
    Ok(Json(
        json!({ "hall": hall, "calendar_url": format!("{}/calendar/{feed}.ics", state.public_base) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallChange {
    name: Option<String>,
    active: Option<bool>,
}

/// `PATCH /halls/{id}`: renames or (de)activates a hall.
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<HallChange>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let hall = state
        .store
        .update_hall(id, body.name.as_deref(), body.active)
        .await?;
    state.enforce_hall_access(hall.id).await?;
    Ok(Json(json!({ "hall": hall })))
}
