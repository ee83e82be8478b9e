//! Meetings: schedule (with a scope preview and conflicts), list, read, edit, cancel, invitations.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;
use crate::views::meeting_view;
use scheduler::time::{local_date, now, parse_instant, Timestamp};
use scheduler::{MeetingChange, MeetingDraft, MeetingFilter, MeetingKind, Scope};

/// A meeting as a secretariat submits it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingBody {
    title: String,
    #[serde(default)]
    description: String,
    kind: MeetingKind,
    host_hall_id: i64,
    /// RFC 3339, a local time (`2026-11-30T08:00`, Việt Nam time) or `now`.
    starts_at: String,
    /// As `starts_at`; or give `duration_minutes`.
    ends_at: Option<String>,
    duration_minutes: Option<i64>,
    scope: Scope,
    recurrence: Option<String>,
    override_reason: Option<String>,
}

fn instant(fields: &mut BTreeMap<String, String>, name: &str, value: &str) -> Option<Timestamp> {
    if value.trim() == "now" {
        return Some(now());
    }
    let parsed = parse_instant(value);
    if parsed.is_none() {
        fields.insert(
            name.into(),
            "must be a date-time such as 2026-11-30T08:00 (Việt Nam time), RFC 3339, or now".into(),
        );
    }
    parsed
}

/// Checks every field of a submitted meeting at once, so a form shows all its mistakes.
fn draft_of(body: MeetingBody) -> ApiResult<(MeetingDraft, Option<String>)> {
    let mut fields = BTreeMap::new();
    if let Err(scheduler::Error::Invalid { field, message }) =
        scheduler::schedule::parse_title(&body.title)
    {
        fields.insert(field, message);
    }
    let starts_at = instant(&mut fields, "starts_at", &body.starts_at);
    let ends_at = match (&body.ends_at, body.duration_minutes) {
        (Some(e), None) => instant(&mut fields, "ends_at", e),
        (None, Some(m)) if (1..=24 * 60).contains(&m) => starts_at.map(|s| s + m * 60),
        (None, Some(_)) => {
            fields.insert("duration_minutes".into(), "must be 1 to 1440".into());
            None
        }
        _ => {
            fields.insert(
                "ends_at".into(),
                "give ends_at or duration_minutes (not both)".into(),
            );
            None
        }
    };
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        if e <= s {
            fields.insert("ends_at".into(), "must be after the start".into());
        }
    }
    if body.scope.levels.is_empty() && body.scope.include_halls.is_empty() {
        fields.insert(
            "scope.levels".into(),
            "choose at least one level or hall".into(),
        );
    }
    if let Some(rule) = &body.recurrence {
        if let Err(scheduler::Error::Invalid { field, message }) =
            scheduler::recurrence::parse_rule(rule)
        {
            fields.insert(field, message);
        }
    }
    match (fields.is_empty(), starts_at, ends_at) {
        (true, Some(starts_at), Some(ends_at)) => Ok((
            MeetingDraft {
                title: body.title,
                description: body.description,
                kind: body.kind,
                host_hall_id: body.host_hall_id,
                starts_at,
                ends_at,
                scope: body.scope,
                recurrence: body.recurrence.filter(|r| !r.trim().is_empty()),
            },
            body.override_reason,
        )),
        _ => Err(ApiError::Fields(fields)),
    }
}

