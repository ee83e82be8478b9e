//! What a hall's own reports say about the link from the SFU to it: loss per slot,
//! a smoothed round trip, its bandwidth estimate (REMB), and how that bandwidth is
//! shared among its video slots.
//!
//! The hall's receiver report blocks (one per slot it receives) give each slot's
//! fraction lost and, with our sender reports, a round-trip sample ([`crate::rtt`]).
//! A browser that negotiated `goog-remb` also sends a REMB: its estimate of what it can
//! receive in total (Chromium 156 sends it even without `goog-remb` in our answer). The
//! estimate follows what the hall receives, so it caps layers only once it says the
//! link is congested. [`LinkQuality`] keeps these per peer; [`split_bandwidth`] turns
//! the estimate into a cap per video slot, the main picture first.

use crate::layer::NUM_LAYERS;
use crate::rtt::SmoothedRtt;
use std::time::{Duration, Instant};

/// A report older than this no longer describes the link (browsers report every
/// second or so; a hall that stopped receiving a slot stops reporting on it).
pub const REPORT_STALE: Duration = Duration::from_secs(5);

/// A REMB below this share of what we send it says the hall's link is congested. A
/// browser's estimate starts at what it receives and backs off to 0.85 × that on
/// overuse; our 1 s send rate wobbles (±30 % measured with Chromium), so one backoff on
/// a noisy measure is not enough: 0.75 takes a clear or repeated one.
pub const CONGESTED: f64 = 0.75;
/// How long a congestion cap stays after the last congested REMB. A receiver's estimate
/// cannot climb far above what it receives (libwebrtc: 1.5 × the incoming rate), so a
/// cap kept for good would hold a hall on a low layer for ever: after the hold the cap
/// is lifted and the layers climb again, and a new congestion caps them again.
pub const CAP_HOLD: Duration = Duration::from_secs(10);

/// One thing a hall's RTCP says about what we send it (read by the slot task).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkReport {
    /// A receiver report block about one of our slots.
    Block {
        /// The slot's SSRC (the block's source).
        ssrc: u32,
        /// Fraction of its packets lost since the hall's previous report (0.0..=1.0).
        loss: f32,
        /// The round trip this block gives, if it gives one.
        rtt: Option<Duration>,
    },
    /// The hall's receive bandwidth estimate, bits per second.
    Remb(u64),
}

/// A report block's 8-bit fraction lost as a fraction (RFC 3550: in 1/256ths).
pub fn loss_fraction(fraction_lost: u8) -> f32 {
    f32::from(fraction_lost) / 256.0
}

/// A REMB's bitrate in whole bits per second; `None` if it is not a finite, positive rate.
pub fn remb_bps(bitrate: f32) -> Option<u64> {
    // `as` saturates (and maps NaN to 0, never panics); NaN and negatives are refused.
    (bitrate.is_finite() && bitrate > 0.0).then_some(bitrate as u64)
}

/// The link from the SFU to one hall, from the hall's own reports.
#[derive(Debug, Clone, Default)]
pub struct LinkQuality {
    /// Smoothed round trip over every slot's reports (one path per connection).
    rtt: SmoothedRtt,
    /// When the last round-trip sample came.
    rtt_at: Option<Instant>,
    /// The latest loss fraction per slot SSRC and when it came.
    losses: Vec<(u32, f32, Instant)>,
    /// The latest REMB and when it came.
    remb: Option<(u64, Instant)>,
    /// Until when the REMB caps the layers (after a congested one).
    capped_until: Option<Instant>,
}

