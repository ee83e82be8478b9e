//! Attendance report pages for staff: one meeting (`/meetings/{id}/attendance`) and a
//! unit's subtree over a period (`/reports`), with CSV / XLSX downloads from the API; and
//! the meeting record (`/meetings/{id}/minutes.docx`) for the browser's session.
//! The store limits a secretariat to its own subtree.

use axum::extract::{Path, Query, State};
use chrono::{Duration, NaiveDate};
use minijinja::context;
use scheduler::reports::Presence;
use scheduler::time::{local_date, now};
use serde::Deserialize;

use super::auth::Staff;
use super::home::summary;
use super::render::{page, PageResult};
use crate::report::{columns, Audience, Table};
use crate::state::AppState;

/// `GET /meetings/{id}/attendance`: each invited hall's attendance, then the guests'.
pub async fn meeting(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
) -> PageResult {
    let m = state.store.meeting_for(&who, id).await?;
    let rows = state.store.meeting_attendance(&who, id).await?;
    let count = |p: Presence| rows.iter().filter(|r| r.presence == p).count();
    let (present, late, absent) = (
        count(Presence::Present),
        count(Presence::Late),
        count(Presence::Absent),
    );
    let table = Table::build(lang, &columns::meeting(), &rows, Audience::Page);
    // A row's presence colours its last cell, the presence (`presence-late` …).
    let row_classes: Vec<String> = rows
        .iter()
        .map(|r| match r.presence {
            Presence::Present => "presence-present",
            Presence::Late => "presence-late",
            Presence::Absent => "presence-absent",
        })
        .map(str::to_string)
        .collect();
    // Guests (khách mời) are counted apart, in a table of their own.
    let guest_rows = state.store.guest_attendance(&who, id).await?;
    let guests_attended = guest_rows.iter().filter(|g| g.first_join.is_some()).count();
    let guests = Table::build(lang, &columns::guests(), &guest_rows, Audience::Page);
    let ctx = context! {
        m => summary(&m), table => table, row_classes => row_classes,
        present => present, late => late, absent => absent, total => rows.len(),
        guests => (!guest_rows.is_empty()).then_some(guests),
        guests_total => guest_rows.len(), guests_attended => guests_attended,
    };
    page(lang, Some(&who), "attendance.html", ctx)
}

/// `GET /meetings/{id}/minutes.docx`: the meeting record (biên bản), as the API gives it;
/// refusals are pages (403 for a room account, 404 for another unit's meeting).
pub async fn minutes(
    State(state): State<AppState>,
    Staff { who, .. }: Staff,
    Path(id): Path<i64>,
) -> PageResult {
    Ok(crate::api::minutes::download(&state, &who, id).await?)
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
    let (unit, table, api) = match unit_id {
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
            let table = Table::build(lang, &columns::period(), &rows, Audience::Page);
            let api = format!("/api/v1/reports/units/{id}?from={start}&to={end}");
            (Some(unit), Some(table), Some(api))
        }
        None => (None, None, None),
    };
    let ctx = context! {
        q => q, results => results, unit => unit, table => table, api => api,
        from => from.to_string(), to => to.to_string(),
    };
    page(lang, Some(&who), "reports.html", ctx)
}
