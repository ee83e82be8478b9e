//! The halls process: every hall joins, the host chairs (mute all, grid paging, the
//! floor handed around), and what the halls saw is printed. `MARK <name>` lines tell
//! the server side when to read its CPU clock. With `--viewers`, WHEP viewers pull the
//! meeting through a second steady window.

use crate::hall::{self, Hall};
use crate::viewers;
use crate::Options;
use futures::StreamExt;
use serde_json::json;
use sfu::testclient::procstat::{clock_ticks, cpu_seconds, rss_kib};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Grid tiles per page on the host's page (its video slots but the main picture).
const TILES: usize = hall::HOST_VIDEO_SLOTS - 1;

fn mark(name: &str) {
    println!("MARK {name}");
}

fn summary(label: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((v.len().saturating_sub(1)) as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or(f64::NAN)
    };
    println!(
        "{label}: n={} p50={:.0} p90={:.0} p99={:.0} max={:.0}",
        v.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// Σ packets received and missing over all halls.
fn totals(halls: &[Hall]) -> (u64, u64) {
    halls.iter().fold((0, 0), |(p, g), h| {
        let l = h.log();
        (p + l.packets, g + l.gaps)
    })
}

pub async fn run(
    url: String,
    tokens: PathBuf,
    whep: Option<String>,
    options: Options,
) -> Result<(), String> {
    let text = std::fs::read_to_string(&tokens).map_err(|e| e.to_string())?;
    let list: Vec<(i64, String)> = text
        .lines()
        .filter_map(|l| {
            let (id, token) = l.split_once(' ')?;
            Some((id.parse().ok()?, token.to_owned()))
        })
        .take(options.halls)
        .collect();
    let (me, ticks) = (std::process::id(), clock_ticks());
    mark("joining");
    let started = Instant::now();
    let (host_id, host_token) = list.first().ok_or("no tokens")?;
    let host = hall::join(&url, *host_id, host_token, true).await?;
    let joins = list[1..]
        .iter()
        .map(|(id, token)| hall::join(&url, *id, token, false));
    let results: Vec<_> = futures::stream::iter(joins)
        .buffer_unordered(options.concurrency)
        .collect()
        .await;
    let connected = started.elapsed();
    let mut halls = vec![host];
    let mut failed = 0;
    for r in results {
        match r {
            Ok(h) => halls.push(h),
            Err(e) => {
                failed += 1;
                println!("join failed: {e}");
            }
        }
    }
    // Every hall receives the host's picture (its first video slot).
    let deadline = Instant::now() + Duration::from_secs(30);
    let waiting = |halls: &[Hall]| {
        halls[1..].iter().any(|h| {
            let ssrc = h.video_ssrcs.first().copied().unwrap_or(0);
            h.log().keyframes.get(&ssrc).is_none_or(Vec::is_empty)
        })
    };
    while waiting(&halls) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_media = started.elapsed();
    for h in &halls[1..] {
        let ssrc = h.video_ssrcs.first().copied().unwrap_or(0);
        let l = h.log();
        if l.keyframes.get(&ssrc).is_none_or(Vec::is_empty) {
            println!(
                "hall {} shows no host picture (slot SSRC {ssrc}): received (packets, PT) by \
                 SSRC {:?}, keyframes on {:?}",
                h.id,
                l.seen,
                l.keyframes.keys().collect::<Vec<_>>()
            );
        }
    }
    let asked: u64 = halls
        .iter()
        .map(|h| h.asked.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let blind = halls
        .iter()
        .filter(|h| h.asked.load(std::sync::atomic::Ordering::Relaxed) > 0)
        .count();
    println!("halls whose picture started without a keyframe and asked for one: {blind} ({asked} requests)");
    mark("joined");
    println!(
        "join: {} halls in, {failed} failed; all media connected after {:.1} s; every hall \
         showing the host after {:.1} s ({} joins at a time)",
        halls.len(),
        connected.as_secs_f64(),
        all_media.as_secs_f64(),
        options.concurrency
    );
    summary(
        "join per hall, ms (token sent → media connected and sending)",
        halls
            .iter()
            .map(|h| h.joined_in.as_secs_f64() * 1e3)
            .collect(),
    );

    // A 221-hall meeting runs muted but for the host and the floor.
    halls[0].send(json!({"type": "mute_all"}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The meeting's first floor change is the first use of every hall's floor slot;
    // timed on its own.
    println!("first floor change of the meeting (every floor slot's first use):");
    floor_round(&halls, halls.len() / 2).await;
    halls[0].send(json!({"type": "take_floor"}));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Steady window: the host pages its grid; the time until a page's tiles all show.
    let (p0, g0) = totals(&halls);
    let (cpu0, t0) = (cpu_seconds(me, ticks).unwrap_or(0.0), Instant::now());
    mark("steady");
    let page_ms = page_grid(&halls, options.window).await;
    mark("steady-end");
    let secs = t0.elapsed().as_secs_f64();
    let (p1, g1) = totals(&halls);
    let cpu = cpu_seconds(me, ticks).unwrap_or(0.0) - cpu0;
    let (got, lost) = ((p1 - p0) as f64, (g1 - g0) as f64);
    println!(
        "steady {secs:.1} s: halls received {:.0} packets/s ({:.0} per hall), lost {:.3}% \
         (gaps in the slots' sequence numbers); halls process {:.0}% of one core, {:.0} MiB",
        got / secs,
        got / secs / halls.len() as f64,
        100.0 * lost / (got + lost).max(1.0),
        100.0 * cpu / secs,
        rss_kib(me).unwrap_or(0) as f64 / 1024.0
    );
    summary("grid page turned → all its tiles showing, ms", page_ms);

    // The same window again with WHEP viewers pulling the meeting: the difference in
    // the server's CPU is what the viewers cost.
    if let (Some(url), true) = (&whep, options.viewers > 0) {
        // WHEP serves a meeting once it has started.
        halls[0].send(json!({"type": "set_phase", "phase": "started"}));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let viewers = viewers::open(url, options.viewers).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (v0, _) = viewers.packets();
        let t = Instant::now();
        mark("viewers");
        let page_ms = page_grid(&halls, options.window).await;
        mark("viewers-end");
        let secs = t.elapsed().as_secs_f64();
        let (v1, least) = viewers.packets();
        println!(
            "{} WHEP viewers over {secs:.1} s: {:.0} packets/s each (the viewer that got \
             least: {least} packets in all)",
            viewers.len(),
            (v1 - v0) as f64 / secs / viewers.len() as f64
        );
        summary(
            "with the viewers: grid page turned → all its tiles showing, ms",
            page_ms,
        );
        viewers.close().await;
    }

    // The same window again while the host records the meeting (the recording's
    // GStreamer threads run in the server): what one recording costs.
    if options.record {
        halls[0].send(json!({"type": "set_phase", "phase": "started"}));
        halls[0].send(json!({"type": "start_recording"}));
        tokio::time::sleep(Duration::from_secs(2)).await;
        mark("recording");
        let page_ms = page_grid(&halls, options.window).await;
        mark("recording-end");
        halls[0].send(json!({"type": "stop_recording"}));
        summary(
            "while recording: grid page turned → all its tiles showing, ms",
            page_ms,
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // The floor handed around: taken back (slots go dark), then given; the new
    // holder's first keyframe at every other hall and at the host.
    mark("floors");
    let mut all = Vec::new();
    for round in 0..options.floors {
        let holder = 1 + (round * 37 + 5) % (halls.len() - 1);
        all.extend(floor_round(&halls, holder).await);
    }
    mark("floors-end");
    summary(
        "floor given → new holder's first keyframe at a hall, ms",
        all,
    );
    for h in halls {
        h.close().await;
    }
    mark("done");
    Ok(())
}

/// The host turns its grid's pages for `window`; for each page, the time until all its
/// tiles show a picture.
async fn page_grid(halls: &[Hall], window: Duration) -> Vec<f64> {
    let t0 = Instant::now();
    let pages = (halls.len() - 1).div_ceil(TILES).max(1);
    let mut page_ms = Vec::new();
    let mut page = 0;
    while t0.elapsed() < window {
        page = (page + 1) % pages;
        let tiles = (halls.len() - 1 - page * TILES).min(TILES);
        let asked = Instant::now();
        halls[0].send(json!({"type": "grid_page", "page": page}));
        let grid: Vec<u32> = halls[0].video_ssrcs[1..].to_vec();
        let until = asked + Duration::from_secs(3);
        loop {
            let showing = {
                let l = halls[0].log();
                let ready = grid
                    .iter()
                    .filter(|&&s| l.keyframe_after(s, asked).is_some());
                ready.count()
            };
            if showing >= tiles {
                page_ms.push(asked.elapsed().as_secs_f64() * 1e3);
                break;
            }
            if Instant::now() > until {
                println!("grid page {page}: {showing}/{tiles} tiles showing after 3 s");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    page_ms
}

/// Takes the floor back (the floor slots go dark), then gives it to `halls[holder]`;
/// returns the delay until its first keyframe at every other hall and at the host.
async fn floor_round(halls: &[Hall], holder: usize) -> Vec<f64> {
    halls[0].send(json!({"type": "take_floor"}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let given = Instant::now();
    halls[0].send(json!({"type": "give_floor", "hall_id": halls[holder].id}));
    let watchers: Vec<(usize, u32)> = (0..halls.len())
        .filter(|&i| i != holder)
        .filter_map(|i| Some((i, halls[i].floor_ssrc(i == 0)?)))
        .collect();
    let mut got: Vec<Option<f64>> = vec![None; watchers.len()];
    let until = given + Duration::from_secs(5);
    while got.iter().any(Option::is_none) && Instant::now() < until {
        for (g, &(i, ssrc)) in got.iter_mut().zip(&watchers) {
            if g.is_none() {
                let at = halls[i].log().keyframe_after(ssrc, given);
                *g = at.map(|t| (t - given).as_secs_f64() * 1e3);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut these: Vec<f64> = got.iter().flatten().copied().collect();
    these.sort_by(f64::total_cmp);
    let at = |q: f64| these.get(((these.len().saturating_sub(1)) as f64 * q) as usize);
    let pli = halls[holder]
        .pli_after(given)
        .map_or(f64::NAN, |t| (t - given).as_secs_f64() * 1e3);
    println!(
        "floor → hall {}: first keyframe at {}/{} halls, p50 {:.0} ms, slowest {:.0} ms \
         (keyframe request reached it after {pli:.0} ms)",
        halls[holder].id,
        these.len(),
        got.len(),
        at(0.5).copied().unwrap_or(f64::NAN),
        these.last().copied().unwrap_or(f64::NAN)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    these
}
