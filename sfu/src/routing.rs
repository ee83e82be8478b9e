//! The owner task's media path: published tracks, subscriptions, packets, PLIs, stats.
//!
//! A published track ([`Published`]) lists the `(peer, slot)` pairs that subscribe to
//! it; a slot ([`Slot`]) names at most one source track and owns the core
//! [`Forwarder`] that rewrites SSRC, payload type, sequence numbers and timestamps to
//! the slot's negotiated values. Tracks are looked up by id on every use, so a slot
//! whose source left simply finds nothing (the owner-task form of a failed
//! `Weak::upgrade`).
//!
//! Packets reach the core without header extensions: the core only needs the fixed
//! header and the payload, and forwarding a publisher's extension ids to a subscriber
//! whose connection negotiated other ids makes `webrtc` drop the packet silently
//! (pitfall 2 of the 0.21 notes). The audio level is read before that.
//!
//! The owner task's methods on it are split by concern: [`subscribe`] (tracks come and
//! go, slots are pointed at them), [`media`] (the per-packet path and draining the
//! forwarders), [`timers`] (keyframe retries, speaker changes, statistics),
//! [`feedback`] (a hall's loss, round trip and bandwidth reports).

mod feedback;
mod media;
mod subscribe;
mod timers;

use crate::engine::{Control, TrackCodec};
use crate::event::{MediaKind, PeerId, SlotId, SlotInfo};
use crate::slot::{self, NegotiatedSlot};
use crate::{Forwarder, KeyframeThrottle, StreamEstimator, StreamId, NUM_LAYERS};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;

/// How long a layer may carry no media (padding does not count) before layer selectors
/// stop counting on it: a browser drops its top layer under CPU load, and a subscriber
/// aimed at it must fall back to the next one.
pub const LAYER_IDLE: Duration = Duration::from_millis(1500);

/// One layer of a published track as it arrives.
pub struct LayerIn {
    /// Its SSRC, the target of PLIs.
    pub ssrc: u32,
    /// Rate, loss and jitter.
    pub estimator: StreamEstimator,
    /// When it last carried media (or opened): whether it still counts as arriving.
    pub last_media: Instant,
}

impl LayerIn {
    /// A layer that opened at `now`.
    pub fn new(now: Instant, ssrc: u32, clock_rate: u32) -> Self {
        Self {
            ssrc,
            estimator: StreamEstimator::new(clock_rate),
            last_media: now,
        }
    }

    /// A packet of `size` bytes arrived at `at`; `media`: not padding only.
    pub fn record(&mut self, at: Instant, seq: u16, ts: u32, size: usize, media: bool) {
        self.estimator.handle_packet(at, seq, ts, size);
        if media {
            self.last_media = self.last_media.max(at);
        }
    }

    /// Its bitrate for the layer selectors; `None` if it carried no media lately.
    fn bitrate(&mut self, now: Instant) -> Option<u64> {
        let idle = now.saturating_duration_since(self.last_media) >= LAYER_IDLE;
        (!idle).then(|| self.estimator.rate.bitrate_bps(now))
    }
}

/// A track a hall publishes.
pub struct Published {
    pub owner: PeerId,
    pub kind: MediaKind,
    pub codec: TrackCodec,
    pub remote: Arc<dyn TrackRemote>,
    pub layers: [Option<LayerIn>; NUM_LAYERS],
    /// Merges keyframe requests per layer.
    pub throttle: KeyframeThrottle<u8>,
    /// The slots showing it.
    pub subscribers: Vec<(PeerId, SlotId)>,
    pub audio_level_id: Option<u8>,
}

impl Published {
    /// Layer bitrates for the layer selector (`None`: not arriving, or no media lately).
    fn bitrates(&mut self, now: Instant) -> [Option<u64>; NUM_LAYERS] {
        let mut out = [None; NUM_LAYERS];
        for (o, l) in out.iter_mut().zip(self.layers.iter_mut()) {
            *o = l.as_mut().and_then(|l| l.bitrate(now));
        }
        out
    }

    /// Sends the PLIs the throttle lets through, upstream on the layer's SSRC.
    /// Audio has no keyframes: its requests are drained and dropped.
    fn send_plis(&mut self) {
        while let Some(layer) = self.throttle.poll_output() {
            if self.kind == MediaKind::Audio {
                continue;
            }
            let Some(l) = self.layers.get(usize::from(layer)).and_then(Option::as_ref) else {
                continue; // the layer is not arriving: nothing to ask
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: l.ssrc,
            };
            let remote = Arc::clone(&self.remote);
            tokio::spawn(async move {
                if let Err(e) = remote.write_rtcp(vec![Box::new(pli)]).await {
                    tracing::debug!(error = %e, "PLI upstream failed");
                }
            });
        }
    }
}

/// What a slot is showing.
pub struct Subscription {
    pub source: StreamId,
    pub forwarder: Forwarder,
}

impl Subscription {
    /// The payload type the forwarder writes (the slot's value for the source's codec).
    fn forwarder_payload_type(&self) -> u8 {
        self.forwarder.config().payload_type
    }
}

/// A negotiated receive slot of a peer.
pub struct Slot {
    pub info: SlotInfo,
    pub payload_types: Vec<(TrackCodec, u8)>,
    /// The writer task's queue.
    pub queue: mpsc::Sender<rtp::Packet>,
    pub subscription: Option<Subscription>,
    /// The last subscription's forwarder while the slot shows nothing (its source left,
    /// or it was unsubscribed): the next subscription continues its numbering.
    pub parked: Option<Forwarder>,
}

impl Slot {
    /// Starts the slot's tasks.
    pub fn start(
        peer: PeerId,
        s: NegotiatedSlot,
        queue: usize,
        control: mpsc::UnboundedSender<Control>,
    ) -> Self {
        let queue = slot::spawn(peer, s.info.id, s.track, queue, control);
        Self {
            info: s.info,
            payload_types: s.payload_types,
            queue,
            subscription: None,
            parked: None,
        }
    }

    /// Ends the subscription, returning its source; the slot goes dark, its numbering kept.
    pub fn end_subscription(&mut self) -> Option<StreamId> {
        let sub = self.subscription.take()?;
        self.parked = Some(sub.forwarder);
        Some(sub.source)
    }

    /// The track shown.
    pub fn source(&self) -> Option<StreamId> {
        self.subscription.as_ref().map(|s| s.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_counts_only_while_it_carries_media() {
        let t0 = Instant::now();
        let mut layer = LayerIn::new(t0, 1, 90_000);
        assert!(layer.bitrate(t0).is_some(), "just opened");
        let ms = Duration::from_millis;
        for i in 0..30u16 {
            layer.record(t0 + ms(u64::from(i) * 33), i, 0, 1000, true);
        }
        let last = t0 + ms(29 * 33);
        assert!(layer.bitrate(last).is_some_and(|r| r > 0));
        // The encoder stops; only padding (bandwidth probes) still arrives.
        for i in 30..90u16 {
            layer.record(last + ms(u64::from(i) * 33), i, 0, 250, false);
        }
        let now = last + LAYER_IDLE;
        assert_eq!(layer.bitrate(now), None, "padding is not media");
        layer.record(now, 90, 0, 1000, true);
        assert!(layer.bitrate(now).is_some(), "resumed");
    }
}
