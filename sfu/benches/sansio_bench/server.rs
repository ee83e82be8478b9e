//! The SFU process of `sansio-bench`: runs [`SansioSfu`] on one port, spawns the clients
//! process, answers its offers, points each subscriber at the top track and the audio,
//! and measures itself per step of N.
//!
//! The window runs between two readings of the driver's counters (`forwarded`: packets
//! handed to subscribers' connections) and of this process's CPU time (`/proc/self/stat`).

use crate::proto::{self, escape, now_ns, parse_pairs};
use sfu::sansio::SansioSfu;
use sfu::{MediaKind, PeerId, SfuConfig, SfuEvent, StreamId};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// What the command line chose.
#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Vec<u32>,
    pub window: Duration,
    pub settle: Duration,
    pub pin: bool,
}

/// The figures of one step.
pub struct Row {
    pub n: u32,
    pub values: BTreeMap<String, f64>,
    /// `/proc/loadavg` (1 min) before → after the step.
    pub load: String,
}

const WAIT: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Peers that reached `Connected`, and a wake-up when it changes.
#[derive(Default)]
struct Connected {
    peers: Mutex<HashSet<PeerId>>,
    changed: Notify,
}

impl Connected {
    async fn wait_for(&self, peer: PeerId) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if lock(&self.peers).contains(&peer) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }
}

#[derive(Clone)]
struct ToClients(Arc<Mutex<ChildStdin>>);

impl ToClients {
    fn send(&self, line: &str) {
        let mut w = lock(&self.0);
        if writeln!(w, "{line}").and_then(|()| w.flush()).is_err() {
            eprintln!("[sfu] clients process gone");
        }
    }
}

