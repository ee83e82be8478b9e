//! Kiosk device sessions of a hall (administrators only): list, revoke.

use axum::extract::{Path, State};
use axum::Json;
use scheduler::time::{rfc3339_local, rfc3339_utc};
use scheduler::DeviceSession;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::state::AppState;

/// A device session as the API shows it (never its token).
pub fn device_view(d: &DeviceSession) -> Value {
    json!({
        "id": d.id,
        "account_id": d.account_id,
        "username": d.username,
        "hall_id": d.hall_id,
        "device_name": d.device_name,
        "user_agent": d.user_agent,
        "address": d.address,
        "created_at": rfc3339_utc(d.created_at),
        "created_at_local": rfc3339_local(d.created_at),
        "last_used_at": rfc3339_utc(d.last_used_at),
        "last_used_at_local": rfc3339_local(d.last_used_at),
        "expires_at": rfc3339_utc(d.expires_at),
    })
}

/// `GET /halls/{id}/devices`: the PCs signed in with the hall's room accounts.
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(hall): Path<i64>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let devices = state.store.hall_devices(hall).await?;
    let devices: Vec<Value> = devices.iter().map(device_view).collect();
    Ok(Json(json!({ "devices": devices })))
}

/// `DELETE /halls/{id}/devices/{device}`: signs that PC out (404 `not_found` when the
/// hall has no such device session).
pub async fn revoke(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((hall, device)): Path<(i64, i64)>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let revoked = state.store.revoke_device(hall, device).await?;
    tracing::info!(hall, device, by = who.account.id, "device session revoked");
    Ok(Json(json!({ "revoked": device_view(&revoked) })))
}
