//! A meeting's recordings over the API: listed and downloaded by the staff who own the
//! meeting (the store's checks, as the attendance report: a room account is refused,
//! another unit's meeting is not found), deleted by an administrator (logged).
//!
//! The file is served by tower-http's `ServeFile` — HTTP range requests (206 with
//! `Content-Range`, `Accept-Ranges: bytes`, 416 for a range outside the file), so the
//! browser's player can seek — and only ever the row's own file under the recordings
//! directory ([`scheduler::recordings::file_path`]). The page's `<video>` uses the same
//! route: the session cookie authenticates it as it does the page's other API calls.
//! In a cluster, a file another node wrote is read from it over NATS ([`remote`]).

mod remote;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scheduler::recordings::file_path;
use scheduler::time::{rfc3339_local, rfc3339_utc};
use scheduler::{Error, Principal, Recording, RecordingState};
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::state::AppState;

/// The media type of every recording (WebM: VP8 and Opus).
pub const WEBM: &str = "video/webm";

/// Where a recording's file is downloaded from.
pub(crate) fn file_url(id: i64) -> String {
    format!("/api/v1/recordings/{id}/file")
}

/// A recording as the API returns it: instants in UTC and in Việt Nam time; its file's
/// URL while it has one.
pub(crate) fn recording_view(r: &Recording) -> Value {
    let at = |t: Option<i64>| (t.map(rfc3339_utc), t.map(rfc3339_local));
    let (ended_at, ended_at_local) = at(r.ended_at);
    let (deleted_at, deleted_at_local) = at(r.deleted_at);
    json!({
        "id": r.id,
        "meeting_id": r.meeting_id,
        "status": r.status,
        "started_by": r.started_by,
        "started_at": rfc3339_utc(r.started_at),
        "started_at_local": rfc3339_local(r.started_at),
        "ended_at": ended_at,
        "ended_at_local": ended_at_local,
        "duration_ms": r.duration_ms,
        "bytes": r.bytes,
        "error_code": r.error_code,
        "node_id": r.node_id,
        "deleted_by": r.deleted_by,
        "deleted_at": deleted_at,
        "deleted_at_local": deleted_at_local,
        "file_url": r.status.has_file().then(|| file_url(r.id)),
    })
}

/// `GET /meetings/{id}/recordings` → `{"recordings": [...]}`, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let list = state.store.recordings(&who, id).await?;
    let views: Vec<Value> = list.iter().map(recording_view).collect();
    Ok(Json(json!({ "recordings": views })))
}

/// `GET /recordings/{id}` → the recording.
pub async fn show(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let r = state.store.recording(&who, id).await?;
    Ok(Json(recording_view(&r)))
}

/// `GET /recordings/{id}/file`: the WebM, whole or by `Range`.
pub async fn file(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    req: Request,
) -> ApiResult<Response> {
    serve(&state, &who, id, req).await
}

/// The file of recording `id` as `who` may download it, answering `req`'s range and
/// conditional headers: 410 `recording_deleted` / `recording_expired` once the file is
/// gone by design, 404 when it is missing (from this node's directory, or from the
/// directory of the node that wrote it, which is asked when that is another node).
async fn serve(state: &AppState, who: &Principal, id: i64, req: Request) -> ApiResult<Response> {
    let r = state.store.recording(who, id).await?;
    match r.status {
        RecordingState::Deleted => return Err(Error::Gone("recording_deleted").into()),
        RecordingState::Expired => return Err(Error::Gone("recording_expired").into()),
        _ => {}
    }
    let dir = state.settings.recordings_dir();
    let path = file_path(&dir, &r.file).ok_or(Error::NotFound("recording file"))?;
    let here = tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file());
    let writer = state
        .signaling
        .as_ref()
        .and_then(|s| s.bridge())
        .filter(|b| b.node() != r.node_id);
    let mut res = match (here, writer) {
        (true, _) => {
            let (parts, _) = req.into_parts();
            let req = Request::from_parts(parts, Body::empty());
            match ServeFile::new(&path).oneshot(req).await {
                Ok(res) => res.map(Body::new),
                Err(never) => match never {},
            }
        }
        (false, Some(bridge)) => remote::serve(bridge, &r, req.headers()).await?,
        (false, None) => return Err(Error::NotFound("recording file").into()),
    };
    if res.status().is_success() {
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(WEBM));
        let name = format!(
            "inline; filename=\"ghi-hinh-cuoc-hop-{}-{id}.webm\"",
            r.meeting_id
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
    Ok(res.into_response())
}

/// `DELETE /recordings/{id}` (administrators): the file removed, the row kept as
/// `deleted` with who and when (answered), the meeting's history told.
pub async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let dir = state.settings.recordings_dir();
    let r = state.store.delete_recording(&who, id, &dir).await?;
    Ok(Json(recording_view(&r)))
}
