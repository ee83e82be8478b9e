//! A recording's file served through a node that did not write it (each node records into
//! its own directory; no shared volume needed): read from the writer over NATS a slice at
//! a time (signaling's bridge, `hoinghi.node.<writer>.file`), with the answers a local
//! file gets — 200 whole, 206 for one byte range (the player seeks), 416 outside the
//! file — and 503 `node_unreachable` when the writer does not answer.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream;
use scheduler::{Error, Recording};
use signaling::bridge::{Bridge, RemoteFileError, RECORDING_SLICE};

use crate::error::{ApiError, ApiResult};

/// The file of `r` read from its writer node, answering `headers`' `Range`.
pub(super) async fn serve(
    bridge: &Arc<Bridge>,
    r: &Recording,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let size = bridge
        .read_recording(&r.node_id, &r.file, 0, 0)
        .await
        .map_err(|e| refused(&r.node_id, e))?
        .size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| http_range_header::parse_range_header(v).and_then(|p| p.validate(size)));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok(ranges)) if ranges.len() == 1 => (
            StatusCode::PARTIAL_CONTENT,
            *ranges[0].start(),
            ranges[0].end() + 1,
        ),
        // Several ranges at once: the whole file (a server may ignore Range).
        Some(Ok(_)) => (StatusCode::OK, 0, size),
        Some(Err(_)) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let unsatisfied = HeaderValue::from_str(&format!("bytes */{size}"));
            if let Ok(v) = unsatisfied {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let body = slices(
        Arc::clone(bridge),
        r.node_id.clone(),
        r.file.clone(),
        start,
        end,
    );
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{size}", end.saturating_sub(1));
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(res)
}

/// Bytes `start..end` of the file, asked of the writer one slice after the other as the
/// client reads (a slow client holds one slice, not the file). A slice that fails ends
/// the body early: the client sees a short download, the log says why.
fn slices(bridge: Arc<Bridge>, node: String, file: String, start: u64, end: u64) -> Body {
    let parts = stream::unfold(start, move |at| {
        let (bridge, node, file) = (Arc::clone(&bridge), node.clone(), file.clone());
        async move {
            if at >= end {
                return None;
            }
            let len = (end - at).min(RECORDING_SLICE);
            match bridge.read_recording(&node, &file, at, len).await {
                Ok(slice) if !slice.bytes.is_empty() => {
                    let next = at + slice.bytes.len() as u64;
                    Some((Ok::<_, std::io::Error>(slice.bytes), next))
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(%node, %file, at, error = ?e, "a recording's download through this node broke off");
                    Some((
                        Err(std::io::Error::other("the writer node stopped answering")),
                        end,
                    ))
                }
            }
        }
    });
    Body::from_stream(parts)
}

fn refused(node: &str, e: RemoteFileError) -> ApiError {
    match e {
        RemoteFileError::Missing => ApiError::Domain(Error::NotFound("recording file")),
        RemoteFileError::Unreachable(why) => ApiError::Body(
            StatusCode::SERVICE_UNAVAILABLE,
            "node_unreachable",
            format!(
                "Máy chủ {node} lưu bản ghi này không trả lời ({why}); hãy thử lại sau. \
                 The node {node} that holds this recording did not answer; try again later."
            ),
        ),
    }
}
