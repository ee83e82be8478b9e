//! A hall's kiosk PCs (`/admin/halls/{id}/devices`, administrators): the device sessions
//! of its room accounts — device, signed in, last used, address — each revocable.

use axum::extract::{Path, Query, State};
use minijinja::{context, Value};
use scheduler::time::display_local;
use serde::Deserialize;

use super::auth::Admin;
use super::render::{page, see_other, PageResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ShowQuery {
    /// `revoked` after a revocation, to confirm it.
    done: Option<String>,
}

/// `GET /admin/halls/{id}/devices`.
pub async fn show(
    State(state): State<AppState>,
    Admin { who, lang }: Admin,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let hall = state.store.hall(id).await?;
    let devices: Vec<Value> = state
        .store
        .hall_devices(id)
        .await?
        .iter()
        .map(|d| {
            context! {
                id => d.id,
                name => d.device_name,
                user_agent => d.user_agent,
                username => d.username,
                address => d.address,
                created => display_local(d.created_at),
                last_used => display_local(d.last_used_at),
                expires => display_local(d.expires_at),
            }
        })
        .collect();
    let ctx = context! {
        hall => hall,
        devices => devices,
        revoked => q.done.as_deref() == Some("revoked"),
    };
    page(lang, Some(&who), "admin_devices.html", ctx)
}

/// `POST /admin/halls/{id}/devices/{device}/revoke`: signs that PC out; its next page
/// goes to the login form.
pub async fn revoke(
    State(state): State<AppState>,
    Admin { who, .. }: Admin,
    Path((id, device)): Path<(i64, i64)>,
) -> PageResult {
    state.store.revoke_device(id, device).await?;
    tracing::info!(
        hall = id,
        device,
        by = who.account.id,
        "device session revoked"
    );
    Ok(see_other(&format!(
        "/admin/halls/{id}/devices?done=revoked"
    )))
}
