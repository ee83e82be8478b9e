//! The cascade's relays set up over NATS (docs/cluster.md, "The cascade", step 2): two
//! nodes in one process, each with its own SFU on 127.0.0.1, its own bridge and NATS
//! connection (127.0.0.1:4222), over one store. A publisher (`sfu::testclient`) sends to
//! node y's SFU; node x watches its camera and microphone with `Bridge::watch_stream` and
//! two subscribers on x's SFU show them: they receive the publisher's packets, each of
//! which crossed the relay once. Unwatching stops y's export; y's bridge going away
//! (its NATS connection drained: no more beats) unlinks it on x and the slots go dark.
//! Two nodes watching each other share one link; an origin restarted under its name (a
//! new run, SFU and keys) is linked anew at the next watch.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use common::{quiet, wait_until};
use scheduler::testing::{demo_db, test_backend};
use scheduler::Store;
use sfu::testclient::{Publishing, TestClient};
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuEvent, StreamId};
use signaling::bridge::MediaError;
use signaling::{Bridge, Signaling};
use tokio::sync::mpsc;

const NATS: &str = "nats://127.0.0.1:4222";

/// One node: its SFU (with the tracks published on it told to the test), its bridge and
/// the NATS connection the bridge uses.
struct Node {
    sfu: Sfu,
    bridge: Arc<Bridge>,
    nats: async_nats::Client,
    published: mpsc::UnboundedReceiver<(MediaKind, StreamId)>,
    _signaling: Signaling,
}

/// A node's SFU (the tracks published on it told to the test) and service, before its
/// bridge starts.
struct Unbridged {
    sfu: Sfu,
    published: mpsc::UnboundedReceiver<(MediaKind, StreamId)>,
    signaling: Signaling,
}

fn unbridged() -> Unbridged {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("an SFU");
    let (to_signaling, from_sfu) = mpsc::channel(1024);
    let (told, published) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let SfuEvent::TrackPublished { kind, track, .. } = &event {
                let _ = told.send((*kind, *track));
            }
            let _ = to_signaling.send(event).await;
        }
    });
    let signaling = Signaling::with_sfu(sfu.clone(), from_sfu, quiet());
    Unbridged {
        sfu,
        published,
        signaling,
    }
}

impl Unbridged {
    /// Starts its bridge as node `name`.
    async fn bridged(self, store: &Store, name: &str) -> Node {
        let nats = signaling::bridge::connect(NATS, name).await.expect("NATS");
        let bridge = Bridge::start(&self.signaling, nats.clone(), store.clone().with_node(name))
            .await
            .expect("subscribed");
        let signaling = self.signaling.with_bridge(Arc::clone(&bridge));
        Node {
            sfu: self.sfu,
            bridge,
            nats,
            published: self.published,
            _signaling: signaling,
        }
    }
}

async fn node(store: &Store, name: &str) -> Node {
    unbridged().bridged(store, name).await
}

