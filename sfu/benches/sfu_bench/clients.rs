//! The clients process: the publisher (see `publisher`) and the subscribers, all on the
//! sfu test client, driven by the SFU process's commands.
//!
//! Subscribers take one video and one audio slot; the SFU process points them at the top
//! layer and the audio. Every payload carries a [`Stamp`], so each subscriber counts what
//! arrived, what is missing (gaps in the publisher's numbers) and how long it took (wall
//! clock, shared by both processes).

use crate::proto::{self, escape, now_ns, pairs, quantile, Stamp, STREAM_AUDIO};
use rtc::rtp;
use sfu::testclient::{PacketObserver, TestClient};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Subscribers negotiating at the same time.
const JOIN_CONCURRENCY: usize = 8;
const WAIT: Duration = Duration::from_secs(30);
/// After `PAUSE`, the time given to what is in flight before `PAUSED`.
pub const DRAIN: Duration = Duration::from_millis(300);

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes one protocol line to the SFU process.
pub fn send(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Packets of one stream counted during the measured window.
#[derive(Debug, Default)]
struct Count {
    received: u64,
    first: Option<u32>,
    max: u32,
}

impl Count {
    fn record(&mut self, number: u32) {
        self.received += 1;
        self.first.get_or_insert(number);
        self.max = self.max.max(number);
    }

    /// Packets the publisher numbered between the first and the last seen.
    fn expected(&self) -> u64 {
        self.first
            .map_or(0, |f| u64::from(self.max.saturating_sub(f)) + 1)
    }
}

#[derive(Debug, Default)]
struct Window {
    video: Count,
    audio: Count,
    latency_us: Vec<u32>,
}

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Subscriber {
    /// When the SFU process started `add_peer` for it.
    t0_ns: AtomicU64,
    first_any_ns: AtomicU64,
    first_video_ns: AtomicU64,
    window: Mutex<Window>,
}

/// Where the answer to an offer goes: the `add_peer` start and the SDP, or why not.
type AnswerTo = oneshot::Sender<Result<(u64, String), String>>;

/// The clients process's state, shared by the command loop, the publisher and the joins.
pub struct Clients {
    pending: Mutex<HashMap<u32, AnswerTo>>,
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    /// Kept so their connections stay open.
    pub connections: Mutex<Vec<TestClient>>,
    counting: Arc<AtomicBool>,
    pub all_layers: AtomicBool,
    /// Packets written per stream (three layers, audio).
    pub sent: [AtomicU64; 4],
    sent_at_mark: Mutex<[u64; 4]>,
    /// `--drop-media`: the subscribers get no media, so a join is done once connected.
    drop_media: bool,
    /// Between `PAUSE` and `RESUME` the publisher sends nothing.
    pub paused: AtomicBool,
    /// The last `RESUME`, and the time from it to the next `PAUSE` (seconds).
    sending: Mutex<(Option<Instant>, f64)>,
}

/// Runs until `QUIT` or the end of stdin.
pub async fn run(drop_media: bool) {
    let clients = Arc::new(Clients {
        pending: Mutex::default(),
        subscribers: Mutex::default(),
        connections: Mutex::default(),
        counting: Arc::default(),
        all_layers: AtomicBool::new(false),
        sent: Default::default(),
        sent_at_mark: Mutex::default(),
        drop_media,
        paused: AtomicBool::new(false),
        sending: Mutex::default(),
    });
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::spawn(crate::publisher::publish(Arc::clone(&clients)));
    let mut next_id = 1;
    while let Some(line) = lines.recv().await {
        let (verb, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb {
            "ANSWER" | "FAIL" => answer(&clients, verb, rest),
            "LAYERS" => clients.all_layers.store(true, Relaxed),
            "JOIN" => {
                let count: u32 = rest.trim().parse().unwrap_or(0);
                let ids = next_id..next_id + count;
                next_id += count;
                tokio::spawn(join_batch(Arc::clone(&clients), ids));
            }
            "PAUSE" => {
                clients.paused.store(true, Relaxed);
                let mut sending = lock(&clients.sending);
                if let Some(from) = sending.0.take() {
                    sending.1 = from.elapsed().as_secs_f64();
                }
                tokio::spawn(async {
                    tokio::time::sleep(DRAIN).await;
                    send("PAUSED");
                });
            }
            "RESUME" => {
                lock(&clients.sending).0 = Some(Instant::now());
                clients.paused.store(false, Relaxed);
            }
            "MARK" => mark(&clients),
            "REPORT" => report(&clients),
            "QUIT" => break,
            other => eprintln!("[clients] unknown command {other:?}"),
        }
    }
    for c in lock(&clients.connections).drain(..) {
        drop(c);
    }
}

fn answer(clients: &Clients, verb: &str, rest: &str) {
    let mut parts = rest.splitn(3, ' ');
    let id: Option<u32> = parts.next().and_then(|s| s.parse().ok());
    let Some(reply) = id.and_then(|id| lock(&clients.pending).remove(&id)) else {
        eprintln!("[clients] {verb} for an unknown id: {rest:.60}");
        return;
    };
    let result = match (verb, parts.next(), parts.next()) {
        ("ANSWER", Some(t0), Some(sdp)) => Ok((t0.parse().unwrap_or(0), proto::unescape(sdp))),
        (_, a, b) => Err(format!("{} {}", a.unwrap_or(""), b.unwrap_or(""))),
    };
    let _ = reply.send(result);
}

/// Sends `OFFER` and waits for the SFU process's answer.
pub async fn negotiate(clients: &Clients, id: u32, client: &TestClient) -> Result<u64, String> {
    let offer = client.offer().await.map_err(|e| e.to_string())?;
    let (tx, rx) = oneshot::channel();
    lock(&clients.pending).insert(id, tx);
    send(&format!("OFFER {id} {}", escape(&offer)));
    let (t0, sdp) = tokio::time::timeout(WAIT, rx)
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|_| "answer channel dropped".to_owned())??;
    client.accept(sdp).await.map_err(|e| e.to_string())?;
    if !client.wait_connected(WAIT).await {
        return Err("did not connect".into());
    }
    Ok(t0)
}

fn observer(sub: &Arc<Subscriber>, counting: &Arc<AtomicBool>) -> PacketObserver {
    let (sub, counting) = (Arc::clone(sub), Arc::clone(counting));
    Arc::new(move |p: &rtp::Packet| {
        let now = now_ns();
        let Some(stamp) = Stamp::read(&p.payload) else {
            return; // not ours (e.g. padding)
        };
        let _ = sub.first_any_ns.compare_exchange(0, now, Relaxed, Relaxed);
        if stamp.stream != STREAM_AUDIO {
            let _ = sub
                .first_video_ns
                .compare_exchange(0, now, Relaxed, Relaxed);
        }
        if counting.load(Relaxed) {
            let mut w = lock(&sub.window);
            match stamp.stream {
                STREAM_AUDIO => w.audio.record(stamp.number),
                _ => w.video.record(stamp.number),
            }
            let us = now.saturating_sub(stamp.sent_ns) / 1_000;
            w.latency_us.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
    })
}

async fn join_one(clients: Arc<Clients>, id: u32, gate: Arc<Semaphore>) -> Option<Arc<Subscriber>> {
    let sub = Arc::new(Subscriber::default());
    let permit = gate.acquire_owned().await.ok()?;
    let client = TestClient::subscriber_observed(1, 1, observer(&sub, &clients.counting)).await;
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            eprintln!("[clients] subscriber {id}: {e}");
            return None;
        }
    };
    match negotiate(&clients, id, &client).await {
        Ok(t0) => sub.t0_ns.store(t0, Relaxed),
        Err(e) => {
            eprintln!("[clients] subscriber {id}: {e}");
            return None;
        }
    }
    drop(permit);
    lock(&clients.connections).push(client);
    lock(&clients.subscribers).push(Arc::clone(&sub));
    if clients.drop_media {
        sub.first_any_ns.store(now_ns(), Relaxed);
        return Some(sub);
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while sub.first_video_ns.load(Relaxed) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Some(sub)
}

/// Joins subscribers `ids`, a few at a time; reports their join times with `JOINED`.
async fn join_batch(clients: Arc<Clients>, ids: std::ops::Range<u32>) {
    let gate = Arc::new(Semaphore::new(JOIN_CONCURRENCY));
    let tasks: Vec<_> = ids
        .clone()
        .map(|id| tokio::spawn(join_one(Arc::clone(&clients), id, Arc::clone(&gate))))
        .collect();
    let (mut any, mut video, mut failed) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let Ok(Some(sub)) = t.await else {
            failed += 1;
            continue;
        };
        let t0 = sub.t0_ns.load(Relaxed);
        let ms = |at: u64| u32::try_from(at.saturating_sub(t0) / 1_000_000).unwrap_or(u32::MAX);
        match sub.first_any_ns.load(Relaxed) {
            0 => failed += 1,
            at => any.push(ms(at)),
        }
        if let at @ 1.. = sub.first_video_ns.load(Relaxed) {
            video.push(ms(at));
        }
    }
    any.sort_unstable();
    video.sort_unstable();
    send(&format!(
        "JOINED {}",
        pairs(&[
            ("ok", any.len().to_string()),
            (
                "subscribers_total",
                lock(&clients.subscribers).len().to_string()
            ),
            ("failed", failed.to_string()),
            ("video_ok", video.len().to_string()),
            ("any_p50_ms", quantile(&any, 0.5).to_string()),
            ("any_max_ms", any.last().copied().unwrap_or(0).to_string()),
            ("video_p50_ms", quantile(&video, 0.5).to_string()),
            (
                "video_max_ms",
                video.last().copied().unwrap_or(0).to_string()
            ),
        ])
    ));
}

