//! What a receive slot shows, on the sans-IO media path: subscribe, unsubscribe, a new
//! highest layer, and the slots that go dark when a publisher leaves.
//!
//! A slot keeps its
//! [`Forwarder`] while it shows the same codec (a video slot negotiates VP8 and, when
//! configured, H.264), so a new source or a new highest layer
//! goes on with continuous numbering and without restarting from a keyframe when the
//! source is unchanged; a slot that goes dark parks its forwarder for the next
//! subscription (`Forwarder::continuing`); a slot that cannot show a track goes dark
//! and the caller gets [`SfuError::Incompatible`].

use super::conn::OutSlot;
use super::demux::ConnIndex;
use super::publish::{Origin, Route};
use super::relay::Relay;
use super::router::{Router, Sub};
use crate::event::{MediaKind, PeerId, SfuEvent, SlotId};
use crate::forwarder::{Forwarder, ForwarderConfig};
use crate::{KeyframeThrottle, LayerConfig, SfuError, StreamId, MAX_LAYER};
use std::time::Instant;

impl Router {
    /// Takes the subscription of `slot` of `conn` off its route: (stream, subscriber).
    fn take_sub(&mut self, conn: ConnIndex, slot: SlotId) -> Option<(StreamId, Sub)> {
        self.routes.iter_mut().find_map(|(&stream, r)| {
            let i = r
                .subs
                .iter()
                .position(|s| (s.conn, s.slot) == (conn, slot))?;
            Some((stream, r.subs.swap_remove(i)))
        })
    }

    /// The slot goes dark; its forwarder is kept for its next subscription.
    fn end_sub(&mut self, conn: ConnIndex, slot: SlotId) -> Option<StreamId> {
        let (stream, sub) = self.take_sub(conn, slot)?;
        self.parked.insert((conn, slot), sub.forwarder);
        self.prune(stream);
        Some(stream)
    }

    /// A mirror of a stream another worker publishes, made (and the home told) when a
    /// slot here first shows it.
    pub(super) fn ensure_route(&mut self, stream: StreamId) -> Result<(), SfuError> {
        match self.routes.get(&stream).map(|r| r.origin) {
            Some(Origin::Local { .. } | Origin::Node { .. }) => return Ok(()),
            // Its home's `Unpublished` may still be on its way: the directory says.
            Some(Origin::Remote(_)) if self.shared.stream(stream).is_some() => return Ok(()),
            Some(Origin::Remote(_)) => {
                self.unpublish(stream);
                return Err(SfuError::UnknownTrack(stream));
            }
            None => {}
        }
        let published = self
            .shared
            .stream(stream)
            .filter(|p| p.worker != self.worker)
            .ok_or(SfuError::UnknownTrack(stream))?;
        let home = published.worker;
        let throttle = KeyframeThrottle::new(self.throttle);
        let mirror = Route::mirror(stream, published, throttle);
        self.routes.insert(stream, mirror);
        let from = self.worker;
        self.relays.push(home, Relay::Watch { stream, from });
        Ok(())
    }

    /// Drops `stream`'s mirror once no slot here shows it (its home stops relaying).
    pub(super) fn prune(&mut self, stream: StreamId) {
        let Some(route) = self.routes.get(&stream) else {
            return;
        };
        let unused = route.subs.is_empty() && route.exports.is_empty();
        if let (Origin::Remote(home), true) = (route.origin, unused) {
            self.routes.remove(&stream);
            let from = self.worker;
            self.relays.push(home, Relay::Unwatch { stream, from });
        }
    }

