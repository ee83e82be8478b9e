//! The SFU process: runs the SFU, spawns the clients process, answers its offers, points
//! the subscribers at the top layer and the audio, and measures itself per step of N.
//!
//! A measured window runs from one round of the SFU's per-peer statistics to a later one,
//! so the SFU's own count of packets handed to the subscribers' slots (`packets_out`)
//! and this process's CPU time (`/proc/self/stat`) cover the same stretch of time.

use crate::proto::{self, escape, now_ns, parse_pairs};
use sfu::{MediaKind, PeerId, PeerStats, Sfu, SfuConfig, SfuEvent, StreamId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// What the command line chose.
#[derive(Debug, Clone)]
pub struct Options {
    /// Subscriber counts, ascending; subscribers are added between steps.
    pub sizes: Vec<u32>,
    /// Length of each measured window.
    pub window: Duration,
    /// Wait after the joins before measuring.
    pub settle: Duration,
    /// SFU on CPU 0, clients on CPU 1.
    pub pin: bool,
}

const WAIT: Duration = Duration::from_secs(60);
const PUBLISHER: PeerId = PeerId(1);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn subscriber_peer(id: u32) -> PeerId {
    PeerId(1_000 + u64::from(id))
}

/// What the event pump learns from the SFU.
#[derive(Default)]
struct Shared {
    connected: Mutex<HashSet<PeerId>>,
    /// Latest statistics per peer, with a count of rounds seen.
    stats: Mutex<HashMap<PeerId, (u64, PeerStats)>>,
    changed: Notify,
}

impl Shared {
    async fn wait_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                eprintln!("[sfu] timed out waiting for {what}");
                return false;
            }
        }
    }

    /// Waits for a new round of statistics of all `peers`; returns Σ(packets_out, dropped_out).
    async fn next_stats_round(&self, peers: &[PeerId]) -> (u64, u64) {
        let seen = |s: &Self| -> Vec<u64> {
            let stats = lock(&s.stats);
            peers
                .iter()
                .map(|p| stats.get(p).map_or(0, |x| x.0))
                .collect()
        };
        let before = seen(self);
        self.wait_until("a round of statistics", |s| {
            seen(s).iter().zip(&before).all(|(now, was)| now > was)
        })
        .await;
        let stats = lock(&self.stats);
        peers
            .iter()
            .filter_map(|p| stats.get(p))
            .fold((0, 0), |(o, d), (_, s)| {
                (o + s.packets_out, d + s.dropped_out)
            })
    }
}

/// Writes protocol lines to the clients process.
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

/// One reading of both processes.
struct Sample {
    at: Instant,
    sfu_cpu: f64,
    clients_cpu: f64,
    packets_out: u64,
    dropped_out: u64,
}

/// The figures of one step.
pub struct Row {
    pub n: u32,
    pub values: BTreeMap<String, f64>,
}

fn spawn_clients(pin: bool) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    command
        .arg("--clients")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
}

