//! The live meeting for the secretariat over HTTP: its state and readiness board, and the
//! host controls (start / end / test, roll call start / end and marks, floor, mute, lock,
//! remove).
//!
//! `POST /api/v1/meetings/{id}/live` takes the same JSON as the WebSocket message of the
//! same `type` (docs/protocol.md), e.g. `{"type":"set_phase","phase":"started"}` or
//! `{"type":"mark_roll_call","hall_id":7,"status":"absent","reason":"mất điện"}`; the
//! room acts as if the host hall had sent it, logged with the staff account.
//! `GET /api/v1/meetings/{id}/live` answers `{"state": …, "readiness": …, "recording": …}`
//! (`null` when no hall has connected yet; `recording` as the `recording` message:
//! `{"on": true, "since": …, "by": …}`). `{"type":"start_recording"}` and
//! `{"type":"stop_recording"}` start and stop the meeting's recording. Only administrators and the secretariats who can see the
//! meeting may use these. The routes have their own state (the store and the live rooms)
//! and are merged into the server's router at start-up.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use scheduler::{Principal, Store};
use serde_json::{json, Value};
use signaling::protocol::{parse_client, ErrorCode, MeetingInfo};
use signaling::Signaling;

use crate::error::{ApiError, ApiResult};
use crate::extract::{session_token, ApiJson};

/// What the live routes need.
#[derive(Clone)]
pub struct LiveState {
    /// To authenticate and find the meeting.
    pub store: Store,
    /// The live rooms.
    pub signaling: Signaling,
}

/// The live routes over their own state.
pub fn router(state: LiveState) -> Router {
    Router::new()
        .route("/api/v1/meetings/{id}/live", get(show).post(act))
        .with_state(state)
}

/// The staff caller who may act on meeting `id`, and the meeting as the room knows it.
async fn staff_meeting(
    state: &LiveState,
    headers: &HeaderMap,
    id: i64,
) -> ApiResult<(Principal, MeetingInfo)> {
    let token = session_token(headers).ok_or(scheduler::Error::Unauthenticated)?;
    let who = state.store.authenticate(&token).await?;
    who.require_staff()?;
    let m = state.store.meeting_for(&who, id).await?;
    Ok((who, MeetingInfo::from(m)))
}

async fn show(
    State(state): State<LiveState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    staff_meeting(&state, &headers, id).await?;
    let none = json!({ "state": null, "readiness": null, "recording": null });
    let Some(room) = state.signaling.room(id) else {
        return Ok(Json(none));
    };
    match (
        room.state().await,
        room.readiness().await,
        room.recording().await,
    ) {
        (Ok(s), Ok(r), Ok(rec)) => Ok(Json(
            json!({ "state": s, "readiness": r, "recording": rec }),
        )),
        _ => Ok(Json(none)),
    }
}

