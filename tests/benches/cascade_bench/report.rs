//! What the benchmark prints: per phase and node, CPU, RSS and the SFU's figures from
//! `/metrics`; where the halls' media went; percentiles of the floor changes.

use crate::hall::Hall;
use crate::nodes::{Cluster, Reading};
use crate::script::NAMES;
use sfu::testclient::procstat::{cpu_seconds, loadavg, rss_kib};
use std::time::Instant;

/// The readings at a phase's start.
pub struct Phase {
    name: &'static str,
    before: Vec<Reading>,
    at: Instant,
    cpu_self: f64,
    /// The NATS server's CPU seconds then.
    nats: Option<f64>,
}

/// A phase's readings at both ends.
pub struct Ended {
    name: &'static str,
    before: Vec<Reading>,
    after: Vec<Reading>,
    secs: f64,
    halls_cores: f64,
    halls_rss: u64,
    /// The NATS server's cores over the phase.
    nats_cores: Option<f64>,
}

impl Phase {
    pub async fn start(name: &'static str, cluster: &Cluster, ticks: f64) -> Phase {
        Phase {
            name,
            before: cluster.read(ticks).await,
            at: Instant::now(),
            cpu_self: cpu_seconds(std::process::id(), ticks).unwrap_or(0.0),
            nats: cluster.nats.and_then(|pid| cpu_seconds(pid, ticks)),
        }
    }

    pub async fn end(self, cluster: &Cluster, ticks: f64, me: u32) -> Ended {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let cpu = cpu_seconds(me, ticks).unwrap_or(0.0);
        Ended {
            name: self.name,
            before: self.before,
            after: cluster.read(ticks).await,
            secs,
            halls_cores: (cpu - self.cpu_self) / secs,
            halls_rss: rss_kib(me).unwrap_or(0),
            nats_cores: cluster
                .nats
                .and_then(|pid| cpu_seconds(pid, ticks))
                .zip(self.nats)
                .map(|(b, a)| (b - a) / secs),
        }
    }
}

const FORWARDED: &str = "hoinghi_forwarded_packets_total";
const IN: &str = "hoinghi_media_datagrams_received_total";
const OUT: &str = "hoinghi_media_datagrams_sent_total";
const RELAY_OUT: &str = "hoinghi_relay_packets_total{direction=\"out\"}";
const RELAY_IN: &str = "hoinghi_relay_packets_total{direction=\"in\"}";
const RELAY_PLI: &str = "hoinghi_relay_keyframe_requests_total{direction=\"received\"}";
const PLIS: &str = "hoinghi_keyframe_requests_total";

impl Ended {
    /// Packets the three nodes forwarded to halls over the phase.
    pub fn forwarded(&self) -> f64 {
        let each = self.before.iter().zip(&self.after);
        each.map(|(a, b)| b.get(FORWARDED) - a.get(FORWARDED)).sum()
    }

    /// One line per node: CPU, RSS, sockets and halls, the media port's rates.
    pub fn print(&self, halls: &[Hall]) {
        println!(
            "{} ({:.1} s), per node — CPU cores, RSS MiB, sockets open (halls whose socket \
             is there), halls in its rooms, media connections; packets/s forwarded to halls, \
             datagrams in/out, relay out/in; PLIs to publishers, from watching nodes:",
            self.name, self.secs
        );
        for (n, (a, b)) in self.before.iter().zip(&self.after).enumerate() {
            // The scrape of /metrics takes time on a loaded node: each node's own interval.
            let secs = (b.at - a.at).as_secs_f64().max(1e-3);
            let rate = |key: &str| (b.get(key) - a.get(key)) / secs;
            let count = |key: &str| b.get(key) - a.get(key);
            let sockets = halls.iter().filter(|h| h.node == n).count();
            println!(
                "  node {}: {:.2} cores, {:.0} MiB; sockets {:.0} ({sockets}), halls {:.0}, \
                 media {:.0}; forwarded {:.0}/s, in {:.0}/s, out {:.0}/s, relay out {:.0}/s \
                 in {:.0}/s; PLIs {:.0}, relay PLIs {:.0}",
                NAMES[n],
                (b.cpu - a.cpu) / secs,
                b.rss as f64 / 1024.0,
                b.get("hoinghi_sockets_open"),
                b.get("hoinghi_halls_connected"),
                b.get("hoinghi_media_connections"),
                rate(FORWARDED),
                rate(IN),
                rate(OUT),
                rate(RELAY_OUT),
                rate(RELAY_IN),
                count(PLIS),
                count(RELAY_PLI),
            );
        }
        let mut closed: std::collections::BTreeMap<(usize, String), usize> = Default::default();
        for h in halls {
            if let Some(why) = h.closed.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                *closed.entry((h.node, why)).or_default() += 1;
            }
        }
        for ((n, why), count) in closed {
            println!(
                "  {count} halls' sockets on node {} ended by the server: {why}",
                NAMES[n]
            );
        }
        let total: f64 = self
            .before
            .iter()
            .zip(&self.after)
            .map(|(a, b)| (b.cpu - a.cpu) / (b.at - a.at).as_secs_f64().max(1e-3))
            .sum();
        println!(
            "  three nodes {total:.2} cores; NATS server {}; the halls (this process) {:.2} \
             cores, {:.0} MiB; load {}",
            self.nats_cores
                .map_or("not found".into(), |c| format!("{c:.2} cores")),
            self.halls_cores,
            self.halls_rss as f64 / 1024.0,
            loadavg()
        );
    }
}

/// Where the halls' media went: by the node of their socket, the node whose media port
/// the SFU's answer named.
pub fn placement(cluster: &Cluster, halls: &[Hall]) {
    let mut table = [[0usize; 4]; 3];
    for h in halls {
        let to = match h.media_ports.as_slice() {
            [port] => cluster.node_of_port(*port).unwrap_or(3),
            _ => 3,
        };
        table[h.node][to] += 1;
    }
    println!("media placement (socket on → media sent to the SFU of A / B / C / other):");
    for (n, row) in table.iter().enumerate() {
        println!(
            "  socket on {}: {} / {} / {} / {}",
            NAMES[n], row[0], row[1], row[2], row[3]
        );
    }
}

fn at(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// `n`, p50, p90, p99 and max of `v`.
pub fn summary(label: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{label}: n={} p50={:.0} p90={:.0} p99={:.0} max={:.0}",
        v.len(),
        at(&v, 0.5),
        at(&v, 0.9),
        at(&v, 0.99),
        at(&v, 1.0)
    );
}

/// The floor changes over all rounds, and by the node the watching hall's socket is on.
pub fn floors(all: &[(usize, f64)], lost: usize) {
    summary(
        "floor given → new holder's first keyframe at a hall, ms, all rounds",
        all.iter().map(|&(_, v)| v).collect(),
    );
    for (n, name) in NAMES.iter().enumerate() {
        summary(
            &format!("  halls with their socket on {name}"),
            all.iter()
                .filter(|&&(m, _)| m == n)
                .map(|&(_, v)| v)
                .collect(),
        );
    }
    let max = all.iter().map(|&(_, v)| v).fold(0.0, f64::max);
    println!(
        "halls that never got the new holder's keyframe (within 5 s): {lost}; target p100 \
         < 300 ms with none lost: {}",
        if max < 300.0 && lost == 0 {
            "met"
        } else {
            "not met"
        }
    );
}
