//! The week view for secretariats (`/week?start=YYYY-MM-DD`): the meetings they may see,
//! Monday to Sunday in Việt Nam time, day by day, with the previous and next weeks.

use axum::extract::{Query, State};
use chrono::{Datelike, Duration, NaiveDate};
use minijinja::{context, Value};
use scheduler::time::{from_local, local_date, now, parse_date, to_local};
use scheduler::{MeetingFilter, MeetingStatus};
use serde::Deserialize;

use super::auth::Staff;
use super::home::kind_code;
use super::render::{page, PageResult};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct WeekQuery {
    /// Any day of the week to show (its Monday is used); this week by default.
    start: Option<String>,
}

/// The Monday of the week holding `day`.
fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// A meeting's status as its `status.` word key suffix (also the meeting page's).
pub(super) fn status_code(status: MeetingStatus) -> &'static str {
    match status {
        MeetingStatus::Scheduled => "scheduled",
        MeetingStatus::Cancelled => "cancelled",
        MeetingStatus::Live => "live",
        MeetingStatus::Ended => "ended",
        MeetingStatus::NotHeld => "not_held",
    }
}

/// `GET /week` (staff).
pub async fn show(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Query(q): Query<WeekQuery>,
) -> PageResult {
    // A date that does not parse (or is outside the years anything is scheduled in)
    // shows this week rather than an error.
    let day = q
        .start
        .as_deref()
        .and_then(parse_date)
        .unwrap_or_else(|| local_date(now()));
    let monday = monday_of(day);
    let midnight = |d: NaiveDate| from_local(d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let filter = MeetingFilter {
        from: Some(midnight(monday)),
        to: Some(midnight(monday + Duration::days(7))),
        include_cancelled: true,
    };
    let meetings = state.store.meetings_for(&who, filter).await?;
    let days: Vec<Value> = (0..7)
        .map(|k| {
            let date = monday + Duration::days(k);
            let rows: Vec<Value> = meetings
                .iter()
                .filter(|m| to_local(m.starts_at).date_naive() == date)
                .map(|m| {
                    context! {
                        id => m.id,
                        title => m.title,
                        from => to_local(m.starts_at).format("%H:%M").to_string(),
                        to => to_local(m.ends_at).format("%H:%M").to_string(),
                        kind => kind_code(m.kind),
                        host => m.host_hall_name,
                        invited => m.invited,
                        status => status_code(m.status),
                        series => m.series_id.is_some(),
                    }
                })
                .collect();
            context! {
                weekday => date.weekday().num_days_from_monday(),
                date => date.format("%d/%m/%Y").to_string(),
                today => date == local_date(now()),
                meetings => rows,
            }
        })
        .collect();
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let ctx = context! {
        days => days,
        first => monday.format("%d/%m/%Y").to_string(),
        last => (monday + Duration::days(6)).format("%d/%m/%Y").to_string(),
        prev => iso(monday - Duration::days(7)),
        next => iso(monday + Duration::days(7)),
        total => meetings.len(),
    };
    page(lang, Some(&who), "week.html", ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(monday_of(sunday), monday);
        assert_eq!(monday_of(monday), monday);
    }
}
