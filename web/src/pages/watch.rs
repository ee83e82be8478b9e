//! The viewer page (`/watch/{token}`): a lobby screen, an overflow room or a TV desk opens
//! a WHEP viewer token's page and sees the meeting's main picture and hears the halls'
//! audio. `watch.js` pulls them over WHEP (`POST /whep/{token}`) and waits while the
//! meeting has not started; the server only checks the token and renders the frame.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use minijinja::context;
use scheduler::{Error, FeedKind};

use super::auth::Visitor;
use super::home::summary;
use super::i18n;
use super::render::{page_with, script_json, PageResult};
use crate::state::AppState;

/// `GET /watch/{token}`: the player for a live (or coming) meeting, or why not.
pub async fn show(
    State(state): State<AppState>,
    Visitor { who, lang }: Visitor,
    Path(token): Path<String>,
) -> PageResult {
    let (status, meeting, name) = match state.store.feed_by_token(&token, FeedKind::Viewer).await {
        Ok((feed, meeting)) => (StatusCode::OK, Some(summary(&meeting)), Some(feed.name)),
        Err(Error::NotFound(_)) => (StatusCode::NOT_FOUND, None, None),
        Err(e) => return Err(e.into()),
    };
    let ready = meeting.is_some();
    let ctx = context! {
        ready => ready,
        token => ready.then_some(token.as_str()),
        texts => ready.then(|| script_json(&i18n::texts_with(lang, &["watch."]))),
        meeting => meeting,
        viewer => name,
    };
    page_with(status, lang, who.as_ref(), "watch.html", ctx)
}
