//! Attendance reports: per meeting and per unit over a period, as JSON, CSV (BOM) or XLSX.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;
use scheduler::export::{self, Table};
use scheduler::time::parse_instant;

/// The formats a report comes in.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
    Xlsx,
}

fn download(table: &Table, format: Format, name: &str, title: &str) -> ApiResult<Response> {
    let (bytes, mime, ext) = match format {
        Format::Csv => (export::to_csv(table)?, "text/csv; charset=utf-8", "csv"),
        _ => (
            export::to_xlsx(table, "Điểm danh", title)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingQuery {
    #[serde(default)]
    format: Format,
}

/// `GET /meetings/{id}/attendance?format=json|csv|xlsx` (staff): each invited hall's attendance.
pub async fn meeting(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<MeetingQuery>,
) -> ApiResult<Response> {
    let rows = state.store.meeting_attendance(&who, id).await?;
    if q.format == Format::Json {
        return Ok(Json(json!({ "total": rows.len(), "rows": rows })).into_response());
    }
    let meeting = state.store.meeting_for(&who, id).await?;
    let title = format!(
        "{} — {}",
        meeting.title,
        scheduler::time::display_local(meeting.starts_at)
    );
    download(
        &export::meeting_table(&rows),
        q.format,
        &format!("diem-danh-cuoc-hop-{id}"),
        &title,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    from: String,
    to: String,
    #[serde(default)]
    format: Format,
}

/// `GET /reports/units/{id}?from=&to=&format=` (staff): every hall of the unit's subtree
/// over meetings starting in the period: invited, attended, absent, minutes.
pub async fn unit(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Response> {
    let from = parse_instant(&q.from).ok_or_else(|| ApiError::field("from", "not a date-time"))?;
    let to = parse_instant(&q.to).ok_or_else(|| ApiError::field("to", "not a date-time"))?;
    let rows = state.store.unit_attendance(&who, id, from, to).await?;
    if q.format == Format::Json {
        return Ok(Json(json!({ "total": rows.len(), "rows": rows })).into_response());
    }
    let unit = state.store.unit(id).await?;
    let title = format!(
        "{} — {} đến {}",
        unit.name,
        scheduler::time::display_local(from),
        scheduler::time::display_local(to)
    );
    download(
        &export::period_table(&rows),
        q.format,
        &format!("diem-danh-{}", unit.code),
        &title,
    )
}
