//! An interceptor that hands a hall's feedback on what we send it to the application:
//! keyframe requests (PLI, FIR), receiver report blocks and REMB — and the reading of
//! that feedback.
//!
//! Inbound RTCP stops at the end of `rtc`'s interceptor chain unless an interceptor
//! marks it for the application. This interceptor, placed
//! last (application-most, after the report and NACK interceptors have seen everything),
//! keeps PLI, FIR, receiver report blocks (of RRs and of SRs) and REMB, and marks them;
//! everything else (NACKs, SDES, TWCC, a publisher's bare SR) ends here. After the
//! crate's `rtcp-processing` example.
//!
//! `rtc` routes an inbound compound packet to one track by the *first* destination SSRC
//! of its first packet, so a compound RR with blocks about three slots would reach only
//! the first slot. The interceptor therefore re-emits each kept item on its own:
//! one RR per report block, each PLI/FIR/REMB alone — every item then reaches the slot
//! it is about.

use crate::linkquality::{loss_fraction, remb_bps, LinkReport};
use crate::rtt::rtt_from_report;
use rtc::interceptor::{
    Attribute, AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate as Remb;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::VecDeque;
use std::time::Instant;

/// Chain position: above every built-in interceptor (the highest is below 10 000).
pub const SLOT: usize = 14_000;

/// An RTCP packet, as `rtc` passes them around.
type Rtcp = Box<dyn rtc::rtcp::Packet>;

/// Marks a hall's feedback for the application; drops other inbound RTCP here.
#[derive(Default)]
pub struct FeedbackForwarder {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// The feedback items of a compound packet, each alone (see the module doc): keyframe
/// requests and REMBs as they are, one single-block RR per report block of an RR or SR.
pub fn feedback_items(packets: &[Rtcp]) -> Vec<Rtcp> {
    let mut items: Vec<Rtcp> = Vec::new();
    for p in packets {
        let any = p.as_any();
        let (sender, blocks) = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            (rr.ssrc, rr.reports.as_slice())
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            (sr.ssrc, sr.reports.as_slice())
        } else {
            if is_keyframe_request(p.as_ref()) || any.is::<Remb>() {
                items.push(p.clone());
            }
            continue;
        };
        for block in blocks {
            items.push(Box::new(ReceiverReport {
                ssrc: sender,
                reports: vec![block.clone()],
                ..Default::default()
            }));
        }
    }
    items
}

/// What the application makes of feedback that reached a slot: the loss and round
/// trip of every report block, and REMBs; `now_compact` is the compact NTP time of its
/// arrival ([`crate::rtt::ntp_compact`]). Keyframe requests are read separately
/// ([`is_keyframe_request`]).
pub fn link_reports(packets: &[Rtcp], now_compact: u32) -> Vec<LinkReport> {
    let mut out = Vec::new();
    for p in packets {
        let any = p.as_any();
        let blocks = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            rr.reports.as_slice()
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            sr.reports.as_slice()
        } else {
            if let Some(bps) = any.downcast_ref::<Remb>().and_then(|r| remb_bps(r.bitrate)) {
                out.push(LinkReport::Remb(bps));
            }
            continue;
        };
        out.extend(blocks.iter().map(|b| LinkReport::Block {
            ssrc: b.ssrc,
            loss: loss_fraction(b.fraction_lost),
            rtt: rtt_from_report(now_compact, b.last_sender_report, b.delay),
        }));
    }
    out
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        let Packet::Rtcp(packets) = &msg.message.packet else {
            self.read.push_back(msg);
            return Ok(());
        };
        for item in feedback_items(packets) {
            let mut message = AttributedPacket::new(Packet::Rtcp(vec![item]));
            message.attributes = msg.message.attributes.clone();
            message.add(Attribute::DeliverToApplication);
            self.read.push_back(TaggedPacket {
                now: msg.now,
                transport: msg.transport,
                message,
            });
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for FeedbackForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::payload_feedbacks::slice_loss_indication::SliceLossIndication;
    use rtc::rtcp::reception_report::ReceptionReport;
    use rtc::rtcp::source_description::SourceDescription;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
    use std::time::Duration;

    fn block(ssrc: u32, fraction_lost: u8, lsr: u32, dlsr: u32) -> ReceptionReport {
        ReceptionReport {
            ssrc,
            fraction_lost,
            last_sender_report: lsr,
            delay: dlsr,
            ..Default::default()
        }
    }

    fn compound() -> Vec<Rtcp> {
        vec![
            Box::new(SenderReport {
                ssrc: 7,
                reports: vec![block(101, 0, 0, 0), block(102, 64, 0x1000_0000, 0x0100)],
                ..Default::default()
            }),
            Box::new(SourceDescription::default()),
            Box::new(ReceiverReport {
                ssrc: 8,
                reports: vec![block(103, 26, 0, 0)],
                ..Default::default()
            }),
            Box::new(TransportLayerNack::default()),
            Box::new(PictureLossIndication {
                sender_ssrc: 8,
                media_ssrc: 102,
            }),
            Box::new(SliceLossIndication::default()),
            Box::new(Remb {
                sender_ssrc: 8,
                bitrate: 1_500_000.0,
                ssrcs: vec![101, 102],
            }),
        ]
    }

    #[test]
    fn each_item_goes_on_alone_to_the_slot_it_is_about() {
        let items = feedback_items(&compound());
        let destinations: Vec<Vec<u32>> = items.iter().map(|p| p.destination_ssrc()).collect();
        // Three blocks, one each; the PLI; the REMB. NACK, SDES and SLI stay behind.
        assert_eq!(
            destinations,
            [vec![101], vec![102], vec![103], vec![102], vec![101, 102]]
        );
        assert!(is_keyframe_request(items[3].as_ref()));
        assert!(feedback_items(&[]).is_empty());
        let bare_sr: Rtcp = Box::<SenderReport>::default();
        assert!(feedback_items(&[bare_sr]).is_empty(), "a publisher's SR");
    }

    #[test]
    fn reports_give_loss_rtt_and_remb() {
        let now = 0x1000_0100 + 0x0A3D; // 0x0A3D units after LSR + DLSR: ~40 ms
        let reports = link_reports(&compound(), now);
        assert_eq!(reports.len(), 4);
        assert_eq!(
            reports[0],
            LinkReport::Block {
                ssrc: 101,
                loss: 0.0,
                rtt: None
            },
            "LSR 0: no round trip"
        );
        let LinkReport::Block { ssrc, loss, rtt } = reports[1] else {
            panic!("a block: {:?}", reports[1]);
        };
        assert_eq!((ssrc, loss), (102, 0.25));
        let rtt = rtt.expect("a round trip");
        assert!(rtt.abs_diff(Duration::from_millis(40)) < Duration::from_millis(1));
        assert!(matches!(reports[2], LinkReport::Block { ssrc: 103, .. }));
        assert_eq!(reports[3], LinkReport::Remb(1_500_000));
    }

    #[test]
    fn a_nonsense_remb_is_ignored() {
        let remb: Rtcp = Box::new(Remb {
            sender_ssrc: 1,
            bitrate: f32::NAN,
            ssrcs: vec![],
        });
        assert!(link_reports(&[remb], 0).is_empty());
    }
}
