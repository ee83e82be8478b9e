//! The cascade's step 2b (docs/cluster.md): a hall's media goes to its own node. Three
//! nodes in one process, each with its own SFU on 127.0.0.1, bridge and NATS connection
//! (127.0.0.1:4222), over one store (PostgreSQL with `TEST_BACKEND=postgres`). The
//! meeting's home room is on node a (the host joined there); a hall whose socket came
//! through node b is placed on b's SFU — its answer's candidates carry b's media port —
//! and publishes there; the home room gives it the floor; two halls through node c are
//! placed on c's SFU, and one through a on a's, receive its video and audio over the
//! relays b → c and b → a: b sends each packet once per watching node, not per viewer. Also: placement by `media_regions`, a
//! silent media node's halls failed and placed on the home, and the active speaker
//! found on each media node and merged by the home room.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::nodes::{
    candidate_ports, meeting_with_halls, negotiate, node, node_of, node_over, node_with, shown,
};
use common::store::invited;
use common::{quiet, wait_until};
use serde_json::json;
use sfu::testclient::speaking::Speaking;
use sfu::testclient::TestClient;
use signaling::protocol::ServerMessage;
use signaling::{Signaling, SignalingConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_placed_on_its_own_node_is_seen_over_one_relay_per_node() {
    let (db, m, halls) = meeting_with_halls("Giao ban nhiều nút", 4).await;
    let (hall_b, hall_c1, hall_c2, hall_a) = (halls[0], halls[1], halls[2], halls[3]);
    let run = std::process::id();
    let a = node(&db.store, &format!("pa-{run}")).await;
    let b = node(&db.store, &format!("pb-{run}")).await;
    let c = node(&db.store, &format!("pc-{run}")).await;
    let port = |s: &Signaling| s.sfu().local_addr().port();
    // Each node has heard the others beat (placement takes living nodes only).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The host (node a, the home) publishes on a's SFU.
    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let host_media = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut host, &host_media).await;
    assert_eq!(candidate_ports(&sdp), [port(&a)], "the host's media on a");
    let _host_sending = host_media.start_publishing().await.expect("sending");

    // Hall b, through node b: placed on b's SFU, not the home's.
    let mut page_b = invited(&b, &db.store, m.id, hall_b).await;
    page_b.welcome().await;
    let b_media = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page_b, &b_media).await;
    assert_eq!(
        candidate_ports(&sdp),
        [port(&b)],
        "b's answer carries b's media port, not a's {}",
        port(&a)
    );
    let b_sending = b_media.start_publishing().await.expect("sending");

    // Two halls through node c, placed on c's SFU, and one through a (on the home's SFU),
    // each with two video and two audio slots: the host's at first (c watches it from a).
    let mut viewers = Vec::new();
    for (node, hall) in [(&c, hall_c1), (&c, hall_c2), (&a, hall_a)] {
        let mut page = invited(node, &db.store, m.id, hall).await;
        page.welcome().await;
        let client = TestClient::subscriber(2, 2).await.expect("subscriber");
        let (sdp, slots) = negotiate(&mut page, &client).await;
        assert_eq!(candidate_ports(&sdp), [port(node)], "each hall on its node");
        assert_eq!(slots.len(), 4);
        viewers.push((page, client));
    }
    for (_, client) in &viewers {
        wait_until("the host's video and audio reach c's halls", || {
            client.received().values().filter(|p| p.len() >= 20).count() == 2
        })
        .await;
    }

    // The home room gives b's hall the floor: every viewer shows it, over the relays
    // b → c and b → a.
    host.send(json!({"type": "give_floor", "hall_id": hall_b}));
    let mut before = Vec::new();
    for (page, client) in &mut viewers {
        shown(page, hall_b, 2).await;
        before.push(client.received().values().map(Vec::len).sum::<usize>());
    }
    let relayed_before = b.sfu().port_stats().await.expect("b").nodes.packets_out;
    let published_before = b_sending.sent.video.load(Relaxed) + b_sending.sent.audio.load(Relaxed);
    for ((_, client), &had) in viewers.iter().zip(&before) {
        wait_until("b's video and audio reach every viewer", || {
            let received = client.received();
            received.values().filter(|p| p.len() >= 20).count() == 4
                && received.values().map(Vec::len).sum::<usize>() >= had + 80
        })
        .await;
    }
    let (sb, sc) = (
        b.sfu().port_stats().await.expect("b"),
        c.sfu().port_stats().await.expect("c"),
    );
    let published =
        b_sending.sent.video.load(Relaxed) + b_sending.sent.audio.load(Relaxed) - published_before;
    let relayed = sb.nodes.packets_out - relayed_before;
    println!(
        "b published {published} packets meanwhile and relayed {relayed}; b {:?}; c {:?}",
        sb.nodes, sc.nodes
    );
    assert!(relayed > 0, "b relays: {sb:?}");
    assert!(
        relayed <= 2 * published + 10,
        "once per packet per watching node (two), not per viewer (three): {relayed} relayed for {published} published"
    );
    assert_eq!(sc.nodes.auth_failures, 0, "{sc:?}");
    assert_eq!(
        (a.room_count(), b.room_count(), c.room_count()),
        (1, 0, 0),
        "one room, on the home node"
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_regions_place_a_hall_on_its_units_node() {
    let (db, m, others) = meeting_with_halls("Giao ban theo vùng", 2).await;
    let (listed, unlisted) = (others[0], others[1]);
    // The listed hall's unit's parent (an ancestor) is b's; a unit of a node that does
    // not beat is not used.
    let unit = db.store.hall(listed).await.expect("hall").unit_id;
    let chain = db.store.unit_ancestry(unit).await.expect("ancestry");
    let ancestor = chain[chain.len() - 2].id;
    let other_unit = db.store.hall(unlisted).await.expect("hall").unit_id;
    let run = std::process::id();
    let (a_name, b_name) = (format!("ra-{run}"), format!("rb-{run}"));
    let regions = BTreeMap::from([
        (b_name.clone(), vec![ancestor]),
        (format!("rgone-{run}"), vec![other_unit]),
    ]);
    let a = node_with(&db.store, &a_name, regions).await;
    let b = node(&db.store, &b_name).await;
    let port = |s: &Signaling| s.sfu().local_addr().port();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    // Through node a (the home), but its unit is under b's region: its media on b.
    let mut page = invited(&a, &db.store, m.id, listed).await;
    page.welcome().await;
    let client = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page, &client).await;
    assert_eq!(candidate_ports(&sdp), [port(&b)], "placed by its region");
    // Its region's node does not beat: the home's SFU.
    let mut page = invited(&a, &db.store, m.id, unlisted).await;
    page.welcome().await;
    let client = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page, &client).await;
    assert_eq!(
        candidate_ports(&sdp),
        [port(&a)],
        "a dead region falls back"
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_media_node_fails_its_halls_and_they_come_back_on_the_home() {
    let (db, m, halls) = meeting_with_halls("Giao ban mất nút", 1).await;
    let hall = halls[0];
    let unit = db.store.hall(hall).await.expect("hall").unit_id;
    let run = std::process::id();
    let (a_name, b_name) = (format!("fa-{run}"), format!("fb-{run}"));
    let regions = BTreeMap::from([(b_name.clone(), vec![unit])]);
    let a = node_with(&db.store, &a_name, regions).await;
    let (b, b_nats) = node_over(&db.store, &b_name, BTreeMap::new()).await;
    let port = |s: &Signaling| s.sfu().local_addr().port();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let mut page = invited(&a, &db.store, m.id, hall).await;
    page.welcome().await;
    let client = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page, &client).await;
    assert_eq!(candidate_ports(&sdp), [port(&b)], "placed on b");

    // Node b goes silent: within its 3 s of silence (and a beat) the home fails the
    // hall's peer there, and the page is told to offer again…
    let silent = std::time::Instant::now();
    b_nats.drain().await.expect("drained");
    let code = page.error().await;
    let after = silent.elapsed();
    println!("the page was told {code:?} {after:?} after b went silent");
    assert_eq!(code, signaling::protocol::ErrorCode::MediaFailed);
    assert!(after < Duration::from_secs(6), "{after:?}");
    // …which places it on the home now (b does not beat).
    let client = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page, &client).await;
    assert_eq!(candidate_ports(&sdp), [port(&a)], "back on the home");
    // Node b, not hearing the home, closed the peer it held for it.
    let deadline = std::time::Instant::now() + common::WAIT;
    while b.sfu().port_stats().await.expect("b").connections > 0 {
        assert!(std::time::Instant::now() < deadline, "b kept the peer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_speaker_is_merged_from_each_media_nodes_loudest() {
    let (db, m, halls) = meeting_with_halls("Giao ban ai đang nói", 1).await;
    let hall_b = halls[0];
    let run = std::process::id();
    let config = || SignalingConfig {
        halls_join_muted: false, // every hall may speak
        ..quiet()
    };
    let (a, _) = node_of(&db.store, &format!("sa-{run}"), config()).await;
    let (b, _) = node_of(&db.store, &format!("sb-{run}"), config()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let host_media = TestClient::publisher().await.expect("publisher");
    negotiate(&mut host, &host_media).await;
    let mut page_b = invited(&b, &db.store, m.id, hall_b).await;
    page_b.welcome().await;
    let b_media = TestClient::publisher().await.expect("publisher");
    let (sdp, _) = negotiate(&mut page_b, &b_media).await;
    assert_eq!(candidate_ports(&sdp), [b.sfu().local_addr().port()]);
    let speaks = |hall: i64| {
        move |m: &ServerMessage| match m {
            ServerMessage::ActiveSpeaker { hall_id } => (*hall_id == Some(hall)).then_some(()),
            _ => None,
        }
    };
    // The host speaks on a (the home's SFU): both pages are told.
    let mics: Vec<Speaking> = vec![
        host_media.start_speaking(20).await.expect("speaking"),
        b_media.start_speaking(127).await.expect("speaking"),
    ];
    host.expect("the host speaks", speaks(m.host_hall_id)).await;
    page_b
        .expect("the host speaks", speaks(m.host_hall_id))
        .await;
    // The host falls silent and b's hall speaks on b's SFU: b's loudest is the meeting's.
    mics[0].set_level(127);
    mics[1].set_level(10);
    host.expect("b's hall speaks", speaks(hall_b)).await;
    page_b.expect("b's hall speaks", speaks(hall_b)).await;
    // And back: the home's loudest again.
    mics[1].set_level(127);
    mics[0].set_level(20);
    host.expect("the host speaks again", speaks(m.host_hall_id))
        .await;
    for mic in mics {
        mic.stop().await;
    }
    db.cleanup().await;
}
