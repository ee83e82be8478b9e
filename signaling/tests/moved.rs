//! A meeting's live state survives a move of its home room: after a restart of a node
//! alone, and after another node takes the meeting's lease over, the room that opens
//! takes up the floor, the raised hands, the host's mutes and the open roll call (same
//! number on the pages, its answers so far, later answers into the same roll call); a
//! floor holder not back within the grace period loses the floor; a node fenced out
//! cannot overwrite the new home's state; a recording the host started runs again; a
//! locked meeting stays locked and lets its halls back. Over the Phú Thọ demo (SQLite, or PostgreSQL
//! with `TEST_BACKEND=postgres`); each `Signaling` stands for one node or one run.

mod common;

use std::time::Duration;

use common::store::{invited, logged, rows};
use common::{quiet, Page};
use scheduler::testing::TestDb;
use scheduler::Store;
use serde_json::json;
use sfu::SfuConfig;
use signaling::protocol::{MeetingState, Phase, ServerMessage};
use signaling::{HomeLeases, Signaling, SignalingConfig, StoreRecorder};

/// A node (or one run of it) over `store`, with a grace period of `grace`.
fn node(store: &Store, grace: Duration) -> Signaling {
    let config = SignalingConfig { grace, ..quiet() };
    Signaling::start(SfuConfig::default(), config)
        .expect("valid config")
        .record_with(StoreRecorder::spawn(store.clone(), 10))
        .with_roster(store.clone())
}

/// The meeting, its host and three other invited halls (x, y, z).
async fn meeting() -> (TestDb, i64, i64, [i64; 3]) {
    let (db, m, others) = common::nodes::meeting_with_halls("Giao ban", 3).await;
    (db, m.id, m.host_hall_id, [others[0], others[1], others[2]])
}

/// The `welcome`'s state.
async fn welcomed(page: &mut Page) -> MeetingState {
    page.expect("welcome", |m| match m {
        ServerMessage::Welcome { state, .. } => Some((**state).clone()),
        _ => None,
    })
    .await
}

/// The `roll_call` a page is sent (after `welcome` while one runs).
async fn roll_call(page: &mut Page) -> u64 {
    page.expect("roll_call", |m| match m {
        ServerMessage::RollCall { id } => Some(*id),
        _ => None,
    })
    .await
}

/// On `node`: the host starts the meeting, gives x the floor, y raises its hand, the
/// host mutes z and opens a roll call that x and y answer. Returns the pages (host, x,
/// y, z), the roll call's number, once the answers are in the store.
async fn chair_a_meeting(
    node: &Signaling,
    store: &Store,
    meeting: i64,
    host: i64,
    [x, y, z]: [i64; 3],
) -> ([Page; 4], u64) {
    let mut pages = Vec::new();
    for hall in [host, x, y, z] {
        let mut page = invited(node, store, meeting, hall).await;
        welcomed(&mut page).await;
        pages.push(page);
    }
    let [mut h, mut px, mut py, pz]: [Page; 4] = pages.try_into().ok().expect("four pages");
    h.send(json!({"type": "set_phase", "phase": "started"}));
    h.send(json!({"type": "give_floor", "hall_id": x}));
    py.send(json!({"type": "raise_hand"}));
    h.send(json!({"type": "mute", "hall_id": z, "muted": true}));
    h.send(json!({"type": "start_roll_call"}));
    let id = roll_call(&mut px).await;
    px.send(json!({"type": "roll_call_answer", "status": "present"}));
    py.send(json!({"type": "roll_call_answer", "status": "late"}));
    logged(store, meeting, "roll_call_answer", 2).await;
    ([h, px, py, pz], id)
}

/// What the rejoined pages must see: x holds the floor, y's hand is up, z is muted, the
/// roll call is open.
fn assert_carried(state: &MeetingState, [x, y, z]: [i64; 3], id: u64) {
    assert_eq!(state.phase, Phase::Started);
    assert_eq!(
        state.floor.map(|f| f.hall_id),
        Some(x),
        "the floor: {state:?}"
    );
    assert_eq!(state.hands, [y], "the hands: {state:?}");
    assert!(state.muted.contains(&z), "z muted: {state:?}");
    assert_eq!(state.roll_call, Some(id), "the same roll call: {state:?}");
}

/// The meeting's one roll call holds every answer given, through either room.
async fn one_roll_call_with(store: &Store, meeting: i64, answers: usize) {
    logged(store, meeting, "roll_call_answer", answers).await;
    assert_eq!(rows(store, meeting, "roll_call_started").await, 1);
    let latest = store
        .latest_roll_call(meeting)
        .await
        .expect("read")
        .expect("a roll call");
    assert!(!latest.ended);
    assert_eq!(latest.answers.len(), answers, "{latest:?}");
}

