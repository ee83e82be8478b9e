//! A cluster node drains on SIGTERM: three `hoinghi` processes on one PostgreSQL database
//! and the NATS server at 127.0.0.1:4222 (`TEST_BACKEND=postgres`; skipped on SQLite),
//! leases of 120 s (so nothing here can come from a lease lapsing). A started meeting is
//! homed on node a, with halls in through node a and through node b (bridged); a second
//! meeting, started over node a's API, has no hall. SIGTERM to node a → it gives its
//! leases up and hands both meetings to a living node, which opens their rooms in their
//! recorded phase; the halls' pages are sent there (`home_elsewhere` naming it) and
//! welcomed again, started; their intervals go on (a reconnect within the grace period,
//! no absence, no `node_lost`/`network_lost`); node a exits with status 0. The chair's
//! state goes with the meeting: the floor given to a hall on node a, a hand raised and a
//! mute of halls bridged from node b, and the open roll call two of them answered are in
//! every page's `welcome` on the new home; the third answer goes into the same roll call.
//! A hall that never comes back after the drain is closed by the new home at its last
//! presence write once the grace period is over, not left open to the meeting's end. The
//! two tests run at once, two three-node clusters on one NATS server: each cluster's
//! nodes hear only their own cluster's beats (else a drain may hand a meeting to the
//! other cluster's node).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use common::chaired::Chaired;
use common::cluster::{cluster_data, Cluster};
use common::roaming::{hall, hall_driven, terminate, Welcome};
use common::{get_json, login, store_of, sudden_meeting, wait_until};

