//! A subscriber's own reports over real UDP on 127.0.0.1: its receiver reports give the
//! SFU a round trip (small on loopback, but there), its reported loss makes its slot
//! step down a simulcast layer, and its REMB caps the layer. The round trip comes from
//! the test client's report interceptor answering the SFU's sender reports; the loss and
//! the REMB are written by the test, as a hall on a bad link would send them.

mod common;

use common::simulcast::{camera, check_switches, newest_layer, viewer, CAMERA};
use common::{connect, wait_event, wait_until, WAIT};
use sfu::testclient::{SimulcastPublishing, TestClient};
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuEvent, SlotInfo};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const VIEWER: PeerId = PeerId(100);

/// Waits for the viewer's next statistics matching `want`.
async fn viewer_stats<T>(
    events: &mut mpsc::Receiver<SfuEvent>,
    mut want: impl FnMut(&sfu::PeerStats) -> Option<T>,
) -> T {
    wait_event(events, |e| match e {
        SfuEvent::Stats(s) if s.peer == VIEWER => want(s),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_round_trip_to_a_hall_appears_in_its_statistics() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let host = TestClient::publisher().await.expect("publisher");
    connect(&sfu, PeerId(1), &host).await;
    let _sending = host.start_publishing().await.expect("publishing");
    let video = wait_event(&mut events, |e| match e {
        SfuEvent::TrackPublished {
            track,
            kind: MediaKind::Video,
            ..
        } => Some(*track),
        _ => None,
    })
    .await;
    let viewer = TestClient::subscriber(1, 0).await.expect("subscriber");
    let slot = connect(&sfu, VIEWER, &viewer).await.slots[0].clone();
    sfu.subscribe(VIEWER, slot.id, video, 2)
        .await
        .expect("subscribe");

    let started = Instant::now();
    let stats = viewer_stats(&mut events, |s| s.rtt.map(|_| *s)).await;
    let rtt = stats.rtt.expect("a round trip");
    println!(
        "round trip {rtt:?} on loopback, {:?} after subscribing; loss out {}",
        started.elapsed(),
        stats.loss_out
    );
    assert!(rtt < Duration::from_millis(50), "loopback: {rtt:?}");
    assert_eq!(stats.loss_out, 0.0, "nothing is lost on loopback");
    assert!(
        stats.bitrate_out_bps > 0 && stats.packets_out > 0,
        "{stats:?}"
    );
    let host_stats = wait_event(&mut events, |e| match e {
        SfuEvent::Stats(s) if s.peer == PeerId(1) => Some(*s),
        _ => None,
    })
    .await;
    assert_eq!(
        host_stats.rtt, None,
        "the host receives nothing: no reports"
    );
    assert!(
        host_stats.bitrate_in_bps > 0,
        "the host's media arrives: {host_stats:?}"
    );
}

/// A sending simulcast camera, and a viewer with one video slot showing its layer 2.
async fn simulcast_viewer(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
) -> (TestClient, SimulcastPublishing, TestClient, SlotInfo) {
    let (camera, layers, video) = camera(sfu, events).await;
    let (viewer, slot) = viewer(sfu, VIEWER, video, 2).await;
    wait_until("layer 2 arrives", || {
        newest_layer(&viewer, slot.ssrc) == Some(2)
    })
    .await;
    (camera, layers, viewer, slot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_reporting_heavy_loss_steps_down_a_layer() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let (_camera, layers, viewer, slot) = simulcast_viewer(&sfu, &mut events).await;

    // The hall reports 30 % loss on the slot (77/256), as a weak commune link would.
    let reported = Instant::now();
    let deadline = reported + WAIT;
    while newest_layer(&viewer, slot.ssrc) == Some(2) {
        assert!(Instant::now() < deadline, "the slot stays on layer 2");
        viewer
            .send_receiver_report(slot.ssrc, 77)
            .await
            .expect("report sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let layer = newest_layer(&viewer, slot.ssrc);
    println!(
        "stepped down to layer {layer:?} {:?} after the first loss report",
        reported.elapsed()
    );
    assert!(matches!(layer, Some(0 | 1)), "{layer:?}");
    viewer
        .send_receiver_report(slot.ssrc, 77)
        .await
        .expect("report sent");
    let loss = viewer_stats(&mut events, |s| (s.loss_out > 0.0).then_some(s.loss_out)).await;
    assert!((loss - 77.0 / 256.0).abs() < 1e-6, "loss out {loss}");
    let cam = wait_event(&mut events, |e| match e {
        SfuEvent::Stats(s) if s.peer == CAMERA => Some(*s),
        _ => None,
    })
    .await;
    assert!(
        cam.bitrate_in_bps > 0,
        "the camera's layers arrive: {cam:?}"
    );
    layers.stop().await;
    check_switches("lossy", &viewer.received()[&slot.ssrc]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bandwidth_estimate_caps_the_layer() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("valid config");
    let (_camera, layers, viewer, slot) = simulcast_viewer(&sfu, &mut events).await;

    // 10 kbit/s, far below what the slot carries (congestion): capped at the lowest
    // layer, the smallest picture there is.
    let deadline = Instant::now() + WAIT;
    while newest_layer(&viewer, slot.ssrc) != Some(0) {
        assert!(Instant::now() < deadline, "the slot never reaches layer 0");
        viewer
            .send_remb(10_000, &[slot.ssrc])
            .await
            .expect("REMB sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let remb = viewer_stats(&mut events, |s| s.bandwidth_out_bps).await;
    assert_eq!(remb, 10_000, "the estimate is in the statistics");
    layers.stop().await;
    check_switches("capped by REMB", &viewer.received()[&slot.ssrc]);
}
