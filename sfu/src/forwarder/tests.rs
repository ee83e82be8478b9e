//! Tests of the slot forwarder: starting, pausing, padding, and continuing a slot's numbering.

use super::*;
use crate::rtp::RtpPacket;
use bytes::Bytes;
use std::time::Duration;

const HALL: StreamId = StreamId(3);
const FEED: Feed = Feed {
    source: HALL,
    layer: 0,
};

fn config() -> ForwarderConfig {
    ForwarderConfig {
        ssrc: 0xABCD,
        payload_type: 100,
        clock_rate: 90_000,
        max_layer: 0,
        layer: LayerConfig::default(),
    }
}

fn header(seq: u16, ts: u32) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: 96,
        sequence_number: seq,
        timestamp: ts,
        ssrc: 1,
    }
}

fn push(f: &mut Forwarder, now: Instant, seq: u16, keyframe: bool, payload: &[u8]) {
    push_from(f, now, HALL, seq, keyframe, payload);
}

fn push_from(
    f: &mut Forwarder,
    now: Instant,
    source: StreamId,
    seq: u16,
    keyframe: bool,
    payload: &[u8],
) {
    let incoming = IncomingPacket {
        source,
        layer: 0,
        keyframe,
        header: header(seq, u32::from(seq) * 3000),
        payload: Bytes::copy_from_slice(payload),
    };
    f.handle_packet(now, &incoming);
}

/// (seq, ts, ssrc, pt) of a packet sent to the subscriber.
type Sent = (u16, u32, u32, u8);

/// The packets sent, and the other outputs.
fn drain(f: &mut Forwarder) -> (Vec<Sent>, Vec<ForwarderOutput>) {
    let (mut sent, mut other) = (Vec::new(), Vec::new());
    while let Some(o) = f.poll_output() {
        match o {
            ForwarderOutput::Packet(p) => {
                // What goes on the wire, read back as a browser would.
                let wire = p.to_vec();
                let read = RtpPacket::parse(&wire).unwrap(); // written just above
                assert_eq!(read.payload(), &p.payload[..]);
                let h = read.header;
                sent.push((h.sequence_number, h.timestamp, h.ssrc, h.payload_type));
            }
            o => other.push(o),
        }
    }
    (sent, other)
}

#[test]
fn starts_on_a_keyframe_and_rewrites_ssrc_and_payload_type() {
    let t0 = Instant::now();
    let mut f = Forwarder::new(t0, config(), HALL);
    assert_eq!(drain(&mut f).1, [ForwarderOutput::RequestKeyframe(FEED)]);
    push(&mut f, t0, 10, false, b"delta");
    push(&mut f, t0, 11, true, b"key");
    push(&mut f, t0, 12, false, b"delta");
    let (sent, other) = drain(&mut f);
    assert_eq!(sent, [(11, 33_000, 0xABCD, 100), (12, 36_000, 0xABCD, 100)]);
    assert_eq!(
        other,
        [ForwarderOutput::Switched {
            from: None,
            to: FEED
        }]
    );
    let forwarding = LayerState::Forwarding { feed: FEED };
    assert_eq!(f.state(), ForwarderState::Active(forwarding));
}

#[test]
fn pause_and_resume_keep_numbering_continuous() {
    let t0 = Instant::now();
    let mut f = Forwarder::new(t0, config(), HALL);
    push(&mut f, t0, 1, true, b"k");
    push(&mut f, t0, 2, false, b"d");
    f.pause();
    assert_eq!(f.state(), ForwarderState::Paused);
    push(&mut f, t0, 3, true, b"k");
    drain(&mut f);
    let later = t0 + Duration::from_secs(2);
    f.resume(later);
    push(&mut f, later, 40, false, b"d");
    push(&mut f, later, 41, true, b"k");
    let (sent, other) = drain(&mut f);
    assert_eq!(
        sent,
        [(3, 6000 + 180_000, 0xABCD, 100)],
        "2 s later on the 90 kHz clock"
    );
    assert!(matches!(other[0], ForwarderOutput::RequestKeyframe(_)));
}

