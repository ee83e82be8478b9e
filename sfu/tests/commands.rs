//! The slot commands over real UDP on 127.0.0.1: `apply`'s results, `unsubscribe`
//! darkening one slot only, `set_layer` moving a simulcast viewer between layers on
//! keyframes in one continuous stream. (A publisher's departure is in `media.rs`, the
//! active speaker in `speaker.rs`; the caller's keyframe requests and the announced
//! address are tested in memory, `src/driver/tests/`.)

mod common;

use common::simulcast::{camera, check_switches, newest_layer, viewer};
use common::{connect, wait_event, wait_until};
use sfu::testclient::TestClient;
use sfu::Sfu;
use sfu::{MediaKind, PeerId, SfuConfig, SfuError, SfuEvent, SlotChange, SlotId, StreamId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

const PUBLISHER: PeerId = PeerId(1);
const VIEWER: PeerId = PeerId(100);

/// A publishing hall (VP8 + Opus) and its two tracks, (video, audio).
async fn publisher(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
    peer: PeerId,
) -> (TestClient, sfu::testclient::Publishing, StreamId, StreamId) {
    let client = TestClient::publisher().await.expect("publisher");
    connect(sfu, peer, &client).await;
    let publishing = client.start_publishing().await.expect("publishing");
    let mut tracks = HashMap::new();
    while tracks.len() < 2 {
        let (kind, track) = wait_event(events, |e| match e {
            SfuEvent::TrackPublished {
                peer: p,
                kind,
                track,
                ..
            } if *p == peer => Some((*kind, *track)),
            _ => None,
        })
        .await;
        tracks.insert(kind, track);
    }
    let (video, audio) = (tracks[&MediaKind::Video], tracks[&MediaKind::Audio]);
    (client, publishing, video, audio)
}

/// Packet counts of every slot after `wait`, then again after another `wait`.
async fn counts_twice(
    viewer: &TestClient,
    ssrcs: &[u32],
    wait: Duration,
) -> (Vec<usize>, Vec<usize>) {
    tokio::time::sleep(wait).await;
    let first = ssrcs.iter().map(|&s| viewer.count(s)).collect();
    tokio::time::sleep(wait).await;
    let second = ssrcs.iter().map(|&s| viewer.count(s)).collect();
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_darkens_one_slot_and_keeps_the_others() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("binds");
    let (_pub, publishing, video, audio) = publisher(&sfu, &mut events, PUBLISHER).await;
    let client = TestClient::subscriber(2, 1).await.expect("viewer");
    let slots = connect(&sfu, VIEWER, &client).await.slots;
    let show = |slot: SlotId, track| SlotChange::Show {
        peer: VIEWER,
        slot,
        track,
        max_layer: 2,
    };
    let results = sfu
        .apply(vec![
            show(slots[0].id, video),
            show(slots[1].id, video),
            show(slots[2].id, audio),
            SlotChange::Clear {
                peer: VIEWER,
                slot: SlotId(9),
            },
            show(slots[2].id, video), // video into the audio slot: it goes dark
            show(slots[2].id, audio),
        ])
        .await
        .expect("applied");
    assert!(results[..3].iter().all(Result::is_ok), "{results:?}");
    assert!(
        matches!(results[3], Err(SfuError::UnknownSlot(VIEWER, SlotId(9)))),
        "{results:?}"
    );
    assert!(
        matches!(results[4], Err(SfuError::Incompatible(..))),
        "{results:?}"
    );
    assert!(results[5].is_ok(), "{results:?}");
    let ssrcs: Vec<u32> = slots.iter().map(|s| s.ssrc).collect();
    wait_until("every slot receives", || {
        ssrcs.iter().all(|&s| client.count(s) >= 20)
    })
    .await;

    sfu.unsubscribe(VIEWER, slots[0].id)
        .await
        .expect("unsubscribed");
    let (a, b) = counts_twice(&client, &ssrcs, Duration::from_millis(300)).await;
    assert_eq!(a[0], b[0], "nothing more on the emptied slot");
    assert!(
        b[1] >= a[1] + 5 && b[2] >= a[2] + 5,
        "the others go on: {a:?} -> {b:?}"
    );
    assert!(matches!(
        sfu.unsubscribe(PeerId(7), slots[0].id).await,
        Err(SfuError::UnknownPeer(PeerId(7)))
    ));

    // Shown again: the slot's numbering goes on where it stopped.
    sfu.subscribe(VIEWER, slots[0].id, video, 2)
        .await
        .expect("again");
    wait_until("the slot shows again", || {
        client.count(ssrcs[0]) >= b[0] + 20
    })
    .await;
    publishing.stop().await;
    let packets = &client.received()[&ssrcs[0]];
    for pair in packets.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "one numbering per slot"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_layer_moves_a_viewer_between_layers_on_keyframes() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("binds");
    let (_camera, layers, video) = camera(&sfu, &mut events).await;
    let (client, slot) = viewer(&sfu, VIEWER, video, 0).await;
    wait_until("layer 0 arrives", || client.count(slot.ssrc) >= 20).await;
    assert_eq!(newest_layer(&client, slot.ssrc), Some(0));

    sfu.set_layer(VIEWER, slot.id, 2).await.expect("up");
    wait_until("layer 2 arrives", || {
        newest_layer(&client, slot.ssrc) == Some(2)
    })
    .await;
    sfu.set_layer(VIEWER, slot.id, 1).await.expect("down");
    wait_until("layer 1 arrives", || {
        newest_layer(&client, slot.ssrc) == Some(1)
    })
    .await;
    let results = sfu
        .apply(vec![SlotChange::Layer {
            peer: VIEWER,
            slot: SlotId(5),
            max_layer: 0,
        }])
        .await
        .expect("applied");
    assert!(matches!(
        results[0],
        Err(SfuError::UnknownSlot(VIEWER, SlotId(5)))
    ));
    layers.stop().await;
    check_switches("set_layer", &client.received()[&slot.ssrc]);
}
