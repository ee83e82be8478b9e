//! A published stream on the sans-IO media path: its simulcast layers as they arrive
//! (SSRC, rate/loss/jitter estimator, last media), which of them the layer selectors may
//! count on, and the keyframe requests a subscriber's forwarder makes of them.
//!
//! A layer is a [`LayerIn`]; it stops counting after [`LAYER_IDLE`] without media. A
//! stream without simulcast is layer 0.

use super::conn::InTrack;
use super::demux::ConnIndex;
use super::router::Sub;
use super::shared::{lock, Published, WorkerIndex};
use crate::driver::peer::TrackCodec;
use crate::event::{MediaKind, PeerId};
use crate::forwarder::{ForwarderOutput, IncomingPacket};
use crate::{KeyframeThrottle, StreamEstimator, StreamId, NUM_LAYERS};
use rtc::rtp_transceiver::RTCRtpReceiverId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
}

/// Where a route's packets come from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    /// A connection of this worker publishes it.
    Local {
        /// The publisher's connection.
        publisher: ConnIndex,
        /// Its receiver, through which PLIs go back to the hall.
        receiver: RTCRtpReceiverId,
    },
    /// A mirror: another worker publishes it and relays its packets here.
    Remote(WorkerIndex),
    /// Another node publishes it and relays its packets here (this worker carries the
    /// relay link with that node; docs/sfu-driver.md, "The relay between nodes").
    Node {
        /// The origin node's media address.
        link: SocketAddr,
        /// The stream's id on the origin node.
        remote: StreamId,
    },
}

/// A node watching some layers of a route's stream (exported to it over the relay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Export {
    /// The watching node's media address.
    pub(super) to: SocketAddr,
    /// The layers it watches (bit `i`: layer `i`).
    pub(super) layers: u8,
}

/// A published stream and who receives it.
pub(super) struct Route {
    /// Its id.
    pub(super) stream: StreamId,
    /// Where its packets come from.
    pub(super) origin: Origin,
    /// The publishing hall, named in `TrackUnpublished` and `ActiveSpeakerChanged`.
    pub(super) owner: PeerId,
    /// Audio or video.
    pub(super) kind: MediaKind,
    /// The negotiated codec: which payloads start a keyframe, which slots can show it.
    pub(super) codec: TrackCodec,
    /// The id of the audio level extension in its packets (audio only; from the offer).
    pub(super) audio_level_id: Option<u8>,
    /// Its layers, low to high; `None` until a layer's first packet (a mirror has none).
    pub(super) layers: [Option<LayerIn>; NUM_LAYERS],
    /// Merges keyframe requests per layer.
    pub(super) throttle: KeyframeThrottle<u8>,
    /// The slots showing it.
    pub(super) subs: Vec<Sub>,
    /// Its entry in the workers' directory (layer rates are shared through it).
    pub(super) published: Arc<Published>,
    /// Other workers with slots showing it (a route homed here only).
    pub(super) watchers: Vec<WorkerIndex>,
    /// Other nodes watching its layers.
    pub(super) exports: Vec<Export>,
}

