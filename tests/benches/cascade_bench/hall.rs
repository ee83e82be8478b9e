//! One simulated hall, kept light: joins with its token over one node's WebSocket, one
//! `sfu::testclient` peer (the host and floor candidates publish a small three-layer
//! camera; the others publish nothing and receive two video slots), obeys `send_layers`,
//! keeps the heartbeat, asks for a keyframe when a picture starts without one, and logs
//! the keyframes it receives per slot.

use futures::{SinkExt, StreamExt};
use hoinghi_tests::bench::{candidate_ports, expect, ssrc_of_mid};
use serde_json::{json, Value};
use sfu::testclient::{HallShape, LayerShape, PacketObserver, TestClient};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Bound of every wait for the server.
const WAIT: Duration = Duration::from_secs(60);
/// VP8's payload type in the SFU's answer.
const VP8_PT: u8 = 96;

/// What a hall sends and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Camera and microphone; `video` slots (main picture and grid).
    Host { video: usize },
    /// Camera, microphone off; two video slots.
    Publisher,
    /// Nothing sent; two video slots (host, floor holder) and `audio` audio slots.
    Viewer { audio: usize },
}

/// The camera of the host and the candidates: each layer one 300-byte packet per frame
/// at 15 fps (≈ 36 kbit/s a layer), so a thousand halls fit on two cores.
fn light_camera() -> HallShape {
    let layer = LayerShape {
        every: 2,
        packets: 1,
        size: 300,
    };
    HallShape { layers: [layer; 3] }
}

/// What one hall received, written by its packet observer.
#[derive(Default)]
pub struct Log {
    /// RTP packets received (all slots).
    pub packets: u64,
    /// Arrival of each VP8 keyframe's first packet, by slot SSRC.
    pub keyframes: HashMap<u32, Vec<Instant>>,
    /// Packets and payload type seen per SSRC.
    seen: HashMap<u32, (u64, u8)>,
}

impl Log {
    /// The first keyframe on `ssrc` at or after `since`.
    pub fn keyframe_after(&self, ssrc: u32, since: Instant) -> Option<Instant> {
        let all = self.keyframes.get(&ssrc)?;
        all.iter().copied().find(|&t| t >= since)
    }
}

/// A joined hall.
pub struct Hall {
    pub id: i64,
    /// The node whose socket it joined through.
    pub node: usize,
    pub role: Role,
    /// Token sent → welcome → answer → media connected.
    pub joined_in: Duration,
    /// Its video slots' SSRCs, in slot order.
    pub video_ssrcs: Vec<u32>,
    /// The ports of the candidates in the SFU's answer: where its media goes.
    pub media_ports: Vec<u16>,
    /// Why its socket ended, if the server (or the network) ended it.
    pub closed: Arc<Mutex<Option<String>>>,
    log: Arc<Mutex<Log>>,
    out: mpsc::UnboundedSender<Value>,
    client: Arc<TestClient>,
}

impl Hall {
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a message on the hall's socket.
    pub fn send(&self, message: Value) {
        let _ = self.out.send(message);
    }

    /// The slot showing the floor holder: the host's first, a hall's second.
    pub fn floor_ssrc(&self) -> Option<u32> {
        let slot = if matches!(self.role, Role::Host { .. }) {
            0
        } else {
            1
        };
        self.video_ssrcs.get(slot).copied()
    }

    /// The slot showing the host (not the host's own).
    pub fn host_ssrc(&self) -> Option<u32> {
        match self.role {
            Role::Host { .. } => None,
            _ => self.video_ssrcs.first().copied(),
        }
    }

    pub async fn close(self) {
        drop(self.out);
        self.client.close().await;
    }
}

/// Only what the hall obeys is kept of what comes before a message it waits for.
fn kept(v: &Value) -> bool {
    v["type"] == "send_layers"
}

