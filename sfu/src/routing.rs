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

use crate::engine::{Control, Engine, Phase, TrackCodec};
use crate::event::{MediaKind, PeerId, PeerStats, SfuEvent, SlotId, SlotInfo};
use crate::rtp::FIXED_HEADER_LEN;
use crate::slot::{self, NegotiatedSlot};
use crate::{
    is_keyframe_start, AudioLevel, Feed, Forwarder, ForwarderConfig, ForwarderOutput,
    IncomingPacket, KeyframeThrottle, LayerConfig, RateEstimator, RtpHeader, RtpPacket, SfuError,
    StreamEstimator, StreamId, MAX_LAYER, NUM_LAYERS,
};
use bytes::Bytes;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;

use crate::engine::MediaIn;

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

/// Counters of what went to one peer.
struct Sent<'a> {
    rate: &'a mut RateEstimator,
    packets: &'a mut u64,
    dropped: &'a mut u64,
}

/// Turns a forwarder's output packet (fixed header + payload, as built by
/// [`Engine::handle_media`]) into a `webrtc` packet without copying the payload.
fn to_webrtc(buf: Vec<u8>) -> Option<rtp::Packet> {
    let h = RtpPacket::parse(&buf).ok()?.header;
    let header = rtp::header::Header {
        version: 2,
        marker: h.marker,
        payload_type: h.payload_type,
        sequence_number: h.sequence_number,
        timestamp: h.timestamp,
        ssrc: h.ssrc,
        ..Default::default()
    };
    // Cannot panic: `parse` succeeded, so `buf` holds at least the fixed header; and the
    // buffer was built by `RtpHeader::write` (no CSRCs, extensions or padding), so the
    // payload starts right after it.
    let payload = Bytes::from(buf).slice(FIXED_HEADER_LEN..);
    Some(rtp::Packet { header, payload })
}

/// Drains a forwarder: packets to the slot's queue, keyframe requests to `requests`.
fn drain(
    now: Instant,
    forwarder: &mut Forwarder,
    queue: &mpsc::Sender<rtp::Packet>,
    sent: Sent<'_>,
    requests: &mut Vec<Feed>,
) {
    while let Some(out) = forwarder.poll_output() {
        match out {
            ForwarderOutput::Packet(buf) => {
                let len = buf.len();
                let Some(packet) = to_webrtc(buf) else {
                    continue;
                };
                match queue.try_send(packet) {
                    Ok(()) => {
                        sent.rate.record(now, len);
                        *sent.packets += 1;
                    }
                    Err(_) => *sent.dropped += 1,
                }
            }
            ForwarderOutput::RequestKeyframe(feed) => requests.push(feed),
            ForwarderOutput::Switched { from, to } => {
                tracing::debug!(?from, ?to, "slot switched feed");
            }
        }
    }
}

impl Engine {
    pub(crate) fn track_added(
        &mut self,
        peer: PeerId,
        id: StreamId,
        kind: MediaKind,
        rids: Vec<String>,
        remote: Arc<dyn TrackRemote>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.tracks.push(id);
        let codec = match kind {
            MediaKind::Audio => TrackCodec::Opus,
            MediaKind::Video => TrackCodec::Vp8,
        };
        let published = Published {
            owner: peer,
            kind,
            codec,
            remote,
            layers: Default::default(),
            throttle: KeyframeThrottle::new(self.config.keyframe_throttle),
            subscribers: Vec::new(),
            audio_level_id: p.audio_level_id,
        };
        self.tracks.insert(id, published);
        self.emit(SfuEvent::TrackPublished {
            peer,
            track: id,
            kind,
            rids,
        });
    }

    /// Removes a track; the slots showing it go dark.
    pub(crate) fn unpublish(&mut self, track: StreamId) {
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        for (peer, slot) in t.subscribers {
            if let Some(s) = self.slot_mut(peer, slot) {
                s.subscription = None;
            }
        }
        if let Some(p) = self.peers.get_mut(&t.owner) {
            p.tracks.retain(|&x| x != track);
        }
        self.speaker.remove_stream(track);
        self.emit(SfuEvent::TrackUnpublished {
            peer: t.owner,
            track,
        });
    }

    fn slot_mut(&mut self, peer: PeerId, slot: SlotId) -> Option<&mut Slot> {
        self.peers
            .get_mut(&peer)?
            .slots
            .get_mut(usize::from(slot.0))
    }

