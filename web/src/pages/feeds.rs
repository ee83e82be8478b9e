//! The feed tokens of a meeting on its page (staff only): WHIP ingest sources and WHEP
//! viewer tokens with their state, the WHEP viewers watching now, the form that makes one
//! (its URL is shown once, right after: only the token's hash is kept) and the button that
//! revokes one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Form;
use minijinja::{context, Value};
use scheduler::time::display_local;
use scheduler::{Error, FeedKind, NewFeed, Principal};
use serde::Deserialize;

use super::auth::Staff;
use super::meeting::{render, Notice};
use super::render::{see_other, PageResult};
use crate::api::feeds::{feed_url, watch_url};
use crate::state::AppState;

/// The meeting's feed tokens and its WHEP viewers now, as the page lists them.
pub(super) async fn list(state: &AppState, who: &Principal, id: i64) -> Result<Value, Error> {
    let feeds = state.store.feeds(who, id).await?;
    let rows: Vec<Value> = feeds
        .iter()
        .map(|f| {
            context! {
                id => f.id,
                name => f.name,
                kind => f.kind.as_str(),
                created => display_local(f.created_at),
                revoked => f.revoked_at.map(display_local),
            }
        })
        .collect();
    let viewers = match &state.signaling {
        Some(signaling) => signaling.viewers(id).await,
        None => Vec::new(),
    };
    let viewers: Vec<Value> = viewers
        .iter()
        .map(|v| context! { name => v.name, since => display_local(v.since), connected => v.connected })
        .collect();
    Ok(context! { tokens => rows, viewers => viewers })
}

#[derive(Deserialize)]
pub struct FeedForm {
    kind: FeedKind,
    name: String,
}

/// `POST /meetings/{id}/feeds`: makes a token and shows its URL once, above the list.
pub async fn add(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
    Form(f): Form<FeedForm>,
) -> PageResult {
    let new = NewFeed {
        kind: f.kind,
        name: f.name,
    };
    let notice = match state.store.add_feed(&who, id, &new).await {
        Ok(made) => Notice {
            feed_made: Some(context! {
                name => made.feed.name,
                kind => made.feed.kind.as_str(),
                url => feed_url(&state.public_base, made.feed.kind, &made.token),
                watch => watch_url(&state.public_base, made.feed.kind, &made.token),
            }),
            ..Notice::default()
        },
        Err(e @ Error::Invalid { .. }) => Notice {
            key: Some("feed.not_added"),
            detail: Some(e.to_string()),
            ..Notice::default()
        },
        Err(e) => return Err(e.into()),
    };
    let status = match notice.feed_made {
        Some(_) => StatusCode::CREATED,
        None => StatusCode::UNPROCESSABLE_ENTITY,
    };
    render(&state, &who, lang, id, status, notice).await
}

/// `POST /meetings/{id}/feeds/{feed_id}/revoke`: the token is refused from now on and its
/// sessions end at once.
pub async fn revoke(
    State(state): State<AppState>,
    Staff { who, .. }: Staff,
    Path((id, feed_id)): Path<(i64, i64)>,
) -> PageResult {
    let feed = state.store.revoke_feed(&who, id, feed_id).await?;
    if let Some(signaling) = &state.signaling {
        signaling.shut_out_feed(feed.id).await;
    }
    Ok(see_other(&format!("/meetings/{id}#feeds")))
}