#[test]
fn padding_only_packets_are_skipped_without_a_gap_and_garbage_is_an_error() {
    let t0 = Instant::now();
    let mut f = Forwarder::new(t0, config(), HALL);
    push(&mut f, t0, 1, true, b"k");
    push(&mut f, t0, 2, false, b"");
    push(&mut f, t0, 3, false, b"d");
    let seqs: Vec<u16> = drain(&mut f).0.into_iter().map(|p| p.0).collect();
    assert_eq!(seqs, [1, 2]);
    // Garbage never becomes an `IncomingPacket`: reading it is the error.
    let bad = Bytes::from_static(&[0x80, 1, 2]);
    assert!(IncomingPacket::parse(HALL, 0, false, &bad).is_err());
}

#[test]
fn every_slot_shares_the_publishers_payload_under_its_own_header() {
    let t0 = Instant::now();
    let other = ForwarderConfig {
        ssrc: 0x7777,
        payload_type: 120,
        ..config()
    };
    let (mut a, mut b) = (
        Forwarder::new(t0, config(), HALL),
        Forwarder::new(t0, other, HALL),
    );
    let incoming = IncomingPacket {
        source: HALL,
        layer: 0,
        keyframe: true,
        header: RtpHeader {
            marker: true,
            ..header(500, 1_500_000)
        },
        payload: Bytes::from_static(b"one frame"),
    };
    a.handle_packet(t0, &incoming);
    b.handle_packet(t0, &incoming);
    let sent = |f: &mut Forwarder| {
        std::iter::from_fn(|| f.poll_output())
            .find_map(|o| match o {
                ForwarderOutput::Packet(p) => Some(p),
                _ => None,
            })
            .expect("the keyframe is forwarded")
    };
    let (pa, pb) = (sent(&mut a), sent(&mut b));
    assert_eq!(pa.payload.as_ptr(), incoming.payload.as_ptr(), "not copied");
    assert_eq!(pb.payload.as_ptr(), incoming.payload.as_ptr(), "not copied");
    assert_eq!((pa.header.ssrc, pa.header.payload_type), (0xABCD, 100));
    assert_eq!((pb.header.ssrc, pb.header.payload_type), (0x7777, 120));
    assert!(pa.header.marker && pb.header.marker, "the marker is kept");
    assert_eq!(pa.header.sequence_number, pb.header.sequence_number);
}

#[test]
fn a_successor_continues_the_slots_numbering_from_a_keyframe_of_its_source() {
    let t0 = Instant::now();
    let mut f = Forwarder::new(t0, config(), HALL);
    for seq in 40_000..40_300 {
        push(&mut f, t0, seq, seq == 40_000, b"a");
    }
    let (sent, _) = drain(&mut f);
    let (last_seq, last_ts) = (sent[299].0, sent[299].1);
    // The hall reconnects: its new track starts its numbering over, lower than before.
    let other = StreamId(14);
    let later = t0 + Duration::from_secs(2);
    let mut g = Forwarder::continuing(later, config(), other, &f);
    let want = Feed {
        source: other,
        layer: 0,
    };
    assert_eq!(drain(&mut g).1, [ForwarderOutput::RequestKeyframe(want)]);
    let starting = LayerState::Starting {
        to: want,
        since: later,
    };
    assert_eq!(g.state(), ForwarderState::Active(starting));
    push_from(&mut g, later, other, 40_000, false, b"delta");
    push_from(&mut g, later, HALL, 40_300, true, b"old source");
    assert_eq!(
        drain(&mut g),
        (vec![], vec![]),
        "only the new source's keyframe"
    );
    push_from(&mut g, later, other, 40_001, true, b"key");
    push_from(&mut g, later, other, 40_002, false, b"delta");
    let (sent, other_out) = drain(&mut g);
    assert_eq!(
        sent.iter().map(|p| p.0).collect::<Vec<_>>(),
        [last_seq.wrapping_add(1), last_seq.wrapping_add(2)]
    );
    let gap = sent[0].1.wrapping_sub(last_ts);
    assert!(
        (180_000..1 << 30).contains(&gap),
        "2 s forward on 90 kHz: {gap}"
    );
    assert_eq!(
        other_out,
        [ForwarderOutput::Switched {
            from: None,
            to: want
        }]
    );
}
