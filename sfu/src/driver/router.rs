//! The media path of the sans-IO driver: a publisher's packet to every subscribed slot.
//!
//! Per published stream a [`Route`] holds its layers and its subscribers, each with the
//! core [`Forwarder`] of its slot (SSRC, payload type, sequence numbers, timestamps,
//! start on a keyframe, layer choice up to the subscription's highest layer), and a
//! [`KeyframeThrottle`] that merges their keyframe requests into PLIs to the requested
//! layer's SSRC. A packet is written into every subscriber's connection with
//! `handle_write` (no socket, no task, no channel): per subscriber the forwarder makes
//! only a header, and the packet handed to `rtc` shares the publisher's payload `Bytes`
//! — nothing is marshalled, parsed or copied before `rtc` encrypts it.

use super::conn::InTrack;
use super::demux::ConnIndex;
use super::node::export;
use super::node::Nodes;
use super::publish::{Origin, Route};
use super::relay::{speaker_home, Outbox, Relay};
use super::shared::{Shared, WorkerIndex};
use super::speakers::Speakers;
use super::table::Table;
use super::tap::Taps;
use crate::event::{MediaKind, PeerId, SfuEvent, SlotId};
use crate::forwarder::{Forwarder, ForwarderOutput, IncomingPacket, OutgoingPacket};
use crate::hdrext::AudioLevel;
use crate::rtp::{RtpHeader, FIXED_HEADER_LEN};
use crate::{KeyframeThrottle, StreamId};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::rtp;
use rtc::sansio::Protocol;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
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
    /// Their bytes as RTP (fixed header and payload, before SRTP).
    pub forwarded_bytes: u64,
    /// Packets `rtc` refused.
    pub dropped: u64,
    /// PLIs sent to publishers.
    pub plis: u64,
    /// Packets handed to other workers (once per packet per worker showing it).
    pub relayed: u64,
    /// Packets received from other workers for slots here.
    pub relayed_in: u64,
}

/// Every route of the driver.
pub struct Router {
    pub(super) routes: HashMap<StreamId, Route>,
    pub(super) throttle: Duration,
    /// Streams whose throttles have PLIs to send (reused, no allocation).
    pub(super) requests: Vec<StreamId>,
    /// Forwarders of slots that went dark, kept so a later subscription continues
    /// their numbering (see `Forwarder::continuing`).
    pub(super) parked: HashMap<(ConnIndex, SlotId), Forwarder>,
    /// One active-speaker detector per speaker group (meeting), fed by the audio
    /// routes' levels.
    pub(super) speakers: Speakers,
    /// Events for the caller (unpublished tracks, speaker changes), drained by the
    /// driver with [`poll_event`](Self::poll_event).
    pub(super) outbox: VecDeque<SfuEvent>,
    pub stats: RouterStats,
    /// This worker's index, and what the workers share.
    pub(super) worker: WorkerIndex,
    pub(super) shared: Arc<Shared>,
    /// Messages for other workers.
    pub(super) relays: Outbox,
    /// Subscribers inside the node (recorders), whose slots' packets go to a sink.
    pub(super) taps: Taps,
    /// The relay links with other nodes this worker carries.
    pub(super) nodes: Nodes,
}

impl Router {
    /// The router of worker `worker`, whose PLIs to one publisher stream are at least
    /// `throttle` apart.
    pub fn new(throttle: Duration, worker: WorkerIndex, shared: Arc<Shared>) -> Self {
        Self {
            relays: Outbox::new(shared.workers),
            worker,
            shared,
            routes: HashMap::new(),
            throttle,
            requests: Vec::new(),
            parked: HashMap::new(),
            speakers: Speakers::default(),
            outbox: VecDeque::new(),
            stats: RouterStats::default(),
            taps: Taps::default(),
            nodes: Nodes::default(),
        }
    }

    /// A layer of a publisher's stream opened (the first one creates the route).
    /// `audio_level_id`: the offer's id of the RFC 6464 extension (audio only).
    pub fn open_layer(
        &mut self,
        now: Instant,
        publisher: (ConnIndex, PeerId),
        track: &InTrack,
        audio_level_id: Option<u8>,
    ) {
        let throttle = KeyframeThrottle::new(self.throttle);
        let (conn, owner) = publisher;
        let route = self.routes.entry(track.stream).or_insert_with(|| {
            let route = Route::new((conn, owner, self.worker), track, throttle, audio_level_id);
            self.shared.publish(track.stream, route.published.clone());
            route
        });
        route.open_layer(now, track);
        route.refresh_bitrates(now);
    }

