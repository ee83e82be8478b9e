//! Renegotiation on the same connection over real UDP: a hall adds a second video track
//! (a shared screen) and drops it, a viewer adds receive slots — media keeps flowing,
//! no new peer, no disconnection — and the SFU's trickled candidates.

mod common;

use common::{connect, wait_event, wait_until, WAIT};
use sfu::testclient::TestClient;
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuEvent, StreamId};
use tokio::sync::mpsc;

const PUBLISHER: PeerId = PeerId(1);
const VIEWER: PeerId = PeerId(2);
const SCREEN_SSRC: u32 = 0x0033_3333;

fn config() -> SfuConfig {
    SfuConfig {
        video_slots: 3,
        audio_slots: 2,
        ..SfuConfig::default()
    }
}

/// Waits for the publisher's next published video track, failing on any sign that a
/// peer went away meanwhile.
async fn next_video(events: &mut mpsc::Receiver<SfuEvent>, skip: &[StreamId]) -> StreamId {
    wait_event(events, |e| match e {
        SfuEvent::PeerDisconnected(p, _) | SfuEvent::PeerFailed(p) => {
            panic!("{p:?} went away during a renegotiation: {e:?}")
        }
        SfuEvent::TrackPublished {
            peer,
            track,
            kind: MediaKind::Video,
            ..
        } if *peer == PUBLISHER && !skip.contains(track) => Some(*track),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_and_slots_change_on_the_same_connection() {
    let (sfu, mut events) = Sfu::start(config()).expect("valid config");
    let mut publisher = TestClient::publisher().await.expect("publisher");
    connect(&sfu, PUBLISHER, &publisher).await;
    let publishing = publisher.start_publishing().await.expect("publishing");
    let camera = next_video(&mut events, &[]).await;

    let viewer = TestClient::subscriber(1, 1).await.expect("viewer");
    let first = connect(&sfu, VIEWER, &viewer).await;
    assert_eq!(first.slots.len(), 2);
    let camera_slot = first.slots[0].clone();
    sfu.subscribe(VIEWER, camera_slot.id, camera, 2)
        .await
        .expect("subscribe camera");
    wait_until("the camera reaches the viewer", || {
        viewer.count(camera_slot.ssrc) > 20
    })
    .await;

    // The publisher adds a screen on the same connection.
    publisher
        .add_screen_track(SCREEN_SSRC)
        .await
        .expect("screen track");
    let offer = publisher.reoffer().await.expect("re-offer");
    let answer = sfu
        .renegotiate(PUBLISHER, offer)
        .await
        .expect("renegotiated");
    assert!(
        answer.slots.is_empty(),
        "a send-only hall still has no slots"
    );
    publisher.accept(answer.sdp).await.expect("answer applies");
    let before = viewer.count(camera_slot.ssrc);
    let screen_sending = publisher.start_video_track(2).await.expect("screen");
    let screen = next_video(&mut events, &[camera]).await;
    assert_ne!(screen, camera);
    wait_until("the camera keeps flowing across the renegotiation", || {
        viewer.count(camera_slot.ssrc) > before + 30
    })
    .await;

    // The viewer asks for one more video slot, on the same connection.
    viewer.add_slots(1, 0).await.expect("more slots");
    let offer = viewer.reoffer().await.expect("viewer re-offer");
    let answer = sfu.renegotiate(VIEWER, offer).await.expect("viewer answer");
    assert_eq!(answer.slots.len(), 3, "old slots kept, one added");
    assert_eq!(answer.slots[..2], first.slots[..], "old slots unchanged");
    let new_slot = answer.slots[2].clone();
    assert_eq!(new_slot.kind, MediaKind::Video);
    viewer
        .accept(answer.sdp)
        .await
        .expect("viewer answer applies");
    sfu.subscribe(VIEWER, new_slot.id, screen, 2)
        .await
        .expect("subscribe screen");
    wait_until("the screen reaches the new slot", || {
        viewer.count(new_slot.ssrc) > 20
    })
    .await;
    let before = viewer.count(camera_slot.ssrc);
    wait_until("the old slot still shows the camera", || {
        viewer.count(camera_slot.ssrc) > before + 20
    })
    .await;

    // The publisher stops sharing: the screen is unpublished, the camera stays.
    screen_sending.abort();
    publisher.remove_track(2).await.expect("remove screen");
    let offer = publisher.reoffer().await.expect("third offer");
    let answer = sfu.renegotiate(PUBLISHER, offer).await.expect("answer");
    publisher.accept(answer.sdp).await.expect("applies");
    let gone = wait_event(&mut events, |e| match e {
        SfuEvent::TrackUnpublished { peer, track } if *peer == PUBLISHER => Some(*track),
        SfuEvent::PeerDisconnected(p, _) | SfuEvent::PeerFailed(p) => panic!("{p:?} left"),
        _ => None,
    })
    .await;
    assert_eq!(gone, screen, "only the screen is unpublished");
    let before = viewer.count(camera_slot.ssrc);
    wait_until("the camera still flows", || {
        viewer.count(camera_slot.ssrc) > before + 20
    })
    .await;
    publishing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_candidates_connect_a_hall() {
    let config = SfuConfig {
        trickle_candidates: true,
        ..config()
    };
    let (sfu, mut events) = Sfu::start(config).expect("valid config");
    let viewer = TestClient::subscriber(1, 0).await.expect("viewer");
    let offer = viewer.offer().await.expect("offer");
    let answer = sfu.add_peer(VIEWER, offer).await.expect("answer");
    viewer.accept(answer.sdp).await.expect("applies");
    let mut host_candidates = 0;
    loop {
        let c = wait_event(&mut events, |e| match e {
            SfuEvent::LocalCandidate { peer, candidate } if *peer == VIEWER => {
                Some(candidate.clone())
            }
            _ => None,
        })
        .await;
        if c.candidate.is_empty() {
            break; // end of candidates
        }
        assert!(c.candidate.starts_with("candidate:"), "{c:?}");
        host_candidates += 1;
        viewer
            .add_remote_candidate(c)
            .await
            .expect("candidate applies");
    }
    assert!(host_candidates > 0, "at least one candidate trickled");
    assert!(
        viewer.wait_connected(WAIT).await,
        "connects on trickled candidates"
    );
}