/// The audio and video counts `client` received on its slots.
fn counts(client: &TestClient, slots: &[(MediaKind, u32)]) -> Vec<usize> {
    slots.iter().map(|&(_, ssrc)| client.count(ssrc)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_watches_another_nodes_stream_over_a_relay_set_up_through_nats() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let run = std::process::id();
    let (x_name, y_name) = (format!("mx-{run}"), format!("my-{run}"));
    let x = node(&db.store, &x_name).await;
    let mut y = node(&db.store, &y_name).await;
    assert_ne!(x.bridge.media_addr(), y.bridge.media_addr());

    // A publisher on y's SFU.
    let publisher = TestClient::publisher().await.expect("publisher");
    let offer = publisher.offer().await.expect("offer");
    let answer = y.sfu.add_peer(PeerId(1), offer).await.expect("answered");
    publisher.accept(answer.sdp).await.expect("applies");
    assert!(publisher.wait_connected(common::WAIT).await, "connects");
    let publishing = publisher.start_publishing().await.expect("publishing");
    let mut tracks = Vec::new();
    while tracks.len() < 2 {
        tracks.push(y.published.recv().await.expect("published"));
    }

    // A stream y does not publish is refused by y.
    let refused = x.bridge.watch_stream(&y_name, StreamId(9_999), &[0]).await;
    assert!(
        matches!(refused, Err(MediaError::Refused { .. })),
        "{refused:?}"
    );

    // x watches both; again: the same local id.
    let mut watched = Vec::new();
    for &(kind, track) in &tracks {
        let local = x
            .bridge
            .watch_stream(&y_name, track, &[0, 1, 2])
            .await
            .expect("watched");
        let again = x.bridge.watch_stream(&y_name, track, &[0, 1, 2]).await;
        assert_eq!(again.expect("watched again"), local);
        watched.push((kind, local));
    }

    // Two subscribers on x's SFU show them.
    let mut subscribers = Vec::new();
    for peer in [PeerId(100), PeerId(101)] {
        let client = TestClient::subscriber(1, 1).await.expect("subscriber");
        let offer = client.offer().await.expect("offer");
        let answer = x.sfu.add_peer(peer, offer).await.expect("answered");
        client.accept(answer.sdp.clone()).await.expect("applies");
        assert!(client.wait_connected(common::WAIT).await, "connects");
        let mut slots = Vec::new();
        for slot in &answer.slots {
            let local = watched.iter().find(|w| w.0 == slot.kind).expect("kind").1;
            let layer = if slot.kind == MediaKind::Video { 2 } else { 0 };
            x.sfu
                .subscribe(peer, slot.id, local, layer)
                .await
                .expect("shown");
            slots.push((slot.kind, slot.ssrc));
        }
        subscribers.push((peer, client, answer.slots, slots));
    }
    for (peer, client, _, slots) in &subscribers {
        wait_until(
            &format!("{peer:?} receives y's publisher through x"),
            || counts(client, slots).iter().all(|&n| n >= 40),
        )
        .await;
    }
    // Each packet crossed once, although two subscribers on x show it.
    let (sy, sx) = (
        y.sfu.port_stats().await.expect("y"),
        x.sfu.port_stats().await.expect("x"),
    );
    let published = publishing.sent.video.load(Relaxed) + publishing.sent.audio.load(Relaxed);
    let received: usize = subscribers
        .iter()
        .map(|(_, c, _, s)| counts(c, s).iter().sum::<usize>())
        .sum();
    println!(
        "published {published}; y {:?}; x {:?}; two subscribers received {received}",
        sy.nodes, sx.nodes
    );
    assert!(
        sy.nodes.packets_out > 0 && sy.nodes.packets_out <= published,
        "{sy:?}"
    );
    assert!(sx.nodes.packets_in >= 80, "{sx:?}");
    assert_eq!(sx.nodes.auth_failures, 0, "{sx:?}");
    assert!(received as u64 > sx.nodes.packets_in, "fanned out on x");

    // x unwatches the microphone: its slots go dark, the camera's go on.
    let (_, client, _, slots) = &subscribers[0];
    let audio = watched
        .iter()
        .find(|w| w.0 == MediaKind::Audio)
        .expect("audio")
        .1;
    x.bridge.unwatch_stream(audio).await.expect("unwatched");
    tokio::time::sleep(Duration::from_millis(300)).await; // in flight
    let before = counts(client, slots);
    let video_at = slots
        .iter()
        .position(|s| s.0 == MediaKind::Video)
        .expect("video");
    wait_until("the camera goes on", || {
        client.count(slots[video_at].1) >= before[video_at] + 20
    })
    .await;
    let after = counts(client, slots);
    let audio_at = 1 - video_at;
    assert_eq!(after[audio_at], before[audio_at], "the microphone is dark");
    // …and the camera too: nothing more leaves y while the publisher goes on.
    let video = watched
        .iter()
        .find(|w| w.0 == MediaKind::Video)
        .expect("video")
        .1;
    x.bridge.unwatch_stream(video).await.expect("unwatched");
    assert!(x.bridge.watched_streams().await.is_empty());
    let out = y.sfu.port_stats().await.expect("y").nodes.packets_out;
    let sent = publishing.sent.video.load(Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        publishing.sent.video.load(Relaxed) > sent,
        "still publishing"
    );
    assert_eq!(
        y.sfu.port_stats().await.expect("y").nodes.packets_out,
        out,
        "y stopped exporting"
    );
    assert!(matches!(
        x.bridge.unwatch_stream(video).await,
        Err(MediaError::Sfu(_))
    ));

    // Watched again (the link stays): the first subscriber's slots show it again.
    let (peer, client, answer_slots, slots) = &subscribers[0];
    for &(kind, track) in &tracks {
        let local = x
            .bridge
            .watch_stream(&y_name, track, &[0, 1, 2])
            .await
            .expect("watched again");
        let slot = answer_slots.iter().find(|s| s.kind == kind).expect("slot");
        let layer = if kind == MediaKind::Video { 2 } else { 0 };
        x.sfu
            .subscribe(*peer, slot.id, local, layer)
            .await
            .expect("shown");
    }
    let before = counts(client, slots);
    wait_until("the slots show y's publisher again", || {
        counts(client, slots)
            .iter()
            .zip(&before)
            .all(|(n, b)| *n >= b + 20)
    })
    .await;

    // y's bridge goes away (its NATS connection drained: no beats, no answers) while
    // its SFU goes on sending: x unlinks y and the slots go dark.
    y.nats.drain().await.expect("drained");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !x.bridge.watched_streams().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "x forgets y's streams"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // in flight
    let before = counts(client, slots);
    let dropped = x.sfu.port_stats().await.expect("x").nodes.packets_in;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        publishing.sent.video.load(Relaxed) > sent,
        "still publishing"
    );
    assert_eq!(counts(client, slots), before, "the slots went dark");
    assert_eq!(
        x.sfu.port_stats().await.expect("x").nodes.packets_in,
        dropped,
        "nothing more is taken from y"
    );
    // A watch of the gone node is not answered.
    let gone = x.bridge.watch_stream(&y_name, tracks[0].1, &[0]).await;
    assert!(matches!(gone, Err(MediaError::Unreachable(_))), "{gone:?}");
    publishing.stop().await;
}

