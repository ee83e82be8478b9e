//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::{session_token, ApiJson, Auth, ClientAddr, SESSION_COOKIE};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// The `Set-Cookie` value for a session (empty token and zero age clear it).
pub fn session_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
}

/// `POST /auth/login`: a bearer token for API clients and an HttpOnly cookie for pages.
pub async fn login(
    State(state): State<AppState>,
    address: ClientAddr,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<impl IntoResponse> {
    let ttl = state.settings.session_ttl_hours * 3600;
    let (token, who) = state
        .store
        .login_from(
            &body.username,
            &body.password,
            ttl,
            address.key().as_deref(),
        )
        .await?;
    let expires = scheduler::time::rfc3339_utc(scheduler::time::now() + ttl);
    let cookie = session_cookie(&state, &token, ttl);
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(json!({ "token": token, "expires_at": expires, "account": who })),
    ))
}

/// `POST /auth/logout`: revokes the session.
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(token) = session_token(&headers) {
        state.store.logout(&token).await?;
    }
    Ok((
        AppendHeaders([(SET_COOKIE, session_cookie(&state, "", 0))]),
        Json(json!({ "ok": true })),
    ))
}

/// `GET /me`: the caller.
pub async fn me(Auth(who): Auth) -> Json<scheduler::Principal> {
    Json(who)
}
