//! Simulcast layer selection for one subscription.
//!
//! Halls publish three layers (e.g. 180p/360p/720p). For each subscriber the selector
//! picks the highest layer allowed by its role (the requested maximum), its estimated
//! bandwidth and its loss — stepping down at once on heavy loss, back up only after a
//! hold of low loss — and hands the choice to a [`FeedSwitch`], which switches on a
//! keyframe of the target. A layer that stops arriving (a browser under CPU load drops
//! its top layer) is left at once for the best one still arriving; when it comes back
//! it is chosen again only after the same hold, so a flapping layer is not chased.

use crate::switch::{Feed, FeedSwitch, LayerEvent, LayerState, PacketAction};
use crate::StreamId;
use std::time::{Duration, Instant};

/// Number of simulcast layers a track may have; layer ids are `0..NUM_LAYERS`.
pub const NUM_LAYERS: usize = 3;
/// The highest layer id.
pub const MAX_LAYER: u8 = NUM_LAYERS as u8 - 1;

/// Thresholds of the selector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerConfig {
    /// Loss fraction above which the subscriber steps down one layer.
    pub loss_step_down: f32,
    /// Loss fraction below which stepping back up is allowed…
    pub loss_step_up: f32,
    /// …once the loss has stayed that low for this long (per step).
    pub step_up_hold: Duration,
    /// How often to ask again for a keyframe that has not come.
    pub keyframe_retry: Duration,
}

impl Default for LayerConfig {
    fn default() -> Self {
        Self {
            loss_step_down: 0.10,
            loss_step_up: 0.02,
            step_up_hold: Duration::from_secs(4),
            keyframe_retry: Duration::from_secs(1),
        }
    }
}

/// Picks the layer (and follows the source) forwarded to one subscriber.
#[derive(Debug, Clone)]
pub struct LayerSelector {
    config: LayerConfig,
    /// The publisher track currently wanted.
    source: StreamId,
    /// The highest layer the subscriber's role asks for (host: 2, grid tile: 0).
    max_layer: u8,
    /// Measured bitrate of each layer of `source`; `None` if the layer is not arriving.
    bitrates: [Option<u64>; NUM_LAYERS],
    /// Whether each layer of `source` has been measured arriving: if it then stops and
    /// comes back, it is held.
    seen: [bool; NUM_LAYERS],
    /// Until when each layer that came back is not chosen (unless nothing else arrives).
    held_until: [Option<Instant>; NUM_LAYERS],
    /// Estimated bandwidth towards the subscriber; `None` if unknown (no limit).
    bandwidth_bps: Option<u64>,
    /// Highest layer the subscriber's recent loss allows.
    loss_cap: u8,
    /// Since when loss has been low enough to step up.
    good_since: Option<Instant>,
    /// Carries out the choice, keyframe-gated.
    switch: FeedSwitch,
}

impl LayerSelector {
    /// A selector starting on `source`; all layers count as available until measured.
    pub fn new(now: Instant, source: StreamId, max_layer: u8, config: LayerConfig) -> Self {
        let max_layer = max_layer.min(MAX_LAYER);
        let start = Feed {
            source,
            layer: max_layer,
        };
        Self {
            config,
            source,
            max_layer,
            bitrates: [Some(0); NUM_LAYERS],
            seen: [false; NUM_LAYERS],
            held_until: [None; NUM_LAYERS],
            bandwidth_bps: None,
            loss_cap: MAX_LAYER,
            good_since: None,
            switch: FeedSwitch::new(now, start, config.keyframe_retry),
        }
    }

    /// The current state.
    pub fn state(&self) -> LayerState {
        self.switch.state()
    }

    /// The layer the policy wants now, or `None` if no allowed layer is arriving.
    pub fn target(&self) -> Option<u8> {
        let cap = self.max_layer.min(self.loss_cap);
        let arriving = (0..=cap).filter(|&l| self.bitrates[usize::from(l)].is_some());
        let settled = arriving
            .clone()
            .filter(|&l| self.held_until[usize::from(l)].is_none());
        // A held layer only if nothing else arrives: a small picture beats none.
        self.best(settled).or_else(|| self.best(arriving))
    }

