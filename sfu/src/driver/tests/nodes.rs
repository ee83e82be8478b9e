//! Two SFU nodes in memory, linked by the relay (docs/sfu-driver.md, "The relay between
//! nodes"): a publisher on node A reaches viewers on node B with each packet crossing
//! once, a relay packet lost (or tampered with) on the way is repaired by NACK for every
//! viewer, B's viewers' keyframe requests reach A's publisher throttled. Streams and
//! links coming and going: `lifecycle`; three nodes, two hops: `hops`.

use super::client::{Hall, Received};
use super::connect::addr;
use super::net::{Fault, Net, SFU, SFU_B};
use super::workers::{number, send, show, stats};
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::driver::node::{NodeKeys, RemoteStream, SrtpKey};
use crate::driver::peer::TrackCodec;
use crate::event::{MediaKind, PeerAnswer, PeerId};
use crate::StreamId;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;

const PUBLISHER: PeerId = PeerId(1);

/// A key the test makes up (the cluster will carry real ones over NATS).
fn key(n: u8) -> SrtpKey {
    SrtpKey {
        key: [n; 16],
        salt: [n ^ 0x5a; 12],
    }
}

/// Links node drivers `x` (at `xa`) and `y` (at `ya`) with keys `k` and `k + 1`.
pub(super) fn link(
    net: &mut Net,
    (x, xa): (usize, SocketAddr),
    (y, ya): (usize, SocketAddr),
    k: u8,
) {
    for (d, addr, (send, receive)) in [(x, ya, (k, k + 1)), (y, xa, (k + 1, k))] {
        let keys = NodeKeys {
            send: key(send),
            receive: key(receive),
        };
        let linked = net.ask_on(d, |reply| Command::LinkNode { addr, keys, reply });
        assert_eq!(linked, Ok(()));
    }
}

/// Node `origin` (driver `o`) exports `stream`'s `layers` (bit `i`: layer `i`) to the
/// node at `to` (driver `w`), which watches it: its id there.
pub(super) fn relay(
    net: &mut Net,
    (o, origin): (usize, SocketAddr),
    (w, to): (usize, SocketAddr),
    (kind, stream): (MediaKind, StreamId),
    layers: u8,
) -> StreamId {
    let exported = net.ask_on(o, |reply| Command::Export {
        stream,
        to,
        layers,
        reply,
    });
    assert_eq!(exported, Ok(()));
    let codec = match kind {
        MediaKind::Audio => TrackCodec::Opus,
        MediaKind::Video => TrackCodec::Vp8,
    };
    let remote = RemoteStream {
        stream,
        owner: PUBLISHER,
        kind,
        codec,
    };
    let local = net.ask_on(w, |reply| Command::WatchRemote {
        from: origin,
        remote,
        reply,
    });
    local.expect("watched")
}

/// Node A (driver 0) and node B (drivers 1..=b_workers), a publisher on A and
/// `viewers` halls on B (spread over B's workers, `slots` each), linked and B watching
/// A's camera and microphone, shown in every viewer's slots: (net, B's viewers with
/// their driver and answer, A's tracks, B's ids for them).
struct Cascade {
    net: Net,
    viewers: Vec<(PeerId, usize, PeerAnswer)>,
    tracks: Vec<(MediaKind, StreamId)>,
    watched: Vec<(MediaKind, StreamId)>,
}

fn cascade(viewers: usize, b_workers: usize, slots: (usize, usize)) -> Cascade {
    cascade_on((1, 0), viewers, b_workers, slots)
}