/// Runs every step; returns one row per N.
pub async fn run(opts: Options) -> Result<Vec<Row>, String> {
    let ticks = proto::clock_ticks();
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared::default());
    let (tracks_tx, mut tracks) = mpsc::unbounded_channel();
    let pump = Arc::clone(&shared);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                SfuEvent::TrackPublished { kind, track, .. } => {
                    let _ = tracks_tx.send((kind, track));
                }
                SfuEvent::PeerConnected(p) => {
                    lock(&pump.connected).insert(p);
                }
                SfuEvent::Stats(s) => {
                    let mut stats = lock(&pump.stats);
                    let round = stats.get(&s.peer).map_or(0, |x| x.0) + 1;
                    stats.insert(s.peer, (round, s));
                }
                SfuEvent::PeerFailed(p) => eprintln!("[sfu] {p:?} failed"),
                _ => continue,
            }
            pump.changed.notify_waiters();
        }
    });

    let mut child = spawn_clients(opts.pin).map_err(|e| format!("spawning clients: {e}"))?;
    let child_pid = child.id();
    let to_clients = ToClients(Arc::new(Mutex::new(
        child.stdin.take().ok_or("no stdin of the clients")?,
    )));
    let stdout = child.stdout.take().ok_or("no stdout of the clients")?;
    let (lines_tx, mut replies) = mpsc::unbounded_channel::<String>();
    // Offers are answered as they come; other lines go to the steps below.
    let top_audio: Arc<Mutex<Option<(StreamId, StreamId)>>> = Arc::default();
    let rt = tokio::runtime::Handle::current();
    let (s, sh, tc, ta) = (
        sfu.clone(),
        Arc::clone(&shared),
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
                let (s, sh, tc) = (s.clone(), Arc::clone(&sh), tc.clone());
                let tracks = *lock(&ta);
                rt.spawn(join(s, sh, tc, id, proto::unescape(sdp), tracks));
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

    // The publisher: the top layer and the audio first, so they can be told apart.
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
    let sample = |(packets_out, dropped_out): (u64, u64)| Sample {
        at: Instant::now(),
        sfu_cpu: proto::cpu_seconds(me, ticks).unwrap_or(0.0),
        clients_cpu: proto::cpu_seconds(child_pid, ticks).unwrap_or(0.0),
        packets_out,
        dropped_out,
    };
    let mut rows = Vec::new();
    let mut joined = 0;
    for &n in &opts.sizes {
        let load_before = proto::loadavg();
        to_clients.send(&format!("JOIN {}", n.saturating_sub(joined)));
        let join = reply("JOINED").await?;
        joined = n;
        tokio::time::sleep(opts.settle).await;
        let peers: Vec<PeerId> = (1..=n).map(subscriber_peer).collect();
        let a = sample(shared.next_stats_round(&peers).await);
        to_clients.send("MARK");
        tokio::time::sleep(opts.window).await;
        let b = sample(shared.next_stats_round(&peers).await);
        to_clients.send("REPORT");
        let report = reply("REPORT").await?;
        let secs = (b.at - a.at).as_secs_f64();
        let forwarded = b.packets_out.saturating_sub(a.packets_out) as f64;
        let cpu = b.sfu_cpu - a.sfu_cpu;
        let mut values = join;
        values.extend(report);
        let get = |v: &BTreeMap<String, f64>, k: &str| v.get(k).copied().unwrap_or(0.0);
        let received = get(&values, "received");
        let per_us = if forwarded > 0.0 {
            cpu / forwarded * 1e6
        } else {
            0.0
        };
        for (k, v) in [
            ("window_s", secs),
            ("forwarded_per_s", forwarded / secs),
            ("received_per_s", received / secs),
            ("sfu_cpu_cores", cpu / secs),
            ("cpu_s_per_1000", per_us / 1000.0),
            ("cpu_us_per_packet", per_us),
            ("clients_cpu_cores", (b.clients_cpu - a.clients_cpu) / secs),
            (
                "dropped_out",
                b.dropped_out.saturating_sub(a.dropped_out) as f64,
            ),
            (
                "sfu_rss_mib",
                proto::rss_kib(me).unwrap_or(0) as f64 / 1024.0,
            ),
            (
                "clients_rss_mib",
                proto::rss_kib(child_pid).unwrap_or(0) as f64 / 1024.0,
            ),
        ] {
            values.insert(k.to_owned(), v);
        }
        eprintln!(
            "[sfu] N={n}: load {load_before} -> {}; {values:?}",
            proto::loadavg()
        );
        rows.push(Row { n, values });
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
    sfu: Sfu,
    shared: Arc<Shared>,
    to_clients: ToClients,
    id: u32,
    sdp: String,
    tracks: Option<(StreamId, StreamId)>,
) {
    let peer = if id == 0 {
        PUBLISHER
    } else {
        subscriber_peer(id)
    };
    let t0 = now_ns();
    let answer = match sfu.add_peer(peer, sdp).await {
        Ok(a) => a,
        Err(e) => return to_clients.send(&format!("FAIL {id} {e}")),
    };
    to_clients.send(&format!("ANSWER {id} {t0} {}", escape(&answer.sdp)));
    let Some((top, audio)) = tracks.filter(|_| id != 0) else {
        return;
    };
    let what = format!("{peer:?} to connect");
    if !shared
        .wait_until(&what, |s| lock(&s.connected).contains(&peer))
        .await
    {
        return;
    }
    for (kind, track, layer) in [(MediaKind::Video, top, 2), (MediaKind::Audio, audio, 0)] {
        let Some(slot) = answer.slots.iter().find(|s| s.kind == kind) else {
            eprintln!("[sfu] {peer:?} has no {kind:?} slot");
            continue;
        };
        if let Err(e) = sfu.subscribe(peer, slot.id, track, layer).await {
            eprintln!("[sfu] subscribing {peer:?}: {e}");
        }
    }
}