/// `POST /meetings`: schedules a meeting or a series; 409 lists conflicts unless overridden.
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<MeetingBody>,
) -> ApiResult<Json<Value>> {
    let (draft, reason) = draft_of(body)?;
    let created = state.store.schedule(&who, draft, reason.as_deref()).await?;
    Ok(Json(
        json!({ "meetings": created.iter().map(meeting_view).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    scope: Scope,
    host_hall_id: Option<i64>,
    /// When the meeting starts (decides which unit tree applies); now if absent.
    starts_at: Option<String>,
}

/// `POST /scope/preview`: how many halls a scope would invite, before saving.
pub async fn preview(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<Value>> {
    // The root, the host and every added hall must be the caller's, as when scheduling.
    state
        .store
        .authorize_scope(&who, &body.scope, body.host_hall_id)
        .await?;
    let at = match body.starts_at.as_deref() {
        None | Some("now") => now(),
        Some(s) => {
            parse_instant(s).ok_or_else(|| ApiError::field("starts_at", "not a date-time"))?
        }
    };
    let p = state
        .store
        .resolve_scope(&body.scope, body.host_hall_id, local_date(at))
        .await?;
    Ok(Json(
        json!({ "total": p.total, "per_level": p.per_level, "hall_ids": p.hall_ids }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    include_cancelled: Option<bool>,
}

/// `GET /meetings?from=&to=&include_cancelled=`: what the caller may see (upcoming by default).
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let parse = |name: &str, v: &Option<String>| -> ApiResult<Option<Timestamp>> {
        v.as_deref()
            .map(|s| parse_instant(s).ok_or_else(|| ApiError::field(name, "not a date-time")))
            .transpose()
    };
    let filter = MeetingFilter {
        from: Some(parse("from", &q.from)?.unwrap_or_else(now)),
        to: parse("to", &q.to)?,
        include_cancelled: q.include_cancelled.unwrap_or(false),
    };
    let meetings = state.store.meetings_for(&who, filter).await?;
    Ok(Json(
        json!({ "meetings": meetings.iter().map(meeting_view).collect::<Vec<_>>() }),
    ))
}

/// `GET /meetings/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let m = state.store.meeting_for(&who, id).await?;
    Ok(Json(json!({ "meeting": meeting_view(&m) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    title: Option<String>,
    description: Option<String>,
    kind: Option<MeetingKind>,
    host_hall_id: Option<i64>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    scope: Option<Scope>,
    override_reason: Option<String>,
    /// `true`: this meeting and the later ones of its series still scheduled.
    #[serde(default)]
    following: bool,
}

/// `PATCH /meetings/{id}`: edit or postpone; invited halls see the change. With
/// `following`, the later meetings of its series too (a new start moves each by as much).
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> ApiResult<Json<Value>> {
    let mut fields = BTreeMap::new();
    let starts_at = body
        .starts_at
        .as_deref()
        .and_then(|s| instant(&mut fields, "starts_at", s));
    let ends_at = body
        .ends_at
        .as_deref()
        .and_then(|s| instant(&mut fields, "ends_at", s));
    if !fields.is_empty() {
        return Err(ApiError::Fields(fields));
    }
    let change = MeetingChange {
        title: body.title,
        description: body.description,
        kind: body.kind,
        host_hall_id: body.host_hall_id,
        starts_at,
        ends_at,
        scope: body.scope,
    };
    let reason = body.override_reason.as_deref();
    if body.following {
        let all = state
            .store
            .update_following(&who, id, change, reason)
            .await?;
        let views: Vec<Value> = all.iter().map(meeting_view).collect();
        return Ok(Json(json!({ "meeting": views.first(), "meetings": views })));
    }
    let m = state.store.update_meeting(&who, id, change, reason).await?;
    Ok(Json(
        json!({ "meeting": meeting_view(&m), "meetings": [meeting_view(&m)] }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    reason: String,
    /// `true`: this meeting and the later ones of its series still scheduled.
    #[serde(default)]
    following: bool,
}

/// `POST /meetings/{id}/cancel` `{"reason", "following"?}`: cancels it (with `following`,
/// also the later meetings of its series still scheduled).
pub async fn cancel(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    if body.following {
        let all = state.store.cancel_following(&who, id, &body.reason).await?;
        let ids: Vec<i64> = all.iter().map(|m| m.id).collect();
        let first = all.first().map(meeting_view);
        return Ok(Json(json!({ "meeting": first, "cancelled": ids })));
    }
    let m = state.store.cancel_meeting(&who, id, &body.reason).await?;
    Ok(Json(
        json!({ "meeting": meeting_view(&m), "cancelled": [m.id] }),
    ))
}

/// `GET /meetings/{id}/invitations`: the invited halls (tokens for staff and the hall itself).
pub async fn invitations(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let list = state.store.invitations(&who, id).await?;
    let base = &state.public_base;
    let rows: Vec<Value> = list
        .iter()
        .map(|i| {
            let mut v = json!(i);
            if let (Some(t), Some(obj)) = (&i.join_token, v.as_object_mut()) {
                obj.insert("join_url".into(), json!(format!("{base}/j/{t}")));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "total": rows.len(), "invitations": rows })))
}

/// `GET /meetings/{id}/events`: who scheduled, changed or cancelled it, when.
pub async fn events(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let events = state.store.meeting_events(&who, id).await?;
    let rows: Vec<Value> = events
        .iter()
        .map(|e| json!({ "at": scheduler::time::rfc3339_utc(e.at), "at_local": scheduler::time::rfc3339_local(e.at), "account_id": e.account_id, "kind": e.kind, "detail": e.detail }))
        .collect();
    Ok(Json(json!({ "events": rows })))
}
