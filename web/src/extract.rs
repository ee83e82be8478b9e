//! Request extractors: JSON bodies with coded errors, and the caller from a session.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
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
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The logged-in caller; 401 when there is none.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(scheduler::Error::Unauthenticated)?;
        Ok(Auth(state.store.authenticate(&token).await?))
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
        let Some(token) = session_token(&parts.headers) else {
            return Ok(MaybeAuth(None));
        };
        match state.store.authenticate(&token).await {
            Ok(p) => Ok(MaybeAuth(Some(p))),
            Err(scheduler::Error::Unauthenticated) => Ok(MaybeAuth(None)),
            Err(e) => Err(e.into()),
        }
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