/// A publisher on `node`'s SFU as hall `peer`: the client, what keeps it sending, and
/// its camera's track.
async fn publisher_on(
    sfu: &Sfu,
    published: &mut mpsc::UnboundedReceiver<(MediaKind, StreamId)>,
    peer: PeerId,
) -> (TestClient, Publishing, StreamId) {
    let publisher = TestClient::publisher().await.expect("publisher");
    let offer = publisher.offer().await.expect("offer");
    let answer = sfu.add_peer(peer, offer).await.expect("answered");
    publisher.accept(answer.sdp).await.expect("applies");
    assert!(publisher.wait_connected(common::WAIT).await, "connects");
    let publishing = publisher.start_publishing().await.expect("publishing");
    loop {
        let (kind, track) = published.recv().await.expect("published");
        if kind == MediaKind::Video {
            return (publisher, publishing, track);
        }
    }
}

/// A subscriber on `node`'s SFU as hall `peer` with one video slot showing `track`:
/// the client and the slot's SSRC.
async fn viewer_on(node: &Node, peer: PeerId, track: StreamId) -> (TestClient, u32) {
    let client = TestClient::subscriber(1, 0).await.expect("subscriber");
    let offer = client.offer().await.expect("offer");
    let answer = node.sfu.add_peer(peer, offer).await.expect("answered");
    client.accept(answer.sdp.clone()).await.expect("applies");
    assert!(client.wait_connected(common::WAIT).await, "connects");
    let slot = &answer.slots[0];
    node.sfu
        .subscribe(peer, slot.id, track, 2)
        .await
        .expect("shown");
    (client, slot.ssrc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_watch_each_other_and_a_restarted_origin_is_linked_anew() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let run = std::process::id();
    let (x_name, y_name) = (format!("mx2-{run}"), format!("my2-{run}"));
    let mut x = node(&db.store, &x_name).await;
    let mut y = node(&db.store, &y_name).await;

    // Each node watches the other's publisher: the pair's one link carries both ways.
    let (_px, _sending_x, camera_x) = publisher_on(&x.sfu, &mut x.published, PeerId(1)).await;
    let (_py, sending_y, camera_y) = publisher_on(&y.sfu, &mut y.published, PeerId(2)).await;
    let (on_x, on_y) = tokio::join!(
        x.bridge.watch_stream(&y_name, camera_y, &[0, 1, 2]),
        y.bridge.watch_stream(&x_name, camera_x, &[0, 1, 2]),
    );
    let (viewer_x, ssrc_x) = viewer_on(&x, PeerId(100), on_x.expect("x watches y")).await;
    let (viewer_y, ssrc_y) = viewer_on(&y, PeerId(100), on_y.expect("y watches x")).await;
    wait_until("each node's viewer sees the other node's camera", || {
        viewer_x.count(ssrc_x) >= 40 && viewer_y.count(ssrc_y) >= 40
    })
    .await;
    let (sx, sy) = (
        x.sfu.port_stats().await.expect("x").nodes,
        y.sfu.port_stats().await.expect("y").nodes,
    );
    println!("both ways: x {sx:?}; y {sy:?}");
    assert_eq!((sx.auth_failures, sy.auth_failures), (0, 0));
    assert!(sx.packets_in > 0 && sx.packets_out > 0 && sy.packets_in > 0);

    // y restarts under its name (a new run, SFU and keys); x watches its new camera as
    // soon as its bridge starts — most often before x's sweep has heard the new run's
    // beat: x's watch finds a new run, drops the old link and links the new y (else the
    // sweep dropped it first).
    // (The old run's media stops with it: only the new run's can reach x's viewer.)
    sending_y.stop().await;
    y.nats.drain().await.expect("drained");
    let mut y2 = unbridged();
    let (_py2, _sending_y2, camera_y2) = publisher_on(&y2.sfu, &mut y2.published, PeerId(3)).await;
    let y2 = y2.bridged(&db.store, &y_name).await;
    // A round trip through the server on y's connection: its subscriptions are in.
    let nobody = y2.nats.request("hoinghi.test.nobody", "".into()).await;
    assert!(nobody.is_err(), "no responder");
    let on_x = x
        .bridge
        .watch_stream(&y_name, camera_y2, &[0, 1, 2])
        .await
        .expect("x watches the new y");
    let (viewer_x2, ssrc_x2) = viewer_on(&x, PeerId(101), on_x).await;
    wait_until("x's viewer sees the restarted y's camera", || {
        viewer_x2.count(ssrc_x2) >= 40
    })
    .await;
    let watched = x.bridge.watched_streams().await;
    assert_eq!(
        watched,
        [(y_name.clone(), camera_y2, on_x)],
        "the old y's is gone"
    );
    let sx = x.sfu.port_stats().await.expect("x").nodes;
    println!("after y's restart: x {sx:?}");
    assert_eq!(sx.auth_failures, 0, "{sx:?}");
}
