//! The running meeting: halls joined over real WebSockets (signaling only, no media),
//! each pinging every 100 ms; round trips are kept per phase of the benchmark.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// How often each hall pings.
const PING_EVERY: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Shared {
    phases: Mutex<Vec<String>>,
    current: AtomicUsize,
    /// (phase, round trip in ms).
    rtts: Mutex<Vec<(usize, f64)>>,
    /// (phase, what happened) for sockets that ended or failed.
    troubles: Mutex<Vec<(usize, String)>>,
    joined: AtomicUsize,
}

/// The halls of the running meeting.
pub struct Meeting {
    shared: Arc<Shared>,
}

impl Meeting {
    /// Joins every token's hall (one after another) and starts their pings.
    pub async fn start(base: &str, tokens: &[String]) -> Meeting {
        let shared = Arc::new(Shared::default());
        shared
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push("joining".into());
        let url = format!("{}/ws", base.replace("http://", "ws://"));
        let epoch = Instant::now();
        for token in tokens {
            let (mut ws, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok(ws) => ws,
                Err(e) => {
                    println!("  a hall could not connect: {e}");
                    continue;
                }
            };
            let join = json!({ "type": "join", "v": 1, "token": token });
            if ws.send(Message::text(join.to_string())).await.is_err() {
                continue;
            }
            // Wait for the welcome.
            let welcomed = loop {
                match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                        if v["type"] == "welcome" {
                            break true;
                        }
                        if v["type"] == "error" {
                            println!("  join refused: {v}");
                            break false;
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break false,
                }
            };
            if !welcomed {
                continue;
            }
            shared.joined.fetch_add(1, Ordering::Relaxed);
            let (mut tx, mut rx) = ws.split();
            let pinger = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PING_EVERY);
                // A starved client must not burst its missed pings (the server's rate limit).
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let ts = epoch.elapsed().as_micros() as u64;
                    let ping = json!({ "type": "ping", "ts": ts }).to_string();
                    if tx.send(Message::text(ping)).await.is_err() {
                        let phase = pinger.current.load(Ordering::Relaxed);
                        let mut t = pinger
                            .troubles
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        t.push((phase, "ping could not be sent".into()));
                        return;
                    }
                }
            });
            let reader = Arc::clone(&shared);
            tokio::spawn(async move {
                while let Some(frame) = rx.next().await {
                    let phase = reader.current.load(Ordering::Relaxed);
                    match frame {
                        Ok(Message::Text(t)) => {
                            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                            // The server echoes `ts` as a JSON float (`1234.0`): read as
                            // an integer it was missing, and earlier runs timed every pong
                            // from the start of the run instead of from its ping.
                            let sent = v["ts"].as_f64();
                            if let (true, Some(sent)) = (v["type"] == "pong", sent) {
                                let now = epoch.elapsed().as_micros() as f64;
                                let ms = (now - sent).max(0.0) / 1000.0;
                                let mut r =
                                    reader.rtts.lock().unwrap_or_else(PoisonError::into_inner);
                                r.push((phase, ms));
                            } else if v["type"] == "error" {
                                let mut t = reader
                                    .troubles
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner);
                                t.push((phase, v.to_string()));
                            }
                        }
                        Ok(Message::Close(f)) => {
                            let mut t = reader
                                .troubles
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner);
                            t.push((phase, format!("closed {f:?}")));
                            return;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let mut t = reader
                                .troubles
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner);
                            t.push((phase, format!("socket error {e}")));
                            return;
                        }
                    }
                }
            });
        }
        Meeting { shared }
    }

    /// Halls that got a welcome.
    pub fn joined(&self) -> usize {
        self.shared.joined.load(Ordering::Relaxed)
    }

    /// Round trips from now on count for the phase `name`.
    pub fn phase(&self, name: &str) {
        let mut phases = self
            .shared
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        phases.push(name.to_owned());
        self.shared
            .current
            .store(phases.len() - 1, Ordering::Relaxed);
    }

    /// The 99th percentile round trip of each phase after joining (name, pongs, ms), and
    /// of all of them together.
    pub fn p99s(&self) -> (Vec<(String, usize, f64)>, Option<f64>) {
        let phases = self
            .shared
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let rtts = self
            .shared
            .rtts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let p99 = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(((v.len().max(1) - 1) as f64 * 0.99).round() as usize)
                .copied()
        };
        let each = phases
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(i, name)| {
                let v: Vec<f64> = rtts.iter().filter(|r| r.0 == i).map(|r| r.1).collect();
                let n = v.len();
                p99(v).map(|p| (name.clone(), n, p))
            })
            .collect();
        let all = rtts.iter().filter(|r| r.0 > 0).map(|r| r.1).collect();
        (each, p99(all))
    }

    /// Prints the round trips of each phase, and what went wrong on the halls' sockets.
    pub fn report(&self) {
        let phases = self
            .shared
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let rtts = self
            .shared
            .rtts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        println!(
            "signaling round trip (ping → pong) of the {}-hall meeting, ms:",
            self.joined()
        );
        for (i, name) in phases.iter().enumerate() {
            let mut v: Vec<f64> = rtts.iter().filter(|r| r.0 == i).map(|r| r.1).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            println!(
                "  {name:<32} n={:>6} p50={:>7.1} p99={:>7.1} max={:>7.1}",
                v.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
        let troubles = self
            .shared
            .troubles
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (phase, what) in troubles.iter().take(10) {
            println!(
                "  trouble during {}: {what}",
                phases.get(*phase).map_or("?", |s| s.as_str())
            );
        }
        if troubles.is_empty() {
            println!("  no hall's socket failed or was closed");
        }
    }
}
