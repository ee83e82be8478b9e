//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::HeaderMap;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use scheduler::Client;
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

/// The browser's user agent, for a device session's name.
pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(USER_AGENT).and_then(|v| v.to_str().ok())
}

/// `POST /auth/login`: a bearer token for API clients and an HttpOnly cookie for pages.
/// A room account gets a device session (`device_session` is its id), staff an ordinary one.
pub async fn login(
    State(state): State<AppState>,
    address: ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<impl IntoResponse> {
    let address = address.key();
    let client = Client {
        address: address.as_deref(),
        user_agent: user_agent(&headers),
    };
    let signed = state
        .store
        .sign_in(
            &body.username,
            &body.password,
            state.settings.lifetimes(),
            client,
        )
        .await?;
    let max_age = signed.expires_at - scheduler::time::now();
    let cookie = session_cookie(&state, &signed.token, max_age);
    let expires = scheduler::time::rfc3339_utc(signed.expires_at);
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(json!({
            "token": signed.token,
            "expires_at": expires,
            "device_session": signed.device,
            "account": signed.principal,
        })),
    ))
}

/// `POST /auth/logout`: revokes the session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
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
