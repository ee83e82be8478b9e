//! Two `hoinghi` processes on one database (PostgreSQL with `TEST_BACKEND=postgres`, as
//! two cluster nodes `node-a` and `node-b`; else one SQLite file): asked at the same
//! instant to schedule overlapping meetings of the same hall, one books it (200) and
//! the other is told of the conflict (409) — twenty times over.
//!
//! Three `hoinghi` processes on one PostgreSQL database and the NATS server at
//! 127.0.0.1:4222: the host joins on node a (the meeting's home), halls join through
//! nodes b and c and are bridged to node a's room — the floor, a roll call and a socket
//! closing behave as for halls on one node; a bridging node killed loses its halls; and
//! with media (`sfu::testclient`), a hall on node c receives the video and audio of the
//! floor holder on node b, each hall's media on its own node's SFU (the answers' ports
//! differ; the cascade's relays carry the streams between the nodes).

mod common;

use serde_json::{json, Value};

use common::cluster::Cluster;
use common::page::Page;
use common::{free_port, login, start_node, store_of, sudden_meeting, DataDir};

#[tokio::test]
async fn two_nodes_asked_at_once_book_a_hall_once() {
    let data = DataDir::new().await;
    let second_dir = tempfile::tempdir().unwrap();
    let url = data.database_url();
    let postgres = url.starts_with("postgres");
    let cluster = |node: &'static str| -> Vec<(&'static str, &'static str)> {
        if postgres {
            vec![("HOINGHI_CLUSTER__NODE_ID", node)]
        } else {
            Vec::new()
        }
    };
    let (port_a, port_b) = (free_port(), free_port());
    // The first node seeds the demo; the second finds it there.
    let node_a = start_node(data.path(), &url, port_a, &cluster("node-a")).await;
    let node_b = start_node(second_dir.path(), &url, port_b, &cluster("node-b")).await;
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );

    let store = store_of(&data).await;
    let today = scheduler::time::local_date(scheduler::time::now());
    let province = store.unit_by_code("25", today).await.unwrap();
    let host = store
        .halls_in(&province.path)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.unit_id == province.id)
        .unwrap()
        .id;
    // One client (one connection pool) per node, each logged in on its own node.
    let (http_a, http_b) = (reqwest::Client::new(), reqwest::Client::new());
    let token_a = login(&http_a, &base_a, "vp.tinh").await;
    let token_b = login(&http_b, &base_b, "vp.tinh").await;
    let schedule = |http: &reqwest::Client, base: &str, token: &str, title: &str, at: i64| {
        let starts = chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .to_rfc3339();
        http.post(format!("{base}/api/v1/meetings"))
            .bearer_auth(token)
            .json(&json!({
                "title": title, "kind": "routine", "host_hall_id": host,
                "starts_at": starts, "duration_minutes": 60,
                "scope": { "root_unit_id": province.id, "levels": [province.level] },
            }))
            .send()
    };
    // Far from the demo's own meetings: a year ahead, one day per pair, 30 minutes apart.
    let first = scheduler::time::now() + 365 * 86_400;
    let mut outcomes = Vec::new();
    for pair in 0..20 {
        let at = first + pair * 86_400;
        let (a, b) = tokio::join!(
            schedule(&http_a, &base_a, &token_a, "Giao ban nút A", at),
            schedule(&http_b, &base_b, &token_b, "Giao ban nút B", at + 1800),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        let refused: Value = if a.status() == 409 {
            a.json().await.unwrap()
        } else {
            b.json().await.unwrap()
        };
        statuses.sort_unstable();
        // The API answers a booking 200 (with the meetings made), a conflict 409.
        assert_eq!(
            statuses,
            [200, 409],
            "pair {pair}: one booked, one refused ({refused})"
        );
        assert_eq!(
            refused["error"]["code"], "conflict",
            "pair {pair}: {refused}"
        );
        outcomes.push(statuses);
    }
    // The database holds exactly one meeting per pair.
    let booked = store
        .find_conflicts(&[host], &[(first - 1, first + 20 * 86_400)], &[])
        .await
        .unwrap();
    assert_eq!(booked.len(), 20, "{booked:?}");
    assert_eq!(outcomes.len(), 20);
    drop((node_a, node_b));
    store.close().await;
    data.cleanup().await;
}

