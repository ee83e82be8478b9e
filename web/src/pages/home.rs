//! The start pages: upcoming meetings for staff (`/`), a hall's own meetings (`/my`).

use axum::extract::State;
use minijinja::{context, Value};
use scheduler::time::{display_local, now, to_local};
use scheduler::{Meeting, MeetingFilter, MeetingKind, MeetingStatus};

use super::auth::{Viewer, Visitor};
use super::render::{page, see_other, PageResult};
use crate::state::AppState;

/// The stable code of a meeting kind (`routine`, `sudden`, …), for dictionary keys.
pub(super) fn kind_code(kind: MeetingKind) -> &'static str {
    match kind {
        MeetingKind::Routine => "routine",
        MeetingKind::Sudden => "sudden",
        MeetingKind::NationalRelay => "national_relay",
        MeetingKind::Test => "test",
    }
}

/// `08:00 – 11:00 30/11/2026`, or both dates when the meeting crosses midnight.
pub(super) fn time_range(m: &Meeting) -> String {
    let (s, e) = (to_local(m.starts_at), to_local(m.ends_at));
    if s.date_naive() == e.date_naive() {
        format!("{} – {}", s.format("%H:%M"), e.format("%H:%M %d/%m/%Y"))
    } else {
        format!(
            "{} – {}",
            display_local(m.starts_at),
            display_local(m.ends_at)
        )
    }
}

/// A meeting as listed in tables.
pub(super) fn summary(m: &Meeting) -> Value {
    context! {
        id => m.id,
        title => m.title,
        kind => kind_code(m.kind),
        when => time_range(m),
        host => m.host_hall_name,
        invited => m.invited,
        cancelled => m.status == MeetingStatus::Cancelled,
        root => m.scope_root_name,
    }
}

fn upcoming() -> MeetingFilter {
    MeetingFilter {
        from: Some(now()),
        to: None,
        include_cancelled: true,
    }
}

/// `GET /`: staff see upcoming meetings; a room account goes to `/my`; nobody to `/login`.
pub async fn index(State(state): State<AppState>, Visitor { who, lang }: Visitor) -> PageResult {
    let Some(who) = who else {
        return Ok(see_other("/login"));
    };
    if who.hall_id().is_some() {
        return Ok(see_other("/my"));
    }
    let meetings = state.store.meetings_for(&who, upcoming()).await?;
    let rows: Vec<Value> = meetings.iter().map(summary).collect();
    page(lang, Some(&who), "home.html", context! { meetings => rows })
}

/// `GET /my`: a hall's upcoming meetings with their join links, and its calendar feed.
pub async fn my(State(state): State<AppState>, Viewer { who, lang }: Viewer) -> PageResult {
    let Some(hall_id) = who.hall_id() else {
        return Ok(see_other("/"));
    };
    let hall = state.store.hall(hall_id).await?;
    let mut rows = Vec::new();
    for m in state.store.meetings_for(&who, upcoming()).await? {
        let token = state.store.join_token_of(m.id, hall_id).await?;
        rows.push(context! {
            join => token.map(|t| format!("/j/{t}")),
            ..summary(&m)
        });
    }
    let feed = state.store.hall_feed_token(hall_id).await?;
    let calendar_url = format!("{}/calendar/{feed}.ics", state.public_base);
    page(
        lang,
        Some(&who),
        "my.html",
        context! { hall => hall, meetings => rows, calendar_url => calendar_url },
    )
}
