//! A receive slot made to carry something else over real UDP on 127.0.0.1: another
//! hall, a hall's new track after it reconnected, a lower simulcast layer when the top
//! one stops. Each time the new media must reach the slot within a bounded wait,
//! starting on a keyframe and continuing the slot's sequence numbers and timestamps
//! (the test client, like a browser, runs SRTP replay protection, so a stream that
//! restarts its numbering on the same SSRC is discarded).

mod common;

use common::simulcast::{self, camera, check_switches, layer, newest_layer};
use common::{connect, wait_event, wait_until};
use sfu::testclient::{Publishing, ReceivedPacket, TestClient};
use sfu::{LayerConfig, MediaKind, PeerId, Sfu, SfuConfig, SfuError, SfuEvent, StreamId};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const VIEWER: PeerId = PeerId(100);

/// A connected hall publishing synthetic media, and its video track.
async fn publisher(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
    peer: PeerId,
) -> (TestClient, Publishing, StreamId) {
    let client = TestClient::publisher().await.expect("publisher");
    connect(sfu, peer, &client).await;
    let publishing = client.start_publishing().await.expect("publishing");
    let video = wait_event(events, |e| match e {
        SfuEvent::TrackPublished {
            peer: p,
            kind: MediaKind::Video,
            track,
            ..
        } if *p == peer => Some(*track),
        _ => None,
    })
    .await;
    (client, publishing, video)
}

/// Waits until the slot is silent; returns how many packets it has received.
async fn silent(viewer: &TestClient, ssrc: u32) -> usize {
    loop {
        let before = viewer.count(ssrc);
        tokio::time::sleep(Duration::from_millis(400)).await;
        if viewer.count(ssrc) == before {
            return before;
        }
    }
}

/// Waits for 30 packets of the new source after the first `before`, then checks that
/// they start on a keyframe and continue the slot's numbering and timestamps.
async fn new_source_arrives(what: &str, viewer: &TestClient, ssrc: u32, before: usize) {
    let started = Instant::now();
    wait_until(&format!("{what}: 30 packets of the new source"), || {
        viewer.count(ssrc) >= before + 30
    })
    .await;
    println!("{what}: new source flowing after {:?}", started.elapsed());
    let packets: Vec<ReceivedPacket> = viewer.received()[&ssrc].clone();
    let first = &packets[before];
    assert!(
        first.keyframe,
        "{what}: the new source starts on a keyframe"
    );
    if before > 0 {
        let last = &packets[before - 1];
        assert_eq!(
            first.seq,
            last.seq.wrapping_add(1),
            "{what}: sequence numbers continue"
        );
        assert!(
            first.timestamp.wrapping_sub(last.timestamp) as i32 > 0,
            "{what}: timestamps move forward"
        );
    }
    for pair in packets[before..].windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "{what}: contiguous"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_follows_another_hall_and_a_reconnected_hall() {
    let config = SfuConfig {
        video_slots: 1,
        audio_slots: 1,
        ..SfuConfig::default()
    };
    let (sfu, mut events) = Sfu::start(config).expect("valid config");
    let (_a, a_publishing, a_video) = publisher(&sfu, &mut events, PeerId(1)).await;
    let (b, b_publishing, b_video) = publisher(&sfu, &mut events, PeerId(2)).await;
    let viewer = TestClient::subscriber(1, 1).await.expect("subscriber");
    let slots = connect(&sfu, VIEWER, &viewer).await.slots;
    let slot = slots[0].clone();
    assert_eq!(slot.kind, MediaKind::Video);

    sfu.subscribe(VIEWER, slot.id, a_video, 2).await.expect("A");
    new_source_arrives("hall A", &viewer, slot.ssrc, 0).await;

    // A stops sending; the slot is pointed at B.
    a_publishing.stop().await;
    let before = silent(&viewer, slot.ssrc).await;
    sfu.subscribe(VIEWER, slot.id, b_video, 2).await.expect("B");
    new_source_arrives("re-subscribed to B", &viewer, slot.ssrc, before).await;

    // B reconnects: its old connection closes, a new one publishes new tracks.
    b.close().await;
    let closed = sfu.close_peer(PeerId(2)).await;
    assert!(matches!(closed, Ok(()) | Err(SfuError::UnknownPeer(_))));
    b_publishing.stop().await;
    wait_event(&mut events, |e| match e {
        SfuEvent::TrackUnpublished { track, .. } if *track == b_video => Some(()),
        _ => None,
    })
    .await;
    let before = silent(&viewer, slot.ssrc).await;
    let (_b2, _b2_publishing, b2_video) = publisher(&sfu, &mut events, PeerId(3)).await;
    sfu.subscribe(VIEWER, slot.id, b2_video, 2)
        .await
        .expect("B'");
    new_source_arrives("B reconnected", &viewer, slot.ssrc, before).await;

    // Unsubscribed and subscribed again: still one continuous stream.
    sfu.unsubscribe(VIEWER, slot.id).await.expect("unsubscribe");
    let before = silent(&viewer, slot.ssrc).await;
    sfu.subscribe(VIEWER, slot.id, b2_video, 2)
        .await
        .expect("again");
    new_source_arrives("subscribed again", &viewer, slot.ssrc, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_falls_back_when_the_top_layer_stops_and_climbs_back_after_the_hold() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let (_camera, layers, video) = camera(&sfu, &mut events).await;
    let (viewer, slot) = simulcast::viewer(&sfu, VIEWER, video, 2).await;
    // A second viewer capped at layer 0 keeps receiving layer 0 only, whatever the
    // top layer does.
    let (capped, capped_slot) = simulcast::viewer(&sfu, PeerId(101), video, 0).await;
    wait_until("layer 2 arrives", || {
        newest_layer(&viewer, slot.ssrc) == Some(2)
    })
    .await;
    wait_until("the capped viewer has 30 packets", || {
        capped.count(capped_slot.ssrc) >= 30
    })
    .await;

    // The browser drops its top layer (as Chrome does under CPU load): the slot falls
    // back to layer 1.
    layers.set_sending(2, false);
    let stopped = Instant::now();
    wait_until("layer 1 replaces layer 2", || {
        newest_layer(&viewer, slot.ssrc) == Some(1)
    })
    .await;
    println!(
        "fell back to layer 1 {:?} after layer 2 stopped",
        stopped.elapsed()
    );
    let before = capped.count(capped_slot.ssrc);
    wait_until("the capped viewer goes on", || {
        capped.count(capped_slot.ssrc) >= before + 10
    })
    .await;

    // Layer 2 resumes: taken back, but only after the hold.
    layers.set_sending(2, true);
    let resumed = Instant::now();
    wait_until("layer 2 is taken back", || {
        newest_layer(&viewer, slot.ssrc) == Some(2)
    })
    .await;
    let back = resumed.elapsed();
    println!("back on layer 2 {back:?} after it resumed");
    assert!(
        back >= LayerConfig::default().step_up_hold,
        "held: {back:?}"
    );
    layers.stop().await;

    check_switches("uncapped", &viewer.received()[&slot.ssrc]);
    let capped_packets = capped.received()[&capped_slot.ssrc].clone();
    assert!(
        capped_packets.iter().all(|p| layer(p) == Some(0)),
        "the viewer capped at layer 0 receives only layer 0"
    );
    check_switches("capped", &capped_packets);
    let stats = sfu.port_stats().await.expect("stats");
    assert!(stats.router.plis > 0, "keyframes were asked of the camera");
}
