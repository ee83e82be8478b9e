//! A hall's page reduced to its socket, for the tests of the real binary: it joins with
//! its token, sends messages, and waits (bounded, pinging meanwhile) for a message.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a page waits for one message.
const WAIT: Duration = Duration::from_secs(30);

pub struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Page {
    /// Opens `/ws` on the server at `port` and joins with `token`; the page and its
    /// `welcome`.
    pub async fn join(port: u16, token: &str) -> (Page, Value) {
        let url = format!("ws://127.0.0.1:{port}/ws");
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("the socket opens");
        let mut page = Page { ws };
        page.send(json!({ "type": "join", "v": 1, "token": token }))
            .await;
        let welcome = page.expect("welcome", |m| m["type"] == "welcome").await;
        (page, welcome)
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("the socket takes a message");
    }

    /// The first message `want` accepts (others are skipped); fails after 30 s, on an
    /// `error` nobody expected, or when the socket closes.
    pub async fn expect(&mut self, what: &str, mut want: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut ping = tokio::time::interval(Duration::from_secs(1));
        loop {
            let next = tokio::select! {
                next = self.ws.next() => next,
                _ = ping.tick() => {
                    self.send(json!({ "type": "ping", "ts": 0 })).await;
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => panic!("no {what} within {WAIT:?}"),
            };
            match next {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON");
                    if want(&message) {
                        return message;
                    }
                    assert_ne!(message["type"], "error", "waiting for {what}: {message}");
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended waiting for {what}: {other:?}"),
            }
        }
    }

    /// Closes the socket (a close frame, no `leave`): as a page closed or a network lost.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