fn load1() -> String {
    proto::loadavg()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// Runs every step; returns one row per N.
pub async fn run(opts: Options) -> Result<Vec<Row>, String> {
    let ticks = proto::clock_ticks();
    let (sfu, mut events) = SansioSfu::start(SfuConfig::default(), 0)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("[sfu] muxed port {}", sfu.local_addr());
    let connected = Arc::new(Connected::default());
    let (tracks_tx, mut tracks) = mpsc::unbounded_channel();
    let pump = Arc::clone(&connected);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                SfuEvent::TrackPublished { kind, track, .. } => {
                    let _ = tracks_tx.send((kind, track));
                }
                SfuEvent::PeerConnected(p) => {
                    lock(&pump.peers).insert(p);
                    pump.changed.notify_waiters();
                }
                SfuEvent::PeerFailed(p) => eprintln!("[sfu] {p:?} failed"),
                _ => {}
            }
        }
    });

    let mut command = if opts.pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]);
        c.arg(std::env::current_exe().map_err(|e| e.to_string())?);
        c
    } else {
        Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
    };
    let mut child = command
        .arg("--clients")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning clients: {e}"))?;
    let child_pid = child.id();
    let to_clients = ToClients(Arc::new(Mutex::new(child.stdin.take().ok_or("no stdin")?)));
    let stdout = child.stdout.take().ok_or("no stdout of the clients")?;
    let (lines_tx, mut replies) = mpsc::unbounded_channel::<String>();
    let top_audio: Arc<Mutex<Option<(StreamId, StreamId)>>> = Arc::default();
    let rt = tokio::runtime::Handle::current();
    let (s, c, tc, ta) = (
        sfu.clone(),
        Arc::clone(&connected),
        to_clients.clone(),
        Arc::clone(&top_audio),
    );
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("OFFER ") {
                let Some((id, sdp)) = rest.split_once(' ') else {
                    continue;
                };
                let Ok(id) = id.parse::<u32>() else { continue };
                let tracks = *lock(&ta);
                let job = join(
                    s.clone(),
                    Arc::clone(&c),
                    tc.clone(),
                    id,
                    proto::unescape(sdp),
                    tracks,
                );
                rt.spawn(job);
            } else if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut reply = async |want: &'static str| -> Result<BTreeMap<String, f64>, String> {
        loop {
            let line = tokio::time::timeout(WAIT * 5, replies.recv())
                .await
                .map_err(|_| format!("no {want} from the clients"))?
                .ok_or("the clients process ended")?;
            match line.split_once(' ') {
                Some(("ERR", e)) => return Err(format!("clients: {e}")),
                Some((verb, rest)) if verb == want => return Ok(parse_pairs(rest)),
                None if line == want => return Ok(BTreeMap::new()),
                _ => eprintln!("[sfu] unexpected line {line:.80}"),
            }
        }
    };

    // The publisher sends the top track and the audio first, so they can be told apart.
    reply("PUBLISHING").await?;
    let mut wait_track = async || {
        tokio::time::timeout(WAIT, tracks.recv())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| "a track was not published".to_owned())
    };
    let (mut top, mut audio) = (None, None);
    for _ in 0..2 {
        match wait_track().await? {
            (MediaKind::Video, t) => top = Some(t),
            (MediaKind::Audio, t) => audio = Some(t),
        }
    }
    let (Some(top), Some(audio)) = (top, audio) else {
        return Err("expected one video and one audio track first".into());
    };
    *lock(&top_audio) = Some((top, audio));
    to_clients.send("LAYERS");
    for _ in 0..2 {
        wait_track().await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let me = std::process::id();
    let mut rows = Vec::new();
    let mut joined = 0;
    for &n in &opts.sizes {
        let load_before = load1();
        to_clients.send(&format!("JOIN {}", n.saturating_sub(joined)));
        let mut values = reply("JOINED").await?;
        joined = n;
        tokio::time::sleep(opts.settle).await;
        let sample = async || {
            let stats = sfu.stats().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((
                Instant::now(),
                proto::cpu_seconds(me, ticks).unwrap_or(0.0),
                proto::cpu_seconds(child_pid, ticks).unwrap_or(0.0),
                stats.router,
            ))
        };
        let a = sample().await?;
        to_clients.send("MARK");
        tokio::time::sleep(opts.window).await;
        let b = sample().await?;
        to_clients.send("REPORT");
        values.extend(reply("REPORT").await?);
        let secs = (b.0 - a.0).as_secs_f64();
        let forwarded = b.3.forwarded.saturating_sub(a.3.forwarded) as f64;
        let cpu = b.1 - a.1;
        let per_us = if forwarded > 0.0 {
            cpu / forwarded * 1e6
        } else {
            0.0
        };
        let received = values.get("received").copied().unwrap_or(0.0);
        for (k, v) in [
            ("forwarded_per_s", forwarded / secs),
            ("received_per_s", received / secs),
            ("sfu_cpu_cores", cpu / secs),
            ("cpu_us_per_packet", per_us),
            ("clients_cpu_cores", (b.2 - a.2) / secs),
            ("dropped", b.3.dropped.saturating_sub(a.3.dropped) as f64),
            (
                "sfu_rss_mib",
                proto::rss_kib(me).unwrap_or(0) as f64 / 1024.0,
            ),
        ] {
            values.insert(k.to_owned(), v);
        }
        let load = format!("{load_before} → {}", load1());
        eprintln!("[sfu] N={n}: load {load}; {values:?}");
        rows.push(Row { n, values, load });
    }
    to_clients.send("QUIT");
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while child.try_wait().ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let _ = child.kill();
    Ok(rows)
}

/// Answers one offer; for a subscriber, subscribes its slots once it is connected.
async fn join(
    sfu: SansioSfu,
    connected: Arc<Connected>,
    to_clients: ToClients,
    id: u32,
    sdp: String,
    tracks: Option<(StreamId, StreamId)>,
) {
    let peer = PeerId(if id == 0 { 1 } else { 1_000 + u64::from(id) });
    let t0 = now_ns();
    let answer = match sfu.add_peer(peer, sdp).await {
        Ok(a) => a,
        Err(e) => return to_clients.send(&format!("FAIL {id} {e}")),
    };
    to_clients.send(&format!("ANSWER {id} {t0} {}", escape(&answer.sdp)));
    let Some((top, audio)) = tracks.filter(|_| id != 0) else {
        return;
    };
    if !connected.wait_for(peer).await {
        return eprintln!("[sfu] {peer:?} did not connect");
    }
    for (kind, track) in [(MediaKind::Video, top), (MediaKind::Audio, audio)] {
        let Some(slot) = answer.slots.iter().find(|s| s.kind == kind) else {
            continue;
        };
        if let Err(e) = sfu.subscribe(peer, slot.id, track, 0).await {
            eprintln!("[sfu] subscribing {peer:?}: {e}");
        }
    }
}