#[tokio::test]
async fn halls_on_three_nodes_meet_in_the_home_room() {
    let data = DataDir::postgres().await;
    // Names of this run only: other tests may share the NATS server.
    let run = std::process::id();
    let names = [format!("a-{run}"), format!("b-{run}"), format!("c-{run}")];
    let mut cluster = Cluster::start(&data, &names, &[]).await;
    let (port_a, port_b, port_c) = (cluster.ports[0], cluster.ports[1], cluster.ports[2]);
    let store = store_of(&data).await;
    let (meeting, invited) = sudden_meeting(
        &format!("http://127.0.0.1:{port_a}"),
        &store,
        "vp.tinh",
        "25",
    )
    .await;
    let (hall_b, hall_c) = (invited[1].0, invited[2].0);

    let (mut host, _) = Page::join(port_a, &invited[0].1).await;
    let lease = store.lease(meeting).await.unwrap().expect("a lease");
    assert_eq!(lease.node_id, names[0], "node a is the meeting's home");
    let (mut page_b, welcome) = Page::join(port_b, &invited[1].1).await;
    let present: Vec<i64> = welcome["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["hall_id"].as_i64().unwrap())
        .collect();
    assert!(
        present.contains(&invited[0].0),
        "b's page, on node b, sees the host present on node a: {welcome}"
    );
    let (mut page_c, _) = Page::join(port_c, &invited[2].1).await;
    host.expect("c joined", |m| {
        m["type"] == "participant_joined" && m["hall_id"] == hall_c
    })
    .await;

    // The host (node a) gives the floor to b's hall: c's page (node c) sees it.
    host.send(json!({ "type": "give_floor", "hall_id": hall_b }))
        .await;
    page_c
        .expect("the floor given to b", |m| {
            m["type"] == "floor" && m["hall_id"] == hall_b
        })
        .await;

    // A roll call answered from nodes b and c is in the one report.
    host.send(json!({ "type": "set_phase", "phase": "started" }))
        .await;
    host.send(json!({ "type": "start_roll_call" })).await;
    for page in [&mut page_b, &mut page_c] {
        page.expect("the roll call", |m| m["type"] == "roll_call")
            .await;
    }
    page_b
        .send(json!({ "type": "roll_call_answer", "status": "present" }))
        .await;
    page_c
        .send(json!({ "type": "roll_call_answer", "status": "late" }))
        .await;
    let admin = store.principal_by_username("admin").await.unwrap();
    use scheduler::attendance::RollCallStatus;
    let expected = [
        (Some(RollCallStatus::Present), 1),
        (Some(RollCallStatus::Late), 1),
    ];
    let mut answers = Vec::new();
    // The report reads intervals and answers in two queries while the home node's
    // writer commits: poll until both are in (the assertion below says what is missing).
    for _ in 0..100 {
        let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
        answers = [hall_b, hall_c]
            .iter()
            .map(|h| {
                let row = rows.iter().find(|r| r.hall.hall_id == *h).expect("invited");
                (row.roll_call, row.intervals)
            })
            .collect();
        if answers == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        answers, expected,
        "each bridged hall answered once and has one open interval"
    );

    // b's socket closes (no leave): after the grace period (5 s here) the host and c
    // see b's hall lost, as for a hall on node a.
    page_b.close().await;
    for page in [&mut host, &mut page_c] {
        let left = page
            .expect("b left", |m| {
                m["type"] == "participant_left" && m["hall_id"] == hall_b
            })
            .await;
        assert_eq!(left["reason"], "network_lost", "{left}");
    }

    // Node c dies (SIGKILL) with c's page connected: node a stops hearing it, and after
    // three missed beats and the grace period the host sees c's hall lost.
    let mut node_c = cluster.nodes.pop().expect("node c");
    node_c.kill().await.unwrap();
    let left = host
        .expect("c lost with its node", |m| {
            m["type"] == "participant_left" && m["hall_id"] == hall_c
        })
        .await;
    assert_eq!(left["reason"], "network_lost", "{left}");
    drop(page_c);
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}

/// Offers `client`'s media through `page`, applies the answer and waits until connected.
async fn negotiate(page: &mut Page, client: &sfu::testclient::TestClient) -> Vec<u16> {
    let offer = client.offer().await.expect("offer");
    page.send(json!({ "type": "offer", "sdp": offer })).await;
    let answer = page.expect("answer", |m| m["type"] == "answer").await;
    let sdp = answer["sdp"].as_str().expect("sdp").to_string();
    let mut ports: Vec<u16> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    client.accept(sdp).await.expect("the answer applies");
    assert!(
        client
            .wait_connected(std::time::Duration::from_secs(20))
            .await,
        "media connects"
    );
    ports
}

/// How many SSRCs have brought at least 20 packets to `client`.
fn carrying(client: &sfu::testclient::TestClient) -> usize {
    client.received().values().filter(|p| p.len() >= 20).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_on_node_c_receives_the_video_of_a_hall_on_node_b() {
    use sfu::testclient::TestClient;
    let data = DataDir::postgres().await;
    let run = std::process::id();
    let names = [
        format!("am-{run}"),
        format!("bm-{run}"),
        format!("cm-{run}"),
    ];
    let cluster = Cluster::start(&data, &names, &[]).await;
    let (port_a, port_b, port_c) = (cluster.ports[0], cluster.ports[1], cluster.ports[2]);
    let store = store_of(&data).await;
    let (_, invited) = sudden_meeting(
        &format!("http://127.0.0.1:{port_a}"),
        &store,
        "vp.tinh",
        "25",
    )
    .await;
    let hall_b = invited[1].0;

    // The host (node a, the home) and hall b (node b) publish camera and microphone.
    let (mut host, _) = Page::join(port_a, &invited[0].1).await;
    let host_media = TestClient::publisher().await.expect("publisher");
    let media_a = negotiate(&mut host, &host_media).await;
    let _host_sending = host_media.start_publishing().await.expect("sending");
    let (mut page_b, _) = Page::join(port_b, &invited[1].1).await;
    let b_media = TestClient::publisher().await.expect("publisher");
    let media_b = negotiate(&mut page_b, &b_media).await;
    let _b_sending = b_media.start_publishing().await.expect("sending");

    // Hall c (node c) watches with two video and two audio slots: the host's first,
    // then — the floor given to b — b's video and audio too, each hall's media on its
    // own node's SFU (the cascade's relays a → c and b → c carry them).
    let (mut page_c, _) = Page::join(port_c, &invited[2].1).await;
    let c_media = TestClient::subscriber(2, 2).await.expect("subscriber");
    let media_c = negotiate(&mut page_c, &c_media).await;
    assert_eq!(
        (media_a.len(), media_b.len(), media_c.len()),
        (1, 1, 1),
        "one media port per answer: {media_a:?} {media_b:?} {media_c:?}"
    );
    assert!(
        media_a != media_b && media_b != media_c && media_a != media_c,
        "each hall's media on its own node (before: all on the home's port): a {media_a:?}, b {media_b:?}, c {media_c:?}"
    );
    common::wait_until("the host's video and audio reach c", || {
        carrying(&c_media) == 2
    })
    .await;
    host.send(json!({ "type": "give_floor", "hall_id": hall_b }))
        .await;
    page_c
        .expect("a slot showing b", |m| {
            m["type"] == "subscription" && m["source_hall_id"] == hall_b
        })
        .await;
    common::wait_until("b's video and audio reach c too", || {
        carrying(&c_media) == 4
    })
    .await;
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}
