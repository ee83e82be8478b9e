//! Carrying halls across a reorganisation (administrators): preview, apply, place a listed
//! hall, re-point or disable a secretariat whose unit ended. The page `/admin/carry` does
//! the same through the same store operations.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::carry_input::{parse_on, plan, MappingChoice};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarryQuery {
    on: Option<String>,
    mapping: Option<String>,
}

/// The plan, or 422 `mapping_invalid` with every problem (line, column, code, value).
async fn run(state: &AppState, q: CarryQuery, body: &[u8], apply: bool) -> ApiResult<Response> {
    let on = parse_on(q.on.as_deref())?;
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    let choice = MappingChoice::parse(q.mapping.as_deref(), has_body)?;
    let plan = plan(&state.store, choice, body, on, apply).await?;
    if plan.problems_total > 0 {
        let message = format!(
            "the mapping has {} problem(s); nothing was applied",
            plan.problems_total
        );
        let error = json!({
            "code": "mapping_invalid",
            "message": message,
            "problems": plan.problems,
            "problems_total": plan.problems_total,
        });
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": error })),
        )
            .into_response());
    }
    Ok(Json(json!({ "plan": plan })).into_response())
}

/// `POST /admin/carry/preview?on=2025-07-01&mapping=shipped|upload` (body: the commune
/// mapping as `text/csv` for `upload`): what an apply would do; writes nothing.
pub async fn preview(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<CarryQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    who.require_admin()?;
    run(&state, q, &body, false).await
}

/// `POST /admin/carry/apply?…` (as the preview): carries the halls and province
/// secretariats; a second apply changes nothing (`"changed": false`).
pub async fn apply(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<CarryQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    who.require_admin()?;
    run(&state, q, &body, true).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    hall_id: i64,
    unit_id: i64,
    on: Option<String>,
}

/// `POST /admin/carry/place` `{hall_id, unit_id, on}`: places a listed hall on a unit valid
/// on `on`, keeping its history.
pub async fn place(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<PlaceBody>,
) -> ApiResult<Json<serde_json::Value>> {
    who.require_admin()?;
    let on = parse_on(body.on.as_deref())?;
    let hall = state
        .store
        .place_listed_hall(body.hall_id, body.unit_id, on)
        .await?;
    Ok(Json(json!({ "hall": hall })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretariatBody {
    /// Re-point to this unit (valid on `on`)…
    unit_id: Option<i64>,
    /// …or disable the account (`false`).
    active: Option<bool>,
    on: Option<String>,
}

/// `POST /admin/carry/secretariats/{id}` `{unit_id, on}` or `{active: false}`.
pub async fn secretariat(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SecretariatBody>,
) -> ApiResult<Json<serde_json::Value>> {
    who.require_admin()?;
    let account = match (body.unit_id, body.active) {
        (Some(unit_id), None) => {
            let on = parse_on(body.on.as_deref())?;
            state.store.repoint_secretariat(id, unit_id, on).await?
        }
        (None, Some(false)) => {
            let account = state.store.account(id).await?;
            if !matches!(account.role, scheduler::Role::Secretariat { .. }) {
                return Err(ApiError::field("account_id", "not a secretariat account"));
            }
            state.store.update_account(id, None, Some(false)).await?
        }
        _ => {
            return Err(ApiError::field(
                "unit_id",
                "give unit_id (re-point) or active: false (disable), not both",
            ))
        }
    };
    Ok(Json(json!({ "account": account })))
}
