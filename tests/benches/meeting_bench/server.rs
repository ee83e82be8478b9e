//! The server side: the real server with the demo data, a province meeting of all three
//! levels, one join token per hall for the halls process, and the server's CPU and
//! memory between the marks the halls process prints.

use crate::Options;
use hoinghi_tests::spawn_app;
use scheduler::feeds::{FeedKind, NewFeed};
use scheduler::testing::province_meeting_now;
use scheduler::Level;
use sfu::testclient::procstat::{clock_ticks, cpu_seconds, loadavg, rss_kib};
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A `MARK` line: when, the server's and the halls process's CPU seconds then.
struct Mark {
    name: String,
    at: Instant,
    server_cpu: f64,
    halls_cpu: f64,
    /// The server's resident memory then, KiB.
    rss: u64,
}

pub async fn run(options: Options) {
    let app = spawn_app().await;
    let store = app.db.store.clone();
    let levels = [Level::Province, Level::District, Level::Commune];
    let m = province_meeting_now(&store, "Giao ban trực tuyến toàn tỉnh", &levels)
        .await
        .expect("the meeting is scheduled");
    let invited = store.invited_halls(m.id).await.expect("invited halls");
    let mut ids: Vec<i64> = invited.iter().map(|h| h.hall_id).collect();
    ids.retain(|&h| h != m.host_hall_id);
    ids.insert(0, m.host_hall_id);
    ids.truncate(options.halls);
    let mut lines = String::new();
    for &id in &ids {
        let token = store.join_token_of(m.id, id).await.expect("a token");
        lines.push_str(&format!("{id} {}\n", token.expect("invited")));
    }
    // A viewer token for the WHEP viewers (made as the administrator would on the page).
    let admin = store
        .principal_by_username("admin")
        .await
        .expect("the demo administrator");
    let viewer = NewFeed {
        kind: FeedKind::Viewer,
        name: "Màn hình sảnh (đo)".into(),
    };
    let feed = store
        .add_feed(&admin, m.id, &viewer)
        .await
        .expect("a viewer token");
    let whep = format!("{}/whep/{}", app.base, feed.token);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, lines).expect("tokens written");
    println!(
        "meeting {} ({} invited halls): {} halls join, host hall {}; server at {}; load {}",
        m.id,
        invited.len(),
        ids.len(),
        m.host_hall_id,
        app.base,
        loadavg()
    );

    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut child = tokio::process::Command::new(exe)
        .arg("--hall-tokens")
        .arg(app.base.replace("http://", "ws://"))
        .arg(&tokens)
        .args(["--halls", &options.halls.to_string()])
        .args(["--window", &options.window.as_secs().to_string()])
        .args(["--floors", &options.floors.to_string()])
        .args(["--concurrency", &options.concurrency.to_string()])
        .args(["--viewers", &options.viewers.to_string()])
        .args(["--record", if options.record { "1" } else { "0" }])
        .args(["--whep", &whep])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the halls process starts");
    let halls_pid = child.id().unwrap_or(0);
    let (me, ticks) = (std::process::id(), clock_ticks());
    let mut marks: Vec<Mark> = Vec::new();
    let mut peak_rss = 0;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    while let Ok(Some(line)) = out.next_line().await {
        peak_rss = peak_rss.max(rss_kib(me).unwrap_or(0));
        match line.strip_prefix("MARK ") {
            Some(name) => marks.push(Mark {
                name: name.to_owned(),
                at: Instant::now(),
                server_cpu: cpu_seconds(me, ticks).unwrap_or(0.0),
                halls_cpu: cpu_seconds(halls_pid, ticks).unwrap_or(0.0),
                rss: rss_kib(me).unwrap_or(0),
            }),
            None => println!("  {line}"),
        }
    }
    let status = child.wait().await;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    println!("server (this process: HTTP, signaling, SFU, attendance writes):");
    let find = |n: &str| marks.iter().find(|m| m.name == n);
    let cores_between = |from: &str, to: &str| {
        let (a, b) = (find(from)?, find(to)?);
        Some((b.server_cpu - a.server_cpu) / (b.at - a.at).as_secs_f64())
    };
    for (from, to) in [
        ("joining", "joined"),
        ("steady", "steady-end"),
        ("viewers", "viewers-end"),
        ("recording", "recording-end"),
        ("floors", "floors-end"),
    ] {
        let (Some(a), Some(b)) = (find(from), find(to)) else {
            continue;
        };
        let secs = (b.at - a.at).as_secs_f64();
        let server = (b.server_cpu - a.server_cpu) / secs;
        let halls = (b.halls_cpu - a.halls_cpu) / secs;
        println!(
            "  {from:>8} ({secs:5.1} s): server CPU {:.2} cores = {:.0}% of {cores} cores; \
             halls process {:.2} cores",
            server,
            100.0 * server / cores,
            halls
        );
    }
    if let (Some(plain), Some(viewed)) = (
        cores_between("steady", "steady-end"),
        cores_between("viewers", "viewers-end"),
    ) {
        let n = options.viewers.max(1) as f64;
        println!(
            "  per WHEP viewer: {:.2}% of one core ({} viewers: {:+.3} cores over the same \
             window without them)",
            100.0 * (viewed - plain) / n,
            options.viewers,
            viewed - plain
        );
    }
    if let (Some(plain), Some(recorded), Some(a), Some(b)) = (
        cores_between("steady", "steady-end"),
        cores_between("recording", "recording-end"),
        find("steady-end"),
        find("recording-end"),
    ) {
        println!(
            "  one recording: {:+.1}% of one core over the same window without it; server \
             RSS {:.0} → {:.0} MiB",
            100.0 * (recorded - plain),
            a.rss as f64 / 1024.0,
            b.rss as f64 / 1024.0
        );
        recorded_files(&store, m.id).await;
    }
    println!(
        "  server RSS peak {:.0} MiB; load {}; halls process {status:?}",
        peak_rss as f64 / 1024.0,
        loadavg()
    );
    app.stop().await;
}

/// The meeting's recordings as the store has them: length, size and disk rate.
async fn recorded_files(store: &scheduler::Store, meeting_id: i64) {
    let admin = store
        .principal_by_username("admin")
        .await
        .expect("the demo administrator");
    let rows = store
        .recordings(&admin, meeting_id)
        .await
        .expect("the recordings");
    if rows.is_empty() {
        println!("  no recording was made (is recording available on this server?)");
    }
    for r in rows {
        let secs = r.duration_ms.unwrap_or(0) as f64 / 1e3;
        let bytes = r.bytes.unwrap_or(0) as f64;
        println!(
            "  recording {}: {} {secs:.1} s, {:.2} MiB, {:.0} kB/s to disk",
            r.file,
            r.status.as_str(),
            bytes / 1_048_576.0,
            bytes / 1e3 / secs.max(0.001)
        );
    }
}
