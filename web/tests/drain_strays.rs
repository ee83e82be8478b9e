//! A hall that never comes back after a drain: three `hoinghi` processes on one
//! PostgreSQL database and the NATS server at 127.0.0.1:4222 (`TEST_BACKEND=postgres`;
//! skipped on SQLite), a short lease and grace period. Two halls' pages come back to the
//! new home after SIGTERM to node a; a third hall's socket never does: the new home
//! closes its interval at its last presence write (`network_lost`, at or before the
//! signal) once the grace period is over, not at the meeting's end. Its own test binary:
//! nodes of two clusters on one NATS server hear each other's beats, so the drain tests
//! must not run at once (a drain's successor is chosen among the nodes heard).

mod common;

use std::sync::{Arc, Mutex};

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use common::cluster::Cluster;
use common::roaming::{hall, terminate, Welcome};
use common::{store_of, sudden_meeting, wait_until, DataDir};

#[tokio::test]
async fn a_hall_that_never_comes_back_after_a_drain_is_closed_where_it_was_last_seen() {
    let data = DataDir::new().await;
    let url = data.database_url();
    if !url.starts_with("postgres") {
        eprintln!("skipped: a cluster needs PostgreSQL (TEST_BACKEND=postgres)");
        data.cleanup().await;
        return;
    }
    let run = std::process::id();
    let names: Arc<Vec<String>> =
        Arc::new(["ga", "gb", "gc"].map(|n| format!("{n}-{run}")).to_vec());
    // A short lease (the watcher looks every second) and grace period (1 s).
    let env = [
        ("HOINGHI_CLUSTER__LEASE_SECS", "3"),
        ("HOINGHI_RECONNECT_GRACE_SECS", "1"),
        ("HOINGHI_PRESENCE_SECS", "1"),
    ];
    let mut cluster = Cluster::start_public(&data, &names, &env).await;
    let ws_urls: Arc<Vec<String>> = Arc::new(cluster.ws_urls());
    let store = store_of(&data).await;
    let (meeting, invited) = sudden_meeting(&cluster.base(0), &store, "vp.tinh", "25").await;
    let seen: Arc<Mutex<Vec<Welcome>>> = Arc::default();
    let welcomes = |seen: &Arc<Mutex<Vec<Welcome>>>| seen.lock().unwrap().clone();

    // The host (starts the meeting) and a hall through node a, both coming back after
    // a drain as pages do; a third hall's socket joins through node a and never returns.
    let mut pages = Vec::new();
    for (i, (h, t)) in invited[..2].iter().enumerate() {
        pages.push(tokio::spawn(hall(
            names.clone(),
            ws_urls.clone(),
            0,
            *h,
            t.clone(),
            i == 0,
            seen.clone(),
        )));
        wait_until("the hall is in", || welcomes(&seen).len() == i + 1).await;
    }
    let (gone, gone_token) = invited[2].clone();
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_urls[0]).await.unwrap();
    let join = json!({ "type": "join", "v": 1, "token": gone_token });
    socket.send(Message::text(join.to_string())).await.unwrap();
    let admin = store.principal_by_username("admin").await.unwrap();
    let timeline_of = |hall: i64| {
        let store = store.clone();
        let admin = admin.clone();
        async move {
            let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
            let row = rows.iter().find(|r| r.hall.hall_id == hall).unwrap();
            row.timeline
                .iter()
                .map(|i| (i.end_reason.clone(), i.left_at))
                .collect::<Vec<_>>()
        }
    };
    for _ in 0..100 {
        if timeline_of(gone).await.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(timeline_of(gone).await.len(), 1, "the third hall is in");

    let mut node_a = cluster.nodes.remove(0);
    let stopped = scheduler::time::now();
    terminate(&mut node_a).await;
    drop(socket);
    wait_until("the two halls are back", || welcomes(&seen).len() == 4).await;

    // The new home closes the hall that did not come back, where it was last seen.
    let mut closed = Vec::new();
    for _ in 0..600 {
        closed = timeline_of(gone).await;
        if closed.iter().all(|(_, left)| left.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(closed.len(), 1, "one interval: {closed:?}");
    let (reason, left) = closed[0].clone();
    assert_eq!(reason.as_deref(), Some("network_lost"), "{closed:?}");
    assert!(
        left.is_some_and(|at| at <= stopped),
        "closed at its last presence before the drain ({stopped}): {closed:?}"
    );
    for (hall_id, _) in &invited[..2] {
        let timeline = timeline_of(*hall_id).await;
        assert!(
            timeline.len() == 1 && timeline[0].1.is_none(),
            "hall {hall_id} came back: one open interval: {timeline:?}"
        );
    }
    for p in pages {
        p.abort();
    }
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}
