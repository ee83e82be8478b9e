//! `GET /ws`: upgrades to a WebSocket and hands it to [`signaling::serve`].
//!
//! This module only adapts: axum's messages become [`WsMessage`]s (transport pings are
//! answered by axum and dropped here), and join tokens are checked by the store with
//! the logged-in principal from the session cookie, if any (a hall's room account may
//! only use its own hall's token). Everything else is the `signaling` crate's.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use scheduler::{Principal, Store};
use signaling::protocol::MAX_FRAME_BYTES;
use signaling::{Signaling, StoreAdmit, WsMessage};
use std::sync::Arc;

use crate::error::ApiError;
use crate::extract::{session_token, ClientAddr};
use crate::sockets::{Refusal, SocketGate};

/// Largest message axum accepts at all; frames between [`MAX_FRAME_BYTES`] and this get
/// a `frame_too_large` error from the protocol, larger ones end the socket.
const TRANSPORT_LIMIT: usize = 4 * MAX_FRAME_BYTES;

/// A socket's read buffer and the write buffer it fills before writing: signalling
/// messages are a few hundred bytes, where tungstenite's defaults are 128 KiB each, up to
/// 256 KiB per socket that 5,000 idle sockets multiply (a longer message still passes:
/// the buffers grow to it).
const SOCKET_BUFFER: usize = 8 * 1024;

/// What the route needs.
#[derive(Clone)]
pub struct WsState {
    /// To check join tokens and sessions.
    pub store: Store,
    /// The live rooms.
    pub signaling: Signaling,
    /// Page origins besides the request's own host that may open the socket (the
    /// configured `public_url`'s).
    pub origins: Arc<[String]>,
    /// Caps open sockets per address and in all.
    pub gate: SocketGate,
}

/// The origins (`scheme://host[:port]`) of the configured public URLs: this node's
/// `public_url` and, in a cluster, every node's (a page served by one node may open its
/// socket on another).
pub fn allowed_origins<'a>(public_urls: impl IntoIterator<Item = &'a str>) -> Arc<[String]> {
    public_urls
        .into_iter()
        .filter_map(|u| {
            let (scheme, rest) = u.split_once("://")?;
            let host = rest.split('/').next()?;
            Some(format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            ))
        })
        .collect()
}

/// Whether a browser page of `origin` may open the socket: our own host (the request's
/// `Host`, over http or https) or the public URL's. Browsers always send `Origin` on a
/// WebSocket; clients that send none (halls' test tools, not pages) are not browsers and
/// gain nothing a page's cookie would give them.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.to_ascii_lowercase();
    if allowed.contains(&origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    host.is_some_and(|host| {
        origin == format!("http://{host}") || origin == format!("https://{host}")
    })
}

/// The `/ws` route over its own state (merged into the server's router at start-up).
pub fn router(state: WsState) -> Router {
    Router::new().route("/ws", get(upgrade)).with_state(state)
}

/// Upgrades the connection (pages of our own origin only); the page sends `join` first.
async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<WsState>,
    address: ClientAddr,
    headers: HeaderMap,
) -> Response {
    // A page of another site must not ride on a hall's session cookie (cross-site
    // WebSocket hijacking).
    if !origin_allowed(&headers, &state.origins) {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "socket refused: foreign origin");
        return (StatusCode::FORBIDDEN, "forbidden: foreign origin").into_response();
    }
    // Counted from here until the socket ends; over a cap, refused before the handshake.
    let pass = match state.gate.admit(address.0) {
        Ok(pass) => pass,
        Err(refusal) => return refused(refusal, address.0),
    };
    let presenter = match session_token(&headers) {
        Some(token) => state.store.authenticate(&token).await.ok(),
        None => None,
    };
    ws.max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .on_upgrade(move |socket| async move {
            serve(socket, state, presenter).await;
            drop(pass);
        })
}

/// 429 `too_many_sockets` (this address) or 503 `server_full` (the server).
fn refused(refusal: Refusal, address: Option<std::net::IpAddr>) -> Response {
    let (status, code, message) = match refusal {
        Refusal::PerAddress => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets",
            "too many meeting sockets open from this address (setting max_sockets_per_address)",
        ),
        Refusal::Total => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_full",
            "the server has as many meeting sockets open as it takes (setting max_sockets)",
        ),
    };
    tracing::warn!(?address, code, "socket refused");
    ApiError::Body(status, code, message.into()).into_response()
}

