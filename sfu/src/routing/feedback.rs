//! A hall's reports on what we send it, in the owner task: each slot's loss goes into
//! that slot's layer choice, loss and round trip into the hall's statistics, and its
//! bandwidth estimate (REMB) is shared among its video slots as layer caps.

use crate::engine::Engine;
use crate::event::{MediaKind, PeerId, SlotId};
use crate::linkquality::{split_bandwidth, LinkReport, SlotDemand};
use std::cmp::Reverse;
use std::time::Instant;

impl Engine {
    /// Takes a hall's report blocks and REMBs in.
    pub(crate) fn link_reports(&mut self, now: Instant, peer: PeerId, reports: Vec<LinkReport>) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let mut touched: Vec<SlotId> = Vec::new();
        let mut remb = false;
        for report in reports {
            p.link.handle_report(now, report);
            match report {
                LinkReport::Block { ssrc, loss, .. } => {
                    let slot = p.slots.iter_mut().find(|s| s.info.ssrc == ssrc);
                    if let Some(s) = slot {
                        if let Some(sub) = s.subscription.as_mut() {
                            sub.forwarder.set_loss(now, loss);
                            touched.push(s.info.id);
                        }
                    }
                }
                LinkReport::Remb(_) => remb = true,
            }
        }
        for slot in touched {
            self.drain_slot(now, peer, slot);
        }
        if remb {
            self.share_bandwidth(now, peer);
        }
    }

    /// Caps the layers of a hall's video slots by its bandwidth estimate once that says
    /// the link is congested ([`LinkQuality::bandwidth_cap`](crate::LinkQuality::bandwidth_cap)),
    /// the main picture (the slot whose role wants the highest layer; the first such)
    /// first, after what its audio slots carry. Otherwise caps are lifted.
    pub(crate) fn share_bandwidth(&mut self, now: Instant, peer: PeerId) {
        let Engine { peers, tracks, .. } = self;
        let Some(p) = peers.get_mut(&peer) else {
            return;
        };
        let sending = p.out_rate.bitrate_bps(now);
        let total = p.link.bandwidth_cap(now, sending);
        let mut audio = 0u64;
        let mut video: Vec<(usize, SlotDemand)> = Vec::new();
        for (i, s) in p.slots.iter().enumerate() {
            let Some(sub) = s.subscription.as_ref() else {
                continue;
            };
            let bitrates = tracks
                .get_mut(&sub.source)
                .map_or([None; crate::NUM_LAYERS], |t| t.bitrates(now));
            match s.info.kind {
                MediaKind::Audio => audio += bitrates[0].unwrap_or(0),
                MediaKind::Video => video.push((
                    i,
                    SlotDemand {
                        max_layer: sub.forwarder.max_layer(),
                        bitrates,
                    },
                )),
            }
        }
        video.sort_by_key(|&(i, d)| (Reverse(d.max_layer), i));
        let caps: Vec<Option<u64>> = match total {
            Some(total) => {
                let demands: Vec<SlotDemand> = video.iter().map(|v| v.1).collect();
                let caps = split_bandwidth(total.saturating_sub(audio), &demands);
                caps.into_iter().map(Some).collect()
            }
            None => vec![None; video.len()],
        };
        let mut changed: Vec<SlotId> = Vec::new();
        for ((i, _), cap) in video.into_iter().zip(caps) {
            let Some(s) = p.slots.get_mut(i) else {
                continue;
            };
            if let Some(sub) = s.subscription.as_mut() {
                if sub.forwarder.bandwidth() != cap {
                    sub.forwarder.set_bandwidth(now, cap);
                    changed.push(s.info.id);
                }
            }
        }
        for slot in changed {
            self.drain_slot(now, peer, slot);
        }
    }
}
