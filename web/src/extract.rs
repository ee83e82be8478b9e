//! Request extractors: JSON bodies with coded errors, and the caller from a session
//! (renewing a kiosk's device-session cookie on the way, see [`renew_device_cookie`]).

use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use scheduler::Principal;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hoinghi_session";

/// A JSON body whose rejections answer in the API's error format.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => ApiError::Body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    e.body_text(),
                ),
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::Body(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::Body(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send Content-Type: application/json".into(),
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::Body(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the body is too large".into(),
                    )
                }
                other => ApiError::Body(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
            }),
        }
    }
}

/// The session token a request carries: `Authorization: Bearer …` (API) or the cookie (pages).
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    cookie_token(headers).map(str::to_string)
}

/// The session token of the request's cookie (not of an `Authorization` header).
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A device session renewed while answering a request: (token, lifetime in seconds), for
/// [`renew_device_cookie`] to send the cookie again.
#[derive(Clone, Default)]
pub struct CookieRenewal(Arc<Mutex<Option<(String, i64)>>>);

impl CookieRenewal {
    fn set(&self, token: String, secs: i64) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((token, secs));
        }
    }

    fn take(&self) -> Option<(String, i64)> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A layer: when a kiosk's device session was renewed during the request (its expiry
/// moved forward, at most hourly), the answer carries its cookie again with the new
/// lifetime, so the browser keeps it as long as the server does.
pub async fn renew_device_cookie(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = CookieRenewal::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some((token, secs)) = slot.take() {
        // A login or logout answering this request sets its own session cookie.
        let own = format!("{SESSION_COOKIE}=");
        let already = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.as_bytes().starts_with(own.as_bytes()));
        if !already {
            let cookie = crate::api::session::session_cookie(&state, &token, secs);
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
    res
}

/// The caller of a request, if its session is valid (expired, revoked or unknown
/// sessions count as nobody). A device session is renewed through the store at most
/// hourly; when that happens and the token came in the cookie, the cookie is renewed too.
pub async fn caller(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<Principal>, scheduler::Error> {
    let Some(token) = session_token(&parts.headers) else {
        return Ok(None);
    };
    let address = ClientAddr::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|a| a.key());
    match state.store.session(&token, address.as_deref()).await {
        Ok(session) => {
            if let Some(secs) = session.renewed_for {
                let from_cookie = cookie_token(&parts.headers) == Some(token.as_str());
                if let (true, Some(slot)) = (from_cookie, parts.extensions.get::<CookieRenewal>()) {
                    slot.set(token, secs);
                }
            }
            Ok(Some(session.principal))
        }
        Err(scheduler::Error::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The logged-in caller; 401 when there is none.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = caller(parts, state).await?;
        Ok(Auth(who.ok_or(scheduler::Error::Unauthenticated)?))
    }
}

/// The caller if logged in.
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuth(caller(parts, state).await?))
    }
}

/// Query parameters whose rejections answer in the API's error format.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::Body(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// The client's IP address, when the server knows it: the TCP peer, or what a trusted
/// proxy forwarded (setting `trusted_proxies`, see `serve::client`); logins are
/// throttled per address.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl ClientAddr {
    /// The address as text, for the throttle.
    pub fn key(&self) -> Option<String> {
        self.0.map(|ip| ip.to_canonical().to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let believed = parts
            .extensions
            .get::<crate::serve::client::Client>()
            .map(|c| c.ip);
        Ok(ClientAddr(believed.or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip())
        })))
    }
}
