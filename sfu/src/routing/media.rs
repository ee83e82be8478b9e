//! The per-packet path: packets of published tracks through each subscribed slot's
//! forwarder into the slot's queue, and the keyframe requests that come out of it.

use super::LayerIn;
use crate::engine::{Engine, MediaIn, TrackCodec};
use crate::event::{MediaKind, PeerId, SlotId};
use crate::rtp::FIXED_HEADER_LEN;
use crate::{
    AudioLevel, Feed, Forwarder, ForwarderOutput, IncomingPacket, RateEstimator, RtpHeader,
    RtpPacket, StreamId,
};
use bytes::Bytes;
use rtc::rtp;
use std::time::Instant;
use tokio::sync::mpsc;

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
    /// Drains one slot's forwarder and acts on its keyframe requests.
    pub(super) fn drain_slot(&mut self, now: Instant, peer: PeerId, slot: SlotId) {
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

    pub(super) fn keyframe_requests(&mut self, now: Instant, requests: Vec<Feed>) {
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
        let changed = codec != TrackCodec::Other && codec != t.codec;
        if changed {
            tracing::debug!(track = track.0, from = ?t.codec, to = ?codec, "track codec");
            t.codec = codec;
        }
        if let Some(entry) = t.layers.get_mut(usize::from(layer)) {
            *entry = Some(LayerIn::new(now, ssrc, t.codec.clock_rate()));
        }
        if changed {
            self.resubscribe(now, track);
        }
        self.update_bitrates(now, track);
    }

    /// Points the slots showing `track` at it again after its codec changed, so each
    /// forwarder writes the slot's payload type for the new codec (or the slot goes dark
    /// if it did not negotiate it).
    fn resubscribe(&mut self, now: Instant, track: StreamId) {
        let Some(t) = self.tracks.get(&track) else {
            return;
        };
        for (peer, slot) in t.subscribers.clone() {
            let max_layer = self
                .slot_mut(peer, slot)
                .and_then(|s| s.subscription.as_ref())
                .map_or(0, |sub| sub.forwarder.config().max_layer);
            if let Err(e) = self.subscribe(now, peer, slot, track, max_layer) {
                tracing::info!(?peer, slot = slot.0, error = %e, "slot dark after codec change");
            }
        }
    }

    /// Tells the subscribers of `track` which of its layers arrive, at what rate.
    pub(super) fn update_bitrates(&mut self, now: Instant, track: StreamId) {
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
            let media = !packet.payload.is_empty(); // padding is stripped from the payload
            l.record(at, h.sequence_number, h.timestamp, size, media);
        }
        let keyframe = t.codec.is_keyframe_start(&packet.payload);
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
}