async fn serve(socket: WebSocket, state: WsState, presenter: Option<Principal>) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|m: WsMessage| async move { Ok::<_, axum::Error>(to_axum(m)) });
    let stream = stream.filter_map(|frame| async move {
        match frame {
            Ok(Message::Text(text)) => Some(Ok(WsMessage::Text(text.as_str().to_owned()))),
            Ok(Message::Binary(bytes)) => Some(Ok(WsMessage::Binary(bytes.to_vec()))),
            Ok(Message::Close(frame)) => Some(Ok(WsMessage::Close(
                frame.map(|f| (f.code, f.reason.as_str().to_owned())),
            ))),
            Ok(Message::Ping(_) | Message::Pong(_)) => None,
            Err(e) => Some(Err(e)),
        }
    });
    let admit = StoreAdmit {
        store: state.store.clone(),
        presenter,
    };
    signaling::serve(Box::pin(sink), Box::pin(stream), admit, state.signaling).await;
}

fn to_axum(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Binary(bytes) => Message::Binary(bytes.into()),
        WsMessage::Close(frame) => Message::Close(frame.map(|(code, reason)| CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    //! The real server on port 0 and a real WebSocket client: join, welcome, refusal.

    use futures::{SinkExt, StreamExt};
    use scheduler::testing::{demo_db, province_meeting_now, TestDb};
    use scheduler::{Backend, Level};
    use serde_json::{json, Value};
    use tokio_tungstenite::tungstenite::Message as Frame;

    use crate::{Application, Settings};

    /// A seeded store with a meeting open now; returns the store, the host's and a
    /// district hall's join tokens.
    async fn meeting_now() -> (TestDb, String, String) {
        let db = demo_db(Backend::Sqlite).await.expect("demo database");
        let store = &db.store;
        let levels = [Level::Province, Level::District];
        let meeting = province_meeting_now(store, "Giao ban trực tuyến", &levels)
            .await
            .expect("scheduled");
        let id = meeting.id;
        let host = store.hall(meeting.host_hall_id).await.expect("host");
        // The first hall after the province's own: a district hall, invited too.
        let halls = store.halls_in("/").await.expect("halls");
        let other = halls.iter().find(|h| h.id != host.id).expect("other");
        let token = |hall| async move {
            store
                .join_token_of(id, hall)
                .await
                .expect("query")
                .expect("invited")
        };
        let (host_token, other_token) = (token(host.id).await, token(other.id).await);
        (db, host_token, other_token)
    }

    async fn next_json(
        socket: &mut (impl StreamExt<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>>
                  + Unpin),
    ) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(20), socket.next())
                .await
                .expect("the server answers in time")?
                .ok()?;
            match frame {
                Frame::Text(text) => return Some(serde_json::from_str(&text).expect("JSON")),
                Frame::Close(_) => return None,
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn a_hall_joins_over_a_real_websocket_and_a_bad_token_is_refused() {
        let (db, host_token, other_token) = meeting_now().await;
        let settings = Settings {
            addr: "127.0.0.1:0".parse().expect("literal"),
            database_url: db.url.clone(),
            ..Settings::default()
        };
        let app = Application::with_store(settings, db.store.clone())
            .await
            .expect("binds");
        let url = format!("ws://127.0.0.1:{}/ws", app.port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));

        let (mut host, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("upgrades");
        let join = json!({"type": "join", "v": 1, "token": host_token});
        host.send(Frame::text(join.to_string()))
            .await
            .expect("sent");
        let welcome = next_json(&mut host).await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(welcome["meeting"]["title"], "Giao ban trực tuyến");
        assert_eq!(welcome["hall"]["id"], welcome["meeting"]["host_hall_id"]);
        assert_eq!(welcome["participants"].as_array().map(Vec::len), Some(1));

        let (mut other, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("upgrades");
        let join = json!({"type": "join", "v": 1, "token": other_token});
        other
            .send(Frame::text(join.to_string()))
            .await
            .expect("sent");
        let welcome = next_json(&mut other).await.expect("welcome");
        assert_eq!(welcome["participants"].as_array().map(Vec::len), Some(2));
        let joined = next_json(&mut host).await.expect("participant_joined");
        assert_eq!(joined["type"], "participant_joined");
        assert_eq!(joined["hall_id"], welcome["hall"]["id"]);

        let (mut stranger, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("upgrades");
        let join = json!({"type": "join", "v": 1, "token": "0".repeat(64)});
        stranger
            .send(Frame::text(join.to_string()))
            .await
            .expect("sent");
        let refused = next_json(&mut stranger).await.expect("error");
        assert_eq!(
            refused,
            json!({"type": "error", "code": "join_refused", "message": "unknown join token"})
        );
        match stranger.next().await {
            Some(Ok(Frame::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1008);
                assert_eq!(frame.reason.as_str(), "join_refused");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }

        other
            .send(Frame::text(json!({"type": "leave"}).to_string()))
            .await
            .expect("sent");
        let left = next_json(&mut host).await.expect("participant_left");
        assert_eq!(left["type"], "participant_left");
        assert_eq!(left["reason"], "left");
        let _ = stop.send(());
        drop((host, other));
        let _ = server.await;
        db.cleanup().await;
    }
}
