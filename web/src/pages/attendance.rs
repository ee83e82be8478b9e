//! Attendance report pages for staff: one meeting (`/meetings/{id}/attendance`) and a
//! unit's subtree over a period (`/reports`), with CSV / XLSX downloads from the API.
//! The store limits a secretariat to its own subtree.

use axum::extract::{Path, Query, State};
use chrono::{Duration, NaiveDate};
use minijinja::{context, Value};
use scheduler::time::{display_local, local_date, now};
use serde::Deserialize;

use super::auth::Staff;
use super::home::summary;
use super::render::{page, PageResult};
use crate::state::AppState;

/// `GET /meetings/{id}/attendance`: each invited hall's attendance.
pub async fn meeting(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
) -> PageResult {
    let m = state.store.meeting_for(&who, id).await?;
    let rows = state.store.meeting_attendance(&who, id).await?;
    let count = |p: &str| {
        rows.iter()
            .filter(|r| {
                serde_json::to_value(r.presence)
                    .ok()
                    .as_ref()
                    .and_then(|v| v.as_str())
                    == Some(p)
            })
            .count()
    };
    let (present, late, absent) = (count("present"), count("late"), count("absent"));
    let code = |v: serde_json::Value| v.as_str().map(str::to_string);
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            context! {
                hall => r.hall.hall_name,
                unit => r.hall.unit_name,
                first_join => r.first_join.map(display_local),
                last_leave => r.last_leave.map(display_local),
                reason => r.last_leave_reason,
                minutes => r.minutes_present,
                reconnects => r.reconnects,
                roll_call => if r.roll_call_unanswered {
                    Some("no_answer".to_string())
                } else {
                    r.roll_call.and_then(|s| serde_json::to_value(s).ok().and_then(code))
                },
                roll_call_reason => r.roll_call_reason,
                headcount => r.headcount,
                presence => serde_json::to_value(r.presence).ok().and_then(code),
            }
        })
        .collect();
    let ctx = context! {
        m => summary(&m), rows => rows, present => present, late => late, absent => absent,
    };
    page(lang, Some(&who), "attendance.html", ctx)
}

#[derive(Deserialize)]
pub struct ReportQuery {
    /// A unit search (names without diacritics match).
    q: Option<String>,
    /// The unit whose subtree is reported.
    unit: Option<i64>,
    /// The period, local dates `YYYY-MM-DD` (to is inclusive).
    from: Option<String>,
    to: Option<String>,
}

/// A date from the query; out-of-range years (which overflow date arithmetic) count as none.
fn date(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(scheduler::time::parse_date)
}

/// `GET /reports?q=&unit=&from=&to=`: the per-unit-period table.
pub async fn reports(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Query(query): Query<ReportQuery>,
) -> PageResult {
    let today = local_date(now());
    // Default period: the last 90 days up to today.
    let to = date(query.to.as_deref()).unwrap_or(today);
    let from = date(query.from.as_deref()).unwrap_or(to - Duration::days(90));
    let q = query.q.unwrap_or_default();
    let results = if q.trim().is_empty() {
        Vec::new()
    } else {
        let within = who.scope_path.as_deref();
        state.store.search_units(&q, today, within, 30).await?
    };
    // A secretariat starts at its own unit.
    let unit_id = query.unit.or(match who.account.role {
        scheduler::Role::Secretariat { unit_id } if q.trim().is_empty() => Some(unit_id),
        _ => None,
    });
    let (unit, rows, api) = match unit_id {
        Some(id) => {
            let unit = state.store.unit(id).await?;
            let start = format!("{from}T00:00");
            let end = format!("{}T00:00", to + Duration::days(1));
            let (Some(a), Some(b)) = (
                scheduler::time::parse_instant(&start),
                scheduler::time::parse_instant(&end),
            ) else {
                return Err(scheduler::Error::Internal("period".into()).into());
            };
            let rows = state.store.unit_attendance(&who, id, a, b).await?;
            let api = format!("/api/v1/reports/units/{id}?from={start}&to={end}");
            (Some(unit), rows, Some(api))
        }
        None => (None, Vec::new(), None),
    };
    let ctx = context! {
        q => q, results => results, unit => unit, rows => rows, api => api,
        from => from.to_string(), to => to.to_string(),
    };
    page(lang, Some(&who), "reports.html", ctx)
}
