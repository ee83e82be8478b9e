//! The HTTP edge's error: a status, a stable code and a message for the client; faults logged.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use scheduler::{Error, JoinRefusal};
use serde_json::json;

use crate::views::conflict_view;

/// An error answered to a client.
#[derive(Debug)]
pub enum ApiError {
    /// Something the scheduler refused or failed at.
    Domain(Error),
    /// Several fields are invalid at once (field → message).
    Fields(BTreeMap<String, String>),
    /// The body is not usable: status, code and message.
    Body(StatusCode, &'static str, String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Domain(e)
    }
}

impl ApiError {
    /// A single invalid field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Domain(Error::invalid(field, message))
    }
}

fn body(status: StatusCode, code: &str, message: String, extra: serde_json::Value) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let (Some(obj), serde_json::Value::Object(more)) = (error.as_object_mut(), extra) {
        obj.extend(more);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self {
            ApiError::Fields(fields) => {
                let message = fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                return body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    message,
                    json!({ "fields": fields }),
                );
            }
            ApiError::Body(status, code, message) => return body(status, code, message, json!({})),
            ApiError::Domain(e) => e,
        };
        let message = e.to_string();
        match e {
            Error::Invalid { field, message: m } => body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
                json!({ "fields": { field: m } }),
            ),
            Error::LevelNotOnDate { level, root, date } => {
                let why = format!("{root} has no {} units on {date}", level.as_str());
                body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "level_not_on_date",
                    message,
                    json!({ "fields": { "scope.levels": why } }),
                )
            }
            Error::NotFound(_) => body(StatusCode::NOT_FOUND, "not_found", message, json!({})),
            Error::Forbidden(_) => body(StatusCode::FORBIDDEN, "forbidden", message, json!({})),
            Error::BadCredentials => body(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                message,
                json!({}),
            ),
            Error::HallDisabled => body(
                StatusCode::FORBIDDEN,
                "hall_disabled",
                HALL_DISABLED.into(),
                json!({}),
            ),
            Error::Unauthenticated => body(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                message,
                json!({}),
            ),
            Error::Conflict(conflicts) => {
                let list: Vec<_> = conflicts.iter().map(conflict_view).collect();
                body(
                    StatusCode::CONFLICT,
                    "conflict",
                    message,
                    json!({ "conflicts": list }),
                )
            }
            Error::Gone(code) => body(StatusCode::GONE, code, message, json!({})),
            Error::WrongState(code) => body(StatusCode::CONFLICT, code, message, json!({})),
            Error::Duplicate(_) => body(StatusCode::CONFLICT, "duplicate", message, json!({})),
            Error::JoinRefused(reason) => {
                let (status, code) = match reason {
                    JoinRefusal::TooEarly => (StatusCode::FORBIDDEN, "join_too_early"),
                    JoinRefusal::ForeignHall => (StatusCode::FORBIDDEN, "join_foreign_hall"),
                    JoinRefusal::Expired => (StatusCode::GONE, "join_expired"),
                    JoinRefusal::Cancelled => (StatusCode::GONE, "meeting_cancelled"),
                    JoinRefusal::HallDisabled => (StatusCode::FORBIDDEN, "hall_disabled"),
                    JoinRefusal::GuestRevoked => (StatusCode::GONE, "guest_revoked"),
                };
                body(status, code, message, json!({}))
            }
            Error::TooManyAttempts { until } => {
                let wait = (until - scheduler::time::now()).max(1);
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    too_many_attempts(until),
                    json!({ "retry_after": wait }),
                );
                if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
                r
            }
            Error::Busy => {
                let mut r = body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "Máy chủ đang bận, vui lòng thử lại sau giây lát. (The server is busy; try again in a moment.)".into(),
                    json!({}),
                );
                r.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("2"),
                );
                r
            }
            Error::Import {
                line,
                column,
                message: m,
            } => body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "import_failed",
                message,
                json!({ "line": line, "column": column, "detail": m }),
            ),
            other => {
                let mut chain = format!("{other}");
                let mut source = std::error::Error::source(&other);
                while let Some(s) = source {
                    chain.push_str(&format!(": {s}"));
                    source = s.source();
                }
                tracing::error!(error = %chain, "request failed");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log".into(),
                    json!({}),
                )
            }
        }
    }
}

/// What a room account is told when its hall is disabled (its password was right).
pub const HALL_DISABLED: &str = "Điểm cầu này đã bị ngừng hoạt động nên tài khoản phòng họp không đăng nhập được; liên hệ quản trị viên. (This hall has been disabled, so its room account cannot log in; ask an administrator.)";

/// What a locked-out login is told, in Vietnamese: when it may try again.
pub fn too_many_attempts(until: scheduler::time::Timestamp) -> String {
    let minutes = ((until - scheduler::time::now()).max(1) + 59) / 60;
    format!(
        "Đăng nhập sai quá nhiều lần. Thử lại sau {} (khoảng {minutes} phút nữa).",
        scheduler::time::to_local(until).format("%H:%M %d/%m/%Y")
    )
}

/// The handlers' result type.
pub type ApiResult<T> = Result<T, ApiError>;
