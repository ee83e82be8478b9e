//! Forwarding scenarios over the public API: simulated simulcast publishers, subscriber
//! slots, PLI throttling, layer and source switches — all with simulated time.

use bytes::Bytes;
use sfu::{
    is_keyframe_start, Feed, Forwarder, ForwarderConfig, ForwarderOutput, IncomingPacket,
    KeyframeThrottle, LayerConfig, RtpHeader, RtpPacket, StreamId, DEFAULT_THROTTLE,
};
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_millis(33);
/// Packets per frame on layers 0, 1, 2.
const PACKETS_PER_FRAME: [u8; 3] = [1, 2, 4];

/// One simulcast layer of a simulated browser publisher.
struct SimLayer {
    ssrc: u32,
    seq: u16,
    ts: u32,
    /// A PLI arrived: the next frame is a keyframe.
    want_key: bool,
    /// (frame, packet index) of every packet sent, to check delivery against.
    sent: Vec<(u32, u8)>,
}

/// A hall publishing three VP8 layers, with its PLI throttle.
struct Publisher {
    id: StreamId,
    layers: Vec<SimLayer>,
    frame: u32,
    throttle: KeyframeThrottle<u8>,
    plis: Vec<(Instant, u8)>,
}

impl Publisher {
    fn new(id: u64) -> Self {
        let layer = |l: u32| SimLayer {
            ssrc: 1000 * id as u32 + l,
            // Layer 2 wraps its sequence numbers during the tests.
            seq: [100, 30_000, 65_500][l as usize],
            ts: 4_000_000_000 - l * 1_000_000,
            want_key: true,
            sent: Vec::new(),
        };
        Self {
            id: StreamId(id),
            layers: (0..3).map(layer).collect(),
            frame: 0,
            throttle: KeyframeThrottle::default(),
            plis: Vec::new(),
        }
    }

    /// One frame on every layer: (layer, RTP packet).
    fn frame(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let key = std::mem::take(&mut layer.want_key);
            let count = PACKETS_PER_FRAME[l];
            for i in 0..count {
                let descriptor = if i == 0 { 0x10 } else { 0x00 };
                let vp8_header = if key { 0x00 } else { 0x01 };
                let mut payload = vec![descriptor, vp8_header, l as u8, self.id.0 as u8, i];
                payload.extend_from_slice(&self.frame.to_be_bytes());
                let header = RtpHeader {
                    marker: i + 1 == count,
                    payload_type: 96,
                    sequence_number: layer.seq,
                    timestamp: layer.ts,
                    ssrc: layer.ssrc,
                };
                out.push((l as u8, header.write(&payload)));
                layer.seq = layer.seq.wrapping_add(1);
                layer.sent.push((self.frame, i));
            }
            layer.ts = layer.ts.wrapping_add(3000);
        }
        self.frame += 1;
        out
    }

    /// Turns throttled PLIs into keyframes on the next frame.
    fn handle_timeout(&mut self, now: Instant) {
        self.throttle.handle_timeout(now);
        while let Some(layer) = self.throttle.poll_output() {
            self.plis.push((now, layer));
            self.layers[usize::from(layer)].want_key = true;
        }
    }
}

/// A subscriber slot and what reached the browser.
struct Sub {
    fwd: Forwarder,
    received: Vec<Vec<u8>>,
}

fn config(ssrc: u32, max_layer: u8) -> ForwarderConfig {
    ForwarderConfig {
        ssrc,
        payload_type: 120,
        clock_rate: 90_000,
        max_layer,
        layer: LayerConfig::default(),
    }
}

/// The simulated node: publishers, subscribers, and the clock.
struct Node {
    now: Instant,
    pubs: Vec<Publisher>,
    subs: Vec<Sub>,
}

impl Node {
    fn new(publishers: u64) -> Self {
        Self {
            now: Instant::now(),
            pubs: (1..=publishers).map(Publisher::new).collect(),
            subs: Vec::new(),
        }
    }

    fn subscribe(&mut self, source: usize, max_layer: u8) -> usize {
        let ssrc = 50_000 + self.subs.len() as u32;
        let fwd = Forwarder::new(self.now, config(ssrc, max_layer), self.pubs[source].id);
        self.subs.push(Sub {
            fwd,
            received: Vec::new(),
        });
        self.route();
        self.subs.len() - 1
    }

    /// Moves subscriber outputs to the browser or to the publisher throttles.
    fn route(&mut self) {
        for sub in &mut self.subs {
            while let Some(out) = sub.fwd.poll_output() {
                match out {
                    ForwarderOutput::Packet(p) => sub.received.push(p.to_vec()),
                    ForwarderOutput::RequestKeyframe(Feed { source, layer }) => {
                        let publisher = self
                            .pubs
                            .iter_mut()
                            .find(|p| p.id == source)
                            .expect("known source");
                        publisher.throttle.handle_request(self.now, layer);
                    }
                    ForwarderOutput::Switched { .. } => {}
                }
            }
        }
        for p in &mut self.pubs {
            p.handle_timeout(self.now);
        }
    }

    /// Advances one frame interval: every publisher sends a frame to every subscriber.
    fn step(&mut self) {
        self.now += FRAME;
        for p in 0..self.pubs.len() {
            for (layer, data) in self.pubs[p].frame() {
                let data = Bytes::from(data);
                let parsed = RtpPacket::parse(&data).expect("well-formed");
                let keyframe = is_keyframe_start(parsed.payload()).expect("VP8 payload");
                if keyframe {
                    self.pubs[p].throttle.handle_keyframe(layer);
                }
                let packet = IncomingPacket::parse(self.pubs[p].id, layer, keyframe, &data)
                    .expect("well-formed");
                for sub in &mut self.subs {
                    sub.fwd.handle_packet(self.now, &packet);
                }
            }
        }
        for sub in &mut self.subs {
            sub.fwd.handle_timeout(self.now);
        }
        self.route();
    }
}