impl Route {
    /// A route for the stream whose first layer is `track`, published on worker
    /// `worker`.
    pub(super) fn new(
        (publisher, owner, worker): (ConnIndex, PeerId, WorkerIndex),
        track: &InTrack,
        throttle: KeyframeThrottle<u8>,
        audio_level_id: Option<u8>,
    ) -> Self {
        let published = Published {
            worker,
            owner,
            kind: track.kind,
            codec: track.codec,
            bitrates: Default::default(),
        };
        Self {
            stream: track.stream,
            origin: Origin::Local {
                publisher,
                receiver: track.receiver,
            },
            owner,
            kind: track.kind,
            codec: track.codec,
            audio_level_id: audio_level_id.filter(|_| track.kind == MediaKind::Audio),
            layers: [None, None, None],
            throttle,
            subs: Vec::new(),
            published: Arc::new(published),
            watchers: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// A mirror of a stream another worker publishes.
    pub(super) fn mirror(
        stream: StreamId,
        published: Arc<Published>,
        throttle: KeyframeThrottle<u8>,
    ) -> Self {
        Self {
            stream,
            origin: Origin::Remote(published.worker),
            owner: published.owner,
            kind: published.kind,
            codec: published.codec,
            audio_level_id: None,
            layers: [None, None, None],
            throttle,
            subs: Vec::new(),
            published,
            watchers: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// A stream another node publishes, arriving here over the relay link with `link`
    /// and entered in this node's directory as `published` (homed on this worker).
    pub(super) fn from_node(
        (stream, link, remote): (StreamId, SocketAddr, StreamId),
        published: Arc<Published>,
        throttle: KeyframeThrottle<u8>,
    ) -> Self {
        let mut route = Self::mirror(stream, published, throttle);
        route.origin = Origin::Node { link, remote };
        route
    }

    /// Whether the stream is homed on this worker (published here, or arriving from
    /// another node here): other workers mirror it from here.
    pub(super) fn is_home(&self) -> bool {
        !matches!(self.origin, Origin::Remote(_))
    }

    /// The publisher's connection, if it is on this worker.
    pub(super) fn publisher(&self) -> Option<ConnIndex> {
        match self.origin {
            Origin::Local { publisher, .. } => Some(publisher),
            Origin::Remote(_) | Origin::Node { .. } => None,
        }
    }

    /// Layer `track.layer` opened at `now`.
    pub(super) fn open_layer(&mut self, now: Instant, track: &InTrack) {
        let clock_rate = track.codec.clock_rate();
        if let Some(entry) = self.layers.get_mut(usize::from(track.layer)) {
            *entry = Some(LayerIn::new(now, track.ssrc, clock_rate));
        }
    }

    /// A relayed packet (from another worker or node) of a layer that had none yet
    /// opens it: the slots learn that it arrives (a mirror's rates are its home's,
    /// which counted the packet first).
    pub(super) fn open_relayed(&mut self, now: Instant, packet: &IncomingPacket) {
        let clock_rate = self.codec.clock_rate();
        if let Some(entry @ None) = self.layers.get_mut(usize::from(packet.layer)) {
            *entry = Some(LayerIn::new(now, packet.header.ssrc, clock_rate));
            self.refresh_bitrates(now);
        }
    }

    /// Records a packet relayed from another node (its layer opens on its first).
    pub(super) fn record_relayed(&mut self, now: Instant, packet: &IncomingPacket) {
        self.open_relayed(now, packet);
        let h = &packet.header;
        let size = crate::rtp::FIXED_HEADER_LEN + packet.payload.len();
        let media = !packet.payload.is_empty();
        self.record(
            now,
            packet.layer,
            (h.sequence_number, h.timestamp),
            size,
            media,
        );
    }

    /// Records a packet of `layer` (`size` bytes; `media`: not padding only).
    pub(super) fn record(
        &mut self,
        now: Instant,
        layer: u8,
        header: (u16, u32),
        size: usize,
        media: bool,
    ) {
        if let Some(Some(l)) = self.layers.get_mut(usize::from(layer)) {
            l.record(now, header.0, header.1, size, media);
        }
    }

    /// The SSRC of `layer`, if it arrives.
    pub(super) fn ssrc(&self, layer: u8) -> Option<u32> {
        self.layers
            .get(usize::from(layer))?
            .as_ref()
            .map(|l| l.ssrc)
    }

    /// Layer bitrates for the layer selectors; `None`: not arriving, or no media lately.
    /// A mirror has what the stream's home last shared.
    pub(super) fn bitrates(&mut self, now: Instant) -> [Option<u64>; NUM_LAYERS] {
        if let Origin::Remote(_) = self.origin {
            return *lock(&self.published.bitrates);
        }
        let mut out = [None; NUM_LAYERS];
        for (o, l) in out.iter_mut().zip(self.layers.iter_mut()) {
            *o = l.as_mut().and_then(|l| {
                let idle = now.saturating_duration_since(l.last_media) >= LAYER_IDLE;
                (!idle).then(|| l.estimator.rate.bitrate_bps(now))
            });
        }
        out
    }

    /// Tells every subscriber which layers arrive, at what rate.
    pub(super) fn refresh_bitrates(&mut self, now: Instant) {
        let bitrates = self.bitrates(now);
        if self.is_home() {
            *lock(&self.published.bitrates) = bitrates;
        }
        for i in 0..self.subs.len() {
            if let Some(sub) = self.subs.get_mut(i) {
                sub.forwarder.set_layer_bitrates(now, bitrates);
            }
            self.drain_requests(now, i);
        }
    }

    /// Drains subscriber `i`'s forwarder outside the packet path: its keyframe requests
    /// go to the throttle, per layer (it emits packets only from `handle_packet`).
    pub(super) fn drain_requests(&mut self, now: Instant, i: usize) {
        let Some(sub) = self.subs.get_mut(i) else {
            return;
        };
        while let Some(out) = sub.forwarder.poll_output() {
            match out {
                ForwarderOutput::RequestKeyframe(feed) => {
                    self.throttle.handle_request(now, feed.layer);
                }
                ForwarderOutput::Switched { from, to } => {
                    tracing::debug!(?from, ?to, "sfu: slot switched feed");
                }
                ForwarderOutput::Packet(_) => {}
            }
        }
    }
}
