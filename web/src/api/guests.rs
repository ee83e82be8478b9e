//! Guests of a meeting (khách mời): staff who may run it add one (a name and a phone
//! number or e-mail address) and get its join link, list them, and revoke one — its link
//! is refused from then on and its live socket is closed at once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use scheduler::{Guest, NewGuest};

/// A guest as the API answers it: with its join link.
fn guest_view(state: &AppState, g: &Guest) -> Value {
    let mut v = json!(g);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "join_url".into(),
            json!(format!("{}/j/{}", state.public_base, g.join_token)),
        );
        obj.insert(
            "revoked_at_local".into(),
            json!(g.revoked_at.map(scheduler::time::rfc3339_local)),
        );
    }
    v
}

/// `POST /meetings/{id}/guests` `{"name", "organisation"?, "phone"?, "email"?}`.
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewGuest>,
) -> ApiResult<Json<Value>> {
    if let Err(errors) = body.check() {
        let fields: BTreeMap<String, String> = errors
            .into_iter()
            .filter_map(|e| match e {
                scheduler::Error::Invalid { field, message } => Some((field, message)),
                _ => None,
            })
            .collect();
        return Err(ApiError::Fields(fields));
    }
    let guest = state.store.add_guest(&who, id, &body).await?;
    Ok(Json(json!({ "guest": guest_view(&state, &guest) })))
}

/// `GET /meetings/{id}/guests`: every guest of the meeting, revoked ones marked.
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let guests = state.store.guests(&who, id).await?;
    let active = guests.iter().filter(|g| g.revoked_at.is_none()).count();
    let rows: Vec<Value> = guests.iter().map(|g| guest_view(&state, g)).collect();
    Ok(Json(
        json!({ "total": rows.len(), "active": active, "guests": rows }),
    ))
}

/// `POST /meetings/{id}/guests/{guest_id}/revoke`: the link stops working and a guest in
/// the meeting is put out now.
pub async fn revoke(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, guest_id)): Path<(i64, i64)>,
) -> ApiResult<Json<Value>> {
    let guest = state.store.revoke_guest(&who, id, guest_id).await?;
    if let Some(signaling) = &state.signaling {
        signaling.shut_out_guest(guest.id).await;
    }
    Ok(Json(json!({ "guest": guest_view(&state, &guest) })))
}