    /// Points `slot` of connection `conn` at `stream`, from its next keyframe on, on
    /// the best of its layers up to `max_layer` that the link carries.
    pub fn subscribe(
        &mut self,
        now: Instant,
        (conn, peer): (ConnIndex, PeerId),
        slot: &OutSlot,
        (stream, max_layer): (StreamId, u8),
    ) -> Result<(), SfuError> {
        let id = slot.info.id;
        self.ensure_route(stream)?;
        let route = self
            .routes
            .get(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        let payload_type = match (route.kind == slot.info.kind, slot.payload_type(route.codec)) {
            (true, Some(pt)) => pt,
            (same_kind, _) => {
                let why = if same_kind {
                    "codec not negotiated"
                } else {
                    "other media kind"
                };
                // It goes dark rather than keep showing a hall the room no longer puts there.
                self.end_sub(conn, id);
                self.prune(stream);
                return Err(SfuError::Incompatible(peer, id, stream, why));
            }
        };
        let max_layer = match slot.info.kind {
            MediaKind::Audio => 0,
            MediaKind::Video => max_layer.min(MAX_LAYER),
        };
        let config = ForwarderConfig {
            ssrc: slot.info.ssrc,
            payload_type,
            clock_rate: route.codec.clock_rate(),
            max_layer,
            layer: LayerConfig::default(),
        };
        let route = self
            .routes
            .get_mut(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        let bitrates = route.bitrates(now);
        // Same source: only the highest layer changes (no keyframe restart).
        if let Some(i) = route
            .subs
            .iter()
            .position(|s| (s.conn, s.slot) == (conn, id))
        {
            route.subs[i].forwarder.set_max_layer(now, max_layer);
            route.drain_requests(now, i);
            return Ok(());
        }
        let previous = self.take_sub(conn, id).map(|(old, sub)| {
            self.prune(old);
            sub.forwarder
        });
        let forwarder = match previous {
            // Same codec: keep the forwarder, switch its source.
            Some(mut f) if f.config().payload_type == payload_type => {
                f.switch_source(now, stream, bitrates);
                f.set_max_layer(now, max_layer);
                f
            }
            previous => {
                // The slot's numbering outlives its subscriptions and codecs.
                let previous = previous.or_else(|| self.parked.remove(&(conn, id)));
                let mut f = match previous {
                    Some(p) => Forwarder::continuing(now, config, stream, &p),
                    None => Forwarder::new(now, config, stream),
                };
                f.set_layer_bitrates(now, bitrates);
                f
            }
        };
        let route = self
            .routes
            .get_mut(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        route.subs.push(Sub {
            conn,
            slot: id,
            ssrc: slot.info.ssrc,
            forwarder,
        });
        // Its first keyframe request; forwarding starts when the keyframe arrives.
        route.drain_requests(now, route.subs.len() - 1);
        Ok(())
    }

    /// Empties `slot` of `conn` (nothing if it shows nothing).
    pub fn unsubscribe(&mut self, conn: ConnIndex, slot: SlotId) {
        self.end_sub(conn, slot);
    }

    /// A new highest layer for what `slot` of `conn` shows; the forwarder keeps its
    /// source and switches on the new layer's next keyframe (nothing if it shows nothing).
    pub fn set_layer(&mut self, now: Instant, conn: ConnIndex, slot: SlotId, max_layer: u8) {
        for route in self.routes.values_mut() {
            let Some(i) = route
                .subs
                .iter()
                .position(|s| (s.conn, s.slot) == (conn, slot))
            else {
                continue;
            };
            let layer = match route.kind {
                MediaKind::Audio => 0,
                MediaKind::Video => max_layer.min(MAX_LAYER),
            };
            route.subs[i].forwarder.set_max_layer(now, layer);
            route.drain_requests(now, i);
            return;
        }
    }

    /// A publisher's connection is going: its streams are unpublished (their slots go
    /// dark, `TrackUnpublished` each) and its own subscriptions end.
    pub fn unpublish_conn(&mut self, conn: ConnIndex) {
        let mut gone: Vec<StreamId> = self
            .routes
            .iter()
            .filter(|(_, r)| r.publisher() == Some(conn))
            .map(|(&s, _)| s)
            .collect();
        gone.sort_unstable();
        for stream in gone {
            self.unpublish(stream);
        }
        self.remove_conn(conn);
    }

    /// Removes a published stream; the slots showing it go dark, here and (told) on
    /// the workers that mirror it. Only its home announces `TrackUnpublished`.
    pub fn unpublish(&mut self, stream: StreamId) {
        let Some(route) = self.routes.remove(&stream) else {
            return;
        };
        for sub in route.subs {
            self.parked.insert((sub.conn, sub.slot), sub.forwarder);
        }
        self.speakers.remove_stream(stream);
        for e in &route.exports {
            self.nodes.goodbye(e.to, stream);
        }
        if let Origin::Remote(_) = route.origin {
            return;
        }
        self.shared.unpublish(stream);
        for &w in &route.watchers {
            self.relays.push(w, Relay::Unpublished { stream });
        }
        if route.kind == MediaKind::Audio {
            self.silence_elsewhere(stream);
        }
        if let Origin::Node { .. } = route.origin {
            // Its origin node announces it; the relay no longer feeds it.
            self.nodes.forget_local(stream);
            return;
        }
        self.outbox.push_back(SfuEvent::TrackUnpublished {
            peer: route.owner,
            track: stream,
        });
    }

    /// Tells the other workers' speaker detectors that `stream` no longer speaks.
    pub(super) fn silence_elsewhere(&mut self, stream: StreamId) {
        for w in (0..self.shared.workers).filter(|&w| w != self.worker) {
            self.relays.push(w, Relay::Silent { stream });
        }
    }

    /// Forgets a connection everywhere: its routes, subscriptions and parked forwarders.
    pub fn remove_conn(&mut self, conn: ConnIndex) {
        self.routes.retain(|_, r| r.publisher() != Some(conn));
        let mut emptied = Vec::new();
        for r in self.routes.values_mut() {
            let before = r.subs.len();
            r.subs.retain(|s| s.conn != conn);
            if r.subs.len() < before {
                emptied.push(r.stream);
            }
        }
        for stream in emptied {
            self.prune(stream);
        }
        self.parked.retain(|&(c, _), _| c != conn);
        self.speakers.remove_conn(conn);
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.outbox.pop_front()
    }
}
