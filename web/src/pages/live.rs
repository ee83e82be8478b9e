//! The live meeting's pages without media: the secretariat's console
//! (`/meetings/{id}/console`, driving `POST/GET /api/v1/meetings/{id}/live` from
//! `console.js`) and a hall's kiosk (`/kiosk`, which joins its meetings by itself).

use axum::extract::{Path, State};
use minijinja::context;

use super::auth::{Staff, Viewer};
use super::home::summary;
use super::i18n::{self, Lang};
use super::join::console_texts;
use super::render::{page, script_json, see_other, PageResult};
use crate::state::AppState;

/// `GET /meetings/{id}/console` (staff): the host controls and the readiness board.
pub async fn console(
    State(state): State<AppState>,
    Staff { who, lang }: Staff,
    Path(id): Path<i64>,
) -> PageResult {
    let m = state.store.meeting_for(&who, id).await?;
    let ctx = context! {
        m => summary(&m),
        console_mode => "http",
        console_meeting => m.id,
        console_host => m.host_hall_id,
        texts => console_texts(lang),
    };
    page(lang, Some(&who), "console.html", ctx)
}

fn kiosk_texts(lang: Lang) -> minijinja::Value {
    script_json(&i18n::texts_with(lang, &["kiosk."]))
}

/// `GET /kiosk` (a hall's room account): the clock, the next meeting, and joining it by
/// itself; anyone else goes home.
pub async fn kiosk(State(state): State<AppState>, Viewer { who, lang }: Viewer) -> PageResult {
    let Some(hall_id) = who.hall_id() else {
        return Ok(see_other("/"));
    };
    let hall = state.store.hall(hall_id).await?;
    page(
        lang,
        Some(&who),
        "kiosk.html",
        context! { hall => hall, texts => kiosk_texts(lang) },
    )
}
