//! `GET /meetings/{id}/minutes.docx`: the meeting record (biên bản) as a Word document, for
//! the staff who may read the meeting's attendance report (the same store checks: a room
//! account is refused, another unit's meeting is not found). The page route of the same
//! path (`pages`) answers the browser's session the same way.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::report::minutes::{self, MinutesData};
use crate::state::AppState;
use scheduler::{Principal, Result};

/// The DOCX media type.
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The record of meeting `id` as `who` may see it, ready to download.
pub(crate) async fn download(state: &AppState, who: &Principal, id: i64) -> Result<Response> {
    let store = &state.store;
    // The report's own data and checks: staff only, the meeting must be theirs to see.
    let rows = store.meeting_attendance(who, id).await?;
    let meeting = store.meeting_for(who, id).await?;
    let held = store.held_meeting(who, id).await?;
    let floor = store.floor_timeline(who, id).await?;
    let recordings = store.recordings(who, id).await?;
    let bytes = minutes::document(&MinutesData {
        meeting: &meeting,
        held: &held,
        rows: &rows,
        floor: &floor,
        recordings: &recordings,
        base: &state.public_base,
        now: scheduler::time::now(),
    })
    .map_err(|e| scheduler::Error::Internal(format!("meeting record: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, DOCX.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"bien-ban-cuoc-hop-{id}.docx\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// `GET /api/v1/meetings/{id}/minutes.docx` (staff).
pub async fn meeting(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(download(&state, &who, id).await?)
}
