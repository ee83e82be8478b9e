//! Login lockouts (administrators): who must wait after failed logins, and clearing one.

use axum::extract::{Path, State};
use axum::Json;
use scheduler::time::{now, rfc3339_local, rfc3339_utc};
use scheduler::{LockKind, Lockout};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::state::AppState;

/// A lockout as the API returns it.
pub fn lockout_view(l: &Lockout) -> Value {
    json!({
        "kind": l.kind,
        "key": l.key,
        "failures": l.failures,
        "last_failure": rfc3339_utc(l.last_failure),
        "locked_until": rfc3339_utc(l.locked_until),
        "locked_until_local": rfc3339_local(l.locked_until),
    })
}

/// `GET /lockouts`: account names and addresses waiting now, longest wait first.
pub async fn list(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let list = state.store.lockouts(now()).await?;
    Ok(Json(
        json!({ "lockouts": list.iter().map(lockout_view).collect::<Vec<_>>() }),
    ))
}

/// `DELETE /lockouts/{kind}/{key}` (`account` or `address`): forgets its failed logins.
pub async fn clear(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((kind, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    who.require_admin()?;
    let kind = LockKind::parse(&kind)
        .ok_or_else(|| ApiError::field("kind", "must be account or address"))?;
    let cleared = state.store.clear_lockout(kind, &key).await?;
    tracing::info!(?kind, key, by = who.account.id, cleared, "lockout cleared");
    Ok(Json(json!({ "ok": true, "cleared": cleared })))
}
