//! A slow media node does not slow the room (docs/cluster.md, "Step 2b"): three nodes in
//! one process as in `placement`, node c's NATS link congested (a test-side relay holds
//! back everything the server sends c). The home room (on a) gives the floor: halls on a
//! and b are shown the new speaker at once, while c's queue waits for c; c's hall is
//! shown it too once c answers.

mod common;

use std::time::{Duration, Instant};

use common::nodes::{meeting_with_halls, negotiate, node, node_at, shown, NATS};
use common::slowlink::SlowLink;
use common::store::invited;
use common::{quiet, wait_until};
use serde_json::json;
use sfu::testclient::TestClient;
use signaling::SignalingConfig;

/// How late node c hears anything once its link is congested.
const C_DELAY: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halls_on_other_nodes_see_a_floor_change_while_one_node_is_slow() {
    let (db, m, halls) = meeting_with_halls("Giao ban nút chậm", 4).await;
    let (speaker, hall_a, hall_b, hall_c) = (halls[0], halls[1], halls[2], halls[3]);
    let run = std::process::id();
    let a = node(&db.store, &format!("qa-{run}")).await;
    let b = node(&db.store, &format!("qb-{run}")).await;
    let link = SlowLink::start(NATS.trim_start_matches("nats://")).await;
    let config = SignalingConfig {
        grace: Duration::from_secs(1),
        ..quiet()
    };
    let (c, _) = node_at(&db.store, &format!("qc-{run}"), config, &link.nats_url).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The host (on a, the home) and the hall to be given the floor (through b, on b's
    // SFU) publish.
    let mut host = invited(&a, &db.store, m.id, m.host_hall_id).await;
    host.welcome().await;
    let host_media = TestClient::publisher().await.expect("publisher");
    negotiate(&mut host, &host_media).await;
    let _host_sending = host_media.start_publishing().await.expect("sending");
    let mut page_s = invited(&b, &db.store, m.id, speaker).await;
    page_s.welcome().await;
    let s_media = TestClient::publisher().await.expect("publisher");
    negotiate(&mut page_s, &s_media).await;
    let _s_sending = s_media.start_publishing().await.expect("sending");

    // A viewing hall on each node, each showing the host at first.
    let mut viewers = Vec::new();
    for (node, hall) in [(&a, hall_a), (&b, hall_b), (&c, hall_c)] {
        let mut page = invited(node, &db.store, m.id, hall).await;
        page.welcome().await;
        let client = TestClient::subscriber(2, 2).await.expect("subscriber");
        negotiate(&mut page, &client).await;
        viewers.push((page, client));
    }
    for (_, client) in &viewers {
        wait_until("the host's video and audio reach every hall", || {
            client.received().values().filter(|p| p.len() >= 20).count() == 2
        })
        .await;
    }

    // Node c's link congests: it hears everything 1.5 s late (its answers too).
    link.set_delay(C_DELAY);
    let given = Instant::now();
    host.send(json!({"type": "give_floor", "hall_id": speaker}));
    let mut took = Vec::new();
    for (page, _) in &mut viewers[..2] {
        shown(page, speaker, 2).await;
        took.push(given.elapsed());
    }
    println!(
        "the floor change shown on a after {:?}, on b after {:?}",
        took[0], took[1]
    );
    for t in &took {
        assert!(
            *t < C_DELAY,
            "halls on a and b are not held up by slow node c: {took:?}"
        );
    }
    // c's hall is shown the change once c answered, and receives the speaker's media.
    let (page_c, client_c) = &mut viewers[2];
    shown(page_c, speaker, 2).await;
    let at_c = given.elapsed();
    println!("the floor change shown on c after {at_c:?}");
    assert!(at_c > C_DELAY, "c's answers were late: {at_c:?}");
    wait_until("the speaker's video and audio reach c's hall", || {
        client_c
            .received()
            .values()
            .filter(|p| p.len() >= 20)
            .count()
            == 4
    })
    .await;
    db.cleanup().await;
}
