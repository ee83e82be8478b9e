//! A recording on the home node of a hall whose media is on another node (the cascade,
//! docs/cluster.md "Step 2b"): the recorder's tap is on the home's SFU, so the floor
//! holder's camera and microphone reach it over the relay from the hall's node. Two
//! nodes in one process (own SFU, bridge, NATS connection at 127.0.0.1:4222) over one
//! store (PostgreSQL with `TEST_BACKEND=postgres`); real VP8 and Opus from GStreamer.

mod common;

use std::time::Duration;

use common::nodes::{candidate_ports, meeting_with_halls, negotiate, node};
use common::recording::{
    assert_red_then_blue, finished, played, real_tracks, send_picture, BLUE, RED,
};
use common::store::invited;
use common::Page;
use media_recorder::testing::Picture;
use media_recorder::RecordingSpec;
use scheduler::Store;
use serde_json::json;
use sfu::testclient::TestClient;
use signaling::Signaling;
use tokio::task::JoinHandle;

/// A page of `hall` joined through `node` that publishes `picture` for `seconds`: the
/// page, its media, the picture's generator and the SDP answer.
async fn showing(
    node: &Signaling,
    store: &Store,
    (meeting, hall): (i64, i64),
    picture: Picture,
    seconds: u32,
) -> (Page, TestClient, JoinHandle<()>, String) {
    let mut page = invited(node, store, meeting, hall).await;
    page.welcome().await;
    let media = TestClient::publisher_with(&real_tracks())
        .await
        .expect("publisher");
    let (sdp, _) = negotiate(&mut page, &media).await;
    let senders = media.raw_senders().await.expect("senders");
    let (generator, _written) = send_picture(senders, seconds, picture);
    (page, media, generator, sdp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_records_a_hall_placed_on_another_node_once_it_has_the_floor() {
    let (db, m, halls) = meeting_with_halls("Ghi hình qua hai máy chủ", 1).await;
    let hall_b = halls[0];
    let run = std::process::id();
    let a = node(&db.store, &format!("ra-{run}")).await;
    let b = node(&db.store, &format!("rb-{run}")).await;
    // Each node has heard the other beat (placement takes living nodes only).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The host in red at 320×240 through a (the home), the hall in blue at 640×360
    // through b, placed on b's SFU.
    let seconds = 7;
    let (mut host, _host_media, host_gen, _) =
        showing(&a, &db.store, (m.id, m.host_hall_id), RED, seconds).await;
    let (_page_b, _b_media, b_gen, sdp) =
        showing(&b, &db.store, (m.id, hall_b), BLUE, seconds).await;
    let b_port = b.sfu().local_addr().port();
    assert_eq!(candidate_ports(&sdp), [b_port], "the hall's media on b");

    let room = a.room(m.id).expect("the home room is on a");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("host-then-b.webm");
    assert_eq!(
        room.start_recording(RecordingSpec::new(&path, 3)).await,
        Ok(Ok(()))
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    host.send(json!({"type": "give_floor", "hall_id": hall_b}));
    host_gen.await.expect("the host's generator ends");
    b_gen.await.expect("b's generator ends");
    assert_eq!(room.stop_recording().await, Ok(Ok(())));
    finished(&room).await;

    // The host (red) first, then b's hall (blue, at its own size), relayed from b.
    assert_red_then_blue(&played(path).await, (640, 360));
    let relayed = b
        .sfu()
        .port_stats()
        .await
        .expect("b's figures")
        .nodes
        .packets_out;
    assert!(relayed > 0, "b relayed its camera to the home");
}