impl LinkQuality {
    /// Takes a report in, received at `now`.
    pub fn handle_report(&mut self, now: Instant, report: LinkReport) {
        match report {
            LinkReport::Block { ssrc, loss, rtt } => {
                let loss = if loss.is_finite() {
                    loss.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                match self.losses.iter_mut().find(|l| l.0 == ssrc) {
                    Some(l) => *l = (ssrc, loss, now),
                    None => self.losses.push((ssrc, loss, now)),
                }
                if let Some(rtt) = rtt {
                    self.rtt.update(rtt);
                    self.rtt_at = Some(now);
                }
            }
            LinkReport::Remb(bps) => self.remb = Some((bps, now)),
        }
    }

    /// The smoothed round trip; `None` before the first sample or once reports stopped.
    pub fn rtt(&self, now: Instant) -> Option<Duration> {
        let fresh = self.rtt_at.is_some_and(|at| fresh(now, at));
        self.rtt.get().filter(|_| fresh)
    }

    /// The highest loss fraction the hall reports for any slot lately (0 if none).
    pub fn loss_out(&mut self, now: Instant) -> f32 {
        self.losses.retain(|&(_, _, at)| fresh(now, at));
        self.losses.iter().map(|l| l.1).fold(0.0, f32::max)
    }

    /// The hall's bandwidth estimate, if it sent one lately.
    pub fn bandwidth(&self, now: Instant) -> Option<u64> {
        self.remb.filter(|&(_, at)| fresh(now, at)).map(|(b, _)| b)
    }

    /// The bandwidth to cap the hall's layers at while we send it `sending_bps`: its
    /// estimate once it says the link is congested (below [`CONGESTED`] of what we
    /// send), for [`CAP_HOLD`] after the last such estimate; otherwise no cap. An
    /// estimate above what we send only says the link carries what it gets.
    pub fn bandwidth_cap(&mut self, now: Instant, sending_bps: u64) -> Option<u64> {
        let remb = self.bandwidth(now)?;
        if (remb as f64) < sending_bps as f64 * CONGESTED {
            self.capped_until = Some(now + CAP_HOLD);
        }
        self.capped_until.filter(|&until| now < until).map(|_| remb)
    }
}

fn fresh(now: Instant, at: Instant) -> bool {
    now.saturating_duration_since(at) < REPORT_STALE
}

/// What one video slot could use: its role's highest layer and its source's layer rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotDemand {
    /// The highest layer the slot's role wants.
    pub max_layer: u8,
    /// Bitrate of each layer of its source (`None`: not arriving).
    pub bitrates: [Option<u64>; NUM_LAYERS],
}