/// Joins hall `id` with `token` through the node at `url` (`ws://…`).
pub async fn join(
    url: &str,
    node: usize,
    id: i64,
    token: &str,
    role: Role,
) -> Result<Hall, String> {
    let started = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/ws"))
        .await
        .map_err(|e| format!("hall {id}: {e}"))?;
    let join = json!({"type": "join", "v": 1, "token": token});
    ws.send(Message::text(join.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let mut early = Vec::new();
    let welcome = expect(&mut ws, "welcome", WAIT, kept, &mut early).await?;
    let heartbeat = Duration::from_millis(welcome["heartbeat_ms"].as_u64().unwrap_or(10_000));
    let log = Arc::new(Mutex::new(Log::default()));
    let seen = Arc::clone(&log);
    let observer: PacketObserver = Arc::new(move |p| {
        let h = &p.header;
        let keyframe =
            h.payload_type == VP8_PT && sfu::is_keyframe_start(&p.payload).unwrap_or(false);
        let mut l = seen.lock().unwrap_or_else(|e| e.into_inner());
        l.packets += 1;
        l.seen.entry(h.ssrc).or_insert((0, h.payload_type)).0 += 1;
        if keyframe {
            l.keyframes.entry(h.ssrc).or_default().push(Instant::now());
        }
    });
    let client = match role {
        Role::Host { video } => TestClient::hall(video, 1, Some(observer)).await,
        Role::Publisher => TestClient::hall(2, 0, Some(observer)).await,
        Role::Viewer { audio } => TestClient::subscriber_observed(2, audio, observer).await,
    }
    .map_err(|e| e.to_string())?;
    let offer = client.offer().await.map_err(|e| e.to_string())?;
    let offer = json!({"type": "offer", "sdp": offer});
    ws.send(Message::text(offer.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let answer = expect(&mut ws, "answer", WAIT, kept, &mut early).await?;
    let sdp = answer["sdp"].as_str().unwrap_or_default().to_owned();
    let video_ssrcs = answer["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "video")
        .filter_map(|s| ssrc_of_mid(&sdp, s["mid"].as_str()?))
        .collect();
    let media_ports = candidate_ports(&sdp);
    client.accept(sdp).await.map_err(|e| e.to_string())?;
    if !client.wait_connected(WAIT).await {
        return Err(format!("hall {id}: media did not connect"));
    }
    let media = match role {
        Role::Viewer { .. } => None,
        _ => {
            let m = client
                .start_hall(light_camera())
                .await
                .map_err(|e| e.to_string())?;
            m.set_audio(matches!(role, Role::Host { .. }));
            Some(m)
        }
    };
    let (out, mut outgoing) = mpsc::unbounded_channel::<Value>();
    let client = Arc::new(client);
    let (me, watched) = (Arc::clone(&client), Arc::clone(&log));
    let closed = Arc::new(Mutex::new(None));
    let ended = Arc::clone(&closed);
    tokio::spawn(async move {
        let obey = |v: &Value| {
            if let (Some(m), Some("send_layers")) = (&media, v["type"].as_str()) {
                let layers = v["layers"].as_u64().unwrap_or(3);
                m.send_layers(u8::try_from(layers).unwrap_or(3));
            }
        };
        early.iter().for_each(obey);
        let mut ping = tokio::time::interval(heartbeat);
        let mut check = tokio::time::interval(Duration::from_millis(500));
        loop {
            let send = tokio::select! {
                _ = check.tick() => {
                    // As a browser does: video arriving with no keyframe seen asks for one.
                    let blind: Vec<u32> = {
                        let l = watched.lock().unwrap_or_else(|e| e.into_inner());
                        l.seen
                            .iter()
                            .filter(|(ssrc, (_, pt))| *pt == VP8_PT && !l.keyframes.contains_key(ssrc))
                            .map(|(ssrc, _)| *ssrc)
                            .collect()
                    };
                    for ssrc in blind {
                        let _ = me.send_pli(ssrc).await;
                    }
                    continue;
                }
                next = outgoing.recv() => match next {
                    Some(v) => v,
                    None => break,
                },
                _ = ping.tick() => json!({"type": "ping", "ts": 0.0}),
                msg = ws.next() => match msg {
                    // Most messages are the room's state for the page: parse only orders.
                    Some(Ok(Message::Text(t))) => {
                        if t.contains("\"send_layers\"") {
                            if let Ok(v) = serde_json::from_str::<Value>(&t) {
                                obey(&v);
                            }
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map_or("no code".into(), |f| format!("{} {}", f.code, f.reason));
                        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                        break;
                    }
                    None => {
                        *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some("ended".into());
                        break;
                    }
                },
            };
            if ws.send(Message::text(send.to_string())).await.is_err() {
                break;
            }
        }
        let _ = ws.close(None).await;
        if let Some(m) = media {
            m.stop().await;
        }
    });
    Ok(Hall {
        id,
        node,
        role,
        joined_in: started.elapsed(),
        video_ssrcs,
        media_ports,
        closed,
        log,
        out,
        client,
    })
}
