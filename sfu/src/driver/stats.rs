//! Per-peer statistics of the driver: what we send each hall, what it reports about
//! that, and the figures of the [`SfuEvent::Stats`](crate::SfuEvent::Stats) published
//! every `stats_interval`, from the core's pieces.
//!
//! The stats tick also refreshes the layer selectors' bitrates (a layer that stopped
//! goes idle after [`LAYER_IDLE`](super::publish::LAYER_IDLE)) and shares each hall's
//! bandwidth estimate among its video slots again (estimates age).

use super::router::Router;
use super::table::Table;
use crate::event::PeerStats;
use crate::LinkQuality;
use std::time::{Duration, Instant};

/// What we send one hall and what it reports about it.
///
/// Per forwarded packet only two counters move; the bitrate is worked out once per
/// statistics round ([`round`](Self::round)) from the bytes sent since the last one.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Bits per second sent to it (all slots) over the last statistics round.
    pub bitrate_bps: u64,
    /// Bytes handed to its connection since the last round.
    bytes: u64,
    /// When the last round ended (or the first packet went, before the first round).
    since: Option<Instant>,
    /// Packets handed to its connection since it joined.
    pub packets: u64,
    /// Loss, round trip and bandwidth from its receiver reports and REMBs.
    pub link: LinkQuality,
}

/// The shortest span a rate is averaged over (as [`crate::RateEstimator`]'s), so a
/// round right after the first packet does not divide by almost nothing.
const MIN_SPAN: Duration = Duration::from_millis(100);

impl Outgoing {
    /// A packet of `bytes` went to the hall at `now`.
    pub fn sent(&mut self, now: Instant, bytes: usize) {
        self.since.get_or_insert(now);
        self.bytes += bytes as u64;
        self.packets += 1;
    }

    /// Ends a statistics round at `now`: [`bitrate_bps`](Self::bitrate_bps) becomes the
    /// rate since the last one.
    pub fn round(&mut self, now: Instant) {
        let Some(since) = self.since else {
            return; // nothing sent yet
        };
        let span = now.saturating_duration_since(since).max(MIN_SPAN);
        self.bitrate_bps = (self.bytes as f64 * 8.0 / span.as_secs_f64()) as u64;
        self.bytes = 0;
        self.since = Some(now);
    }
}

/// What a hall sends us, summed over its published layers.
#[derive(Debug, Default, Clone, Copy)]
struct Incoming {
    bitrate_bps: u64,
    loss: f32,
    jitter: Duration,
}

/// Every connected hall's statistics at `now`, after refreshing the layer selectors'
/// bitrates and sharing each hall's bandwidth estimate among its video slots again.
pub fn collect(now: Instant, table: &mut Table, router: &mut Router) -> Vec<PeerStats> {
    router.refresh_bitrates(now, table);
    // Once per interval: allocating here costs nothing per packet.
    let conns: Vec<usize> = table
        .iter_mut()
        .map(|(i, c)| {
            c.out.round(now);
            i
        })
        .collect();
    for &index in &conns {
        router.share_bandwidth(now, index, table);
    }
    let mut incoming: Vec<(usize, Incoming)> = Vec::new();
    for route in router.routes.values_mut() {
        let Some(publisher) = route.publisher() else {
            continue; // a mirror: its home counts what arrives
        };
        for l in route.layers.iter_mut().flatten() {
            let s = l.estimator.stats(now);
            let entry = match incoming.iter_mut().find(|x| x.0 == publisher) {
                Some(e) => e,
                None => {
                    incoming.push((publisher, Incoming::default()));
                    let last = incoming.len() - 1;
                    &mut incoming[last]
                }
            };
            entry.1.bitrate_bps += s.bitrate_bps;
            entry.1.loss = entry.1.loss.max(s.loss_fraction);
            entry.1.jitter = entry.1.jitter.max(s.jitter);
        }
    }
    let mut out = Vec::new();
    for &index in &conns {
        let Some(conn) = table.get_mut(index) else {
            continue;
        };
        if !conn.connected {
            continue;
        }
        let inc = incoming
            .iter()
            .find(|x| x.0 == index)
            .map_or_else(Incoming::default, |x| x.1);
        let mut stats = PeerStats::new(conn.id);
        stats.bitrate_in_bps = inc.bitrate_bps;
        stats.loss_in = inc.loss;
        stats.jitter_in = inc.jitter;
        stats.bitrate_out_bps = conn.out.bitrate_bps;
        stats.packets_out = conn.out.packets;
        stats.rtt = conn.out.link.rtt(now);
        stats.loss_out = conn.out.link.loss_out(now);
        stats.bandwidth_out_bps = conn.out.link.bandwidth(now);
        out.push(stats);
    }
    out
}
