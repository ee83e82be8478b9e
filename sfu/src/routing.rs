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
//! forwarders), [`timers`] (keyframe retries, speaker changes, statistics).

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
use std::time::Instant;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;

/// One layer of a published track as it arrives.
pub struct LayerIn {
    /// Its SSRC, the target of PLIs.
    pub ssrc: u32,
    /// Rate, loss and jitter.
    pub estimator: StreamEstimator,
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
    /// Layer bitrates for the layer selector (`None`: not arriving).
    fn bitrates(&mut self, now: Instant) -> [Option<u64>; NUM_LAYERS] {
        let mut out = [None; NUM_LAYERS];
        for (o, l) in out.iter_mut().zip(self.layers.iter_mut()) {
            *o = l.as_mut().map(|l| l.estimator.rate.bitrate_bps(now));
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
        }
    }

    /// The track shown.
    pub fn source(&self) -> Option<StreamId> {
        self.subscription.as_ref().map(|s| s.source)
    }
}
