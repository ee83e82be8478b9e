//! The relay between nodes on the router: a stream exported to a watching node, a
//! stream watched from its origin node, and what a datagram from a linked node means
//! for the routes (media for a watched stream's slots, a watcher's NACK or PLI, an
//! origin's BYE).

use super::{relay_source, Inbound, NodeKeys, RemoteStream};
use crate::driver::publish::{Export, Origin, Route};
use crate::driver::relay::Relay;
use crate::driver::router::{fan_out, Router};
use crate::driver::shared::Published;
use crate::driver::table::Table;
use crate::event::MediaKind;
use crate::forwarder::IncomingPacket;
use crate::{KeyframeThrottle, SfuError, StreamId, NUM_LAYERS};
use bytes::BytesMut;
use rtc::rtcp::goodbye::Goodbye;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

impl Router {
    /// Links this worker with the node at `addr` (its datagrams come here).
    pub fn link_node(&mut self, addr: SocketAddr, keys: &NodeKeys) -> Result<(), SfuError> {
        self.nodes.link(addr, keys)?;
        if let Some(front) = &self.shared.front {
            front.add_addr(addr, self.worker);
        }
        Ok(())
    }

    /// Drops the link with the node at `addr` (it died or left the cluster): the
    /// streams watched from it go dark here, the streams exported to it stop.
    pub fn unlink_node(&mut self, addr: SocketAddr) -> Result<(), SfuError> {
        if !self.nodes.unlink(addr) {
            return Err(SfuError::UnknownNode(addr));
        }
        if let Some(front) = &self.shared.front {
            front.remove(&[], &[addr], self.worker);
        }
        let mut watched = Vec::new();
        let mut exported = Vec::new();
        for (&stream, route) in &mut self.routes {
            if matches!(route.origin, Origin::Node { link, .. } if link == addr) {
                watched.push(stream);
            }
            let before = route.exports.len();
            route.exports.retain(|e| e.to != addr);
            if route.exports.len() < before {
                exported.push(stream);
            }
        }
        for stream in watched {
            self.unpublish(stream);
        }
        for stream in exported {
            self.prune(stream);
        }
        Ok(())
    }

    /// Sends the `layers` (bit `i`: layer `i`; none: stop) of `stream` to node `to`,
    /// each packet once. A stream homed on another worker is mirrored here first.
    pub fn export(&mut self, stream: StreamId, to: SocketAddr, layers: u8) -> Result<(), SfuError> {
        if !self.nodes.is_link(to) {
            return Err(SfuError::UnknownNode(to));
        }
        if layers != 0 {
            self.ensure_route(stream)?;
        }
        let Some(route) = self.routes.get_mut(&stream) else {
            return Err(SfuError::UnknownTrack(stream));
        };
        let layers = layers & ((1 << NUM_LAYERS) - 1);
        let old = match route.exports.iter().position(|e| e.to == to) {
            Some(i) if layers == 0 => route.exports.swap_remove(i).layers,
            Some(i) => std::mem::replace(&mut route.exports[i].layers, layers),
            None if layers == 0 => 0,
            None => {
                route.exports.push(Export { to, layers });
                0
            }
        };
        for layer in (0..NUM_LAYERS as u8).filter(|l| old & !layers & (1 << l) != 0) {
            self.nodes.forget_sent(to, stream, layer);
        }
        if layers == 0 {
            self.prune(stream);
        }
        Ok(())
    }

    /// Makes a route for `remote`, published on node `from`, whose packets arrive here
    /// over the relay: its id on this node (the same one if already watched).
    pub fn watch_remote(
        &mut self,
        from: SocketAddr,
        remote: RemoteStream,
    ) -> Result<StreamId, SfuError> {
        if !self.nodes.is_link(from) {
            return Err(SfuError::UnknownNode(from));
        }
        if let Some(stream) = self.nodes.watched(from, remote.stream) {
            if self.routes.contains_key(&stream) {
                return Ok(stream);
            }
        }
        let stream = self.shared.next_stream();
        let published = Arc::new(Published {
            worker: self.worker,
            owner: remote.owner,
            kind: remote.kind,
            codec: remote.codec,
            bitrates: Default::default(),
        });
        self.shared.publish(stream, published.clone());
        let throttle = KeyframeThrottle::new(self.throttle);
        let route = Route::from_node((stream, from, remote.stream), published, throttle);
        self.routes.insert(stream, route);
        self.nodes.watch(from, remote.stream, stream);
        Ok(stream)
    }

