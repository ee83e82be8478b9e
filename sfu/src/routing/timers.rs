//! Time-driven work of the media path: keyframe retries and throttled PLIs, speaker
//! changes, per-peer statistics (with the round trip and loss the halls report) and the
//! layer selectors' bitrates and bandwidth caps.

use crate::engine::{Engine, Phase};
use crate::event::{PeerId, PeerStats, SfuEvent};
use crate::StreamId;
use std::time::{Duration, Instant};

impl Engine {
    /// Timers: keyframe retries, throttled PLIs, speaker changes.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for t in self.tracks.values_mut() {
            if t.throttle.poll_timeout().is_some_and(|at| at <= now) {
                t.throttle.handle_timeout(now);
                t.send_plis();
            }
        }
        let mut due = Vec::new();
        for (&peer, p) in &mut self.peers {
            for s in &mut p.slots {
                if let Some(sub) = s.subscription.as_mut() {
                    if sub.forwarder.poll_timeout().is_some_and(|at| at <= now) {
                        sub.forwarder.handle_timeout(now);
                        due.push((peer, s.info.id));
                    }
                }
            }
        }
        for (peer, slot) in due {
            self.drain_slot(now, peer, slot);
        }
        if self.speaker.poll_timeout().is_some_and(|at| at <= now) {
            self.speaker.handle_timeout(now);
        }
        while let Some(change) = self.speaker.poll_output() {
            let peer = change
                .speaker
                .and_then(|t| self.tracks.get(&t))
                .map(|t| t.owner);
            self.emit(SfuEvent::ActiveSpeakerChanged {
                peer,
                track: change.speaker,
            });
        }
    }

    /// Publishes per-peer statistics and refreshes the layer selectors' bitrates.
    pub(crate) fn publish_stats(&mut self, now: Instant) {
        let ids: Vec<StreamId> = self.tracks.keys().copied().collect();
        for &id in &ids {
            self.update_bitrates(now, id);
        }
        // Layer rates moved, and bandwidth estimates age: share them out again.
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.share_bandwidth(now, peer);
        }
        let mut incoming: Vec<(PeerId, u64, f32, Duration)> = Vec::new();
        for t in self.tracks.values_mut() {
            for l in t.layers.iter_mut().flatten() {
                let s = l.estimator.stats(now);
                match incoming.iter_mut().find(|x| x.0 == t.owner) {
                    Some(x) => {
                        x.1 += s.bitrate_bps;
                        x.2 = x.2.max(s.loss_fraction);
                        x.3 = x.3.max(s.jitter);
                    }
                    None => incoming.push((t.owner, s.bitrate_bps, s.loss_fraction, s.jitter)),
                }
            }
        }
        // Statistics are the first thing dropped when the consumer falls behind.
        let room = self.events.capacity() > self.events.max_capacity() / 4;
        let mut stats = Vec::new();
        for (&peer, p) in &mut self.peers {
            if p.phase == Phase::Negotiating {
                continue;
            }
            let (bitrate_in_bps, loss_in, jitter_in) = incoming
                .iter()
                .find(|x| x.0 == peer)
                .map_or((0, 0.0, Duration::ZERO), |x| (x.1, x.2, x.3));
            stats.push(PeerStats {
                peer,
                bitrate_in_bps,
                bitrate_out_bps: p.out_rate.bitrate_bps(now),
                loss_in,
                jitter_in,
                packets_out: p.packets_out,
                dropped_out: p.dropped_out,
                rtt: p.link.rtt(now),
                loss_out: p.link.loss_out(now),
                bandwidth_out_bps: p.link.bandwidth(now),
            });
        }
        if room {
            for s in stats {
                self.emit(SfuEvent::Stats(s));
            }
        }
    }
}
