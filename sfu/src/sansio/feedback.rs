//! Keyframe requests on the sans-IO media path: a subscriber's PLI/FIR, a forwarder's
//! repeated request while it waits for a keyframe, and the throttled PLIs they become
//! towards the publisher (written through the publisher's receiver with `write_rtcp`).

use super::demux::ConnIndex;
use super::router::{Route, Router, RouterStats};
use super::table::Table;
use crate::forwarder::ForwarderOutput;
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
            for sub in route
                .subs
                .iter_mut()
                .filter(|s| s.conn == conn && s.ssrc == ssrc)
            {
                sub.forwarder.request_keyframe();
                while sub.forwarder.poll_output().is_some() {}
                route.throttle.handle_request(now, 0);
                self.requests.push(stream);
            }
        }
        for i in 0..self.requests.len() {
            if let Some(route) = self.routes.get_mut(&self.requests[i]) {
                Self::send_plis(now, route, table, &mut self.stats);
            }
        }
    }

    /// Repeats unanswered keyframe requests and releases throttled ones.
    pub fn handle_timeout(&mut self, now: Instant, table: &mut Table) {
        for route in self.routes.values_mut() {
            for sub in &mut route.subs {
                if sub.forwarder.poll_timeout().is_some_and(|t| t <= now) {
                    sub.forwarder.handle_timeout(now);
                    while let Some(out) = sub.forwarder.poll_output() {
                        if let ForwarderOutput::RequestKeyframe(_) = out {
                            route.throttle.handle_request(now, 0);
                        }
                    }
                }
            }
            route.throttle.handle_timeout(now);
            Self::send_plis(now, route, table, &mut self.stats);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let subs = self.routes.values().flat_map(|r| r.subs.iter());
        let forwarders = subs.filter_map(|s| s.forwarder.poll_timeout());
        let throttles = self
            .routes
            .values()
            .filter_map(|r| r.throttle.poll_timeout());
        forwarders.chain(throttles).min()
    }

    pub(super) fn send_plis(
        now: Instant,
        route: &mut Route,
        table: &mut Table,
        stats: &mut RouterStats,
    ) {
        while route.throttle.poll_output().is_some() {
            let Some(conn) = table.get_mut(route.publisher) else {
                return;
            };
            let Some(mut receiver) = conn.pc.rtp_receiver(route.track.receiver) else {
                return;
            };
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: route.track.ssrc,
            };
            match receiver.write_rtcp(now, vec![Box::new(pli)]) {
                Ok(()) => stats.plis += 1,
                Err(e) => tracing::debug!(error = %e, "sansio: PLI not sent"),
            }
            table.writes.mark(route.publisher);
        }
    }
}