    fn ready_slot(&mut self, peer: PeerId, slot: SlotId) -> Result<&mut Slot, SfuError> {
        let p = self
            .peers
            .get_mut(&peer)
            .ok_or(SfuError::UnknownPeer(peer))?;
        if p.phase == Phase::Negotiating {
            return Err(SfuError::NotReady(peer));
        }
        p.slots
            .get_mut(usize::from(slot.0))
            .ok_or(SfuError::UnknownSlot(peer, slot))
    }

    pub(crate) fn subscribe(
        &mut self,
        now: Instant,
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(SfuError::UnknownTrack(track))?;
        let (kind, codec, bitrates) = (t.kind, t.codec, t.bitrates(now));
        let s = self.ready_slot(peer, slot)?;
        if s.info.kind != kind {
            return Err(SfuError::Incompatible(
                peer,
                slot,
                track,
                "other media kind",
            ));
        }
        let Some(&(_, payload_type)) = s.payload_types.iter().find(|(c, _)| *c == codec) else {
            return Err(SfuError::Incompatible(
                peer,
                slot,
                track,
                "codec not negotiated",
            ));
        };
        let max_layer = if kind == MediaKind::Audio {
            0
        } else {
            max_layer.min(MAX_LAYER)
        };
        let previous = s.source();
        let config = ForwarderConfig {
            ssrc: s.info.ssrc,
            payload_type,
            clock_rate: codec.clock_rate(),
            max_layer,
            layer: LayerConfig::default(),
        };
        match &mut s.subscription {
            // Same codec: keep the forwarder, so numbering stays continuous.
            Some(sub) if sub.forwarder_payload_type() == payload_type => {
                if sub.source != track {
                    sub.forwarder.switch_source(now, track, bitrates);
                    sub.source = track;
                }
                sub.forwarder.set_max_layer(now, max_layer);
            }
            other => {
                let mut forwarder = Forwarder::new(now, config, track);
                forwarder.set_layer_bitrates(now, bitrates);
                *other = Some(Subscription {
                    source: track,
                    forwarder,
                });
            }
        }
        if let Some(old) = previous.filter(|&old| old != track) {
            if let Some(t) = self.tracks.get_mut(&old) {
                t.subscribers.retain(|&x| x != (peer, slot));
            }
        }
        if let Some(t) = self.tracks.get_mut(&track) {
            if !t.subscribers.contains(&(peer, slot)) {
                t.subscribers.push((peer, slot));
            }
        }
        self.drain_slot(now, peer, slot);
        Ok(())
    }

    pub(crate) fn unsubscribe(&mut self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        let s = self.ready_slot(peer, slot)?;
        if let Some(sub) = s.subscription.take() {
            if let Some(t) = self.tracks.get_mut(&sub.source) {
                t.subscribers.retain(|&x| x != (peer, slot));
            }
        }
        Ok(())
    }

    pub(crate) fn set_layer(
        &mut self,
        now: Instant,
        peer: PeerId,
        slot: SlotId,
        layer: u8,
    ) -> Result<(), SfuError> {
        let s = self.ready_slot(peer, slot)?;
        if let Some(sub) = s.subscription.as_mut() {
            sub.forwarder.set_max_layer(now, layer.min(MAX_LAYER));
        }
        self.drain_slot(now, peer, slot);
        Ok(())
    }

    pub(crate) fn request_keyframe(
        &mut self,
        now: Instant,
        track: StreamId,
        layer: u8,
    ) -> Result<(), SfuError> {
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(SfuError::UnknownTrack(track))?;
        t.throttle.handle_request(now, layer.min(MAX_LAYER));
        t.send_plis();
        Ok(())
    }

    pub(crate) fn slot_keyframe_request(&mut self, now: Instant, peer: PeerId, slot: SlotId) {
        if let Some(sub) = self
            .slot_mut(peer, slot)
            .and_then(|s| s.subscription.as_mut())
        {
            sub.forwarder.request_keyframe();
            self.drain_slot(now, peer, slot);
        }
    }

    /// Drains one slot's forwarder and acts on its keyframe requests.
    fn drain_slot(&mut self, now: Instant, peer: PeerId, slot: SlotId) {
        let mut requests = Vec::new();
        if let Some(p) = self.peers.get_mut(&peer) {
            if let Some(s) = p.slots.get_mut(usize::from(slot.0)) {
                if let Some(sub) = s.subscription.as_mut() {
                    let sent = Sent {
                        rate: &mut p.out_rate,
                        packets: &mut p.packets_out,
                        dropped: &mut p.dropped_out,
                    };
                    drain(now, &mut sub.forwarder, &s.queue, sent, &mut requests);
                }
            }
        }
        self.keyframe_requests(now, requests);
    }

