//! Subscriptions: tracks published and unpublished, slots pointed at them, keyframe
//! requests by command or from a subscriber.

use super::{Published, Slot, Subscription};
use crate::engine::{Engine, Phase, TrackCodec};
use crate::event::{MediaKind, PeerId, SfuEvent, SlotId};
use crate::handle::SlotChange;
use crate::{
    Forwarder, ForwarderConfig, KeyframeThrottle, LayerConfig, SfuError, StreamId, MAX_LAYER,
};
use std::sync::Arc;
use std::time::Instant;
use webrtc::media_stream::track_remote::TrackRemote;

impl Engine {
    pub(crate) fn track_added(
        &mut self,
        peer: PeerId,
        id: StreamId,
        (kind, codec): (MediaKind, TrackCodec),
        rids: Vec<String>,
        remote: Arc<dyn TrackRemote>,
    ) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.tracks.push(id);
        // What was negotiated, not assumed; a layer's `OnOpen` confirms it later.
        let codec = match (kind, codec) {
            (MediaKind::Audio, _) => TrackCodec::Opus,
            (MediaKind::Video, TrackCodec::Vp8 | TrackCodec::H264) => codec,
            (MediaKind::Video, _) => {
                tracing::warn!(
                    ?peer,
                    track = id.0,
                    ?codec,
                    "video track of an unknown codec"
                );
                TrackCodec::Other
            }
        };
        tracing::debug!(?peer, track = id.0, ?codec, "track published");
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
                s.end_subscription();
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

    pub(super) fn slot_mut(&mut self, peer: PeerId, slot: SlotId) -> Option<&mut Slot> {
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
        let negotiated = s.payload_types.iter().find(|(c, _)| *c == codec);
        let payload_type = match (s.info.kind == kind, negotiated) {
            (true, Some(&(_, pt))) => pt,
            (same_kind, _) => {
                let why = if same_kind {
                    "codec not negotiated"
                } else {
                    "other media kind"
                };
                // The slot cannot show it: it goes dark rather than keep showing a hall
                // the room no longer puts there (signalling marks it empty on this error).
                tracing::info!(
                    ?peer,
                    slot = slot.0,
                    track = track.0,
                    ?codec,
                    why,
                    "slot cannot show track"
                );
                if let Some(old) = s.end_subscription() {
                    if let Some(t) = self.tracks.get_mut(&old) {
                        t.subscribers.retain(|&x| x != (peer, slot));
                    }
                }
                return Err(SfuError::Incompatible(peer, slot, track, why));
            }
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
                // The slot's numbering outlives its subscriptions (see `Forwarder::continuing`).
                let previous = other.take().map(|sub| sub.forwarder);
                let mut forwarder = match previous.or_else(|| s.parked.take()) {
                    Some(previous) => Forwarder::continuing(now, config, track, &previous),
                    None => Forwarder::new(now, config, track),
                };
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

    /// One change of a batch ([`Sfu::apply`](crate::Sfu::apply)).
    pub(crate) fn apply(&mut self, now: Instant, change: SlotChange) -> Result<(), SfuError> {
        match change {
            SlotChange::Show {
                peer,
                slot,
                track,
                max_layer,
            } => self.subscribe(now, peer, slot, track, max_layer),
            SlotChange::Layer {
                peer,
                slot,
                max_layer,
            } => self.set_layer(now, peer, slot, max_layer),
            SlotChange::Clear { peer, slot } => self.unsubscribe(peer, slot),
        }
    }

    pub(crate) fn unsubscribe(&mut self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        let s = self.ready_slot(peer, slot)?;
        if let Some(source) = s.end_subscription() {
            if let Some(t) = self.tracks.get_mut(&source) {
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
}
