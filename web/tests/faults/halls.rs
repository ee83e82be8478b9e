//! The halls of the scripted meeting, each a WebSocket client (no media): joins, pings,
//! comes back by itself after a dropped or restarted server (as the room page does),
//! leaves and rejoins when told, answers the roll call and reports a headcount when
//! told, and counts what the server acknowledged to it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// What a hall is told to do.
#[derive(Debug, Clone)]
pub enum Order {
    /// Send this message (the host's controls).
    Send(Value),
    /// Press the leave button, then come back.
    LeaveAndRejoin,
    /// Answer the roll call and report the headcount, both at once.
    Burst,
}

/// The headcount each hall reports: known to the script, different per hall.
pub fn people_of(hall: i64) -> i64 {
    7 + hall % 91
}

/// What the pages saw, all halls together.
#[derive(Default)]
pub struct Seen {
    pub welcomes: AtomicUsize,
    /// Halls told a roll call runs (`roll_call`).
    pub roll_calls: AtomicUsize,
    /// Answers and headcounts acknowledged to the hall that sent them.
    pub answers: AtomicUsize,
    pub headcounts: AtomicUsize,
    /// The host's page saw the meeting started.
    pub started: AtomicBool,
    /// Close codes received, with how many times.
    pub closes: Mutex<BTreeMap<u16, usize>>,
}

impl Seen {
    pub fn closed_with(&self, code: u16) -> usize {
        self.closes.lock().unwrap().get(&code).copied().unwrap_or(0)
    }
}

/// One hall's page; runs until the meeting ends for it (close 4004).
pub async fn page(
    url: String,
    hall: i64,
    token: String,
    host: bool,
    seen: Arc<Seen>,
    mut orders: mpsc::UnboundedReceiver<Order>,
) {
    loop {
        let code = match tokio_tungstenite::connect_async(&url).await {
            Ok((ws, _)) => session(ws, hall, &token, host, &seen, &mut orders).await,
            Err(_) => 1006,
        };
        *seen.closes.lock().unwrap().entry(code).or_default() += 1;
        match code {
            4004 | DONE => return,
            // Left by its own button: comes back at once (the rejoin it was told).
            1000 => {}
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Not a close code: the test dropped the hall's orders (it is over).
const DONE: u16 = 0;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One socket's life: returns its close code (1006 when it just dropped).
async fn session(
    mut ws: Ws,
    hall: i64,
    token: &str,
    host: bool,
    seen: &Seen,
    orders: &mut mpsc::UnboundedReceiver<Order>,
) -> u16 {
    let join = json!({ "type": "join", "v": 1, "token": token });
    if ws.send(Message::text(join.to_string())).await.is_err() {
        return 1006;
    }
    let mut ping = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    let mine = v["hall_id"] == hall;
                    match (v["type"].as_str(), v["action"].as_str()) {
                        (Some("welcome"), _) => {
                            seen.welcomes.fetch_add(1, Ordering::SeqCst);
                        }
                        (Some("roll_call"), _) if !host => {
                            seen.roll_calls.fetch_add(1, Ordering::SeqCst);
                        }
                        (Some("meeting_state"), _) if host && v["phase"] == "started" => {
                            seen.started.store(true, Ordering::SeqCst);
                        }
                        (Some("control"), Some("roll_call_answer")) if mine && !host => {
                            seen.answers.fetch_add(1, Ordering::SeqCst);
                        }
                        (Some("control"), Some("headcount")) if mine && !host => {
                            seen.headcounts.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => return frame.map_or(1005, |f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return 1006,
            },
            order = orders.recv() => {
                let sent = match order {
                    Some(Order::Send(v)) => ws.send(Message::text(v.to_string())).await,
                    Some(Order::LeaveAndRejoin) => ws.send(Message::text(json!({ "type": "leave" }).to_string())).await,
                    Some(Order::Burst) => {
                        let answer = json!({ "type": "roll_call_answer", "status": "present" });
                        let count = json!({ "type": "headcount", "people": people_of(hall) });
                        match ws.send(Message::text(answer.to_string())).await {
                            Ok(()) => ws.send(Message::text(count.to_string())).await,
                            Err(e) => Err(e),
                        }
                    }
                    // The test is over.
                    None => return DONE,
                };
                if sent.is_err() {
                    return 1006;
                }
            }
            _ = ping.tick() => {
                if ws.send(Message::text(json!({ "type": "ping", "ts": 0 }).to_string())).await.is_err() {
                    return 1006;
                }
            }
        }
    }
}
