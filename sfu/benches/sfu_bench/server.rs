//! The SFU process: runs the SFU ([`sfu::Sfu`]), spawns the clients process, points
//! the subscribers at the top layer and the audio, and measures itself per step of N.
//!
//! A measured window runs between two readings of the SFU's count of packets handed
//! to the subscribers ([`hub::counters`]) and of this process's CPU time
//! (`/proc/self/stat`), so both cover the same stretch of time.

use crate::hub::{self, lock, WAIT};
use crate::link::{Clients, TopAudio};
use crate::proto;
use sfu::MediaKind;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    /// Media workers of the SFU.
    pub workers: usize,
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

/// Runs every step; returns one row per N.
pub async fn run(opts: Options) -> Result<Vec<Row>, String> {
    let ticks = proto::clock_ticks();
    let (sfu, hub, mut tracks) = hub::start(opts.workers).await?;
    // Offers are answered as they come; subscribers get these once they are known.
    let top_audio = TopAudio::default();
    let mut clients = Clients::spawn(opts.pin, &sfu, &hub, &top_audio)?;
    let child_pid = clients.child.id();

    // The publisher: the top layer and the audio first, so they can be told apart.
    clients.reply("PUBLISHING").await?;
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
    clients.to.send("LAYERS");
    for _ in 0..2 {
        wait_track().await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let me = std::process::id();
    let sample = async || -> Result<Sample, String> {
        let (packets_out, dropped_out) = hub::counters(&sfu).await?;
        Ok(Sample {
            at: Instant::now(),
            sfu_cpu: proto::cpu_seconds(me, ticks).unwrap_or(0.0),
            clients_cpu: proto::cpu_seconds(child_pid, ticks).unwrap_or(0.0),
            packets_out,
            dropped_out,
        })
    };
    let mut rows = Vec::new();
    let mut joined = 0;
    for &n in &opts.sizes {
        let load_before = proto::loadavg();
        clients
            .to
            .send(&format!("JOIN {}", n.saturating_sub(joined)));
        let mut values = clients.reply("JOINED").await?;
        joined = n;
        tokio::time::sleep(opts.settle).await;
        let a = sample().await?;
        clients.to.send("MARK");
        tokio::time::sleep(opts.window).await;
        let b = sample().await?;
        clients.to.send("REPORT");
        values.extend(clients.reply("REPORT").await?);
        figures(&mut values, &a, &b, me, child_pid);
        eprintln!(
            "[sfu] N={n}: load {load_before} -> {}; {values:?}",
            proto::loadavg()
        );
        rows.push(Row { n, values });
    }
    clients.quit().await;
    Ok(rows)
}

/// Adds the SFU side's figures of the window from `a` to `b` to the clients' `values`.
fn figures(values: &mut BTreeMap<String, f64>, a: &Sample, b: &Sample, me: u32, child: u32) {
    let secs = (b.at - a.at).as_secs_f64();
    let forwarded = b.packets_out.saturating_sub(a.packets_out) as f64;
    let cpu = b.sfu_cpu - a.sfu_cpu;
    let received = values.get("received").copied().unwrap_or(0.0);
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
            proto::rss_kib(child).unwrap_or(0) as f64 / 1024.0,
        ),
    ] {
        values.insert(k.to_owned(), v);
    }
}
