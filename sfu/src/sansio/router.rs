//! The media path of the sans-IO driver: a publisher's packet to every subscribed slot.
//!
//! Per published stream a [`Route`] holds its layers and its subscribers, each with the
//! core [`Forwarder`] of its slot (SSRC, payload type, sequence numbers, timestamps,
//! start on a keyframe, layer choice up to the subscription's highest layer), and a
//! [`KeyframeThrottle`] that merges their keyframe requests into PLIs to the requested
//! layer's SSRC. A packet is written into every subscriber's connection with
//! `handle_write` (no socket, no task, no channel): the packet handed to `rtc` shares the
//! publisher's payload `Bytes`, only its header is the subscriber's.

use super::conn::{InTrack, OutSlot};
use super::demux::ConnIndex;
use super::publish::Route;
use super::table::Table;
use crate::event::{MediaKind, SlotId};
use crate::forwarder::{Forwarder, ForwarderConfig, ForwarderOutput, IncomingPacket};
use crate::rtp::RtpPacket;
use crate::rtp::FIXED_HEADER_LEN;
use crate::{is_keyframe_start, KeyframeThrottle, LayerConfig, SfuError, StreamId, MAX_LAYER};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::rtp;
use rtc::sansio::Protocol;
use rtc::shared::marshal::{Marshal, MarshalSize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One subscriber slot on a route.
pub(super) struct Sub {
    pub(super) conn: ConnIndex,
    pub(super) slot: SlotId,
    /// Its SSRC, by which its keyframe requests and report blocks are recognised.
    pub(super) ssrc: u32,
    pub(super) forwarder: Forwarder,
}

/// Counters of the media path.
#[derive(Debug, Default, Clone, Copy)]
pub struct RouterStats {
    /// Packets handed to subscribers' connections.
    pub forwarded: u64,
    /// Packets `rtc` refused or the forwarder could not parse.
    pub dropped: u64,
    /// PLIs sent to publishers.
    pub plis: u64,
}

/// Every route of the driver.
pub struct Router {
    pub(super) routes: HashMap<StreamId, Route>,
    throttle: Duration,
    /// The incoming packet marshalled once for the forwarders (reused, no allocation).
    scratch: Vec<u8>,
    /// Streams whose throttles have PLIs to send (reused, no allocation).
    pub(super) requests: Vec<StreamId>,
    pub stats: RouterStats,
}

impl Router {
    /// A router whose PLIs to one publisher stream are at least `throttle` apart.
    pub fn new(throttle: Duration) -> Self {
        Self {
            routes: HashMap::new(),
            throttle,
            scratch: vec![0; 1500],
            requests: Vec::new(),
            stats: RouterStats::default(),
        }
    }

    /// A layer of a publisher's stream opened (the first one creates the route).
    pub fn open_layer(&mut self, now: Instant, publisher: ConnIndex, track: &InTrack) {
        let throttle = self.throttle;
        let route = self
            .routes
            .entry(track.stream)
            .or_insert_with(|| Route::new(publisher, track, KeyframeThrottle::new(throttle)));
        route.open_layer(now, track);
        route.refresh_bitrates(now);
    }

    /// Tells every subscriber which layers arrive (layers go idle without packets).
    pub fn refresh_bitrates(&mut self, now: Instant, table: &mut Table) {
        for route in self.routes.values_mut() {
            route.refresh_bitrates(now);
            Self::send_plis(now, route, table, &mut self.stats);
        }
    }

    /// Points `slot` of connection `conn` at `stream`, from its next keyframe on, on
    /// the best of its layers up to `max_layer` that the link carries.
    pub fn subscribe(
        &mut self,
        now: Instant,
        (conn, peer): (ConnIndex, crate::PeerId),
        slot: &OutSlot,
        (stream, max_layer): (StreamId, u8),
    ) -> Result<(), SfuError> {
        let route = self
            .routes
            .get(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        if route.kind != slot.info.kind {
            return Err(SfuError::Incompatible(
                peer,
                slot.info.id,
                stream,
                "other media kind",
            ));
        }
        // The slot's numbering outlives its subscriptions (see `Forwarder::continuing`).
        let mut previous = None;
        for r in self.routes.values_mut() {
            if let Some(i) = r
                .subs
                .iter()
                .position(|s| (s.conn, s.slot) == (conn, slot.info.id))
            {
                previous = Some(r.subs.swap_remove(i).forwarder);
            }
        }
        let clock_rate = match slot.info.kind {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        };
        let config = ForwarderConfig {
            ssrc: slot.info.ssrc,
            payload_type: slot.payload_type,
            clock_rate,
            max_layer: match slot.info.kind {
                MediaKind::Audio => 0,
                MediaKind::Video => max_layer.min(MAX_LAYER),
            },
            layer: LayerConfig::default(),
        };
        let mut forwarder = match previous {
            Some(p) => Forwarder::continuing(now, config, stream, &p),
            None => Forwarder::new(now, config, stream),
        };
        let route = self
            .routes
            .get_mut(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        forwarder.set_layer_bitrates(now, route.bitrates(now));
        route.subs.push(Sub {
            conn,
            slot: slot.info.id,
            ssrc: slot.info.ssrc,
            forwarder,
        });
        // Its first keyframe request; forwarding starts when the keyframe arrives.
        route.drain_requests(now, route.subs.len() - 1);
        Ok(())
    }

    /// Forwards one packet of layer `layer` of `stream` to its subscribers' connections.
    pub fn forward(
        &mut self,
        now: Instant,
        (stream, layer): (StreamId, u8),
        packet: &rtp::Packet,
        table: &mut Table,
    ) {
        let Some(route) = self.routes.get_mut(&stream) else {
            return;
        };
        let size = packet.marshal_size();
        if self.scratch.len() < size {
            self.scratch.resize(size, 0);
        }
        let Ok(n) = packet.marshal_to(&mut self.scratch[..size]) else {
            self.stats.dropped += 1;
            return;
        };
        let data = &self.scratch[..n];
        let h = &packet.header;
        let media = !packet.payload.is_empty(); // padding is stripped from the payload
        let size = FIXED_HEADER_LEN + packet.payload.len();
        route.record(now, layer, (h.sequence_number, h.timestamp), size, media);
        let keyframe = match route.kind {
            MediaKind::Audio => true,
            MediaKind::Video => is_keyframe_start(&packet.payload).unwrap_or(false),
        };
        if keyframe && route.kind == MediaKind::Video {
            route.throttle.handle_keyframe(layer);
        }
        let incoming = IncomingPacket {
            source: stream,
            layer,
            keyframe,
            data,
        };
        for sub in &mut route.subs {
            if let Err(e) = sub.forwarder.handle_packet(now, incoming) {
                tracing::debug!(error = %e, "sansio: unforwardable packet dropped");
                self.stats.dropped += 1;
                continue;
            }
            while let Some(out) = sub.forwarder.poll_output() {
                match out {
                    ForwarderOutput::Packet(buf) => {
                        let Some(conn) = table.get_mut(sub.conn) else {
                            continue;
                        };
                        let Ok(h) = RtpPacket::parse(&buf).map(|p| p.header) else {
                            continue;
                        };
                        let out = rtp::Packet {
                            header: rtp::header::Header {
                                version: 2,
                                marker: h.marker,
                                payload_type: h.payload_type,
                                sequence_number: h.sequence_number,
                                timestamp: h.timestamp,
                                ssrc: h.ssrc,
                                ..Default::default()
                            },
                            payload: packet.payload.clone(),
                        };
                        // The track id is not read on the write path; SSRC and payload
                        // type are the slot's, checked once at negotiation.
                        let message = RTCMessage::RtpPacket(String::new(), out);
                        match conn.pc.handle_write(TaggedRTCMessage { now, message }) {
                            Ok(()) => {
                                self.stats.forwarded += 1;
                                conn.out.sent(now, buf.len());
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "sansio: rtc refused a packet");
                                self.stats.dropped += 1;
                            }
                        }
                        table.writes.mark(sub.conn);
                    }
                    ForwarderOutput::RequestKeyframe(feed) => {
                        route.throttle.handle_request(now, feed.layer);
                    }
                    ForwarderOutput::Switched { .. } => {}
                }
            }
        }
        Self::send_plis(now, route, table, &mut self.stats);
    }

    /// Forgets a connection: its published routes and its subscriptions.
    pub fn remove_conn(&mut self, conn: ConnIndex) {
        self.routes.retain(|_, r| r.publisher != conn);
        for r in self.routes.values_mut() {
            r.subs.retain(|s| s.conn != conn);
        }
    }
}
