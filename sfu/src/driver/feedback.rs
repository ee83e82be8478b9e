//! Keyframe requests on the sans-IO media path: a subscriber's PLI/FIR, a forwarder's
//! repeated request while it waits for a keyframe, and the throttled PLIs they become
//! towards the requested layer of the publisher (written through the publisher's receiver with `write_rtcp`).

use super::demux::ConnIndex;
use super::node::Nodes;
use super::publish::{Origin, Route};
use super::relay::{Outbox, Relay};
use super::router::{Router, RouterStats};
use super::table::Table;
use crate::event::MediaKind;
use crate::{SfuError, StreamId, MAX_LAYER};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use std::time::Instant;

impl Router {
    /// A subscriber asked for a keyframe on its slot with SSRC `ssrc`.
    pub fn keyframe_request(
        &mut self,
        now: Instant,
        conn: ConnIndex,
        ssrc: u32,
        table: &mut Table,
    ) {
        self.requests.clear();
        for (&stream, route) in &mut self.routes {
            for i in 0..route.subs.len() {
                if (route.subs[i].conn, route.subs[i].ssrc) != (conn, ssrc) {
                    continue;
                }
                route.subs[i].forwarder.request_keyframe();
                route.drain_requests(now, i);
                self.requests.push(stream);
            }
        }
        for i in 0..self.requests.len() {
            if let Some(route) = self.routes.get_mut(&self.requests[i]) {
                Self::send_plis(
                    now,
                    route,
                    table,
                    (&mut self.stats, &mut self.relays, &mut self.nodes),
                );
            }
        }
    }

    /// The caller asks `stream`'s publisher for a keyframe on `layer` (throttled).
    pub fn request_keyframe(
        &mut self,
        now: Instant,
        stream: StreamId,
        layer: u8,
        table: &mut Table,
    ) -> Result<(), SfuError> {
        let route = self
            .routes
            .get_mut(&stream)
            .ok_or(SfuError::UnknownTrack(stream))?;
        route.throttle.handle_request(now, layer.min(MAX_LAYER));
        Self::send_plis(
            now,
            route,
            table,
            (&mut self.stats, &mut self.relays, &mut self.nodes),
        );
        Ok(())
    }

    /// Repeats unanswered keyframe requests and releases throttled ones.
    pub fn handle_timeout(&mut self, now: Instant, table: &mut Table) {
        for route in self.routes.values_mut() {
            for i in 0..route.subs.len() {
                let forwarder = &mut route.subs[i].forwarder;
                if forwarder.poll_timeout().is_some_and(|t| t <= now) {
                    forwarder.handle_timeout(now);
                    route.drain_requests(now, i);
                }
            }
            route.throttle.handle_timeout(now);
            Self::send_plis(
                now,
                route,
                table,
                (&mut self.stats, &mut self.relays, &mut self.nodes),
            );
        }
        if self.nodes.poll_timeout().is_some_and(|t| t <= now) {
            self.nodes.handle_timeout(now);
        }
        self.speaker_timeout(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let subs = self.routes.values().flat_map(|r| r.subs.iter());
        let forwarders = subs.filter_map(|s| s.forwarder.poll_timeout());
        let throttles = self
            .routes
            .values()
            .filter_map(|r| r.throttle.poll_timeout());
        let speaker = self.speakers.poll_timeout();
        let nacks = self.nodes.poll_timeout();
        forwarders
            .chain(throttles)
            .chain(speaker)
            .chain(nacks)
            .min()
    }

    /// Sends the PLIs `route`'s throttle lets through: to the publisher's layer; for a
    /// mirror, as a keyframe request to the stream's home worker; for a stream from
    /// another node, as a PLI over the relay to its origin.
    pub(super) fn send_plis(
        now: Instant,
        route: &mut Route,
        table: &mut Table,
        (stats, relays, nodes): (&mut RouterStats, &mut Outbox, &mut Nodes),
    ) {
        while let Some(layer) = route.throttle.poll_output() {
            if route.kind == MediaKind::Audio {
                continue; // audio has no keyframes
            }
            let (publisher, receiver) = match route.origin {
                Origin::Local {
                    publisher,
                    receiver,
                } => (publisher, receiver),
                Origin::Remote(home) => {
                    let stream = route.stream;
                    relays.push(home, Relay::Keyframe { stream, layer });
                    continue;
                }
                Origin::Node { link, remote } => {
                    nodes.send_pli(link, remote, layer);
                    continue;
                }
            };
            let Some(media_ssrc) = route.ssrc(layer) else {
                continue; // the layer is not arriving: nothing to ask
            };
            let Some(conn) = table.get_mut(publisher) else {
                return;
            };
            let Some(mut receiver) = conn.pc.rtp_receiver(receiver) else {
                return;
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => stats.plis += 1,
                Err(e) => tracing::debug!(error = %e, "sfu: PLI not sent"),
            }
            table.touch(publisher);
        }
    }
}
