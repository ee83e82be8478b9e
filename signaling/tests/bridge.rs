//! Three nodes on one database and one NATS server (127.0.0.1:4222), each with its own
//! NATS connection, as tasks of one test: the host joins on node a (the meeting's
//! home); halls joining through nodes b and c are bridged to node a's room instead of
//! being refused. The floor given to b's hall reaches c's page, so does the host's
//! recording starting and stopping (logged once, on the home node), both halls' roll-call
//! answers are in the one meeting log, and a bridged socket that drops (or leaves) is
//! seen by the host as a local one would be; a bridged page that stops reading is cut
//! by the same write timeout as a local one while the room goes on. A node whose NATS
//! server is away still starts, and refuses such halls `home_elsewhere` as before. With media (`sfu::testclient` over UDP on
//! 127.0.0.1): the offers and answers cross the bridge; a hall on node b publishes to its
//! node's SFU (placed there by the home room, tests/placement.rs) and a hall on node c
//! receives its video and audio over the cascade's relays.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::store::{invited, logged};
use common::{left, negotiate, quiet, wait_until, Page};
use scheduler::testing::{demo_db, test_backend};
use scheduler::Store;
use serde_json::json;
use sfu::testclient::TestClient;
use sfu::SfuConfig;
use signaling::protocol::{Actor, Reason, RecordingInfo, ServerMessage};
use signaling::{Bridge, HomeLeases, Signaling, SignalingConfig, StoreAdmit, StoreRecorder};

/// The test server has no accounts: it accepts any; the client is handed them apart
/// from the address (never in a URL it logs).
const NATS: &str = "nats://hoinghi:not-logged@127.0.0.1:4222";

/// One node: its own SFU, recorder, leases and NATS connection, over `store`.
async fn node(store: &Store, name: &str) -> Signaling {
    node_with(store, name, Duration::from_secs(10)).await
}

/// A node whose writes to a page (or to NATS) may wait `write_timeout` at most.
async fn node_with(store: &Store, name: &str, write_timeout: Duration) -> Signaling {
    node_over(store, name, write_timeout, NATS).await
}

/// A node whose NATS server is at `nats`.
async fn node_over(store: &Store, name: &str, write_timeout: Duration, nats: &str) -> Signaling {
    let store = store.clone().with_node(name);
    let config = SignalingConfig {
        grace: Duration::from_secs(1),
        write_timeout,
        recordings_dir: Some(recordings()),
        ..quiet()
    };
    let signaling = Signaling::start(SfuConfig::default(), config)
        .expect("valid config")
        .record_with(StoreRecorder::spawn(store.clone(), 10))
        .with_roster(store.clone())
        .with_home(HomeLeases::start(store.clone(), Duration::from_secs(15)));
    let nats = signaling::bridge::connect(nats, name)
        .await
        .expect("a NATS client");
    let bridge: Arc<Bridge> = Bridge::start(&signaling, nats, store)
        .await
        .expect("subscribed");
    signaling.with_bridge(bridge)
}

/// Where the nodes record (each meeting in its own folder, removed by its test).
fn recordings() -> std::path::PathBuf {
    std::env::temp_dir().join("hoinghi-bridge-recordings")
}

/// A province meeting scheduled now on `store`: the meeting and two invited halls
/// besides the host.
async fn meeting(store: &Store, title: &str) -> (scheduler::Meeting, i64, i64) {
    let (m, others) = common::nodes::meeting_on(store, title, 2).await;
    (m, others[0], others[1])
}

/// Three nodes over `store`, named for this run and `test` (other tests may share the
/// NATS server).
async fn nodes(store: &Store, test: &str) -> (Signaling, Signaling, Signaling) {
    let run = std::process::id();
    (
        node(store, &format!("a{test}-{run}")).await,
        node(store, &format!("b{test}-{run}")).await,
        node(store, &format!("c{test}-{run}")).await,
    )
}