/// (layer, source, frame, index, keyframe start) of a received packet.
fn tag(packet: &[u8]) -> (u8, u8, u32, u8, bool) {
    let p = RtpPacket::parse(packet).expect("forwarded packets parse");
    let b = p.payload();
    let frame = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
    (b[2], b[3], frame, b[4], is_keyframe_start(b).expect("VP8"))
}

/// Asserts one SSRC, contiguous sequence numbers and non-decreasing timestamps.
fn assert_continuous(received: &[Vec<u8>], ssrc: u32) {
    let headers: Vec<RtpHeader> = received
        .iter()
        .map(|p| RtpPacket::parse(p).expect("parses").header)
        .collect();
    assert!(!headers.is_empty());
    for pair in headers.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!((b.ssrc, b.payload_type), (ssrc, 120));
        assert_eq!(
            b.sequence_number,
            a.sequence_number.wrapping_add(1),
            "gap or reorder"
        );
        assert!(
            b.timestamp.wrapping_sub(a.timestamp) as i32 >= 0,
            "timestamp went back"
        );
    }
}

#[test]
fn twenty_subscribers_receive_every_packet_of_their_layer_in_order() {
    let mut node = Node::new(1);
    for i in 0..20 {
        node.subscribe(0, (i % 3) as u8);
    }
    for _ in 0..120 {
        node.step();
    }
    for (i, sub) in node.subs.iter().enumerate() {
        let layer = i % 3;
        assert_continuous(&sub.received, 50_000 + i as u32);
        let tags: Vec<_> = sub.received.iter().map(|p| tag(p)).collect();
        assert!(tags[0].4, "starts on a keyframe");
        assert!(tags.iter().all(|t| usize::from(t.0) == layer));
        let got: Vec<(u32, u8)> = tags.iter().map(|t| (t.2, t.3)).collect();
        let sent = &node.pubs[0].layers[layer].sent;
        assert_eq!(
            got,
            sent[sent.len() - got.len()..],
            "subscriber {i} missed or reordered packets"
        );
        assert!(got.len() >= 119 * usize::from(PACKETS_PER_FRAME[layer]));
    }
}

#[test]
fn layer_switch_starts_the_new_layer_with_a_keyframe() {
    let mut node = Node::new(1);
    let s = node.subscribe(0, 2);
    for _ in 0..30 {
        node.step();
    }
    node.subs[s].fwd.set_bandwidth(node.now, Some(300_000));
    node.subs[s]
        .fwd
        .set_layer_bitrates(node.now, [Some(150_000), Some(500_000), Some(1_500_000)]);
    for _ in 0..30 {
        node.step();
    }
    let tags: Vec<_> = node.subs[s].received.iter().map(|p| tag(p)).collect();
    let first_low = tags.iter().position(|t| t.0 == 0).expect("switched down");
    assert!(
        tags[first_low].4,
        "first packet of the new layer is a keyframe"
    );
    assert!(
        tags[..first_low].iter().all(|t| t.0 == 2) && tags[first_low..].iter().all(|t| t.0 == 0)
    );
    assert_continuous(&node.subs[s].received, 50_000);
}

#[test]
fn source_switch_keeps_sequence_contiguous_and_timestamps_monotonic() {
    let mut node = Node::new(2);
    let s = node.subscribe(0, 1);
    for _ in 0..30 {
        node.step();
    }
    let (now, other) = (node.now, node.pubs[1].id);
    // The request reaches the publisher only after its next (delta) frame went out.
    node.subs[s].fwd.switch_source(now, other, [Some(0); 3]);
    for _ in 0..30 {
        node.step();
    }
    let tags: Vec<_> = node.subs[s].received.iter().map(|p| tag(p)).collect();
    let first_b = tags.iter().position(|t| t.1 == 2).expect("switched source");
    assert!(
        tags[first_b].4 && tags[first_b].0 == 1,
        "new source starts with a layer-1 keyframe"
    );
    assert!(tags[first_b..].iter().all(|t| t.1 == 2));
    assert_continuous(&node.subs[s].received, 50_000);
}

#[test]
fn keyframe_requests_of_twenty_subscribers_yield_one_pli_per_interval() {
    let t0 = Instant::now();
    let mut throttle = KeyframeThrottle::default();
    let mut plis = Vec::new();
    let mut subs: Vec<Forwarder> = (0..20)
        .map(|i| Forwarder::new(t0, config(i, 2), StreamId(1)))
        .collect();
    for f in &mut subs {
        while f.poll_output().is_some() {} // the start-up requests are not part of this test
    }
    for ms in (0..2000u64).step_by(5) {
        let now = t0 + Duration::from_millis(ms);
        if let Some(f) = subs.get_mut(ms as usize / 5) {
            f.request_keyframe(); // subscriber i asks at 5·i ms: all within 100 ms
        }
        for f in &mut subs {
            while let Some(out) = f.poll_output() {
                if let ForwarderOutput::RequestKeyframe(feed) = out {
                    throttle.handle_request(now, feed.layer);
                }
            }
        }
        throttle.handle_timeout(now);
        while let Some(layer) = throttle.poll_output() {
            plis.push((now - t0, layer));
        }
    }
    // One at once, one for the requests that came during the interval, then quiet.
    assert_eq!(plis, [(Duration::ZERO, 2), (DEFAULT_THROTTLE, 2)]);
}
