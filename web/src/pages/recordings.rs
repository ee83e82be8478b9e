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
use crate::report::duration;
use crate::state::AppState;

/// A size for people: `850 KB`, `12,4 MB`, `1,25 GB` (Vietnamese decimal comma).
pub(crate) fn size(lang: Lang, bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    let (n, unit, places) = if b >= 1e9 {
        (b / 1e9, "GB", 2)
    } else if b >= 1e6 {
        (b / 1e6, "MB", 1)
    } else {
        ((b / 1e3).ceil(), "KB", 0)
    };
    let n = format!("{n:.places$}");
    let n = match lang {
        Lang::Vi => n.replace('.', ","),
        _ => n,
    };
    format!("{n} {unit}")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(Lang::Vi, 850_000), "850 KB");
        assert_eq!(size(Lang::Vi, 1), "1 KB");
        assert_eq!(size(Lang::Vi, 12_400_000), "12,4 MB");
        assert_eq!(size(Lang::En, 12_400_000), "12.4 MB");
        assert_eq!(size(Lang::Vi, 1_250_000_000), "1,25 GB");
    }
}