/// Shares `total` bits per second among video slots given in priority order (the main
/// picture first): every slot gets its lowest arriving layer (a small picture beats
/// none), then each in turn the highest layer the rest still pays for; what is left
/// over is spread evenly, so a layer's rate wobbling a little does not flip the choice.
/// Returns a cap per slot, in the same order.
pub fn split_bandwidth(total: u64, slots: &[SlotDemand]) -> Vec<u64> {
    let wanted = |d: &SlotDemand| {
        let top = usize::from(d.max_layer).min(NUM_LAYERS - 1);
        d.bitrates[..=top]
            .iter()
            .copied()
            .flatten()
            .collect::<Vec<u64>>()
    };
    let mut caps: Vec<u64> = slots
        .iter()
        .map(|d| wanted(d).first().copied().unwrap_or(0))
        .collect();
    let mut left = total.saturating_sub(caps.iter().sum());
    for (cap, d) in caps.iter_mut().zip(slots) {
        let base = *cap;
        let best = wanted(d)
            .into_iter()
            .filter(|&rate| rate.saturating_sub(base) <= left)
            .max()
            .unwrap_or(base)
            .max(base);
        left -= best - base;
        *cap = best;
    }
    if let Some(share) = left.checked_div(caps.len() as u64) {
        for cap in &mut caps {
            *cap += share;
        }
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);
    /// A typical three-layer camera: 150 kbit/s, 500 kbit/s, 1.5 Mbit/s.
    const CAMERA: [Option<u64>; 3] = [Some(150_000), Some(500_000), Some(1_500_000)];

    #[test]
    fn fraction_lost_and_remb_values() {
        assert_eq!(loss_fraction(0), 0.0);
        assert_eq!(loss_fraction(64), 0.25);
        assert_eq!(remb_bps(1_234_567.0), Some(1_234_567));
        for bad in [0.0, -5.0, f32::NAN, f32::INFINITY] {
            assert_eq!(remb_bps(bad), None, "{bad}");
        }
    }

    #[test]
    fn loss_out_is_the_worst_fresh_slot_and_rtt_smooths() {
        let t0 = Instant::now();
        let mut q = LinkQuality::default();
        assert_eq!((q.loss_out(t0), q.rtt(t0)), (0.0, None));
        let block = |ssrc, loss, rtt_ms: Option<u64>| LinkReport::Block {
            ssrc,
            loss,
            rtt: rtt_ms.map(Duration::from_millis),
        };
        q.handle_report(t0, block(1, 0.02, Some(40)));
        q.handle_report(t0, block(2, 0.30, None));
        q.handle_report(t0 + SEC, block(1, 0.01, Some(120)));
        assert_eq!(q.loss_out(t0 + SEC), 0.30);
        assert_eq!(q.rtt(t0 + SEC), Some(Duration::from_millis(50)));
        // Slot 2 stops reporting (the hall no longer receives it): its loss ages out.
        assert_eq!(q.loss_out(t0 + SEC * 5), 0.01);
        assert_eq!(q.rtt(t0 + SEC * 7), None, "reports stopped");
        q.handle_report(t0, block(3, f32::NAN, None));
        assert!(q.loss_out(t0).is_finite());
    }

    #[test]
    fn remb_counts_while_fresh() {
        let t0 = Instant::now();
        let mut q = LinkQuality::default();
        q.handle_report(t0, LinkReport::Remb(800_000));
        assert_eq!(q.bandwidth(t0 + SEC), Some(800_000));
        assert_eq!(q.bandwidth(t0 + REPORT_STALE), None);
    }

    #[test]
    fn remb_caps_only_after_congestion_and_for_a_hold() {
        let t0 = Instant::now();
        let mut q = LinkQuality::default();
        assert_eq!(q.bandwidth_cap(t0, 1_000_000), None, "no REMB");
        // A browser's estimate starts low and climbs with what it receives: no cap.
        q.handle_report(t0, LinkReport::Remb(950_000));
        assert_eq!(q.bandwidth_cap(t0, 1_000_000), None);
        // Congestion: the estimate falls below what we send.
        q.handle_report(t0 + SEC, LinkReport::Remb(600_000));
        assert_eq!(q.bandwidth_cap(t0 + SEC, 1_000_000), Some(600_000));
        // Capped, we send less; the estimate climbs, the cap follows it during the hold.
        q.handle_report(t0 + SEC * 4, LinkReport::Remb(750_000));
        assert_eq!(q.bandwidth_cap(t0 + SEC * 4, 550_000), Some(750_000));
        let after = t0 + SEC + CAP_HOLD;
        q.handle_report(after, LinkReport::Remb(800_000));
        assert_eq!(
            q.bandwidth_cap(after, 550_000),
            None,
            "hold over: climb again"
        );
    }

    #[test]
    fn the_main_picture_gets_its_top_layer_first() {
        let main = SlotDemand {
            max_layer: 2,
            bitrates: CAMERA,
        };
        let tile = SlotDemand {
            max_layer: 0,
            bitrates: CAMERA,
        };
        // 2 Mbit/s: main 1.5 M, the tiles 150 k each, 200 k spread over the three.
        let caps = split_bandwidth(2_000_000, &[main, tile, tile]);
        assert_eq!(caps, [1_566_666, 216_666, 216_666]);
        // 1 Mbit/s: the main picture steps down to 500 k, the tiles keep theirs.
        let caps = split_bandwidth(1_000_000, &[main, tile, tile]);
        assert_eq!(caps[0], 500_000 + 200_000 / 3);
        // Two large pictures, 2.2 Mbit/s: the first gets layer 2, the second layer 1.
        let caps = split_bandwidth(2_200_000, &[main, main]);
        assert_eq!(caps, [1_600_000, 600_000]);
    }

    #[test]
    fn too_little_still_gives_every_slot_its_lowest_layer() {
        let main = SlotDemand {
            max_layer: 2,
            bitrates: CAMERA,
        };
        let caps = split_bandwidth(100_000, &[main, main]);
        assert_eq!(caps, [150_000, 150_000]);
        // A source whose low layer is not arriving starts from the next one.
        let partial = SlotDemand {
            max_layer: 2,
            bitrates: [None, Some(500_000), Some(1_500_000)],
        };
        assert_eq!(split_bandwidth(600_000, &[partial]), [600_000]);
        assert!(split_bandwidth(1_000, &[]).is_empty());
        let dark = SlotDemand {
            max_layer: 2,
            bitrates: [None; 3],
        };
        assert_eq!(split_bandwidth(0, &[dark]), [0]);
    }
}