    /// Stops receiving `stream`, watched from another node: its slots here (and on
    /// the other workers) go dark. The origin goes on sending until told (`export`
    /// with no layers).
    pub fn unwatch_remote(&mut self, stream: StreamId) -> Result<(), SfuError> {
        match self.routes.get(&stream).map(|r| r.origin) {
            Some(Origin::Node { .. }) => {
                self.unpublish(stream);
                Ok(())
            }
            _ => Err(SfuError::UnknownTrack(stream)),
        }
    }

    /// A datagram from linked node `from` at `now`.
    pub(crate) fn handle_node_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &BytesMut,
        table: &mut Table,
    ) {
        match self.nodes.read(now, from, datagram) {
            Some(Inbound::Media(stream, packet)) => self.forward_node(now, stream, packet, table),
            Some(Inbound::Rtcp(packets)) => {
                for p in packets {
                    let any = p.as_any();
                    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                        self.nodes.figures.plis_received += 1;
                        self.exported_keyframe(now, from, pli.media_ssrc, table);
                    } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                        self.nodes.answer_nack(from, nack);
                    } else if let Some(bye) = any.downcast_ref::<Goodbye>() {
                        for &ssrc in &bye.sources {
                            if let Some(stream) = self.nodes.unwatch(from, ssrc) {
                                self.unpublish(stream);
                            }
                        }
                    }
                }
            }
            None => {}
        }
    }

    /// A watcher asks for a keyframe of a layer it is sent: merged with this node's
    /// own requests in the stream's throttle.
    fn exported_keyframe(&mut self, now: Instant, from: SocketAddr, ssrc: u32, table: &mut Table) {
        let (stream, layer) = relay_source(ssrc);
        let Some(route) = self.routes.get_mut(&StreamId(u64::from(stream))) else {
            return;
        };
        if !route.exports.iter().any(|e| e.to == from) {
            return;
        }
        route.throttle.handle_request(now, layer);
        let out = (&mut self.stats, &mut self.relays, &mut self.nodes);
        Self::send_plis(now, route, table, out);
    }

    /// A packet of a stream another node publishes, for the slots here, the workers
    /// mirroring it and the nodes it is exported on to.
    fn forward_node(
        &mut self,
        now: Instant,
        stream: StreamId,
        mut packet: IncomingPacket,
        table: &mut Table,
    ) {
        let Some(route) = self.routes.get_mut(&stream) else {
            return;
        };
        if !matches!(route.origin, Origin::Node { .. }) {
            return;
        }
        route.record_relayed(now, &packet);
        packet.keyframe = route.codec.is_keyframe_start(&packet.payload);
        if packet.keyframe && route.kind == MediaKind::Video {
            route.throttle.handle_keyframe(packet.layer);
        }
        for &w in &route.watchers {
            self.relays.push(w, Relay::Media(packet.clone()));
            self.stats.relayed += 1;
        }
        export(&mut self.nodes, &route.exports, &packet);
        fan_out(now, route, &packet, (table, &self.taps), &mut self.stats);
        let out = (&mut self.stats, &mut self.relays, &mut self.nodes);
        Self::send_plis(now, route, table, out);
    }
}

/// Sends `packet` to every node watching its layer.
pub(crate) fn export(nodes: &mut super::Nodes, exports: &[Export], packet: &IncomingPacket) {
    for e in exports {
        if e.layers & (1 << packet.layer) != 0 {
            nodes.send_media(e.to, packet);
        }
    }
}
