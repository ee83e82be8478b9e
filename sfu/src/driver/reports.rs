//! A hall's reports on what we send it, on the sans-IO path: each report block's loss
//! goes into its slot's layer choice, loss and round trip into the hall's
//! [`LinkQuality`](crate::LinkQuality), and its bandwidth estimate (REMB) is shared among
//! its video slots as layer caps, with [`crate::linkquality`]'s pieces.

use super::demux::ConnIndex;
use super::router::Router;
use super::table::Table;
use crate::driver::rtcpfwd;
use crate::event::MediaKind;
use crate::linkquality::{split_bandwidth, LinkReport, SlotDemand};
use crate::rtt::ntp_compact;
use rtc::rtcp;
use std::cmp::Reverse;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The compact NTP time of now, for round trips from report blocks' LSR and DLSR.
fn now_compact() -> u32 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    ntp_compact(since)
}

impl Router {
    /// Takes the report blocks and REMBs of RTCP that connection `conn` sent in.
    pub fn link_reports(
        &mut self,
        now: Instant,
        conn: ConnIndex,
        packets: &[Box<dyn rtcp::Packet>],
        table: &mut Table,
    ) {
        let reports = rtcpfwd::link_reports(packets, now_compact());
        if reports.is_empty() {
            return;
        }
        let Some(c) = table.get_mut(conn) else {
            return;
        };
        let mut remb = false;
        for &report in &reports {
            c.out.link.handle_report(now, report);
            match report {
                LinkReport::Block { ssrc, loss, .. } => self.set_loss(now, (conn, ssrc), loss),
                LinkReport::Remb(_) => remb = true,
            }
        }
        if remb {
            self.share_bandwidth(now, conn, table);
        }
        for route in self.routes.values_mut() {
            Self::send_plis(
                now,
                route,
                table,
                (&mut self.stats, &mut self.relays, &mut self.nodes),
            );
        }
    }

    /// The slot with SSRC `ssrc` of connection `conn` loses `loss` of its packets.
    fn set_loss(&mut self, now: Instant, (conn, ssrc): (ConnIndex, u32), loss: f32) {
        for route in self.routes.values_mut() {
            if let Some(i) = route
                .subs
                .iter()
                .position(|s| (s.conn, s.ssrc) == (conn, ssrc))
            {
                route.subs[i].forwarder.set_loss(now, loss);
                route.drain_requests(now, i);
                return;
            }
        }
    }

    /// Caps the layers of a hall's video slots by its bandwidth estimate once that says
    /// the link is congested, the main picture (highest layer wanted; then slot order)
    /// first, after what its audio slots carry; otherwise lifts the caps.
    pub fn share_bandwidth(&mut self, now: Instant, conn: ConnIndex, table: &mut Table) {
        let Some(c) = table.get_mut(conn) else {
            return;
        };
        let sending = c.out.bitrate_bps; // over the last statistics round
                                         // `None`: not congested, caps are lifted where there are any.
        let total = c.out.link.bandwidth_cap(now, sending);
        let mut audio = 0u64;
        // (stream, subscriber index, slot, demand) of the hall's video slots.
        let mut video = Vec::new();
        for (&stream, route) in &mut self.routes {
            let bitrates = route.bitrates(now);
            for (i, s) in route
                .subs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.conn == conn)
            {
                match route.kind {
                    MediaKind::Audio => audio += bitrates[0].unwrap_or(0),
                    MediaKind::Video => {
                        let max_layer = s.forwarder.max_layer();
                        video.push((
                            stream,
                            i,
                            s.slot,
                            SlotDemand {
                                max_layer,
                                bitrates,
                            },
                        ));
                    }
                }
            }
        }
        video.sort_by_key(|&(_, _, slot, d)| (Reverse(d.max_layer), slot.0));
        let caps: Vec<Option<u64>> = match total {
            Some(total) => {
                let demands: Vec<SlotDemand> = video.iter().map(|v| v.3).collect();
                let caps = split_bandwidth(total.saturating_sub(audio), &demands);
                caps.into_iter().map(Some).collect()
            }
            None => vec![None; video.len()],
        };
        for ((stream, i, _, _), cap) in video.into_iter().zip(caps) {
            let Some(route) = self.routes.get_mut(&stream) else {
                continue;
            };
            if let Some(sub) = route.subs.get_mut(i) {
                if sub.forwarder.bandwidth() != cap {
                    sub.forwarder.set_bandwidth(now, cap);
                    route.drain_requests(now, i);
                }
            }
        }
    }
}
