//! A simulcast camera (three layers, told apart by the running numbers of their
//! payloads) and viewers of it, for the tests of layer choice: which layer a viewer
//! receives, and the check that it changed layers only on keyframes.

use super::{connect, wait_event};
use sfu::testclient::{ReceivedPacket, SimulcastPublishing, TestClient, LAYER_NUMBERS};
use sfu::Sfu;
use sfu::{PeerId, PeerStats, SfuEvent, SlotInfo, StreamId};
use tokio::sync::mpsc;

/// The camera's peer id.
pub const CAMERA: PeerId = PeerId(1);

/// The simulcast layer of a packet.
pub fn layer(p: &ReceivedPacket) -> Option<u32> {
    p.number.map(|n| n / LAYER_NUMBERS)
}

/// The simulcast layer of the newest packet on `ssrc`.
pub fn newest_layer(viewer: &TestClient, ssrc: u32) -> Option<u32> {
    viewer.received().get(&ssrc)?.last().and_then(layer)
}

/// A sending simulcast camera and its video track.
pub async fn camera(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
) -> (TestClient, SimulcastPublishing, StreamId) {
    let camera = TestClient::simulcast_publisher().await.expect("camera");
    connect(sfu, CAMERA, &camera).await;
    let layers = camera.start_simulcast().await.expect("simulcast");
    let video = wait_event(events, |e| match e {
        SfuEvent::TrackPublished { track, rids, .. } if rids.len() == 3 => Some(*track),
        _ => None,
    })
    .await;
    (camera, layers, video)
}

/// A viewer with one video slot showing `video` up to `max_layer`.
pub async fn viewer(sfu: &Sfu, peer: PeerId, video: StreamId, max: u8) -> (TestClient, SlotInfo) {
    let viewer = TestClient::subscriber(1, 0).await.expect("subscriber");
    let slot = connect(sfu, peer, &viewer).await.slots[0].clone();
    sfu.subscribe(peer, slot.id, video, max)
        .await
        .expect("subscribe");
    (viewer, slot)
}

/// Waits for `peer`'s next statistics matching `want`.
pub async fn stats_of<T>(
    events: &mut mpsc::Receiver<SfuEvent>,
    peer: PeerId,
    mut want: impl FnMut(&PeerStats) -> Option<T>,
) -> T {
    wait_event(events, |e| match e {
        SfuEvent::Stats(s) if s.peer == peer => want(s),
        _ => None,
    })
    .await
}

/// One contiguous stream from a keyframe, changing layers only on keyframes.
pub fn check_switches(what: &str, packets: &[ReceivedPacket]) {
    assert!(packets[0].keyframe, "{what}: starts on a keyframe");
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            b.seq,
            a.seq.wrapping_add(1),
            "{what}: one contiguous stream"
        );
        if layer(a) != layer(b) {
            let (la, lb) = (layer(a), layer(b));
            assert!(b.keyframe, "{what}: layer {la:?} -> {lb:?} on a keyframe");
        }
    }
}
