//! Simulcast, a hall's own reports and statistics through the muxed port: each
//! subscription gets the best layer up to its cap, falls back when the top layer stops
//! (switching on a keyframe, one continuous stream), steps down on reported loss and
//! under a small bandwidth estimate; the statistics carry rates, round trip, loss and
//! the estimate.

use crate::helpers::{connect, wait_event, wait_until, WAIT};
use sfu::testclient::{ReceivedPacket, SimulcastPublishing, TestClient, LAYER_NUMBERS};
use sfu::Sfu;
use sfu::{PeerId, PeerStats, SfuConfig, SfuEvent, SlotInfo, StreamId};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const CAMERA: PeerId = PeerId(1);
const VIEWER: PeerId = PeerId(100);

/// The simulcast layer of a packet.
pub(crate) fn layer(p: &ReceivedPacket) -> Option<u32> {
    p.number.map(|n| n / LAYER_NUMBERS)
}

/// The simulcast layer of the newest packet on `ssrc`.
pub(crate) fn newest_layer(viewer: &TestClient, ssrc: u32) -> Option<u32> {
    viewer.received().get(&ssrc)?.last().and_then(layer)
}

/// A sending simulcast camera and its video track.
pub(crate) async fn camera(
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
pub(crate) async fn viewer(
    sfu: &Sfu,
    peer: PeerId,
    video: StreamId,
    max: u8,
) -> (TestClient, SlotInfo) {
    let viewer = TestClient::subscriber(1, 0).await.expect("subscriber");
    let slot = connect(sfu, peer, &viewer).await.slots[0].clone();
    sfu.subscribe(peer, slot.id, video, max)
        .await
        .expect("subscribe");
    (viewer, slot)
}

/// Waits for `peer`'s next statistics matching `want`.
async fn stats_of<T>(
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
pub(crate) fn check_switches(what: &str, packets: &[ReceivedPacket]) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscription_gets_its_layer_and_falls_back_when_the_top_stops() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("binds");
    let (_camera, layers, video) = camera(&sfu, &mut events).await;
    let (low, low_slot) = viewer(&sfu, VIEWER, video, 0).await;
    let (high, high_slot) = viewer(&sfu, PeerId(101), video, 2).await;
    wait_until("layer 2 reaches the uncapped viewer", || {
        newest_layer(&high, high_slot.ssrc) == Some(2)
    })
    .await;
    wait_until("the capped viewer has 30 packets", || {
        low.count(low_slot.ssrc) >= 30
    })
    .await;

    // The camera drops its top layer (as Chrome does under CPU load).
    layers.set_sending(2, false);
    let stopped = Instant::now();
    wait_until("layer 1 replaces layer 2", || {
        newest_layer(&high, high_slot.ssrc) == Some(1)
    })
    .await;
    println!(
        "fell back to layer 1 {:?} after layer 2 stopped",
        stopped.elapsed()
    );
    let before = low.count(low_slot.ssrc);
    wait_until("the capped viewer goes on", || {
        low.count(low_slot.ssrc) >= before + 10
    })
    .await;
    layers.stop().await;

    let low_packets = low.received()[&low_slot.ssrc].clone();
    assert!(
        low_packets.iter().all(|p| layer(p) == Some(0)),
        "the viewer capped at layer 0 receives only layer 0"
    );
    check_switches("capped", &low_packets);
    let high_packets = high.received()[&high_slot.ssrc].clone();
    assert!(high_packets.iter().any(|p| layer(p) == Some(2)));
    check_switches("uncapped", &high_packets);
    let stats = sfu.port_stats().await.expect("stats");
    assert!(stats.router.plis > 0, "keyframes were asked of the camera");
}

/// A camera and a viewer at layer 2, statistics every 300 ms.
async fn reporting_viewer() -> (
    Sfu,
    mpsc::Receiver<SfuEvent>,
    (TestClient, SimulcastPublishing),
    (TestClient, SlotInfo),
) {
    let config = SfuConfig {
        stats_interval: Duration::from_millis(300),
        ..SfuConfig::default()
    };
    let (sfu, mut events) = Sfu::start(config).expect("binds");
    let (camera, layers, video) = camera(&sfu, &mut events).await;
    let (viewer, slot) = viewer(&sfu, VIEWER, video, 2).await;
    wait_until("layer 2 arrives", || {
        newest_layer(&viewer, slot.ssrc) == Some(2)
    })
    .await;
    (sfu, events, (camera, layers), (viewer, slot))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_loss_steps_a_slot_down_and_shows_in_the_statistics() {
    let (_sfu, mut events, (_camera, layers), (viewer, slot)) = reporting_viewer().await;

    // Round trip from the viewer's receiver reports on our sender reports; rates.
    let stats = stats_of(&mut events, VIEWER, |s| s.rtt.map(|_| *s)).await;
    let rtt = stats.rtt.expect("a round trip");
    println!("round trip {rtt:?} on loopback; {stats:?}");
    assert!(rtt < Duration::from_millis(50), "loopback: {rtt:?}");
    assert!(
        stats.bitrate_out_bps > 0 && stats.packets_out > 0,
        "{stats:?}"
    );
    assert_eq!(stats.loss_out, 0.0, "nothing is lost on loopback");
    let cam = stats_of(&mut events, CAMERA, |s| Some(*s)).await;
    assert!(
        cam.bitrate_in_bps > 0,
        "the camera's layers arrive: {cam:?}"
    );

    // 30 % loss reported on the slot (77/256): it steps down from layer 2.
    let deadline = Instant::now() + WAIT;
    while newest_layer(&viewer, slot.ssrc) == Some(2) {
        assert!(Instant::now() < deadline, "the slot stays on layer 2");
        viewer
            .send_receiver_report(slot.ssrc, 77)
            .await
            .expect("RR");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    viewer
        .send_receiver_report(slot.ssrc, 77)
        .await
        .expect("RR");
    let loss = stats_of(&mut events, VIEWER, |s| {
        (s.loss_out > 0.0).then_some(s.loss_out)
    })
    .await;
    assert!((loss - 77.0 / 256.0).abs() < 1e-6, "loss out {loss}");
    layers.stop().await;
    check_switches("lossy", &viewer.received()[&slot.ssrc]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bandwidth_estimate_caps_the_slot_at_layer_0() {
    let (_sfu, mut events, (_camera, layers), (viewer, slot)) = reporting_viewer().await;
    // 10 kbit/s, far below what the slot carries (congestion): the lowest layer.
    let deadline = Instant::now() + WAIT;
    while newest_layer(&viewer, slot.ssrc) != Some(0) {
        assert!(Instant::now() < deadline, "the slot never reaches layer 0");
        viewer.send_remb(10_000, &[slot.ssrc]).await.expect("REMB");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let remb = stats_of(&mut events, VIEWER, |s| s.bandwidth_out_bps).await;
    assert_eq!(remb, 10_000, "the estimate is in the statistics");
    layers.stop().await;
    check_switches("capped by REMB", &viewer.received()[&slot.ssrc]);
}
