//! How loaded this node is — halls present in its rooms, packets the media port forwards
//! per second — and the capacity guard that refuses a join the node cannot carry.
//!
//! Halls are counted by a [`Seat`] each room member holds (taken when the hall is added,
//! given back when it is dropped, whatever ends it). The media port's counters are read
//! once a second by a sampler task ([`spawn_sampler`]); the last reading
//! ([`MediaFigures`]) serves the guard's packet rate and the `/metrics` page, so a scrape
//! never calls the media task.

use crate::registry::Shared;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// The most this node takes; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    /// Halls present in all rooms at most (a hall already present may come back).
    pub max_halls: Option<usize>,
    /// Packets forwarded per second (the last second's rate) above which new halls are
    /// refused.
    pub max_forwarded_pps: Option<u64>,
}

/// What the media port has done since start and how busy it is, as last sampled.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaFigures {
    /// Connections on the media port.
    pub connections: usize,
    /// Datagrams received and sent.
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// Packets handed to subscribers' connections, and their RTP bytes.
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    /// Packets dropped: refused by `rtc`, by a full send queue or the kernel, or unrouted.
    pub dropped_packets: u64,
    pub send_dropped: u64,
    pub unrouted: u64,
    /// Keyframe requests (PLI) sent to publishers.
    pub plis: u64,
    /// NACKs halls sent about what we sent them, packets sent again on them, and NACKs
    /// we sent publishing halls about what they sent us.
    pub nacks_from_halls: u64,
    pub retransmitted_packets: u64,
    pub nacks_to_halls: u64,
    /// The relay with other nodes of the cluster (the cascade): packets out and in,
    /// PLIs and NACKs both ways, drops.
    pub relay: sfu::NodeFigures,
    /// Forwarded packets per second over the last sampling interval.
    pub forwarded_pps: u64,
    /// Share of the last interval the media task spent working (0–1).
    pub busy_ratio: f64,
}

impl MediaFigures {
    /// The figures of one reading of the port's counters (the one place that knows
    /// `PortStats`' shape).
    fn from_stats(stats: &sfu::driver::PortStats) -> Self {
        MediaFigures {
            connections: stats.connections,
            datagrams_in: stats.datagrams_in,
            datagrams_out: stats.datagrams_out,
            forwarded_packets: stats.router.forwarded,
            forwarded_bytes: stats.router.forwarded_bytes,
            dropped_packets: stats.router.dropped,
            send_dropped: stats.send_dropped,
            unrouted: stats.unrouted,
            plis: stats.router.plis,
            nacks_from_halls: stats.nacks.received,
            retransmitted_packets: stats.nacks.retransmitted,
            nacks_to_halls: stats.nacks.sent,
            relay: stats.nodes,
            forwarded_pps: 0,
            busy_ratio: 0.0,
        }
    }
}

/// The node's load, shared by the rooms, the sessions and the sampler.
#[derive(Debug, Default)]
pub struct Load {
    halls: AtomicUsize,
    forwarded_pps: AtomicU64,
    media: Mutex<MediaFigures>,
}

impl Load {
    /// Halls present in all rooms now (including those in their grace period).
    pub fn halls(&self) -> usize {
        self.halls.load(Ordering::Relaxed)
    }

    /// The last media reading.
    pub fn media(&self) -> MediaFigures {
        *self.media.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why a new hall cannot be taken now, if it cannot.
    pub fn refusal(&self, capacity: &Capacity) -> Option<String> {
        if let Some(max) = capacity.max_halls {
            let halls = self.halls();
            if halls >= max {
                return Some(format!(
                    "this server carries {halls} halls, its limit (max_halls {max}); try again later"
                ));
            }
        }
        if let Some(max) = capacity.max_forwarded_pps {
            let pps = self.forwarded_pps.load(Ordering::Relaxed);
            if pps >= max {
                return Some(format!(
                    "this server forwards {pps} packets/s, its limit (max_forwarded_pps {max}); try again later"
                ));
            }
        }
        None
    }

    /// Sets the forwarded rate (tests; the sampler in a server).
    pub fn set_forwarded_pps(&self, pps: u64) {
        self.forwarded_pps.store(pps, Ordering::Relaxed);
    }
}

/// One hall present in a room: counted in [`Load::halls`] while it lives.
#[derive(Debug)]
pub struct Seat(Arc<Load>);

impl Seat {
    /// Counts one more hall.
    pub fn take(load: &Arc<Load>) -> Self {
        load.halls.fetch_add(1, Ordering::Relaxed);
        Seat(Arc::clone(load))
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.halls.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How often the media port's counters are read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Reads the media port's counters every [`SAMPLE_EVERY`] into the service's [`Load`]
/// until the service is dropped (the sampler holds it weakly, so it never keeps a
/// stopped server's SFU alive).
pub(crate) fn spawn_sampler(shared: Weak<Shared>) {
    tokio::spawn(async move {
        let mut last: Option<(Instant, sfu::driver::PortStats)> = None;
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let Ok(stats) = shared.sfu.port_stats().await else {
                return;
            };
            let now = Instant::now();
            let mut figures = MediaFigures::from_stats(&stats);
            if let Some((then, before)) = last {
                let secs = now.duration_since(then).as_secs_f64().max(1e-3);
                let forwarded = stats
                    .router
                    .forwarded
                    .saturating_sub(before.router.forwarded);
                figures.forwarded_pps = (forwarded as f64 / secs) as u64;
                let busy = stats.busy.saturating_sub(before.busy);
                figures.busy_ratio = (busy.as_secs_f64() / secs).min(1.0);
            }
            let load = &shared.load;
            load.forwarded_pps
                .store(figures.forwarded_pps, Ordering::Relaxed);
            *load.media.lock().unwrap_or_else(PoisonError::into_inner) = figures;
            last = Some((now, stats));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::MediaFigures;

    #[test]
    fn the_figures_carry_the_ports_nack_counts() {
        let mut stats = sfu::driver::PortStats::default();
        stats.nacks.received = 3;
        stats.nacks.retransmitted = 5;
        stats.nacks.sent = 2;
        let f = MediaFigures::from_stats(&stats);
        let nacks = (
            f.nacks_from_halls,
            f.retransmitted_packets,
            f.nacks_to_halls,
        );
        assert_eq!(nacks, (3, 5, 2));
    }

    #[test]
    fn the_figures_carry_the_relays_counts() {
        let mut stats = sfu::driver::PortStats::default();
        stats.nodes.packets_out = 7;
        stats.nodes.packets_in = 11;
        stats.nodes.plis_received = 2;
        let f = MediaFigures::from_stats(&stats);
        assert_eq!(f.relay, stats.nodes);
    }
}
