//! The script: the cluster and the meeting set up; every hall joins (host first, on node
//! A), a steady window, then the floor handed to candidates on B, C, A in turn, timing
//! the new holder's first keyframe at every hall; each phase's per-node figures.

use crate::hall::{self, Hall, Role};
use crate::nodes::Cluster;
use crate::report::{self, Phase};
use crate::{setup, Options};
use serde_json::json;
use sfu::testclient::procstat::{clock_ticks, loadavg};
use std::time::{Duration, Instant};

/// Letters of the nodes, in order.
pub const NAMES: [&str; 3] = ["A", "B", "C"];
/// How long a hall may take to show the new floor holder before it counts as lost.
const FLOOR_WAIT: Duration = Duration::from_secs(5);

pub async fn run(options: Options) -> Result<(), String> {
    println!("load {} at start", loadavg());
    let t = Instant::now();
    let cluster = Cluster::start().await?;
    for (n, node) in NAMES.iter().zip(&cluster.nodes) {
        println!(
            "node {n} = {} (pid {}, {}, media 127.0.0.1:{})",
            node.name, node.pid, node.ws, node.media_port
        );
    }
    let (meeting, tokens) = setup::meeting(&cluster.db.store, options.halls).await?;
    println!(
        "meeting {meeting}: {} halls invited and joining; set up in {:.1} s",
        tokens.len(),
        t.elapsed().as_secs_f64()
    );
    let result = play(&cluster, &tokens, &options).await;
    cluster.stop().await;
    println!("load {} at end", loadavg());
    result
}

/// The role of the `i`-th hall joining through `node`, `before` halls of that node
/// having joined before it.
fn role(i: usize, before: usize, options: &Options) -> Role {
    if i == 0 {
        Role::Host {
            video: 1 + 3 * options.publishers,
        }
    } else if before < options.publishers {
        Role::Publisher
    } else {
        Role::Viewer {
            audio: options.audio,
        }
    }
}

async fn play(
    cluster: &Cluster,
    tokens: &[(i64, String)],
    options: &Options,
) -> Result<(), String> {
    let (me, ticks) = (std::process::id(), clock_ticks());
    let mut per_node = [0usize; 3];
    let plan: Vec<(usize, i64, &str, Role)> = tokens
        .iter()
        .enumerate()
        .map(|(i, (id, token))| {
            let node = i % 3;
            let r = role(
                i,
                per_node[node].saturating_sub(usize::from(node == 0)),
                options,
            );
            per_node[node] += 1;
            (node, *id, token.as_str(), r)
        })
        .collect();
    let phase = Phase::start("join", cluster, ticks).await;
    let started = Instant::now();
    // The host first: its join makes node A the meeting's home.
    let (node, id, token, r) = plan[0];
    let mut halls = vec![hall::join(&cluster.nodes[node].ws, node, id, token, r).await?];
    let mut failed = 0;
    for (b, batch) in plan[1..].chunks(options.batch).enumerate() {
        let joins = batch
            .iter()
            .map(|&(node, id, token, r)| hall::join(&cluster.nodes[node].ws, node, id, token, r));
        for result in futures::future::join_all(joins).await {
            match result {
                Ok(h) => halls.push(h),
                Err(e) => {
                    failed += 1;
                    println!("join failed: {e}");
                }
            }
        }
        if (b + 1) * options.batch % 200 < options.batch {
            println!(
                "  {} halls in after {:.1} s (load {})",
                halls.len(),
                started.elapsed().as_secs_f64(),
                loadavg()
            );
        }
    }
    let connected = started.elapsed();
    // Every hall shows the host's picture.
    let deadline = Instant::now() + Duration::from_secs(60);
    let blind = |halls: &[Hall]| {
        halls
            .iter()
            .filter(|h| {
                h.host_ssrc()
                    .is_some_and(|s| h.log().keyframes.get(&s).is_none_or(Vec::is_empty))
            })
            .count()
    };
    while blind(&halls) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "join: {} halls in, {failed} failed, {} joins at a time; all media connected after \
         {:.1} s; every hall showing the host after {:.1} s ({} never did)",
        halls.len(),
        options.batch,
        connected.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        blind(&halls)
    );
    report::summary(
        "join per hall, ms (token sent → media connected)",
        halls
            .iter()
            .map(|h| h.joined_in.as_secs_f64() * 1e3)
            .collect(),
    );
    phase.end(cluster, ticks, me).await.print(&halls);
    report::placement(cluster, &halls);

    let candidates: Vec<Vec<usize>> = (0..3)
        .map(|n| {
            (0..halls.len())
                .filter(|&i| halls[i].node == n && halls[i].role == Role::Publisher)
                .collect()
        })
        .collect();
    // The meeting's first floor change is the first use of every hall's floor slot:
    // timed on its own, not with the others.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(&first) = candidates[0].first() {
        println!("first floor change of the meeting (every floor slot's first use):");
        let (got, missed) = floor_round(&halls, first).await;
        report::floors(&got, missed);
    }
    halls[0].send(json!({"type": "take_floor"}));
    // Steady: the host on the main picture of every hall, nobody holding the floor.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let phase = Phase::start("steady", cluster, ticks).await;
    let p0: u64 = halls.iter().map(|h| h.log().packets).sum();
    tokio::time::sleep(options.window).await;
    let p1: u64 = halls.iter().map(|h| h.log().packets).sum();
    let secs = options.window.as_secs_f64().max(1e-3);
    let ended = phase.end(cluster, ticks, me).await;
    let forwarded = ended.forwarded();
    println!(
        "the halls received {:.1}% of the packets the nodes forwarded to them ({:.0} of \
         {forwarded:.0}); below ~95% this process (the halls) falls behind and the timings \
         below are partly its own",
        100.0 * (p1 - p0) as f64 / forwarded.max(1.0),
        p1 - p0
    );
    println!(
        "steady {secs:.0} s: the halls received {:.0} packets/s ({:.1} per hall)",
        (p1 - p0) as f64 / secs,
        (p1 - p0) as f64 / secs / halls.len() as f64,
    );
    ended.print(&halls);

    // The floor to candidates on B, C, A in turn.
    let phase = Phase::start("floors", cluster, ticks).await;
    let mut all: Vec<(usize, f64)> = Vec::new();
    let mut lost = 0;
    for round in 0..options.floors {
        let node = [1, 2, 0][round % 3];
        let Some(&holder) = candidates[node].get((round / 3) % candidates[node].len().max(1))
        else {
            continue;
        };
        let (got, missed) = floor_round(&halls, holder).await;
        all.extend(got);
        lost += missed;
    }
    report::floors(&all, lost);
    phase.end(cluster, ticks, me).await.print(&halls);
    close(halls).await;
    Ok(())
}