/// The next `recording` a page is told.
async fn recording(page: &mut Page) -> RecordingInfo {
    page.expect("recording", |m| match m {
        ServerMessage::Recording(info) => Some(info.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn halls_on_other_nodes_are_bridged_to_the_home_room() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let (m, hall_b, hall_c) = meeting(&db.store, "Giao ban ba máy chủ").await;
    let (a, b, c) = nodes(&db.store, "s").await;

    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let mut page_b = invited(&b, &db.store, m.id, hall_b).await;
    let (_, present) = page_b.welcome().await;
    assert!(
        present.contains(&m.host_hall_id),
        "b's page sees the host present on node a: {present:?}"
    );
    let mut page_c = invited(&c, &db.store, m.id, hall_c).await;
    let (_, present) = page_c.welcome().await;
    assert!(present.contains(&hall_b), "c sees b: {present:?}");
    assert_eq!(
        (a.room_count(), b.room_count(), c.room_count()),
        (1, 0, 0),
        "one room, on the home node"
    );

    // The host gives the floor to b's hall: c's page (on another node) sees it.
    host.send(json!({"type": "give_floor", "hall_id": hall_b}));
    let floor = page_c
        .expect("the floor", |m| match m {
            ServerMessage::Floor { hall_id, .. } => *hall_id,
            _ => None,
        })
        .await;
    assert_eq!(floor, hall_b);

    // The host records: halls on the other nodes are told, as they are told when it stops.
    host.send(json!({"type": "start_recording"}));
    let by_the_host = Actor::Hall {
        hall_id: m.host_hall_id,
    };
    for page in [&mut page_b, &mut page_c] {
        let on = recording(page).await;
        assert_eq!((on.on, on.by), (true, Some(by_the_host)));
    }
    host.send(json!({"type": "stop_recording"}));
    for page in [&mut page_b, &mut page_c] {
        assert!(!recording(page).await.on);
    }
    let events = logged(&db.store, m.id, "recording_stopped", 1).await;
    let started = events.iter().find(|e| e.kind == "recording_started");
    let by_host = format!("by hall {}: {}/", m.host_hall_id, m.id);
    assert!(
        started.is_some_and(|e| e.detail.starts_with(&by_host)),
        "{events:?}"
    );
    let _ = std::fs::remove_dir_all(recordings().join(m.id.to_string()));

    // A roll call answered from b and c is in the one meeting log.
    host.send(json!({"type": "set_phase", "phase": "started"}));
    host.send(json!({"type": "start_roll_call"}));
    for page in [&mut page_b, &mut page_c] {
        page.expect("roll_call", |m| match m {
            ServerMessage::RollCall { .. } => Some(()),
            _ => None,
        })
        .await;
    }
    page_b.send(json!({"type": "roll_call_answer", "status": "present"}));
    page_c.send(json!({"type": "roll_call_answer", "status": "late"}));
    let events = logged(&db.store, m.id, "roll_call_answer", 2).await;
    let answer = |hall: i64| {
        events
            .iter()
            .find(|e| e.kind == "roll_call_answer" && e.hall_id == Some(hall))
            .map(|e| e.detail.clone())
    };
    assert_eq!(answer(hall_b).as_deref(), Some("present"));
    assert_eq!(answer(hall_c).as_deref(), Some("late"));

    // c leaves; b's socket drops: the host sees c leave at once and b lost after the
    // grace period, as for halls on its own node.
    page_c.send(json!({"type": "leave"}));
    assert_eq!(host.expect("c left", left).await, (hall_c, Reason::Left));
    page_b.vanish().await;
    assert_eq!(
        host.expect("b lost", left).await,
        (hall_b, Reason::NetworkLost)
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_on_node_c_receives_the_floor_holder_on_node_b() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let (m, hall_b, hall_c) = meeting(&db.store, "Giao ban có hình").await;
    let (a, b, c) = nodes(&db.store, "m").await;

    // The host (node a) and hall b (node b) publish camera and microphone.
    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let host_media = TestClient::publisher().await.expect("publisher");
    assert!(
        negotiate(&mut host, &host_media).await.is_empty(),
        "no slots"
    );
    let _host_sending = host_media.start_publishing().await.expect("sending");
    let mut page_b = invited(&b, &db.store, m.id, hall_b).await;
    page_b.welcome().await;
    let b_media = TestClient::publisher().await.expect("publisher");
    assert!(
        negotiate(&mut page_b, &b_media).await.is_empty(),
        "no slots"
    );
    let _b_sending = b_media.start_publishing().await.expect("sending");

    // Hall c (node c) watches with two video and two audio slots: the host's at first.
    let mut page_c = invited(&c, &db.store, m.id, hall_c).await;
    page_c.welcome().await;
    let c_media = TestClient::subscriber(2, 2).await.expect("subscriber");
    let slots = negotiate(&mut page_c, &c_media).await;
    assert_eq!(slots.len(), 4);
    wait_until("the host's video and audio reach c", || {
        c_media
            .received()
            .values()
            .filter(|p| p.len() >= 20)
            .count()
            == 2
    })
    .await;

    // The floor to hall b: its video and audio reach c (relayed b → c).
    host.send(json!({"type": "give_floor", "hall_id": hall_b}));
    common::nodes::shown(&mut page_c, hall_b, 2).await;
    wait_until("b's video and audio reach c too", || {
        c_media
            .received()
            .values()
            .filter(|p| p.len() >= 20)
            .count()
            == 4
    })
    .await;
    assert_eq!(
        (a.room_count(), b.room_count(), c.room_count()),
        (1, 0, 0),
        "the room on the home node only"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_bridged_page_that_stops_reading_is_cut_and_the_room_goes_on() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let (m, hall_b, _) = meeting(&db.store, "Giao ban, một trang không đọc").await;
    let run = std::process::id();
    let second = Duration::from_secs(1);
    let a = node_with(&db.store, &format!("aw-{run}"), second).await;
    let b = node_with(&db.store, &format!("bw-{run}"), second).await;

    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    // Hall b's page (on node b) takes one frame and then reads nothing.
    let token = db
        .store
        .join_token_of(m.id, hall_b)
        .await
        .expect("query")
        .expect("invited");
    let mut page_b = Page::open_bounded_with(&b, StoreAdmit::new(db.store.clone()), 1);
    page_b.send_join(&token);
    host.expect("b joined", |m| match m {
        ServerMessage::ParticipantJoined { hall_id, .. } if *hall_id == hall_b => Some(()),
        _ => None,
    })
    .await;
    // b's page keeps sending (pings, answered by node b) but reads nothing: its
    // socket's buffer is full at once.
    for ts in 0..5 {
        page_b.send(json!({"type": "ping", "ts": ts}));
    }
    // The host keeps acting; the room answers it at once whatever b's page owes.
    for muted in [true, false, true, false] {
        host.send(json!({"type": "mute", "hall_id": hall_b, "muted": muted}));
        host.ping(1.0).await;
    }
    // b's page is cut once a write to it waited the write timeout (on node b, as on
    // the home node); read half a second after that, within the close frame's own
    // two-second wait. The home room loses the hall after the grace period.
    tokio::time::sleep(second + Duration::from_millis(500)).await;
    assert_eq!(page_b.close_frame().await, (1008, "not_reading".into()));
    assert_eq!(
        host.expect("b lost", left).await,
        (hall_b, Reason::NetworkLost)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_node_without_nats_starts_and_refuses_halls_homed_elsewhere() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let (m, hall_b, _) = meeting(&db.store, "Giao ban, NATS vắng").await;
    let run = std::process::id();
    let a = node(&db.store, &format!("an-{run}")).await;
    // Nothing listens there: node b starts anyway (its client keeps trying).
    let away = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("nats://127.0.0.1:{port}")
    };
    let b = tokio::time::timeout(
        Duration::from_secs(10),
        node_over(
            &db.store,
            &format!("bn-{run}"),
            Duration::from_secs(10),
            &away,
        ),
    )
    .await
    .expect("a node starts while NATS is away");

    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let mut page = invited(&b, &db.store, m.id, hall_b).await;
    assert_eq!(
        page.error().await,
        signaling::protocol::ErrorCode::HomeElsewhere
    );
    assert_eq!(page.close_frame().await, (1013, "home_elsewhere".into()));
    db.cleanup().await;
}
