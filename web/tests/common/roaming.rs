//! Halls' pages on a cluster reduced to their sockets, following the page's node rule
//! (web/static/protocol.js): a page starts on one node; a connection lost (or not made)
//! moves it to the next node, a restart notice (1012) keeps it, `home_elsewhere` sends it
//! to the node named. Each welcome is noted (node, phase, state); the host may start the
//! meeting after its first one; a test may have a page send messages (`hall_driven`).
//! And a SIGTERM to a node, waiting for its exit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A welcome a hall's socket got: on which node (index into the cluster's nodes), in
/// which phase, with which meeting state (`welcome.state`).
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    pub hall: i64,
    pub node: usize,
    pub phase: String,
    pub state: Value,
}

/// The node of `nodes` a `home_elsewhere` message names ("… hosted on node node-a; …").
pub fn named_node(nodes: &[String], message: &str) -> Option<usize> {
    let rest = message.split("on node ").nth(1)?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    nodes.iter().position(|n| *n == id)
}

/// A hall's page: starts on node `first` of `nodes` (ids, each with its `/ws` URL in
/// `urls`); pings every second; notes each welcome in `seen`; sends `set_phase started`
/// after its first welcome if `starts`. Runs until aborted.
pub async fn hall(
    nodes: Arc<Vec<String>>,
    urls: Arc<Vec<String>>,
    first: usize,
    hall_id: i64,
    token: String,
    starts: bool,
    seen: Arc<Mutex<Vec<Welcome>>>,
) {
    let (_keep, orders) = mpsc::unbounded_channel();
    hall_driven(nodes, urls, first, (hall_id, token), starts, seen, orders).await
}

/// As [`hall`], the page also sending each message of `orders` on its socket of the
/// moment (a test sends them while the hall is in).
pub async fn hall_driven(
    nodes: Arc<Vec<String>>,
    urls: Arc<Vec<String>>,
    first: usize,
    (hall_id, token): (i64, String),
    starts: bool,
    seen: Arc<Mutex<Vec<Welcome>>>,
    mut orders: mpsc::UnboundedReceiver<Value>,
) {
    let mut node = first;
    let mut to_start = starts;
    loop {
        let mut next = (node + 1) % urls.len();
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&urls[node]).await {
            let join = json!({ "type": "join", "v": 1, "token": token }).to_string();
            let mut ping = tokio::time::interval(Duration::from_secs(1));
            if ws.send(Message::text(join)).await.is_ok() {
                loop {
                    tokio::select! {
                        msg = ws.next() => match msg {
                            Some(Ok(Message::Text(t))) => {
                                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                                if v["type"] == "welcome" {
                                    let phase = v["state"]["phase"].as_str().unwrap_or("?").to_string();
                                    let state = v["state"].clone();
                                    seen.lock().unwrap().push(Welcome { hall: hall_id, node, phase, state });
                                    if std::mem::take(&mut to_start) {
                                        let start = json!({ "type": "set_phase", "phase": "started" });
                                        let _ = ws.send(Message::text(start.to_string())).await;
                                    }
                                }
                                if v["type"] == "error" && v["code"] == "home_elsewhere" {
                                    if let Some(home) = named_node(&nodes, v["message"].as_str().unwrap_or("")) {
                                        next = home;
                                    }
                                }
                            }
                            Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == 1012 => {
                                next = node;
                                break;
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                        Some(order) = orders.recv() => {
                            if ws.send(Message::text(order.to_string())).await.is_err() {
                                break;
                            }
                        }
                        _ = ping.tick() => {
                            if ws.send(Message::text(json!({ "type": "ping", "ts": 0 }).to_string())).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        }
        node = next;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends SIGTERM and waits (up to 60 s) for the server to exit by itself; asserts a
/// clean exit (status 0).
pub async fn terminate(server: &mut tokio::process::Child) {
    let pid = server.id().expect("running").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "a clean exit: {status}");
}