async fn act(
    State(state): State<LiveState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let (who, meeting) = staff_meeting(&state, &headers, id).await?;
    let message = parse_client(&body.to_string()).map_err(|e| {
        ApiError::Body(StatusCode::UNPROCESSABLE_ENTITY, e.code.as_str(), e.message)
    })?;
    if !message.staff_may_send() {
        return Err(ApiError::Body(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidMessage.as_str(),
            "this message is sent by a hall's page, not over HTTP".into(),
        ));
    }
    // Controls only while the meeting is live or within its join window; never once
    // cancelled (ending one would make it `not_held` and bring it back).
    let now = scheduler::time::now();
    state
        .store
        .meeting_for(&who, id)
        .await?
        .controllable_at(now)?;
    state
        .signaling
        .act(&meeting, who.account.id, message)
        .await
        .map_err(|e| {
            let status = match e.code {
                ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                ErrorCode::UnknownHall => StatusCode::NOT_FOUND,
                ErrorCode::Internal | ErrorCode::RecordingFailed => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                ErrorCode::InvalidMessage => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            ApiError::Body(status, e.code.as_str(), e.message)
        })?;
    Ok(Json(json!({ "ok": true })))
}

#[cfg(test)]
mod tests {
    //! The live routes over a seeded store: a secretariat acts, a hall account may not.

    use super::*;
    use axum::body::Body;
    use axum::http::{header, Request};
    use scheduler::testing::{demo_db, province_meeting_now, TestDb, DEMO_PASSWORD};
    use scheduler::{Backend, Level};
    use tower::ServiceExt;

    async fn setup() -> (TestDb, Router, i64) {
        setup_with(Default::default()).await
    }

    async fn setup_with(config: signaling::SignalingConfig) -> (TestDb, Router, i64) {
        let db = demo_db(Backend::Sqlite).await.expect("demo database");
        let store = &db.store;
        let levels = [Level::Province, Level::District];
        let id = province_meeting_now(store, "Họp trực tuyến", &levels)
            .await
            .expect("scheduled")
            .id;
        let signaling = Signaling::start(Default::default(), config)
            .expect("valid config")
            .with_roster(store.clone());
        let state = LiveState {
            store: store.clone(),
            signaling,
        };
        (db, router(state), id)
    }

    async fn call(
        app: &Router,
        user: &str,
        method: &str,
        id: i64,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let uri = format!("/api/v1/meetings/{id}/live");
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {user}"));
        let body = match body {
            Some(v) => {
                r = r.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let res = app
            .clone()
            .oneshot(r.body(body).expect("request"))
            .await
            .expect("answer");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn token(db: &TestDb, user: &str) -> String {
        db.store
            .login(user, DEMO_PASSWORD, 3600)
            .await
            .expect("login")
            .0
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_secretariat_starts_and_stops_the_recording_as_the_host_would() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = signaling::SignalingConfig {
            recordings_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let (db, app, id) = setup_with(config).await;
        let (vp, hall) = (token(&db, "vp.tinh").await, token(&db, "dc.25").await);
        let start = json!({"type": "start_recording"});
        let (status, body) = call(&app, &hall, "POST", id, Some(start.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = call(&app, &vp, "POST", id, Some(start.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, body) = call(&app, &vp, "GET", id, None).await;
        assert_eq!(body["recording"]["on"], true, "{body}");
        assert_eq!(body["recording"]["by"]["kind"], "staff", "{body}");
        assert!(body["recording"]["since"].is_i64(), "{body}");
        assert!(dir.path().join(id.to_string()).is_dir(), "its folder");
        let (status, body) = call(&app, &vp, "POST", id, Some(start)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("already_recording"))
        );
        let stop = json!({"type": "stop_recording"});
        let (status, body) = call(&app, &vp, "POST", id, Some(stop.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, body) = call(&app, &vp, "GET", id, None).await;
        assert_eq!(body["recording"]["on"], false, "{body}");
        let (status, body) = call(&app, &vp, "POST", id, Some(stop)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_recording"))
        );
        db.cleanup().await;
    }

    #[tokio::test]
    async fn without_a_recordings_directory_the_recording_is_unavailable() {
        let (db, app, id) = setup().await;
        let vp = token(&db, "vp.tinh").await;
        let start = json!({"type": "start_recording"});
        let (status, body) = call(&app, &vp, "POST", id, Some(start)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("recording_unavailable"))
        );
        db.cleanup().await;
    }

    #[tokio::test]
    async fn a_secretariat_starts_the_test_and_a_hall_account_may_not() {
        let (db, app, id) = setup().await;
        let vp = token(&db, "vp.tinh").await;
        let hall = token(&db, "dc.25").await;
        let test = json!({"type": "set_phase", "phase": "test"});
        let (status, body) = call(&app, &hall, "POST", id, Some(test.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, body) = call(&app, &vp, "POST", id, Some(json!({"type": "raise_hand"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, body) = call(&app, &vp, "POST", id, Some(test)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(&app, &vp, "GET", id, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"]["phase"], "test", "{body}");
        assert!(body["readiness"]["halls"].is_array(), "{body}");
        let (status, body) = call(
            &app,
            &vp,
            "POST",
            id,
            Some(json!({"type": "give_floor", "hall_id": 1})),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unknown_hall"))
        );
        // The roll call: ended over HTTP too, only once one runs.
        let end = json!({"type": "end_roll_call"});
        let (status, body) = call(&app, &vp, "POST", id, Some(end.clone())).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("out_of_order"))
        );
        let start = json!({"type": "start_roll_call"});
        let (status, body) = call(&app, &vp, "POST", id, Some(start)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(&app, &vp, "GET", id, None).await;
        assert!(body["state"]["roll_call"].is_u64(), "{status} {body}");
        let (status, body) = call(&app, &vp, "POST", id, Some(end.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call(&app, &hall, "POST", id, Some(end)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (_, body) = call(&app, &vp, "GET", id, None).await;
        assert!(body["state"]["roll_call"].is_null(), "{body}");
        db.cleanup().await;
    }
}