/// [`cascade`] with node A of `a.0` workers, the publisher on A's worker `a.1` (the
/// relay link is on worker 0 of each node).
fn cascade_on(
    a: (usize, usize),
    viewers: usize,
    b_workers: usize,
    slots: (usize, usize),
) -> Cascade {
    let mut net = Net::nodes(SfuConfig::default(), &[a.0, b_workers]);
    let now = net.now;
    net.join_on(a.1, PUBLISHER, Hall::new(now, addr(1), true, (0, 0)));
    let first_b = a.0; // node B's first driver
    let mut joined = Vec::new();
    for i in 0..viewers {
        let peer = PeerId(10 + i as u64);
        let d = first_b + i % b_workers;
        let hall = Hall::new(now, addr(10 + i as u8), false, slots);
        joined.push((peer, d, net.join_on(d, peer, hall)));
    }
    net.connect_all();
    let (tracks, _) = net.publish(PUBLISHER);
    link(&mut net, (0, SFU), (first_b, SFU_B), 1);
    let watched: Vec<_> = tracks
        .iter()
        .map(|&track| {
            let on_b = relay(&mut net, (0, SFU), (first_b, SFU_B), track, 0b111);
            (track.0, on_b)
        })
        .collect();
    for (peer, d, answer) in &joined {
        let results = show(&mut net, *d, (*peer, answer), &watched);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    Cascade {
        net,
        viewers: joined,
        tracks,
        watched,
    }
}

/// A viewer's packets on slot `ssrc` in the order of the slot's numbering: each
/// sequence number once, with no gap, and the publisher's packets in their order.
fn check_slot(net: &mut Net, viewer: PeerId, ssrc: u32, at_least: usize) -> Vec<u32> {
    let mut run: Vec<Received> = net.hall(viewer).received.clone();
    run.retain(|r| r.ssrc == ssrc);
    assert!(run.len() >= at_least, "{viewer:?}: {} packets", run.len());
    let first = run[0].seq;
    run.sort_by_key(|r| r.seq.wrapping_sub(first));
    for pair in run.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "{viewer:?}: each once, no gap"
        );
        assert_eq!(
            number(&pair[1]),
            number(&pair[0]) + 1,
            "{viewer:?}: in order"
        );
    }
    run.iter().map(number).collect()
}

#[test]
fn a_publisher_on_one_node_reaches_viewers_on_another_once_per_packet() {
    let Cascade {
        mut net, viewers, ..
    } = cascade(3, 2, (1, 1));
    let before = (stats(&mut net, 0).nodes, stats(&mut net, 1).router.relayed);
    send(&mut net, PUBLISHER, 100, 60);
    for (peer, _, answer) in &viewers {
        for slot in &answer.slots {
            let got = check_slot(&mut net, *peer, slot.ssrc, 55);
            assert_eq!(got.last(), Some(&159), "{peer:?} {:?}", slot.kind);
        }
    }
    let (a, b) = (stats(&mut net, 0).nodes, stats(&mut net, 1));
    // 60 frames of camera and microphone: 120 packets, each sent to node B once
    // although three halls there show them; B's link worker hands each once to B's
    // other worker (one viewer there).
    assert_eq!(a.packets_out - before.0.packets_out, 120, "{a:?}");
    assert_eq!(b.nodes.packets_in, a.packets_out, "{b:?}");
    assert_eq!(b.router.relayed - before.1, 120, "{b:?}");
    assert_eq!((b.nodes.auth_failures, b.nodes.dropped), (0, 0), "{b:?}");
    assert_eq!(b.mirrors, 2, "B receives camera and microphone from A");
}

#[test]
fn a_stream_homed_on_another_worker_of_the_origin_crosses_once_too() {
    // A's publisher on its worker 1, the link with B on its worker 0: worker 1 hands
    // each packet once to worker 0, which sends it once to B.
    let Cascade {
        mut net, viewers, ..
    } = cascade_on((2, 1), 2, 1, (1, 1));
    let before = stats(&mut net, 0).nodes.packets_out;
    send(&mut net, PUBLISHER, 100, 30);
    for (peer, _, answer) in &viewers {
        for slot in &answer.slots {
            let got = check_slot(&mut net, *peer, slot.ssrc, 28);
            assert_eq!(got.last(), Some(&129), "{peer:?} {:?}", slot.kind);
        }
    }
    let (link, home) = (stats(&mut net, 0), stats(&mut net, 1));
    assert_eq!(link.nodes.packets_out - before, 60, "{link:?}");
    assert_eq!(
        link.mirrors, 2,
        "A's link worker mirrors the stream: {link:?}"
    );
    assert!(home.router.relayed >= 60, "{home:?}");
    let b = stats(&mut net, 2);
    assert_eq!(b.nodes.packets_in, link.nodes.packets_out, "{b:?}");
}

