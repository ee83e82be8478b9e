//! One hall of the benchmark: joins with its token over the meeting WebSocket, connects
//! one peer (camera, microphone, receive slots), obeys `send_layers` and `muted`, keeps
//! the heartbeat, and logs what it receives.

use futures::{SinkExt, StreamExt};
use hoinghi_tests::bench::{expect, ssrc_of_mid};
use serde_json::{json, Value};
use sfu::testclient::{HallShape, PacketObserver, TestClient};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Bound of every wait for the server.
const WAIT: Duration = Duration::from_secs(30);
/// VP8's payload type in the SFU's answer.
const VP8_PT: u8 = 96;
/// Video receive slots the room page asks for: the host's 5×5 grid and main picture.
pub const HOST_VIDEO_SLOTS: usize = 26;
/// … and a hall's (host, floor holder, spotlight, one spare).
pub const HALL_VIDEO_SLOTS: usize = 4;
/// Audio receive slots of every page.
pub const AUDIO_SLOTS: usize = 4;

/// What one hall received, written by its packet observer.
#[derive(Default)]
pub struct Log {
    /// RTP packets received (all slots).
    pub packets: u64,
    /// Packets missing: gaps in each slot's (rewritten, contiguous) sequence numbers.
    pub gaps: u64,
    last_seq: HashMap<u32, u16>,
    /// Arrival of each VP8 keyframe's first packet, by slot SSRC.
    pub keyframes: HashMap<u32, Vec<Instant>>,
    /// Packets and payload types seen per SSRC (for diagnosing a slot).
    pub seen: HashMap<u32, (u64, u8)>,
}

impl Log {
    fn packet(&mut self, ssrc: u32, seq: u16, pt: u8, keyframe: bool) {
        self.packets += 1;
        let e = self.seen.entry(ssrc).or_insert((0, pt));
        e.0 += 1;
        if let Some(last) = self.last_seq.insert(ssrc, seq) {
            let step = seq.wrapping_sub(last);
            if (2..1000).contains(&step) {
                self.gaps += u64::from(step - 1);
            }
        }
        if keyframe {
            self.keyframes.entry(ssrc).or_default().push(Instant::now());
        }
    }

    /// The first keyframe on `ssrc` at or after `since`.
    pub fn keyframe_after(&self, ssrc: u32, since: Instant) -> Option<Instant> {
        let all = self.keyframes.get(&ssrc)?;
        all.iter().copied().find(|&t| t >= since)
    }
}

/// A joined hall.
pub struct Hall {
    pub id: i64,
    /// Token sent → welcome → answer → media connected and sending.
    pub joined_in: Duration,
    /// Its video slots' SSRCs, in slot order (host: main picture, then the grid).
    pub video_ssrcs: Vec<u32>,
    log: Arc<Mutex<Log>>,
    out: mpsc::UnboundedSender<Value>,
    client: Arc<TestClient>,
    /// Keyframe requests this hall sent because a picture started without one.
    pub asked: Arc<AtomicU64>,
}

impl Hall {
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a message on the hall's socket.
    pub fn send(&self, message: Value) {
        let _ = self.out.send(message);
    }

    /// The slot that shows the floor holder: the host's main picture, a hall's second.
    pub fn floor_ssrc(&self, host: bool) -> Option<u32> {
        self.video_ssrcs.get(if host { 0 } else { 1 }).copied()
    }

    /// When the first keyframe request at or after `since` reached this hall's camera.
    pub fn pli_after(&self, since: Instant) -> Option<Instant> {
        self.client.plis().into_iter().find(|&t| t >= since)
    }

    pub async fn close(self) {
        drop(self.out);
        self.client.close().await;
    }
}

/// Joins hall `id` with `token` at `url` (`ws://…`).
pub async fn join(url: &str, id: i64, token: &str, host: bool) -> Result<Hall, String> {
    let started = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/ws"))
        .await
        .map_err(|e| format!("hall {id}: {e}"))?;
    let join = json!({"type": "join", "v": 1, "token": token});
    ws.send(Message::text(join.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let mut early = Vec::new();
    let welcome = expect(&mut ws, "welcome", WAIT, |_| true, &mut early).await?;
    let heartbeat = Duration::from_millis(welcome["heartbeat_ms"].as_u64().unwrap_or(10_000));
    let log = Arc::new(Mutex::new(Log::default()));
    let seen = Arc::clone(&log);
    let observer: PacketObserver = Arc::new(move |p| {
        let keyframe =
            p.header.payload_type == VP8_PT && sfu::is_keyframe_start(&p.payload).unwrap_or(false);
        let mut l = seen.lock().unwrap_or_else(|e| e.into_inner());
        let h = &p.header;
        l.packet(h.ssrc, h.sequence_number, h.payload_type, keyframe);
    });
    let video_slots = if host {
        HOST_VIDEO_SLOTS
    } else {
        HALL_VIDEO_SLOTS
    };
    let client = TestClient::hall(video_slots, AUDIO_SLOTS, Some(observer))
        .await
        .map_err(|e| e.to_string())?;
    let offer = client.offer().await.map_err(|e| e.to_string())?;
    let offer = json!({"type": "offer", "sdp": offer});
    ws.send(Message::text(offer.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let answer = expect(&mut ws, "answer", WAIT, |_| true, &mut early).await?;
    let sdp = answer["sdp"].as_str().unwrap_or_default().to_owned();
    let video_ssrcs = answer["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == "video")
        .filter_map(|s| ssrc_of_mid(&sdp, s["mid"].as_str()?))
        .collect();
    client.accept(sdp).await.map_err(|e| e.to_string())?;
    if !client.wait_connected(WAIT).await {
        return Err(format!("hall {id}: media did not connect"));
    }
    let media = client
        .start_hall(HallShape::default())
        .await
        .map_err(|e| e.to_string())?;
    let (out, mut outgoing) = mpsc::unbounded_channel::<Value>();
    let client = Arc::new(client);
    let asked = Arc::new(AtomicU64::new(0));
    let (me, count, watched) = (Arc::clone(&client), Arc::clone(&asked), Arc::clone(&log));
    tokio::spawn(async move {
        let obey = |v: &Value| match v["type"].as_str() {
            Some("send_layers") => {
                let layers = v["layers"].as_u64().unwrap_or(3);
                media.send_layers(u8::try_from(layers).unwrap_or(3));
            }
            Some("muted") => media.set_audio(!v["muted"].as_bool().unwrap_or(false)),
            _ => {}
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
                        if me.send_pli(ssrc).await.is_ok() {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    continue;
                }
                next = outgoing.recv() => match next {
                    Some(v) => v,
                    None => break,
                },
                _ = ping.tick() => json!({"type": "ping", "ts": 0.0}),
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(v) = serde_json::from_str::<Value>(&t) {
                            obey(&v);
                        }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                    _ => break,
                },
            };
            if ws.send(Message::text(send.to_string())).await.is_err() {
                break;
            }
        }
        let _ = ws.close(None).await;
        media.stop().await;
    });
    Ok(Hall {
        id,
        joined_in: started.elapsed(),
        video_ssrcs,
        log,
        out,
        client,
        asked,
    })
}
