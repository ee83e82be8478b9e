//! The recordings of a meeting on its page (staff who own it): each with its start in
//! Việt Nam time, its length, its size and its state in words, a player (`<video>`, which
//! seeks through range requests) and a download link while its file is kept; a deleted
//! one says by whom. An administrator deletes one with the button beside it.

use axum::extract::{Path, State};
use minijinja::{context, Value};
use scheduler::time::display_local;
use scheduler::{Error, Principal, Recording, RecordingState};

use super::auth::Admin;
use super::i18n::Lang;
use super::render::{see_other, PageResult};
use crate::api::recordings::file_url;
use crate::report::{duration, size};
use crate::state::AppState;

fn row(lang: Lang, r: &Recording) -> Value {
    let file = r.status.has_file() && r.status != RecordingState::Recording;
    context! {
        id => r.id,
        started => display_local(r.started_at),
        ended => r.ended_at.map(display_local),
        length => r.duration_ms.map(|ms| duration(lang, ms / 1000)),
        size => r.bytes.map(|b| size(lang, b)),
        status => r.status.as_str(),
        error => r.error_code,
        started_by => r.started_by,
        deleted_by => r.deleted_by,
        deleted_at => r.deleted_at.map(display_local),
        file => file.then(|| file_url(r.id)),
        deletable => !matches!(r.status, RecordingState::Recording) && r.status.has_file(),
    }
}

/// The meeting's recordings as the page lists them.
pub(super) async fn list(
    state: &AppState,
    who: &Principal,
    lang: Lang,
    id: i64,
) -> Result<Value, Error> {
    let list = state.store.recordings(who, id).await?;
    let rows: Vec<Value> = list.iter().map(|r| row(lang, r)).collect();
    Ok(Value::from(rows))
}

/// `POST /recordings/{id}/delete` (administrators): the file removed, logged; back to the
/// meeting's recordings.
pub async fn delete(
    State(state): State<AppState>,
    Admin { who, .. }: Admin,
    Path(id): Path<i64>,
) -> PageResult {
    let dir = state.settings.recordings_dir();
    let r = state.store.delete_recording(&who, id, &dir).await?;
    Ok(see_other(&format!("/meetings/{}#recordings", r.meeting_id)))
}
