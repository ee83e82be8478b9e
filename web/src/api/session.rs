//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::header::{HeaderName, SET_COOKIE, USER_AGENT};
use axum::http::HeaderMap;
use axum::response::{AppendHeaders, IntoResponse};
use axum::Json;
use scheduler::Client;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::{cookie, session_token, ApiJson, Auth, ClientAddr, SESSION_COOKIE};
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

/// The cookie that makes a browser a known login device (see `scheduler::login_devices`).
pub const KNOWN_DEVICE_COOKIE: &str = "hoinghi_device";

/// The `Set-Cookie` value for a new known-device token: sent only with logins (and the
/// pages' form posts, which are same-site), never readable by scripts.
pub fn known_device_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    let secure = if state.settings.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{KNOWN_DEVICE_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

/// What a login knows of its client: address, user agent, known-device cookie.
pub fn login_client<'a>(address: Option<&'a str>, headers: &'a HeaderMap) -> Client<'a> {
    Client {
        address,
        user_agent: user_agent(headers),
        known_device: cookie(headers, KNOWN_DEVICE_COOKIE),
    }
}

/// The `Set-Cookie` headers of a successful login: its session, and a new known-device
/// token when it was given one.
pub fn login_cookies(state: &AppState, signed: &scheduler::SignedIn) -> Vec<(HeaderName, String)> {
    let max_age = signed.expires_at - scheduler::time::now();
    let mut cookies = vec![(SET_COOKIE, session_cookie(state, &signed.token, max_age))];
    if let Some((device, secs)) = &signed.known_device {
        cookies.push((SET_COOKIE, known_device_cookie(state, device, *secs)));
    }
    cookies
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
    let client = login_client(address.as_deref(), &headers);
    let signed = state
        .store
        .sign_in(
            &body.username,
            &body.password,
            state.settings.lifetimes(),
            client,
        )
        .await?;
    let expires = scheduler::time::rfc3339_utc(signed.expires_at);
    Ok((
        AppendHeaders(login_cookies(&state, &signed)),
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
