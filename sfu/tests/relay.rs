//! Two SFU instances ("nodes") over real UDP on 127.0.0.1, linked by the relay
//! (docs/sfu-driver.md, "The relay between nodes"): a Rust publisher on node A, two
//! Rust subscribers on node B; B watches A's camera and microphone through
//! `Sfu::link_node`, `export` and `watch_remote`, with keys the test makes up. Each
//! packet crosses once for both subscribers. Runs as it is with
//! `SFU_MEDIA_WORKERS=2` (the link then lives on one worker of each node and the front
//! routes the other node's datagrams to it). Bounded waits only.

mod common;

use common::{connect, wait_event, wait_until};
use sfu::testclient::{ReceivedPacket, TestClient};
use sfu::{
    MediaKind, NodeKeys, PeerId, RemoteStream, Sfu, SfuConfig, SfuError, SfuEvent, SrtpKey,
    StreamId, TrackCodec,
};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const PUBLISHER: PeerId = PeerId(1);

fn key(n: u8) -> SrtpKey {
    SrtpKey {
        key: [n; 16],
        salt: [n.wrapping_mul(7); 12],
    }
}

/// The slot's packets: contiguous, one payload type, the publisher's in order.
fn check_in_order(what: &str, packets: &[ReceivedPacket]) {
    assert!(!packets.is_empty(), "{what}: nothing received");
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(b.seq, a.seq.wrapping_add(1), "{what}: contiguous");
        assert!(b.number > a.number, "{what}: in publisher order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_on_node_a_reaches_subscribers_on_node_b_over_the_relay() {
    let (a, mut a_events) = Sfu::start(SfuConfig::default()).expect("node A");
    let (b, _b_events) = Sfu::start(SfuConfig::default()).expect("node B");
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    let publisher = TestClient::publisher().await.expect("publisher");
    connect(&a, PUBLISHER, &publisher).await;
    let publishing = publisher.start_publishing().await.expect("publishing");
    let mut tracks: Vec<(MediaKind, StreamId)> = Vec::new();
    while tracks.len() < 2 {
        tracks.push(
            wait_event(&mut a_events, |e| match e {
                SfuEvent::TrackPublished { kind, track, .. } => Some((*kind, *track)),
                _ => None,
            })
            .await,
        );
    }
    // Unknown node: nothing is linked yet.
    assert_eq!(
        b.watch_remote(
            a_addr,
            RemoteStream {
                stream: tracks[0].1,
                owner: PUBLISHER,
                kind: tracks[0].0,
                codec: TrackCodec::Opus,
            }
        )
        .await,
        Err(SfuError::UnknownNode(a_addr))
    );
    let keys = |send, receive| NodeKeys {
        send: key(send),
        receive: key(receive),
    };
    a.link_node(b_addr, keys(1, 2)).await.expect("A links B");
    b.link_node(a_addr, keys(2, 1)).await.expect("B links A");
    let mut watched = Vec::new();
    for &(kind, track) in &tracks {
        a.export(track, b_addr, &[0, 1, 2]).await.expect("export");
        // What the cluster will carry over NATS.
        let remote = a.describe(track).expect("published on A");
        let codec = match kind {
            MediaKind::Video => TrackCodec::Vp8,
            MediaKind::Audio => TrackCodec::Opus,
        };
        assert_eq!(
            (remote.owner, remote.kind, remote.codec),
            (PUBLISHER, kind, codec)
        );
        let local = b.watch_remote(a_addr, remote).await.expect("watch");
        watched.push((kind, local));
    }
    let mut subscribers = Vec::new();
    for peer in [PeerId(100), PeerId(101)] {
        let client = TestClient::subscriber(1, 1).await.expect("subscriber");
        let answer = connect(&b, peer, &client).await;
        for slot in &answer.slots {
            let track = watched.iter().find(|w| w.0 == slot.kind).expect("kind").1;
            let layer = if slot.kind == MediaKind::Video { 2 } else { 0 };
            b.subscribe(peer, slot.id, track, layer)
                .await
                .expect("subscribe");
        }
        subscribers.push((peer, client, answer.slots));
    }
    for (peer, client, slots) in &subscribers {
        wait_until(&format!("{peer:?} receives through B"), || {
            slots.iter().all(|s| client.count(s.ssrc) >= 40)
        })
        .await;
    }
    let sent = std::sync::Arc::clone(&publishing.sent);
    publishing.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await; // in-flight packets land
    let published = sent.video.load(Relaxed) + sent.audio.load(Relaxed);
    let (sa, sb) = (
        a.port_stats().await.expect("A"),
        b.port_stats().await.expect("B"),
    );
    println!("published {published}; A {:?}; B {:?}", sa.nodes, sb.nodes);
    for (peer, client, slots) in &subscribers {
        let received = client.received();
        for s in slots {
            check_in_order(&format!("{peer:?} {:?}", s.kind), &received[&s.ssrc]);
        }
    }
    // Once per packet for node B, although two subscribers there show it.
    assert!(
        sa.nodes.packets_out as usize <= published as usize,
        "{sa:?}"
    );
    assert!(sb.nodes.packets_in >= 80, "{sb:?}");
    assert_eq!(sb.nodes.auth_failures, 0, "{sb:?}");
    assert!(sb.router.forwarded >= 2 * 80, "B fans out to both: {sb:?}");
}