/// Takes the floor back, then gives it to `halls[holder]`; the delay until its first
/// keyframe at every other hall (with the node each watched through), and how many
/// halls did not get one within [`FLOOR_WAIT`].
async fn floor_round(halls: &[Hall], holder: usize) -> (Vec<(usize, f64)>, usize) {
    halls[0].send(json!({"type": "take_floor"}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let given = Instant::now();
    halls[0].send(json!({"type": "give_floor", "hall_id": halls[holder].id}));
    let watchers: Vec<(usize, u32)> = (0..halls.len())
        .filter(|&i| i != holder)
        .filter_map(|i| Some((i, halls[i].floor_ssrc()?)))
        .collect();
    let mut got: Vec<Option<f64>> = vec![None; watchers.len()];
    while got.iter().any(Option::is_none) && given.elapsed() < FLOOR_WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for (g, &(i, ssrc)) in got.iter_mut().zip(&watchers) {
            if g.is_none() {
                let at = halls[i].log().keyframe_after(ssrc, given);
                *g = at.map(|t| (t - given).as_secs_f64() * 1e3);
            }
        }
    }
    let these: Vec<(usize, f64)> = watchers
        .iter()
        .zip(&got)
        .filter_map(|(&(i, _), g)| Some((halls[i].node, (*g)?)))
        .collect();
    let missed = got.len() - these.len();
    let mut ms: Vec<f64> = these.iter().map(|&(_, v)| v).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "floor → hall {} (socket on node {}): first keyframe at {}/{} halls, p50 {:.0} ms, \
         slowest {:.0} ms",
        halls[holder].id,
        NAMES[halls[holder].node],
        these.len(),
        got.len(),
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    (these, missed)
}

/// Closes every hall, a hundred at a time.
async fn close(mut halls: Vec<Hall>) {
    while !halls.is_empty() {
        let rest = halls.split_off(halls.len().min(100));
        futures::future::join_all(halls.into_iter().map(Hall::close)).await;
        halls = rest;
    }
}
