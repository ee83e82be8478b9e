//! One meeting (`/meetings/{id}`): details, invited halls by level, history, join links,
//! the staff's postpone and cancel forms, its guests, its WHIP/WHEP feed tokens and its
//! recordings (`guests.rs`, `feeds.rs` and `recordings.rs` handle their parts).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Form;
use minijinja::{context, Value};
use scheduler::time::{display_local, parse_instant, to_local};
use scheduler::{Error, MeetingChange, MeetingStatus, Principal};
use serde::Deserialize;

use super::auth::{Staff, Viewer};
use super::home::{kind_code, time_range};
use super::i18n::Lang;
use super::render::{page_with, see_other, PageResult};
use super::week::status_code;
use crate::report::columns::{self, IntervalRow};
use crate::report::{Audience, Table};
use crate::state::AppState;

/// What went wrong with a form on the page, shown above it.
#[derive(Default)]
pub(super) struct Notice {
    /// Dictionary key of the message.
    pub key: Option<&'static str>,
    /// The store's detail.
    pub detail: Option<String>,
    /// The values the guest form was sent with.
    pub guest_form: Option<Value>,
    /// Meetings in the way of a postponement.
    pub conflicts: Vec<Value>,
    /// The values the postpone form was sent with.
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// The "and the later ones of the series" box was ticked.
    pub following: bool,
    /// A feed token just made: its name, kind and URL (shown this once).
    pub feed_made: Option<Value>,
}

const LEVEL_ORDER: [&str; 4] = ["country", "province", "district", "commune"];

pub(super) async fn render(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    id: i64,
    status: StatusCode,
    notice: Notice,
) -> PageResult {
    let m = state.store.meeting_for(who, id).await?;
    let invitations = state.store.invitations(who, id).await?;
    let mut groups: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for i in &invitations {
        let order = LEVEL_ORDER.iter().position(|l| *l == i.level).unwrap_or(9);
        groups.entry(order).or_default().push(context! {
            hall => i.hall_name,
            unit => i.unit_name,
            join => i.join_token.as_ref().map(|t| format!("/j/{t}")),
        });
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(order, halls)| {
            let level = LEVEL_ORDER.get(order).copied().unwrap_or("other");
            context! { level => level, count => halls.len(), halls => halls }
        })
        .collect();
    let mut events = Vec::new();
    for e in state.store.meeting_events(who, id).await? {
        let by = match e.account_id {
            Some(a) => state.store.account(a).await.ok().map(|a| a.display_name),
            None => None,
        };
        events.push(
            context! { at => display_local(e.at), kind => e.kind, detail => e.detail, by => by },
        );
    }
    let (timeline, guests, feeds, recordings) = match who.require_staff() {
        Ok(()) => (
            Some(timeline(state, who, lang, id).await?),
            Some(super::guests::list(state, who, id).await?),
            Some(super::feeds::list(state, who, id).await?),
            Some(super::recordings::list(state, who, lang, id).await?),
        ),
        Err(_) => (None, None, None, None),
    };
    let local = |ts| to_local(ts).format("%Y-%m-%dT%H:%M").to_string();
    let ctx = context! {
        m => context! {
            id => m.id,
            title => m.title,
            description => m.description,
            kind => kind_code(m.kind),
            when => time_range(&m),
            host => m.host_hall_name,
            root => m.scope_root_name,
            levels => m.scope.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            recurrence => m.recurrence,
            override_reason => m.override_reason,
            cancelled => m.status == MeetingStatus::Cancelled,
            status => status_code(m.status),
            series => m.series_id.is_some(),
        },
        cancel_reason => state.store.cancel_reason(m.id).await?,
        invited => invitations.len(),
        groups => groups,
        events => events,
        timeline => timeline,
        guests => guests,
        guest_form => notice.guest_form,
        feeds => feeds,
        feed_made => notice.feed_made,
        recordings => recordings,
        is_admin => who.is_admin(),
        guests_open => m.status != MeetingStatus::Cancelled && m.status != MeetingStatus::Ended
            && m.status != MeetingStatus::NotHeld && scheduler::time::now() < m.ends_at,
        starts_at => notice.starts_at.unwrap_or_else(|| local(m.starts_at)),
        ends_at => notice.ends_at.unwrap_or_else(|| local(m.ends_at)),
        notice => notice.key,
        detail => notice.detail,
        conflicts => notice.conflicts,
        following => notice.following,
        can_edit => who.require_staff().is_ok() && m.status != MeetingStatus::Cancelled,
        is_staff => who.require_staff().is_ok(),
    };
    page_with(status, lang, Some(who), "meeting.html", ctx)
}