#[tokio::test]
async fn a_stopping_home_node_hands_its_meetings_and_halls_over() {
    let Some(data) = cluster_data().await else {
        return;
    };
    // Names of this run only (other tests may share the NATS server), in id order.
    let run = std::process::id();
    let names: Arc<Vec<String>> =
        Arc::new(["da", "db", "dc"].map(|n| format!("{n}-{run}")).to_vec());
    let mut cluster =
        Cluster::start_public(&data, &names, &[("HOINGHI_CLUSTER__LEASE_SECS", "120")]).await;
    let ws_urls: Arc<Vec<String>> = Arc::new(cluster.ws_urls());
    let store = store_of(&data).await;
    let base_a = cluster.base(0);
    let (meeting, mut invited) = sudden_meeting(&base_a, &store, "vp.tinh", "25").await;
    invited.truncate(5);
    let seen: Arc<Mutex<Vec<Welcome>>> = Arc::default();
    let welcomes = |seen: &Arc<Mutex<Vec<Welcome>>>| seen.lock().unwrap().clone();

    // The host through node a (home, and starts the meeting), two halls through node a,
    // two through node b (bridged to node a's room).
    let mut pages = Vec::new();
    let mut orders = Vec::new();
    for (i, (h, t)) in invited.iter().enumerate() {
        let first = if i <= 2 { 0 } else { 1 };
        let (to_page, page_orders) = tokio::sync::mpsc::unbounded_channel();
        orders.push((*h, to_page));
        pages.push(tokio::spawn(hall_driven(
            names.clone(),
            ws_urls.clone(),
            first,
            (*h, t.clone()),
            i == 0,
            seen.clone(),
            page_orders,
        )));
        if i == 0 {
            wait_until("the host is in", || welcomes(&seen).len() == 1).await;
        }
    }
    wait_until("five halls are in", || welcomes(&seen).len() == 5).await;
    // The host's floor to x (on node a); y and z bridged from node b.
    let mut orders = orders.into_iter();
    let mut next = || orders.next().unwrap();
    let (host, x, _) = (next(), next(), next());
    let chaired = Chaired {
        host,
        x,
        y: next(),
        z: next(),
    };
    let lease = store.lease(meeting).await.unwrap().expect("a lease");
    assert_eq!((&lease.node_id, lease.epoch), (&names[0], 1));

    // A second meeting started over node a's API, with no hall in it.
    let (quiet, _) = sudden_meeting(&base_a, &store, "vp.tinh", "25").await;
    let http = reqwest::Client::new();
    let staff = login(&http, &base_a, "vp.tinh").await;
    let started = http
        .post(format!("{base_a}/api/v1/meetings/{quiet}/live"))
        .bearer_auth(&staff)
        .json(&json!({ "type": "set_phase", "phase": "started" }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200, "{:?}", started.text().await);
    let starts = |m: i64| {
        let store = store.clone();
        async move {
            let events = store.live_events(m).await.unwrap();
            events
                .iter()
                .filter(|e| e.kind == "meeting_started")
                .count()
        }
    };
    for m in [meeting, quiet] {
        for _ in 0..100 {
            if starts(m).await == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(starts(m).await, 1, "meeting {m} started");
    }
    let chair = chaired.chair(&http, &base_a, &staff, &store, meeting).await;

    // SIGTERM to node a: it drains and exits cleanly.
    let mut node_a = cluster.nodes.remove(0);
    let stopped = Instant::now();
    terminate(&mut node_a).await;
    let exited = stopped.elapsed();
    wait_until("the five halls are back", || welcomes(&seen).len() == 10).await;
    let back = stopped.elapsed();
    let after = welcomes(&seen)[5..].to_vec();
    assert!(
        after.iter().all(|w| w.node != 0 && w.phase == "started"),
        "every hall is welcomed again through a living node, started: {after:?}"
    );
    // With the floor, the hand, the mute and the open roll call of before.
    chaired.carried_over(&after, &chair, &store, meeting).await;
    // Both meetings have a new home at once (a lease of 120 s has not lapsed): epoch 2.
    let mut homes = Vec::new();
    for m in [meeting, quiet] {
        let l = store.lease(m).await.unwrap().expect("a lease");
        assert!(
            l.node_id != names[0] && l.epoch == 2 && l.is_live(scheduler::time::now()),
            "meeting {m} handed over: {l:?}"
        );
        homes.push(l.node_id);
    }
    println!(
        "SIGTERM to the home node: it exited after {:.2} s; all five halls welcomed again \
         after {:.2} s",
        exited.as_secs_f64(),
        back.as_secs_f64()
    );
    // The quiet meeting's room is open on its new home, started, shown through any node.
    let base_b = cluster.base(1);
    let staff_b = login(&http, &base_b, "vp.tinh").await;
    let shown = get_json(
        &http,
        &format!("{base_b}/api/v1/meetings/{quiet}/live"),
        &staff_b,
    )
    .await;
    assert_eq!(shown["state"]["phase"], "started", "{shown}");

    // The records: per hall one interval, open, that went on (a reconnect), no leave;
    // one start of each meeting.
    let admin = store.principal_by_username("admin").await.unwrap();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = store.live_events(meeting).await.unwrap();
        let back = |h: i64| {
            events
                .iter()
                .any(|e| e.hall_id == Some(h) && e.kind == "reconnect")
        };
        if invited.iter().all(|(h, _)| back(*h)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (hall_id, _) in &invited {
        let mine: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e.hall_id == Some(*hall_id))
            .filter(|e| ["join", "leave", "reconnect"].contains(&e.kind.as_str()))
            .map(|e| (e.kind.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            mine,
            [("join", ""), ("reconnect", "")],
            "hall {hall_id}: its interval goes on"
        );
    }
    let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
    for (hall_id, _) in &invited {
        let row = rows.iter().find(|r| r.hall.hall_id == *hall_id).unwrap();
        let timeline: Vec<(Option<&str>, bool)> = row
            .timeline
            .iter()
            .map(|i| (i.end_reason.as_deref(), i.left_at.is_none()))
            .collect();
        assert_eq!(
            timeline,
            [(None, true)],
            "hall {hall_id}: one interval, open, no absence"
        );
    }
    for m in [meeting, quiet] {
        assert_eq!(starts(m).await, 1, "no second start of {m}");
    }
    for p in pages {
        p.abort();
    }
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}

#[tokio::test]
async fn a_hall_that_never_comes_back_after_a_drain_is_closed_where_it_was_last_seen() {
    let Some(data) = cluster_data().await else {
        return;
    };
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
