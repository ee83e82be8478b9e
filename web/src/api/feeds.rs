//! Feed tokens of a meeting (WHIP ingest, WHEP viewer): staff who may run it make one
//! (a kind and a name) and get its URL once — only the token's hash is kept — list them
//! with the WHEP viewers watching now, and revoke one (its sessions end at once).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use scheduler::{Feed, FeedKind, NewFeed};

/// The URL a feed's client posts its offer to.
pub(crate) fn feed_url(base: &str, kind: FeedKind, token: &str) -> String {
    let path = match kind {
        FeedKind::Ingest => "whip",
        FeedKind::Viewer => "whep",
    };
    format!("{base}/{path}/{token}")
}

/// The browser player page of a viewer token (`/watch/{token}`); none for an ingest token.
pub(crate) fn watch_url(base: &str, kind: FeedKind, token: &str) -> Option<String> {
    (kind == FeedKind::Viewer).then(|| format!("{base}/watch/{token}"))
}

fn feed_view(f: &Feed) -> Value {
    let mut v = json!(f);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "revoked_at_local".into(),
            json!(f.revoked_at.map(scheduler::time::rfc3339_local)),
        );
    }
    v
}

/// `POST /meetings/{id}/feeds` `{"kind": "ingest"|"viewer", "name"}` → 201 with the
/// feed, its token and its URL (shown this once).
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewFeed>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let made = state.store.add_feed(&who, id, &body).await?;
    let url = feed_url(&state.public_base, made.feed.kind, &made.token);
    let watch = watch_url(&state.public_base, made.feed.kind, &made.token);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "feed": feed_view(&made.feed),
            "token": made.token,
            "url": url,
            "watch_url": watch,
        })),
    ))
}

/// `GET /meetings/{id}/feeds`: every feed token (revoked ones marked) and the WHEP
/// viewers watching now.
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let feeds = state.store.feeds(&who, id).await?;
    let viewers = match &state.signaling {
        Some(signaling) => signaling.viewers(id).await,
        None => Vec::new(),
    };
    let rows: Vec<Value> = feeds.iter().map(feed_view).collect();
    Ok(Json(json!({
        "feeds": rows,
        "viewer_count": viewers.len(),
        "viewers": viewers,
    })))
}

/// `POST /meetings/{id}/feeds/{feed_id}/revoke`: the token is refused from now on and its
/// live sessions end.
pub async fn revoke(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, feed_id)): Path<(i64, i64)>,
) -> ApiResult<Json<Value>> {
    let feed = state.store.revoke_feed(&who, id, feed_id).await?;
    if let Some(signaling) = &state.signaling {
        signaling.shut_out_feed(feed.id).await;
    }
    Ok(Json(json!({ "feed": feed_view(&feed) })))
}