    /// The best of `layers` that fits the bandwidth, else the lowest of them.
    fn best(&self, layers: impl Iterator<Item = u8> + Clone) -> Option<u8> {
        let fits = |&l: &u8| match (self.bandwidth_bps, self.bitrates[usize::from(l)]) {
            (Some(bw), Some(rate)) => rate <= bw,
            _ => true,
        };
        layers.clone().filter(fits).max().or_else(|| layers.min())
    }

    /// Classifies a packet of `feed`; see [`FeedSwitch::handle_packet`].
    pub fn handle_packet(&mut self, feed: Feed, keyframe: bool) -> PacketAction {
        self.switch.handle_packet(feed, keyframe)
    }

    /// Follows another publisher track (e.g. the new floor holder) with `bitrates` per layer.
    pub fn set_source(
        &mut self,
        now: Instant,
        source: StreamId,
        bitrates: [Option<u64>; NUM_LAYERS],
    ) {
        self.source = source;
        self.bitrates = bitrates;
        self.seen = bitrates.map(|b| b.is_some());
        self.held_until = [None; NUM_LAYERS];
        self.update(now);
    }

    /// Starts over (after a pause): nothing is forwarded until the target's keyframe.
    pub fn restart(&mut self, now: Instant) {
        let layer = self.target().unwrap_or(0);
        self.switch.restart(
            now,
            Feed {
                source: self.source,
                layer,
            },
        );
    }

    /// New bitrate measurements of the current source's layers.
    pub fn set_layer_bitrates(&mut self, now: Instant, bitrates: [Option<u64>; NUM_LAYERS]) {
        for (l, &rate) in bitrates.iter().enumerate() {
            match (self.bitrates[l], rate) {
                (None, Some(_)) if self.seen[l] => {
                    self.held_until[l] = Some(now + self.config.step_up_hold);
                }
                (_, None) => self.held_until[l] = None,
                _ => {}
            }
            self.seen[l] |= rate.is_some();
        }
        self.bitrates = bitrates;
        self.release_holds(now);
        self.update(now);
    }

    /// The subscriber's role changed its highest wanted layer.
    pub fn set_max_layer(&mut self, now: Instant, max_layer: u8) {
        self.max_layer = max_layer.min(MAX_LAYER);
        self.update(now);
    }

    /// The bandwidth estimate in use (`None`: no cap).
    pub fn bandwidth(&self) -> Option<u64> {
        self.bandwidth_bps
    }

    /// The highest layer the subscriber's role wants.
    pub fn max_layer(&self) -> u8 {
        self.max_layer
    }

    /// New estimate of the bandwidth towards the subscriber.
    pub fn set_bandwidth(&mut self, now: Instant, bps: Option<u64>) {
        self.bandwidth_bps = bps;
        self.update(now);
    }

    /// New loss fraction (0.0..=1.0) reported by the subscriber, e.g. from an RTCP receiver report.
    pub fn set_loss(&mut self, now: Instant, loss: f32) {
        if loss > self.config.loss_step_down {
            let current = self.switch.state().current().layer;
            self.loss_cap = self.loss_cap.min(current.saturating_sub(1));
            self.good_since = None;
        } else if loss < self.config.loss_step_up && self.loss_cap < MAX_LAYER {
            match self.good_since {
                Some(t) if now.saturating_duration_since(t) >= self.config.step_up_hold => {
                    self.loss_cap += 1;
                    self.good_since = Some(now);
                }
                Some(_) => {}
                None => self.good_since = Some(now),
            }
        } else {
            self.good_since = None;
        }
        self.update(now);
    }

    /// Re-asks for a keyframe that has not come within the retry interval; takes back a
    /// layer whose hold is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.switch.handle_timeout(now);
        if self.release_holds(now) {
            self.update(now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let holds = self.held_until.iter().flatten().copied();
        holds.chain(self.switch.poll_timeout()).min()
    }

    /// Ends the holds that are over; whether there were any.
    fn release_holds(&mut self, now: Instant) -> bool {
        let mut released = false;
        for hold in &mut self.held_until {
            if hold.is_some_and(|until| now >= until) {
                *hold = None;
                released = true;
            }
        }
        released
    }

    /// The next event to act on.
    pub fn poll_output(&mut self) -> Option<LayerEvent> {
        self.switch.poll_output()
    }

    fn update(&mut self, now: Instant) {
        if let Some(layer) = self.target() {
            self.switch.aim(
                now,
                Feed {
                    source: self.source,
                    layer,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests;
