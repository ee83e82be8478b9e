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

/// With `--drop-media`, the loss at which larger N are not run: past the knee, peers
/// whose checks were delayed may drop out (ICE), which would taint the later steps.
const STOP_LOSS: f64 = 0.01;

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
    /// The kernel counts and drops the SFU's RTP (`dropmedia`).
    pub drop_media: bool,
}

/// One reading of both processes.
struct Sample {
    at: Instant,
    sfu_cpu: f64,
    clients_cpu: f64,
    packets_out: u64,
    dropped_out: u64,
    relay_dropped: u64,
    /// Subscribers the SFU forwards the top layer and the audio to.
    receiving: usize,
    /// RTP the kernel counted and dropped (`--drop-media`), else 0.
    delivered: u64,
    /// Datagrams the namespace's UDP sockets refused, buffer full (`--drop-media`).
    rcvbuf_errors: u64,
    peers_lost: u64,
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
    if opts.drop_media {
        crate::dropmedia::install(sfu.local_addr().port())?;
    }
    // Offers are answered as they come; subscribers get these once they are known.
    let top_audio = TopAudio::default();
    let mut clients = Clients::spawn(opts.pin, opts.drop_media, &sfu, &hub, &top_audio)?;
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
    let drop_media = opts.drop_media;
    let sample = async || -> Result<Sample, String> {
        let (packets_out, dropped_out, relay_dropped) = hub::counters(&sfu).await?;
        let delivered = match drop_media {
            true => crate::dropmedia::counter("rtp")?,
            false => 0,
        };
        Ok(Sample {
            at: Instant::now(),
            relay_dropped,
            receiving: hub.receiving(),
            delivered,
            rcvbuf_errors: crate::dropmedia::rcvbuf_errors(),
            peers_lost: hub.peers_lost(),
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
        // With `--drop-media` subscribers join with the publisher paused: a saturated
        // SFU would lose their handshakes with the media.
        if drop_media {
            clients.to.send("PAUSE");
            clients.reply("PAUSED").await?;
        }
        clients
            .to
            .send(&format!("JOIN {}", n.saturating_sub(joined)));
        let mut values = clients.reply("JOINED").await?;
        joined = n;
        if drop_media {
            let ok = values.get("subscribers_total").copied().unwrap_or(0.0) as usize;
            hub.wait_until("the subscriptions", |h| h.receiving() >= ok)
                .await;
            clients.to.send("RESUME");
        }
        tokio::time::sleep(opts.settle).await;
        // With `--drop-media` the window starts with the publisher paused and everything
        // sent delivered (however far behind the SFU was), and ends with the publisher
        // paused for [`crate::clients::DRAIN`]: what arrives later is counted as late.
        let mut lag = Duration::ZERO;
        if drop_media {
            clients.to.send("PAUSE");
            clients.reply("PAUSED").await?;
            lag = crate::dropmedia::drained().await?;
        }
        let a = sample().await?;
        clients.to.send("MARK");
        if drop_media {
            clients.to.send("RESUME");
        }
        tokio::time::sleep(opts.window).await;
        if drop_media {
            clients.to.send("PAUSE");
            clients.reply("PAUSED").await?;
        }
        let b = sample().await?;
        clients.to.send("REPORT");
        values.extend(clients.reply("REPORT").await?);
        if drop_media {
            let late_for = crate::dropmedia::drained().await?;
            let late = crate::dropmedia::counter("rtp")?.saturating_sub(b.delivered);
            values.insert("late".into(), late as f64);
            values.insert("late_for_ms".into(), late_for.as_secs_f64() * 1e3);
            values.insert("lag_before_ms".into(), lag.as_secs_f64() * 1e3);
            clients.to.send("RESUME");
        }
        figures(&mut values, &a, &b, me, child_pid);
        eprintln!(
            "[sfu] N={n}: load {load_before} -> {}; {values:?}",
            proto::loadavg()
        );
        let saturated = drop_media && values.get("kernel_loss").is_some_and(|l| *l >= STOP_LOSS);
        rows.push(Row { n, values });
        if saturated {
            eprintln!("[sfu] N={n}: loss of {STOP_LOSS} or more; larger N not run");
            break;
        }
    }
    clients.quit().await;
    Ok(rows)
}

/// Adds the SFU side's figures of the window from `a` to `b` to the clients' `values`.
fn figures(values: &mut BTreeMap<String, f64>, a: &Sample, b: &Sample, me: u32, child: u32) {
    // With `--drop-media`: per second of sending (the window less the drain at its end).
    let secs = match values.get("sending_s").copied() {
        Some(s) if s > 0.0 => s,
        _ => (b.at - a.at).as_secs_f64(),
    };
    // Offered: what the publisher sent on the top layer and the audio during the window,
    // once per subscriber; delivered: what the kernel counted (`--drop-media` only).
    let per_sub = values.get("per_sub_sent").copied().unwrap_or(0.0);
    if a.receiving != b.receiving {
        eprintln!(
            "[sfu] subscribers receiving changed in the window: {} -> {}",
            a.receiving, b.receiving
        );
    }
    let offered = per_sub * b.receiving as f64;
    let delivered = b.delivered.saturating_sub(a.delivered) as f64;
    let kernel_loss = if offered > 0.0 {
        1.0 - delivered / offered
    } else {
        0.0
    };
    let load_1min = proto::loadavg()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0);
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
        ("offered_per_s", offered / secs),
        ("delivered_per_s", delivered / secs),
        ("kernel_loss", kernel_loss),
        ("receiving", b.receiving as f64),
        (
            "rcvbuf_errors",
            b.rcvbuf_errors.saturating_sub(a.rcvbuf_errors) as f64,
        ),
        (
            "relay_dropped",
            b.relay_dropped.saturating_sub(a.relay_dropped) as f64,
        ),
        (
            "peers_lost",
            b.peers_lost.saturating_sub(a.peers_lost) as f64,
        ),
        ("load_1min", load_1min),
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
