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
use crate::{LinkQuality, RateEstimator};
use std::time::{Duration, Instant};

/// What we send one hall and what it reports about it.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Bits sent to it (all slots).
    pub rate: RateEstimator,
    /// Packets handed to its connection since it joined.
    pub packets: u64,
    /// Loss, round trip and bandwidth from its receiver reports and REMBs.
    pub link: LinkQuality,
}

impl Outgoing {
    /// A packet of `bytes` went to the hall at `now`.
    pub fn sent(&mut self, now: Instant, bytes: usize) {
        self.rate.record(now, bytes);
        self.packets += 1;
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
    let conns: Vec<usize> = table.iter_mut().map(|(i, _)| i).collect();
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
        stats.bitrate_out_bps = conn.out.rate.bitrate_bps(now);
        stats.packets_out = conn.out.packets;
        stats.rtt = conn.out.link.rtt(now);
        stats.loss_out = conn.out.link.loss_out(now);
        stats.bandwidth_out_bps = conn.out.link.bandwidth(now);
        out.push(stats);
    }
    out
}