/// Each hall's attendance intervals (joined, left, why it ended), halls that never joined
/// left out: the columns of the intervals download, grouped by hall.
async fn timeline(state: &AppState, who: &Principal, lang: Lang, id: i64) -> Result<Value, Error> {
    let report = state.store.meeting_attendance(who, id).await?;
    let table = Table::build(
        lang,
        &columns::intervals(),
        &IntervalRow::all(&report),
        Audience::Page,
    );
    let mut cells = table.rows.into_iter();
    let halls: Vec<Value> = report
        .iter()
        .filter(|r| !r.timeline.is_empty())
        .map(|r| {
            let rows: Vec<_> = cells.by_ref().take(r.timeline.len()).collect();
            context! { hall => r.hall.hall_name, unit => r.hall.unit_name, rows => rows }
        })
        .collect();
    Ok(context! { header => table.header, numeric => table.numeric, halls => halls })
}

/// `GET /meetings/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Viewer { who, lang }: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    render(&state, &who, lang, id, StatusCode::OK, Notice::default()).await
}

#[derive(Deserialize)]
pub struct PostponeForm {
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    override_reason: String,
    /// Ticked: the later meetings of its series move by as much.
    following: Option<String>,
}

/// `POST /meetings/{id}/postpone`: moves the meeting (with `following`, the later ones of
/// its series by as much); conflicts are shown with a reason box.
pub async fn postpone(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
    Form(f): Form<PostponeForm>,
) -> PageResult {
    let mut notice = Notice {
        starts_at: Some(f.starts_at.clone()),
        ends_at: Some(f.ends_at.clone()),
        following: f.following.is_some(),
        ..Notice::default()
    };
    let (Some(starts_at), Some(ends_at)) = (parse_instant(&f.starts_at), parse_instant(&f.ends_at))
    else {
        notice.key = Some("meeting.bad_time");
        return render(
            &state,
            &who,
            lang,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            notice,
        )
        .await;
    };
    let change = MeetingChange {
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        ..MeetingChange::default()
    };
    let reason = Some(f.override_reason.as_str()).filter(|r| !r.trim().is_empty());
    let moved = match f.following {
        Some(_) => state
            .store
            .update_following(&who, id, change, reason)
            .await
            .map(|_| ()),
        None => state
            .store
            .update_meeting(&who, id, change, reason)
            .await
            .map(|_| ()),
    };
    match moved {
        Ok(()) => Ok(see_other(&format!("/meetings/{id}"))),
        Err(Error::Conflict(list)) => {
            notice.key = Some("conflict.title");
            notice.conflicts = list
                .iter()
                .map(|c| {
                    context! {
                        title => c.title,
                        when => format!("{} – {}", display_local(c.starts_at), display_local(c.ends_at)),
                        halls => c.halls,
                    }
                })
                .collect();
            render(&state, &who, lang, id, StatusCode::CONFLICT, notice).await
        }
        Err(Error::Invalid { field, message }) => {
            notice.key = Some("meeting.bad_time");
            notice.detail = Some(format!("{field}: {message}"));
            render(
                &state,
                &who,
                lang,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                notice,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
    /// Ticked: this meeting and the later ones of its series.
    following: Option<String>,
}

/// `POST /meetings/{id}/cancel`: cancels with a reason (required); with `following`, the
/// later meetings of its series too.
pub async fn cancel(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
    Form(f): Form<CancelForm>,
) -> PageResult {
    if f.reason.trim().is_empty() {
        let notice = Notice {
            key: Some("meeting.reason_needed"),
            ..Notice::default()
        };
        return render(
            &state,
            &who,
            lang,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            notice,
        )
        .await;
    }
    if f.following.is_some() {
        state.store.cancel_following(&who, id, &f.reason).await?;
    } else {
        state.store.cancel_meeting(&who, id, &f.reason).await?;
    }
    Ok(see_other(&format!("/meetings/{id}")))
}