#[tokio::test]
async fn a_restarted_node_takes_up_the_floor_hands_mutes_and_roll_call() {
    let (db, m, host, halls @ [x, y, z]) = meeting().await;
    let store = &db.store;
    let first = node(store, Duration::from_secs(10));
    let (mut pages, id) = chair_a_meeting(&first, store, m, host, halls).await;
    // The host locks the meeting: no new hall; the halls in it come back after the restart.
    pages[0].send(json!({"type": "lock", "locked": true}));
    logged(store, m, "lock", 1).await;
    // A graceful stop (a restart of the one node): the pages are told to come back.
    first.stop().await;
    drop(pages);

    let second = node(store, Duration::from_secs(2));
    let mut h = invited(&second, store, m, host).await;
    let state = welcomed(&mut h).await;
    assert_carried(&state, halls, id);
    assert!(state.locked, "still locked");
    assert_eq!(
        roll_call(&mut h).await,
        id,
        "the page is told the roll call runs"
    );
    let mut py = invited(&second, store, m, y).await;
    assert_carried(&welcomed(&mut py).await, halls, id);
    // z answers now: into the same roll call.
    let mut pz = invited(&second, store, m, z).await;
    let state = welcomed(&mut pz).await;
    assert!(state.muted.contains(&z), "z is still muted");
    pz.send(json!({"type": "roll_call_answer", "status": "present"}));
    one_roll_call_with(store, m, 3).await;
    let board = second
        .room(m)
        .expect("a room")
        .readiness()
        .await
        .expect("board");
    let answered = board.halls.iter().filter(|h| h.roll_call.is_some()).count();
    assert_eq!(answered, 3, "the board shows the three answers: {board:?}");

    // x, the floor holder, does not come back within the grace period: the floor is
    // taken back (as for a hall whose link dropped); y's hand stays (y is back).
    let floor = h
        .expect("the floor taken back", |m| match m {
            ServerMessage::Floor { hall_id, .. } => Some(*hall_id),
            _ => None,
        })
        .await;
    assert_eq!(floor, None);
    let state = second
        .room(m)
        .expect("a room")
        .state()
        .await
        .expect("state");
    assert_eq!(
        (state.floor, state.hands.as_slice()),
        (None, [y].as_slice())
    );
    assert!(!state.hands.contains(&x));
    db.cleanup().await;
}

#[tokio::test]
async fn a_node_taking_a_meeting_over_takes_up_its_state_and_the_old_home_cannot_overwrite_it() {
    let (db, m, host, halls @ [_, y, z]) = meeting().await;
    let lease = Duration::from_secs(3);
    let (store_a, store_b) = (
        db.store.clone().with_node("node-a"),
        db.store.clone().with_node("node-b"),
    );
    let a = node(&store_a, Duration::from_secs(10))
        .with_home(HomeLeases::start(store_a.clone(), lease));
    a.watch_leases();
    let b = node(&store_b, Duration::from_secs(10))
        .with_home(HomeLeases::start(store_b.clone(), lease));
    let ([mut h, _px, mut py, _pz], id) = chair_a_meeting(&a, &store_a, m, host, halls).await;
    // Node a's state is written (within a fraction of a second).
    for _ in 0..100 {
        let saved = db.store.live_state(m).await.expect("read");
        if saved.is_some_and(|s| {
            s.state.contains("\"roll_call\":") && s.state.contains(&format!("\"hands\":[{y}]"))
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Node b takes the lease over (as after node a stood still for its length). Node a
    // does not know yet: its host lowers y's hand, which node a may not write any more.
    let found = db.store.lease(m).await.expect("read").expect("a lease");
    store_b
        .take_over_lease(&found, found.expires_at, 3)
        .await
        .expect("take")
        .expect("taken over");
    h.send(json!({"type": "lower_hand", "hall_id": y}));
    let closed = tokio::time::timeout(Duration::from_secs(5), h.close_frame())
        .await
        .expect("node a learns at its next renewal");
    assert_eq!(closed.0, 1012);
    let _ = tokio::time::timeout(Duration::from_secs(5), py.close_frame()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The halls come back through node b: the same floor, hand, mute and roll call.
    let mut h = invited(&b, &store_b, m, host).await;
    assert_carried(&welcomed(&mut h).await, halls, id);
    let mut pz = invited(&b, &store_b, m, z).await;
    assert_carried(&welcomed(&mut pz).await, halls, id);
    assert_eq!(roll_call(&mut pz).await, id);
    pz.send(json!({"type": "roll_call_answer", "status": "present"}));
    one_roll_call_with(&db.store, m, 3).await;
    let saved = db
        .store
        .live_state(m)
        .await
        .expect("read")
        .expect("written");
    assert_eq!(saved.node_id, "node-b", "the new home writes the state now");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_the_host_started_runs_again_after_a_restart() {
    let (db, m, host, _) = meeting().await;
    let store = &db.store;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let recording_node = || {
        let config = SignalingConfig {
            recordings_dir: Some(dir.path().to_path_buf()),
            ..quiet()
        };
        Signaling::start(SfuConfig::default(), config)
            .expect("valid config")
            .record_with(StoreRecorder::spawn(store.clone(), 10))
            .with_roster(store.clone())
    };
    let recording = |m: &ServerMessage| match m {
        ServerMessage::Recording(info) => Some(info.clone()),
        _ => None,
    };
    let first = recording_node();
    let mut h = invited(&first, store, m, host).await;
    welcomed(&mut h).await;
    h.send(json!({"type": "set_phase", "phase": "started"}));
    h.send(json!({"type": "start_recording"}));
    let on = h.expect("recording", recording).await;
    assert!(on.on, "{on:?}");
    first.stop().await;
    drop(h);

    let second = recording_node();
    let mut h = invited(&second, store, m, host).await;
    welcomed(&mut h).await;
    let on = h.expect("recording", recording).await;
    assert!(on.on, "recording again after the restart: {on:?}");
    assert_eq!(
        on.by,
        Some(signaling::protocol::Actor::Hall { hall_id: host }),
        "as started by the host"
    );
    logged(store, m, "recording_started", 2).await;
    db.cleanup().await;
}
