//! Accounts (administrators only): list, create with a role, reset password, disable.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use scheduler::{NewAccount, Role};

/// `GET /accounts`.
pub async fn list(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    Ok(Json(json!({ "accounts": state.store.accounts().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    username: String,
    display_name: String,
    password: String,
    role: String,
    unit_id: Option<i64>,
    hall_id: Option<i64>,
}

/// `POST /accounts`: `role` is `admin`, `secretariat` (with `unit_id`) or `hall` (with `hall_id`).
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let role = match (body.role.as_str(), body.unit_id, body.hall_id) {
        ("admin", None, None) => Role::Admin,
        ("secretariat", Some(unit_id), None) => Role::Secretariat { unit_id },
        ("hall", None, Some(hall_id)) => Role::Hall { hall_id },
        ("secretariat", ..) => {
            return Err(ApiError::field(
                "unit_id",
                "a secretariat needs unit_id (and no hall_id)",
            ))
        }
        ("hall", ..) => {
            return Err(ApiError::field(
                "hall_id",
                "a hall account needs hall_id (and no unit_id)",
            ))
        }
        ("admin", ..) => {
            return Err(ApiError::field(
                "role",
                "an administrator has no unit_id or hall_id",
            ))
        }
        _ => {
            return Err(ApiError::field(
                "role",
                "must be admin, secretariat or hall",
            ))
        }
    };
    let hash = state.store.hash_password(body.password).await?;
    let account = state
        .store
        .create_account(
            NewAccount {
                username: body.username,
                display_name: body.display_name,
                role,
            },
            &hash,
        )
        .await?;
    Ok(Json(json!({ "account": account })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    password: Option<String>,
    active: Option<bool>,
}

/// `PATCH /accounts/{id}`: new password or (de)activation; both end the account's sessions.
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AccountChange>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let hash = match body.password {
        Some(p) => Some(state.store.hash_password(p).await?),
        None => None,
    };
    let account = state
        .store
        .update_account(id, hash.as_deref(), body.active)
        .await?;
    if let Role::Hall { hall_id } = account.role {
        state.enforce_hall_access(hall_id).await?;
    }
    Ok(Json(json!({ "account": account })))
}
