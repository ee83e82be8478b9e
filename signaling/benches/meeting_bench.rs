//! `meeting_bench`: one province meeting of N halls (default 221, the Phú Thọ demo tree)
//! through the real signaling service and SFU, every hall a `sfu::testclient` peer over
//! UDP on 127.0.0.1, every page a pair of channels (no WebSocket).
//!
//! Most halls publish VP8 + Opus (`TestClient::publisher`: one 30 fps synthetic
//! camera, 50 Opus packets/s — not simulcast; the simulcast client has no audio). A few
//! sample halls (`--viewers`) instead receive 2 video + 2 audio slots and time what
//! arrives. The host pages its grid and gives the floor around.
//!
//! Prints: join time of all halls (first `join` → every hall's media connected and every
//! viewer receiving the host), process CPU and RSS over a steady window, packets/s the
//! SFU forwards (Σ `packets_out` of the room's statistics), and per floor change the
//! delay until the new holder's first keyframe reaches each viewer. CPU and RSS are of
//! this whole process: SFU, signaling, store AND all the test clients. Prints figures,
//! asserts nothing about time. Without `--bench` (as `cargo test` runs it) it exits.

#[path = "../tests/common/mod.rs"]
mod common;

use common::Page;
use futures::StreamExt;
use scheduler::testing::{demo_db, province_meeting_now};
use scheduler::{Backend, Level, Store};
use serde_json::json;
use sfu::testclient::{PacketObserver, Publishing, TestClient};
use sfu::SfuConfig;
use signaling::protocol::{ProtocolError, ServerMessage};
use signaling::{Admission, Admit, Signaling, SignalingConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound of every wait in this bench.
const WAIT: Duration = Duration::from_secs(20);
/// VP8's payload type in the SFU's answer.
const VP8_PT: u8 = 96;

/// Checks tokens against the store, as the web server does.
#[derive(Clone)]
struct StoreAdmit(Store);

impl Admit for StoreAdmit {
    async fn admit(&self, token: &str) -> Result<Admission, ProtocolError> {
        self.0
            .check_join_token(token, None, scheduler::time::now())
            .await
            .map(Admission::from)
            .map_err(|e| signaling::refusal(&e))
    }
}

struct Args {
    halls: usize,
    viewers: usize,
    floors: usize,
    window: Duration,
    concurrency: usize,
}

fn args() -> Option<Args> {
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench") {
        return None;
    }
    let get = |name: &str, default: usize| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Some(Args {
        halls: get("--halls", 221).max(3),
        viewers: get("--viewers", 8).max(1),
        floors: get("--floors", 6),
        window: Duration::from_secs(get("--window", 10) as u64),
        concurrency: get("--concurrency", 32).max(1),
    })
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident set size in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// What a viewer's observer saw: video SSRCs in order of first packet, keyframe arrivals.
#[derive(Default)]
struct ViewerLog {
    video_ssrcs: Vec<u32>,
    keyframes: Vec<(Instant, u32)>,
}

struct Hall {
    id: i64,
    page: Page,
    media: TestClient,
    _sending: Option<Publishing>,
    log: Option<Arc<Mutex<ViewerLog>>>,
}

fn lock(log: &Mutex<ViewerLog>) -> std::sync::MutexGuard<'_, ViewerLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

async fn join_hall(
    signaling: Signaling,
    store: Store,
    meeting: i64,
    id: i64,
    viewer: bool,
) -> Result<(Hall, Duration), String> {
    let started = Instant::now();
    let token = store
        .join_token_of(meeting, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("not invited")?;
    let mut page = Page::open_with(&signaling, StoreAdmit(store));
    page.join(&token).await;
    let (media, log) = if viewer {
        let log = Arc::new(Mutex::new(ViewerLog::default()));
        let seen = Arc::clone(&log);
        let observer: PacketObserver = Arc::new(move |p| {
            if p.header.payload_type != VP8_PT {
                return;
            }
            let mut l = lock(&seen);
            let ssrc = p.header.ssrc;
            if !l.video_ssrcs.contains(&ssrc) {
                l.video_ssrcs.push(ssrc);
            }
            if sfu::is_keyframe_start(&p.payload).unwrap_or(false) {
                l.keyframes.push((Instant::now(), ssrc));
            }
        });
        let media = TestClient::subscriber_observed(2, 2, observer)
            .await
            .map_err(|e| e.to_string())?;
        (media, Some(log))
    } else {
        let media = TestClient::publisher().await.map_err(|e| e.to_string())?;
        (media, None)
    };
    let offer = media.offer().await.map_err(|e| e.to_string())?;
    page.send(json!({"type": "offer", "sdp": offer}));
    let sdp = page
        .expect("answer", |m| match m {
            ServerMessage::Answer { sdp, .. } => Some(sdp.clone()),
            _ => None,
        })
        .await;
    media.accept(sdp).await.map_err(|e| e.to_string())?;
    if !media.wait_connected(WAIT).await {
        return Err(format!("hall {id}: media did not connect"));
    }
    let sending = if viewer {
        None
    } else {
        Some(media.start_publishing().await.map_err(|e| e.to_string())?)
    };
    let hall = Hall {
        id,
        page,
        media,
        _sending: sending,
        log,
    };
    Ok((hall, started.elapsed()))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn summary(label: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{label}: n={} p50={:.1} p90={:.1} max={:.1}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.9),
        percentile(&v, 1.0)
    );
}

async fn forwarded(room: &signaling::RoomHandle) -> (u64, u64) {
    let stats = room.stats().await.unwrap_or_default();
    stats.iter().fold((0, 0), |(o, d), s| {
        (o + s.stats.packets_out, d + s.stats.dropped_out)
    })
}

async fn run(args: Args) {
    let cpu_start = cpu_seconds();
    let db = demo_db(Backend::Sqlite).await.expect("demo database");
    let store = db.store.clone();
    let levels = [Level::Province, Level::District, Level::Commune];
    let m = province_meeting_now(&store, "Giao ban trực tuyến toàn tỉnh", &levels)
        .await
        .expect("scheduled");
    let invited = store.invited_halls(m.id).await.expect("invited");
    let mut ids: Vec<i64> = invited.iter().map(|h| h.hall_id).collect();
    ids.retain(|&h| h != m.host_hall_id);
    ids.insert(0, m.host_hall_id);
    let n = args.halls.min(ids.len());
    ids.truncate(n);
    let viewers = args.viewers.min(n - 2);
    println!(
        "meeting {} with {} invited halls; running {n} halls ({viewers} viewers, {} publishers)",
        m.id,
        invited.len(),
        n - viewers
    );

    let config = SignalingConfig {
        heartbeat: Duration::from_secs(3600),
        ..SignalingConfig::default()
    };
    let signaling = Signaling::start(SfuConfig::default(), config)
        .expect("valid config")
        .with_roster(store.clone());

    // Joins: the host first, then everyone (at most `concurrency` at once). Viewers
    // are spread evenly over the list.
    let first_join = Instant::now();
    let cpu_before_join = cpu_seconds();
    let host = join_hall(signaling.clone(), store.clone(), m.id, ids[0], false)
        .await
        .expect("host joins");
    let step = (n - 1) / viewers;
    let jobs = ids[1..].iter().enumerate().map(|(i, &id)| {
        let viewer = i % step == step - 1 && (i / step) < viewers;
        join_hall(signaling.clone(), store.clone(), m.id, id, viewer)
    });
    let results: Vec<_> = futures::stream::iter(jobs)
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let all_connected = first_join.elapsed();
    let mut halls = vec![host.0];
    let mut join_ms = vec![host.1.as_secs_f64() * 1e3];
    let mut failed = 0;
    for r in results {
        match r {
            Ok((h, t)) => {
                halls.push(h);
                join_ms.push(t.as_secs_f64() * 1e3);
            }
            Err(e) => {
                failed += 1;
                eprintln!("join failed: {e}");
            }
        }
    }
    // Every viewer receives the host's camera.
    let deadline = Instant::now() + WAIT;
    while halls
        .iter()
        .filter_map(|h| h.log.as_ref())
        .any(|l| lock(l).video_ssrcs.is_empty())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_media = first_join.elapsed();
    let join_cpu = cpu_seconds() - cpu_before_join;
    println!(
        "join: {} halls in, {failed} failed; all connected after {:.2} s, all viewers \
         receiving the host after {:.2} s (concurrency {}); CPU during joins {:.1} s \
         ({:.0}% of one core)",
        halls.len(),
        all_connected.as_secs_f64(),
        all_media.as_secs_f64(),
        args.concurrency,
        join_cpu,
        100.0 * join_cpu / all_media.as_secs_f64()
    );
    summary("join per hall, ms (token → media connected)", join_ms);

    let room = signaling.room(m.id).expect("room");
    let present = room.participants().await.map(|p| p.len()).unwrap_or(0);
    println!("participants in the room: {present}");

    // Steady state: settle, then a measured window while the host pages its grid.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (out0, drop0) = forwarded(&room).await;
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let pages = (n as u32).div_ceil(16);
    let mut page_no = 0;
    while t0.elapsed() < args.window {
        page_no = (page_no + 1) % pages.max(1);
        halls[0]
            .page
            .send(json!({"type": "grid_page", "page": page_no}));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (out1, drop1) = forwarded(&room).await;
    let (cpu1, secs) = (cpu_seconds(), t0.elapsed().as_secs_f64());
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "steady ({secs:.1} s, host paging its grid of 16 every second): process CPU {:.2} \
         cores = {:.0}% of {cores} cores; RSS {:.0} MiB; SFU forwarded {:.0} pkt/s \
         (dropped {:.0} pkt/s; stats are periodic, so the counts lag by up to a report)",
        (cpu1 - cpu0) / secs,
        100.0 * (cpu1 - cpu0) / secs / cores as f64,
        rss_mib(),
        (out1 - out0) as f64 / secs,
        (drop1 - drop0) as f64 / secs,
    );

    // Floor changes: the host gives the floor to publishers in turn; per viewer, the
    // delay until a keyframe arrives on a video SSRC other than the host's.
    let publishers: Vec<i64> = halls[1..]
        .iter()
        .filter(|h| h.log.is_none())
        .map(|h| h.id)
        .collect();
    let mut delays = Vec::new();
    let mut missed = 0;
    for round in 0..args.floors {
        let Some(&holder) = publishers.get(round * publishers.len().max(1) / args.floors.max(1))
        else {
            break;
        };
        let given = Instant::now();
        halls[0]
            .page
            .send(json!({"type": "give_floor", "hall_id": holder}));
        let deadline = given + Duration::from_secs(5);
        let logs: Vec<_> = halls.iter().filter_map(|h| h.log.clone()).collect();
        let mut got: Vec<Option<f64>> = vec![None; logs.len()];
        while got.iter().any(Option::is_none) && Instant::now() < deadline {
            for (g, log) in got.iter_mut().zip(&logs) {
                if g.is_some() {
                    continue;
                }
                let l = lock(log);
                let host_ssrc = l.video_ssrcs.first().copied();
                *g = l
                    .keyframes
                    .iter()
                    .find(|(t, s)| *t >= given && Some(*s) != host_ssrc)
                    .map(|(t, _)| (*t - given).as_secs_f64() * 1e3);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let these: Vec<f64> = got.iter().flatten().copied().collect();
        missed += got.len() - these.len();
        let max = these.iter().copied().fold(f64::NAN, f64::max);
        println!(
            "floor → hall {holder}: first keyframe at {}/{} viewers, slowest {max:.0} ms",
            these.len(),
            got.len()
        );
        delays.extend(these);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    summary(
        "floor change → new holder's first keyframe at a viewer, ms",
        delays,
    );
    println!("viewers that saw no keyframe within 5 s: {missed}");
    println!(
        "total CPU {:.1} s; peak-ish RSS {:.0} MiB",
        cpu_seconds() - cpu_start,
        rss_mib()
    );
    for h in &halls {
        h.media.close().await;
    }
}

fn main() {
    let Some(args) = args() else {
        println!("meeting_bench: pass --bench (cargo bench -p signaling --bench meeting_bench)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        if tokio::time::timeout(Duration::from_secs(300), run(args))
            .await
            .is_err()
        {
            println!("meeting_bench: stopped after 300 s");
        }
    });
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());
    runtime.shutdown_timeout(Duration::from_secs(2));
}
