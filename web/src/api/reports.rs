//! Attendance reports: per meeting and per unit over a period, as JSON, CSV (BOM) or XLSX.
//! The columns and their Vietnamese headers come from [`crate::report::columns`].

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::pages::i18n::{text, Lang};
use crate::report::columns::{self, IntervalRow};
use crate::report::xlsx::{self, Sheet};
use crate::report::{csv, Audience, Table};
use crate::state::AppState;
use scheduler::time::parse_instant;

/// Downloads are in Vietnamese: they are the unit's records.
const LANG: Lang = Lang::Vi;

/// The formats a report comes in.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
    Xlsx,
}

/// Which table of the meeting report a CSV holds (a workbook holds both as sheets).
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// One row per invited hall.
    #[default]
    Summary,
    /// One row per attendance interval, with why it ended.
    Intervals,
    /// One row per guest (khách mời), apart from the halls.
    Guests,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    scheduler::Error::Internal(format!("export: {e}")).into()
}

fn download(bytes: Vec<u8>, format: Format, name: &str) -> Response {
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        _ => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingQuery {
    #[serde(default)]
    format: Format,
    #[serde(default)]
    part: Part,
}

/// `GET /meetings/{id}/attendance?format=json|csv|xlsx[&part=intervals|guests]` (staff):
/// each invited hall's attendance, and the guests' apart; `part=intervals` makes the CSV
/// one row per interval, `part=guests` one row per guest.
pub async fn meeting(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<MeetingQuery>,
) -> ApiResult<Response> {
    if q.part != Part::Summary && q.format != Format::Csv {
        return Err(ApiError::Body(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "part=intervals and part=guests are for format=csv (the XLSX holds every sheet, the JSON each hall's and guest's timeline)".into(),
        ));
    }
    let rows = state.store.meeting_attendance(&who, id).await?;
    let guest_rows = state.store.guest_attendance(&who, id).await?;
    if q.format == Format::Json {
        return Ok(Json(json!({
            "total": rows.len(),
            "rows": rows,
            "guests_total": guest_rows.len(),
            "guests": guest_rows,
        }))
        .into_response());
    }
    let guests = || Table::build(LANG, &columns::guests(), &guest_rows, Audience::Download);
    let summary = || Table::build(LANG, &columns::meeting(), &rows, Audience::Download);
    let intervals = || {
        let rows = IntervalRow::all(&rows);
        Table::build(LANG, &columns::intervals(), &rows, Audience::Download)
    };
    let name = format!("diem-danh-cuoc-hop-{id}");
    if q.format == Format::Csv {
        let (table, name) = match q.part {
            Part::Summary => (summary(), name),
            Part::Intervals => (intervals(), format!("{name}-cac-lan-vao")),
            Part::Guests => (guests(), format!("{name}-khach-moi")),
        };
        return Ok(download(
            csv::to_csv(&table).map_err(internal)?,
            q.format,
            &name,
        ));
    }
    let meeting = state.store.meeting_for(&who, id).await?;
    let title = format!(
        "{} — {}",
        meeting.title,
        scheduler::time::display_local(meeting.starts_at)
    );
    let (summary_name, intervals_name, guests_name) = (
        text(LANG, "att.sheet"),
        text(LANG, "att.sheet_intervals"),
        text(LANG, "att.sheet_guests"),
    );
    let (summary, intervals, guests) = (summary(), intervals(), guests());
    let mut sheets = vec![
        Sheet {
            name: &summary_name,
            title: &title,
            table: &summary,
        },
        Sheet {
            name: &intervals_name,
            title: &title,
            table: &intervals,
        },
    ];
    // Guests have a sheet of their own when the meeting had any.
    if !guest_rows.is_empty() {
        sheets.push(Sheet {
            name: &guests_name,
            title: &title,
            table: &guests,
        });
    }
    let bytes = xlsx::to_xlsx(&sheets).map_err(internal)?;
    Ok(download(bytes, q.format, &name))
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
    let table = Table::build(LANG, &columns::period(), &rows, Audience::Download);
    let unit = state.store.unit(id).await?;
    let name = format!("diem-danh-{}", unit.code);
    let bytes = match q.format {
        Format::Csv => csv::to_csv(&table).map_err(internal)?,
        _ => {
            let title = format!(
                "{} — {} đến {}",
                unit.name,
                scheduler::time::display_local(from),
                scheduler::time::display_local(to)
            );
            let sheet = text(LANG, "att.sheet");
            xlsx::to_xlsx(&[Sheet {
                name: &sheet,
                title: &title,
                table: &table,
            }])
            .map_err(internal)?
        }
    };
    Ok(download(bytes, q.format, &name))
}
