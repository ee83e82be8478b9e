//! The NACK interceptors on their own: a repaired packet is asked for no more, a
//! retransmission is the packet as it was sent, and the counters move.

use super::*;
use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, RTCPFeedback};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;
use std::time::Duration;

const MEDIA: u32 = 0x1000;
const REPAIR: u32 = 0x2000;

fn stream(ssrc: u32, mime: &str, rtx: Option<(u32, u8)>) -> StreamInfo {
    StreamInfo {
        ssrc,
        ssrc_rtx: rtx.map(|r| r.0),
        payload_type_rtx: rtx.map(|r| r.1),
        payload_type: if rtx.is_some() { 96 } else { 97 },
        mime_type: mime.to_owned(),
        clock_rate: 90_000,
        rtcp_feedback: vec![RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: String::new(),
        }],
        ..Default::default()
    }
}

fn tagged(now: Instant, packet: Packet) -> TaggedPacket {
    TaggedPacket {
        now,
        transport: TransportContext::default(),
        message: AttributedPacket::new(packet),
    }
}

fn rtp(ssrc: u32, payload_type: u8, seq: u16, payload: &[u8]) -> Packet {
    Packet::Rtp(rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            ssrc,
            payload_type,
            sequence_number: seq,
            ..Default::default()
        },
        payload: bytes::Bytes::copy_from_slice(payload),
    })
}

fn nack(seq: u16) -> Packet {
    Packet::Rtcp(vec![Box::new(TransportLayerNack {
        sender_ssrc: 7,
        media_ssrc: MEDIA,
        nacks: vec![NackPair {
            packet_id: seq,
            lost_packets: 0,
        }],
    })])
}

/// The sequence numbers the generator asks for after `span`.
fn asked(g: &mut Generator, now: Instant) -> Vec<u16> {
    g.handle_timeout(now).expect("a timeout");
    let mut seqs = Vec::new();
    while let Some(msg) = g.poll_write() {
        let Packet::Rtcp(items) = &msg.message.packet else {
            continue;
        };
        for item in items {
            if let Some(n) = item.as_any().downcast_ref::<TransportLayerNack>() {
                assert_eq!(n.media_ssrc, MEDIA, "only the media stream is asked for");
                seqs.extend(n.nacks.iter().map(|p| p.packet_id));
            }
        }
    }
    seqs
}

/// A generator that received 10 and 12 of the media stream, and `repair` on RTX.
fn generator(repair: Option<&[u8]>) -> (Generator, NackCounts, Instant, usize) {
    let counts = NackCounts::default();
    let mut g = Generator::new(NackGeneratorBuilder::new().build(), counts.clone());
    g.bind_remote_stream(&stream(MEDIA, "video/VP8", Some((REPAIR, 97))));
    g.bind_remote_stream(&stream(REPAIR, "video/rtx", None));
    let now = Instant::now();
    let mut packets = vec![rtp(MEDIA, 96, 10, b"a"), rtp(MEDIA, 96, 12, b"c")];
    let mut rtx_seq = 0;
    if let Some(payload) = repair {
        packets.push(rtp(REPAIR, 97, rtx_seq, payload));
        rtx_seq += 2; // the repair stream's own gap: not asked for
        packets.push(rtp(REPAIR, 97, rtx_seq, &[]));
    }
    for p in packets {
        g.handle_read(tagged(now, p)).expect("read");
    }
    let passed = std::iter::from_fn(|| g.poll_read()).count();
    (g, counts, now, passed)
}

#[test]
fn a_packet_repaired_on_rtx_is_asked_for_no_more() {
    let (mut g, counts, now, passed) = generator(None);
    assert_eq!(passed, 2);
    let later = now + Duration::from_millis(150);
    assert_eq!(asked(&mut g, later), [11], "the gap is asked for");
    assert_eq!(counts.read().sent, 1);

    // The repair: original sequence number 11, then the payload.
    let (mut g, counts, now, passed) = generator(Some(&[0, 11, b'b']));
    assert_eq!(
        passed, 4,
        "every packet goes on to the application, none added"
    );
    for step in 1..=5 {
        let at = now + Duration::from_millis(100 * step + 50);
        assert_eq!(asked(&mut g, at), Vec::<u16>::new(), "round {step}");
    }
    assert_eq!(counts.read().sent, 0);
}

#[test]
fn a_nack_is_answered_with_the_packet_as_it_was_sent() {
    let counts = NackCounts::default();
    let size = crate::driver::peer::NACK_BUFFER;
    let mut r = Responder::new(
        NackResponderBuilder::new().with_size(size).build(),
        counts.clone(),
    );
    // rtc binds a slot with its first codec's repair stream (VP8's).
    r.bind_local_stream(&stream(MEDIA, "video/VP8", Some((REPAIR, 97))));
    let now = Instant::now();
    for seq in 1..=3 {
        // An H.264 hall on the slot: payload type 102.
        let payload = [seq as u8; 3];
        r.handle_write(tagged(now, rtp(MEDIA, 102, seq, &payload)))
            .expect("sent");
        assert!(r.poll_write().is_some());
    }
    assert_eq!(counts.read(), NackFigures::default());
    r.handle_read(tagged(now, nack(2))).expect("read");
    assert!(r.poll_read().is_some(), "the NACK goes on up the chain");
    let again = r.poll_write().expect("a retransmission");
    assert!(again.message.has(&Attribute::Retransmission));
    let Packet::Rtp(p) = &again.message.packet else {
        panic!("RTP");
    };
    assert_eq!(
        (
            p.header.ssrc,
            p.header.sequence_number,
            p.header.payload_type
        ),
        (MEDIA, 2, 102),
        "the media stream, its number and codec"
    );
    assert_eq!(&p.payload[..], &[2, 2, 2]);
    assert!(r.poll_write().is_none());
    let figures = counts.read();
    assert_eq!((figures.received, figures.retransmitted), (1, 1));
}
