//! WHIP ingest (RFC 9725) and WHEP egress over HTTP: `POST /whip/{ingest token}` and
//! `POST /whep/{viewer token}` take an SDP offer (`application/sdp`) and answer
//! `201 Created` with the SDP answer and the session's `Location`; `DELETE` on it ends
//! the session. ICE is the SFU's: the answer carries the media port's candidates (no
//! trickle: `PATCH` answers 405). Errors are the API's JSON (`{"error":{"code",…}}`):
//! unknown or revoked token 404 `not_found`, meeting not live 409 `meeting_not_live`,
//! malformed SDP 400 `invalid_sdp`, wrong content type 415 `unsupported_media_type`,
//! a body over [`MAX_SDP_BYTES`] 413 `payload_too_large` (`docs/protocol.md`, "WHIP and
//! WHEP"). The routes have their own state (the store and the live rooms).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use scheduler::{FeedKind, MeetingKind, MeetingStatus};
use signaling::{FeedOffer, FeedRefusal, FeedRole};

use crate::api::live::LiveState;
use crate::error::{ApiError, ApiResult};

/// The largest SDP offer taken (a browser's simulcast offer is ~6 KiB).
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// The WHIP and WHEP routes over their own state.
pub fn router(state: LiveState) -> Router {
    Router::new()
        .route("/whip/{token}", post(whip))
        .route("/whep/{token}", post(whep))
        .route(
            "/whip/session/{id}",
            delete(end).patch(no_trickle).post(no_trickle),
        )
        .route(
            "/whep/session/{id}",
            delete(end).patch(no_trickle).post(no_trickle),
        )
        .with_state(state)
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Body(status, code, message.into())
}

/// The offer: `application/sdp` (parameters allowed), at most [`MAX_SDP_BYTES`], UTF-8
/// starting with `v=0`.
async fn read_offer(headers: &HeaderMap, body: Body) -> ApiResult<String> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/sdp") {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the SDP offer as Content-Type: application/sdp",
        ));
    }
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("an SDP offer is at most {MAX_SDP_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_SDP_BYTES) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_SDP_BYTES)
        .await
        .map_err(|_| too_large())?;
    let sdp = String::from_utf8(bytes.to_vec())
        .map_err(|_| invalid_sdp("the SDP offer is not UTF-8 text"))?;
    if !sdp.trim_start().starts_with("v=0") {
        return Err(invalid_sdp("an SDP offer starts with v=0"));
    }
    Ok(sdp)
}

fn invalid_sdp(message: impl Into<String>) -> ApiError {
    refuse(StatusCode::BAD_REQUEST, "invalid_sdp", message)
}

/// The directions of the offer's media sections (`a=sendonly`, …; `sendrecv` when none).
fn directions(sdp: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for section in sdp.split("\nm=").skip(1) {
        let dir = ["sendonly", "recvonly", "sendrecv", "inactive"]
            .into_iter()
            .find(|d| section.lines().any(|l| l.trim_end() == format!("a={d}")))
            .unwrap_or("sendrecv");
        out.push(dir);
    }
    out
}

/// `POST /whip/{token}`: an ingest source publishes into its live meeting.
async fn whip(
    State(state): State<LiveState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let sdp = read_offer(&headers, body).await?;
    let dirs = directions(&sdp);
    if dirs.is_empty() || dirs.contains(&"recvonly") {
        return Err(invalid_sdp(
            "a WHIP offer has media sections that send (sendonly), none recvonly",
        ));
    }
    let (feed, meeting) = state.store.feed_by_token(&token, FeedKind::Ingest).await?;
    let role = FeedRole::Source {
        main_by_default: meeting.kind == MeetingKind::NationalRelay,
    };
    join(&state, feed, meeting, role, sdp, "whip").await
}

/// `POST /whep/{token}`: a viewer pulls its live meeting's main picture and audio.
async fn whep(
    State(state): State<LiveState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let sdp = read_offer(&headers, body).await?;
    let dirs = directions(&sdp);
    if dirs.is_empty() || dirs.iter().any(|d| *d != "recvonly" && *d != "inactive") {
        return Err(invalid_sdp(
            "a WHEP offer's media sections only receive (recvonly)",
        ));
    }
    let (feed, meeting) = state.store.feed_by_token(&token, FeedKind::Viewer).await?;
    join(&state, feed, meeting, FeedRole::Viewer, sdp, "whep").await
}

async fn join(
    state: &LiveState,
    feed: scheduler::Feed,
    meeting: scheduler::Meeting,
    role: FeedRole,
    sdp: String,
    path: &str,
) -> ApiResult<Response> {
    if meeting.status != MeetingStatus::Live {
        return Err(refuse(
            StatusCode::CONFLICT,
            "meeting_not_live",
            "the meeting is not live: the host has not started it, or it has ended",
        ));
    }
    let offer = FeedOffer {
        feed_id: feed.id,
        name: feed.name,
        role,
        sdp,
    };
    let info = signaling::protocol::MeetingInfo::from(meeting);
    let answer = state
        .signaling
        .feed_join(&info, offer)
        .await
        .map_err(|e| match e {
            FeedRefusal::Ended => refuse(StatusCode::CONFLICT, "meeting_not_live", e.to_string()),
            FeedRefusal::Capacity(m) => refuse(StatusCode::SERVICE_UNAVAILABLE, "capacity", m),
            FeedRefusal::InvalidSdp(m) => invalid_sdp(m),
            FeedRefusal::Internal(m) => {
                tracing::error!(error = %m, "a feed's offer failed");
                refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the offer failed",
                )
            }
        })?;
    let location = format!("/{path}/session/{}", answer.session);
    let mut response = (StatusCode::CREATED, answer.sdp).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `DELETE /whip/session/{id}` (or `/whep/…`): the session ends; 404 if there is none.
async fn end(State(state): State<LiveState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    if state.signaling.feed_end(&id).await {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::Domain(scheduler::Error::NotFound("session")))
    }
}

/// Trickle ICE and ICE restarts by `PATCH` are not offered: the answer has every
/// candidate.
async fn no_trickle() -> ApiError {
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "trickle_not_supported",
        "this server does not take trickled candidates; its answer lists all of its own",
    )
}

#[cfg(test)]
mod tests {
    use super::directions;

    #[test]
    fn directions_are_read_per_media_section() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=recvonly\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n";
        assert_eq!(directions(sdp), vec!["recvonly", "sendrecv"]);
        assert!(directions("v=0\r\ns=-\r\n").is_empty());
    }
}
