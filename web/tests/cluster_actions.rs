//! A secretariat's live actions through any node: three `hoinghi` processes on one
//! PostgreSQL database and the NATS server at 127.0.0.1:4222, a meeting homed on node a
//! (its host joined there), a hall bridged to it through node c. The secretariat, logged
//! in on node b, gives the floor and starts the meeting over node b's API: node a's room
//! does it (c's page sees it), and node b's `GET …/live` shows node a's room. Once node a
//! is killed (its lease still live), node b answers 503 `home_unreachable` at once rather
//! than hang.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::cluster::Cluster;
use common::page::Page;
use common::{get_json, login, store_of, sudden_meeting, DataDir};

#[tokio::test]
async fn a_secretariat_acts_on_the_home_room_through_another_node() {
    let data = DataDir::postgres().await;
    // Names of this run only: other tests may share the NATS server.
    let run = std::process::id();
    let names = [
        format!("sa-{run}"),
        format!("sb-{run}"),
        format!("sc-{run}"),
    ];
    let mut cluster = Cluster::start(&data, &names, &[]).await;
    let (port_a, port_b, port_c) = (cluster.ports[0], cluster.ports[1], cluster.ports[2]);
    let store = store_of(&data).await;
    let base_b = format!("http://127.0.0.1:{port_b}");
    let (meeting, invited) = sudden_meeting(
        &format!("http://127.0.0.1:{port_a}"),
        &store,
        "vp.tinh",
        "25",
    )
    .await;
    let hall_c = invited[1].0;
    let (mut host, _) = Page::join(port_a, &invited[0].1).await;
    let lease = store.lease(meeting).await.unwrap().expect("a lease");
    assert_eq!(lease.node_id, names[0], "node a is the meeting's home");
    let (mut page_c, _) = Page::join(port_c, &invited[1].1).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let staff = login(&http, &base_b, "vp.tinh").await;
    let live = format!("{base_b}/api/v1/meetings/{meeting}/live");
    let post = |body: Value| http.post(&live).bearer_auth(&staff).json(&body).send();

    // Through node b: the floor to c's hall, and the meeting started — in node a's room.
    let given = post(json!({ "type": "give_floor", "hall_id": hall_c }))
        .await
        .unwrap();
    assert_eq!(given.status(), 200, "{:?}", given.text().await);
    for page in [&mut host, &mut page_c] {
        page.expect("the floor given to c", |m| {
            m["type"] == "floor" && m["hall_id"] == hall_c
        })
        .await;
    }
    let started = post(json!({ "type": "set_phase", "phase": "started" }))
        .await
        .unwrap();
    assert_eq!(started.status(), 200, "{:?}", started.text().await);
    page_c
        .expect("the meeting started", |m| {
            m["type"] == "meeting_state" && m["phase"] == "started"
        })
        .await;
    // A refusal of the home room comes back as it would on node a.
    let unknown = post(json!({ "type": "give_floor", "hall_id": 987_654 }))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"]["code"], "unknown_hall", "{unknown}");

    // Node b shows node a's room: started, the floor with c, c connected.
    let shown = get_json(&http, &live, &staff).await;
    assert_eq!(shown["state"]["phase"], "started", "{shown}");
    assert_eq!(shown["state"]["floor"]["hall_id"], hall_c, "{shown}");
    let connected: Vec<i64> = shown["readiness"]["halls"]
        .as_array()
        .expect("the readiness board")
        .iter()
        .filter(|h| h["state"] != "not_connected")
        .map(|h| h["hall_id"].as_i64().unwrap())
        .collect();
    assert!(
        connected.contains(&invited[0].0) && connected.contains(&hall_c),
        "the host and c are connected: {shown}"
    );
    // The home node records the action once, with the secretariat's account.
    assert_eq!(
        store.recorded_phase(meeting).await.unwrap(),
        scheduler::live::RecordedPhase::Started
    );

    // Node a dies with its lease live: node b says the home cannot be reached, soon.
    cluster.nodes[0].kill().await.unwrap();
    let asked = Instant::now();
    let refused = post(json!({ "type": "set_phase", "phase": "ended" }))
        .await
        .expect("an answer, not a hang");
    assert_eq!(refused.status(), 503);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "home_unreachable", "{refused}");
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "answered after {:?}",
        asked.elapsed()
    );
    drop((host, page_c));
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}