#[test]
fn a_relay_packet_lost_between_nodes_is_repaired_once_for_every_viewer() {
    let Cascade {
        mut net, viewers, ..
    } = cascade(2, 1, (1, 0));
    send(&mut net, PUBLISHER, 100, 20);
    net.relay_fault = Some(Fault::Lose);
    send(&mut net, PUBLISHER, 120, 40);
    assert_eq!(net.relay_fault, None, "a packet was lost");
    for (peer, _, answer) in &viewers {
        let got = check_slot(&mut net, *peer, answer.slots[0].ssrc, 55);
        assert!(got.contains(&120) && got.last() == Some(&159), "{peer:?}");
    }
    let (a, b) = (stats(&mut net, 0), stats(&mut net, 1));
    assert_eq!(b.nodes.repaired, 1, "{b:?}");
    assert_eq!(
        a.nodes.retransmitted, 1,
        "once for the node, not per viewer: {a:?}"
    );
    assert!(b.nodes.nacks_sent >= 1, "{b:?}");
    assert_eq!(a.nacks.sent, 0, "nothing asked of the publisher: {a:?}");
}

#[test]
fn a_tampered_relay_datagram_is_dropped_counted_and_repaired() {
    let Cascade {
        mut net, viewers, ..
    } = cascade(1, 1, (1, 0));
    send(&mut net, PUBLISHER, 100, 20);
    net.relay_fault = Some(Fault::Tamper);
    send(&mut net, PUBLISHER, 120, 40);
    let b = stats(&mut net, 1);
    assert_eq!(b.nodes.auth_failures, 1, "{b:?}");
    assert_eq!(b.nodes.repaired, 1, "asked for again: {b:?}");
    let (peer, _, answer) = &viewers[0];
    let got = check_slot(&mut net, *peer, answer.slots[0].ssrc, 55);
    assert!(
        got.contains(&120),
        "the tampered packet's repair reached the viewer"
    );
    // Anything but SRTP/SRTCP from a linked node's address is dropped there, and
    // never reaches a hall's connection.
    let now = net.now;
    let stun_like = BytesMut::from(&[0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42][..]);
    net.worker(1).handle_datagram(now, SFU, stun_like);
    let after = stats(&mut net, 1);
    assert_eq!(after.nodes.dropped, b.nodes.dropped + 1, "{after:?}");
    assert_eq!(after.unrouted, b.unrouted, "{after:?}");
}

#[test]
fn twenty_viewers_asking_keyframes_make_one_pli_per_interval_on_the_publisher() {
    let Cascade {
        mut net, viewers, ..
    } = cascade(20, 1, (1, 0));
    let throttle = SfuConfig::default().keyframe_throttle;
    // The camera goes on without a keyframe while twenty slots subscribed on B wait
    // for one, asking again and again.
    let frames = (throttle * 4).as_millis() as u32 / 20;
    for n in 0..frames {
        let now = net.now;
        net.hall(PUBLISHER).send_media(now, n, false);
        net.advance(Duration::from_millis(20));
    }
    let (a, b) = (stats(&mut net, 0), stats(&mut net, 1));
    // At most once per interval per layer (the first requests, before the first
    // relayed packet says which layers arrive, aim at the highest): a handful, not
    // one per viewer and retry.
    assert!(
        (1..=10).contains(&b.nodes.plis_sent),
        "B asks at most once per interval and layer: {b:?}"
    );
    assert_eq!(a.nodes.plis_received, b.nodes.plis_sent, "{a:?}");
    let asked = net.hall(PUBLISHER).keyframe_requests.clone();
    println!(
        "20 viewers on B over {:?}: {} PLIs across the relay, {} on the publisher",
        throttle * 4,
        b.nodes.plis_sent,
        asked.len()
    );
    assert!((1..=6).contains(&asked.len()), "{asked:?}");
    for pair in asked.windows(2) {
        assert!(
            pair[1] - pair[0] >= throttle,
            "throttled: {:?}",
            pair[1] - pair[0]
        );
    }
    // The keyframe comes: every viewer starts on it, and the requests stop.
    send(&mut net, PUBLISHER, 1000, 10);
    let asked = net.hall(PUBLISHER).keyframe_requests.len();
    let sent = stats(&mut net, 1).nodes.plis_sent;
    net.advance(throttle * 3);
    assert_eq!(
        net.hall(PUBLISHER).keyframe_requests.len(),
        asked,
        "answered"
    );
    assert_eq!(stats(&mut net, 1).nodes.plis_sent, sent, "answered");
    for (peer, _, answer) in &viewers {
        let got = check_slot(&mut net, *peer, answer.slots[0].ssrc, 10);
        assert_eq!(got.first(), Some(&1000), "{peer:?} starts on the keyframe");
    }
}

mod hops;
mod lifecycle;