    /// Tells every subscriber which layers arrive (layers go idle without packets).
    pub fn refresh_bitrates(&mut self, now: Instant, table: &mut Table) {
        for route in self.routes.values_mut() {
            route.refresh_bitrates(now);
            Self::send_plis(
                now,
                route,
                table,
                (&mut self.stats, &mut self.relays, &mut self.nodes),
            );
        }
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
        let h = &packet.header;
        let media = !packet.payload.is_empty(); // padding is stripped from the payload
        let size = FIXED_HEADER_LEN + packet.payload.len();
        route.record(now, layer, (h.sequence_number, h.timestamp), size, media);
        let keyframe = route.codec.is_keyframe_start(&packet.payload);
        if keyframe && route.kind == MediaKind::Video {
            route.throttle.handle_keyframe(layer);
        }
        if let (Some(id), Some(publisher)) = (route.audio_level_id, route.publisher()) {
            if let Some(level) = h.get_extension(id).and_then(|e| AudioLevel::parse(&e)) {
                let group = self.speakers.group_of(publisher);
                let home = speaker_home(group, self.shared.workers);
                if home == self.worker {
                    self.speakers.handle_level(now, group, stream, level);
                } else {
                    let relay = Relay::Level {
                        group,
                        stream,
                        level,
                    };
                    self.relays.push(home, relay);
                }
            }
        }
        let incoming = IncomingPacket {
            source: stream,
            layer,
            keyframe,
            header: RtpHeader {
                marker: h.marker,
                payload_type: h.payload_type,
                sequence_number: h.sequence_number,
                timestamp: h.timestamp,
                ssrc: h.ssrc,
            },
            payload: packet.payload.clone(),
        };
        // Once per other worker showing it, not per subscriber there; once per node.
        for &w in &route.watchers {
            self.relays.push(w, Relay::Media(incoming.clone()));
            self.stats.relayed += 1;
        }
        export(&mut self.nodes, &route.exports, &incoming);
        fan_out(now, route, &incoming, (table, &self.taps), &mut self.stats);
        Self::send_plis(
            now,
            route,
            table,
            (&mut self.stats, &mut self.relays, &mut self.nodes),
        );
    }

    /// A packet another worker relayed for the slots of its mirror here.
    pub(super) fn forward_relayed(
        &mut self,
        now: Instant,
        packet: &IncomingPacket,
        table: &mut Table,
    ) {
        let stream = packet.source;
        let Some(route) = self.routes.get_mut(&stream) else {
            // Nobody here shows it any more: its home may stop sending.
            if let Some(p) = self.shared.stream(stream) {
                let from = self.worker;
                self.relays.push(p.worker, Relay::Unwatch { stream, from });
            }
            return;
        };
        if !matches!(route.origin, Origin::Remote(_)) {
            return;
        }
        self.stats.relayed_in += 1;
        route.open_relayed(now, packet);
        if packet.keyframe && route.kind == MediaKind::Video {
            route.throttle.handle_keyframe(packet.layer);
        }
        export(&mut self.nodes, &route.exports, packet);
        fan_out(now, route, packet, (table, &self.taps), &mut self.stats);
        Self::send_plis(
            now,
            route,
            table,
            (&mut self.stats, &mut self.relays, &mut self.nodes),
        );
    }
}

/// Hands `incoming` to every slot of `route` and what each slot's forwarder makes of it
/// to the slot's connection (or tap).
pub(super) fn fan_out(
    now: Instant,
    route: &mut Route,
    incoming: &IncomingPacket,
    (table, taps): (&mut Table, &Taps),
    stats: &mut RouterStats,
) {
    for sub in &mut route.subs {
        sub.forwarder.handle_packet(now, incoming);
        while let Some(out) = sub.forwarder.poll_output() {
            match out {
                ForwarderOutput::Packet(out) if Taps::is_tap(sub.conn) => {
                    if let Some(tap) = taps.get(sub.conn) {
                        let len = out.len();
                        tap.sink
                            .packet(sub.slot, route.kind, &out.header.write(&out.payload), now);
                        stats.forwarded += 1;
                        stats.forwarded_bytes += len as u64;
                    }
                }
                ForwarderOutput::Packet(out) => {
                    let Some(conn) = table.get_mut(sub.conn) else {
                        continue;
                    };
                    let len = out.len();
                    // The track id is not read on the write path; SSRC and payload
                    // type are the slot's, checked once at negotiation.
                    let message = RTCMessage::RtpPacket(String::new(), to_rtc(out));
                    match conn.pc.handle_write(TaggedRTCMessage { now, message }) {
                        Ok(()) => {
                            stats.forwarded += 1;
                            stats.forwarded_bytes += len as u64;
                            conn.out.sent(now, len);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "sfu: rtc refused a packet");
                            stats.dropped += 1;
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
}

/// The slot's packet as `rtc` takes it: the fixed header and the shared payload (no
/// CSRCs, extensions or padding, so `rtc` has no vectors to clone or marshal).
fn to_rtc(out: OutgoingPacket) -> rtp::Packet {
    let h = out.header;
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            marker: h.marker,
            payload_type: h.payload_type,
            sequence_number: h.sequence_number,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
            ..Default::default()
        },
        payload: out.payload,
    }
}
