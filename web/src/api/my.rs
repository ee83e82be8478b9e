//! A hall's own view: its meetings with join links and calendar feed, and join-token checks.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{Auth, MaybeAuth};
use crate::state::AppState;
use crate::views::meeting_view;
use scheduler::MeetingFilter;

/// `GET /my/meetings` (room accounts): upcoming meetings, each with this hall's join link.
pub async fn meetings(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    let Some(hall_id) = who.hall_id() else {
        return Err(
            scheduler::Error::Forbidden("only room accounts have their own meetings").into(),
        );
    };
    let filter = MeetingFilter {
        from: Some(scheduler::time::now()),
        to: None,
        include_cancelled: true,
    };
    let mut rows = Vec::new();
    for m in state.store.meetings_for(&who, filter).await? {
        let mut v = meeting_view(&m);
        if let (Some(token), Some(obj)) = (
            state.store.join_token_of(m.id, hall_id).await?,
            v.as_object_mut(),
        ) {
            obj.insert(
                "join_url".into(),
                json!(format!("{}/j/{token}", state.public_base)),
            );
        }
        rows.push(v);
    }
    let hall = state.store.hall(hall_id).await?;
    let feed = state.store.hall_feed_token(hall_id).await?;
    Ok(Json(
        json!({ "hall": hall, "calendar_url": format!("{}/calendar/{feed}.ics", state.public_base), "meetings": rows }),
    ))
}

/// `GET /join/{token}`: whether a join token may be used now, and for which hall and meeting.
pub async fn join(
    State(state): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let grant = state
        .store
        .check_join_token(&token, who.as_ref(), scheduler::time::now())
        .await?;
    Ok(Json(
        json!({ "meeting": meeting_view(&grant.meeting), "hall": { "id": grant.hall_id, "name": grant.hall_name }, "guest": grant.guest }),
    ))
}