/// Starts the measured window.
fn mark(clients: &Clients) {
    for s in lock(&clients.subscribers).iter() {
        *lock(&s.window) = Window::default();
    }
    *lock(&clients.sent_at_mark) = clients.sent.each_ref().map(|c| c.load(Relaxed));
    clients.counting.store(true, Relaxed);
}

/// Ends the measured window and sends its figures.
fn report(clients: &Clients) {
    clients.counting.store(false, Relaxed);
    let at_mark = *lock(&clients.sent_at_mark);
    let sent = clients.sent.each_ref().map(|c| c.load(Relaxed));
    let delta = |i: usize| sent[i].saturating_sub(at_mark[i]);
    let subs = lock(&clients.subscribers).clone();
    let (mut received, mut expected, mut worst) = (0u64, 0u64, 0f64);
    let mut latency = Vec::new();
    for s in &subs {
        let w = lock(&s.window);
        let (r, e) = (
            w.video.received + w.audio.received,
            w.video.expected() + w.audio.expected(),
        );
        received += r;
        expected += e;
        let loss = if e == 0 {
            1.0
        } else {
            1.0 - (r as f64 / e as f64)
        };
        worst = worst.max(loss);
        latency.extend_from_slice(&w.latency_us);
    }
    latency.sort_unstable();
    let per_sub_sent = delta(usize::from(crate::proto::STREAM_TOP)) + delta(3);
    send(&format!(
        "REPORT {}",
        pairs(&[
            ("subscribers", subs.len().to_string()),
            ("received", received.to_string()),
            ("expected_seq", expected.to_string()),
            (
                "expected_sent",
                (per_sub_sent * subs.len() as u64).to_string()
            ),
            ("worst_loss", format!("{worst:.5}")),
            ("lat_p50_us", quantile(&latency, 0.5).to_string()),
            ("lat_p99_us", quantile(&latency, 0.99).to_string()),
            (
                "lat_max_us",
                latency.last().copied().unwrap_or(0).to_string()
            ),
            ("pub_sent_total", (0..4).map(delta).sum::<u64>().to_string()),
            ("per_sub_sent", per_sub_sent.to_string()),
            ("sending_s", format!("{:.4}", lock(&clients.sending).1)),
        ])
    ));
}