    fn keyframe_requests(&mut self, now: Instant, requests: Vec<Feed>) {
        for feed in requests {
            if let Some(t) = self.tracks.get_mut(&feed.source) {
                t.throttle.handle_request(now, feed.layer);
                t.send_plis();
            }
        }
    }

    pub(crate) fn handle_media(&mut self, message: MediaIn) {
        match message {
            MediaIn::LayerOpen {
                track,
                layer,
                ssrc,
                codec,
            } => self.layer_open(Instant::now(), track, layer, ssrc, codec),
            MediaIn::Packet {
                track,
                layer,
                at,
                packet,
            } => self.packet(at, track, layer, &packet),
            MediaIn::Ended { track } => self.unpublish(track),
        }
    }

    fn layer_open(
        &mut self,
        now: Instant,
        track: StreamId,
        layer: u8,
        ssrc: u32,
        codec: TrackCodec,
    ) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        if codec != TrackCodec::Other {
            t.codec = codec;
        }
        let Some(entry) = t.layers.get_mut(usize::from(layer)) else {
            return;
        };
        *entry = Some(LayerIn {
            ssrc,
            estimator: StreamEstimator::new(t.codec.clock_rate()),
        });
        self.update_bitrates(now, track);
    }

    /// Tells the subscribers of `track` which of its layers arrive, at what rate.
    fn update_bitrates(&mut self, now: Instant, track: StreamId) {
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let bitrates = t.bitrates(now);
        for (peer, slot) in t.subscribers.clone() {
            if let Some(sub) = self
                .slot_mut(peer, slot)
                .and_then(|s| s.subscription.as_mut())
            {
                sub.forwarder.set_layer_bitrates(now, bitrates);
            }
            self.drain_slot(now, peer, slot);
        }
    }

    fn packet(&mut self, at: Instant, track: StreamId, layer: u8, packet: &rtp::Packet) {
        let Engine {
            tracks,
            peers,
            speaker,
            ..
        } = self;
        let Some(t) = tracks.get_mut(&track) else {
            return;
        };
        let h = &packet.header;
        let size = FIXED_HEADER_LEN + packet.payload.len();
        if let Some(Some(l)) = t.layers.get_mut(usize::from(layer)) {
            l.estimator
                .handle_packet(at, h.sequence_number, h.timestamp, size);
        }
        let keyframe = match t.codec {
            TrackCodec::Opus => true,
            TrackCodec::Vp8 => is_keyframe_start(&packet.payload).unwrap_or(false),
            TrackCodec::H264 | TrackCodec::Other => false,
        };
        if keyframe && t.kind == MediaKind::Video {
            t.throttle.handle_keyframe(layer);
        }
        if let Some(id) = t.audio_level_id.filter(|_| t.kind == MediaKind::Audio) {
            if let Some(level) = h.get_extension(id).and_then(|e| AudioLevel::parse(&e)) {
                speaker.handle_level(at, track, level);
            }
        }
        if t.subscribers.is_empty() {
            return;
        }
        let data = RtpHeader {
            marker: h.marker,
            payload_type: h.payload_type,
            sequence_number: h.sequence_number,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
        }
        .write(&packet.payload);
        let incoming = IncomingPacket {
            source: track,
            layer,
            keyframe,
            data: &data,
        };
        let mut requests = Vec::new();
        for &(peer, slot) in &t.subscribers {
            let Some(p) = peers.get_mut(&peer) else {
                continue;
            };
            let Some(s) = p.slots.get_mut(usize::from(slot.0)) else {
                continue;
            };
            let Some(sub) = s.subscription.as_mut() else {
                continue;
            };
            if sub.forwarder.handle_packet(at, incoming).is_err() {
                continue;
            }
            let sent = Sent {
                rate: &mut p.out_rate,
                packets: &mut p.packets_out,
                dropped: &mut p.dropped_out,
            };
            drain(at, &mut sub.forwarder, &s.queue, sent, &mut requests);
        }
        self.keyframe_requests(at, requests);
    }

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
            });
        }
        if room {
            for s in stats {
                self.emit(SfuEvent::Stats(s));
            }
        }
    }
}

impl Subscription {
    /// The payload type the forwarder writes (the slot's value for the source's codec).
    fn forwarder_payload_type(&self) -> u8 {
        self.forwarder.config().payload_type
    }
}
