//! A join reaching a living node while the meeting's home node is dead
//! (`TEST_BACKEND=postgres`; three real `hoinghi` processes, skipped on SQLite): the
//! home's lease is still live, its node answers nothing. The join waits until the lease
//! lapses and is then welcomed (the living node takes the lease, or bridges the hall to
//! the node that took it) — it is not refused `home_elsewhere` naming the dead node,
//! which sent the page to the dead node and back with a growing retry delay.

mod common;

use common::cluster::{cluster_data, Cluster};
use common::page::Page;
use common::{store_of, sudden_meeting};

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

#[tokio::test]
async fn a_join_on_a_living_node_waits_for_the_dead_homes_lease_and_is_welcomed() {
    let Some(data) = cluster_data().await else {
        return;
    };
    // A lease long enough that the join surely comes before it lapses.
    let mut cluster =
        Cluster::start_public(&data, &NODES, &[("HOINGHI_CLUSTER__LEASE_SECS", "8")]).await;
    let store = store_of(&data).await;
    let (meeting, invited) = sudden_meeting(&cluster.base(0), &store, "vp.tinh", "25").await;
    // The host joins through node a: node a is home.
    let (host, _) = Page::join(cluster.ports[0], &invited[0].1).await;
    let lease = store.lease(meeting).await.unwrap().expect("a lease");
    assert_eq!((lease.node_id.as_str(), lease.epoch), ("node-a", 1));

    let mut node_a = cluster.nodes.remove(0);
    node_a.kill().await.unwrap();
    let now = scheduler::time::now();
    let still = store.lease(meeting).await.unwrap().expect("a lease");
    assert!(
        still.node_id == "node-a" && still.is_live(now),
        "the dead node's lease is still live when the hall joins: {still:?}"
    );
    // A hall joins through node b (ports[1]): welcomed once the lease lapsed, not sent
    // to node a (Page::join fails on an `error`).
    let (hall, welcome) = Page::join(cluster.ports[1], &invited[1].1).await;
    assert_eq!(welcome["hall"]["id"].as_i64(), Some(invited[1].0));
    let lease = store.lease(meeting).await.unwrap().expect("a lease");
    assert!(
        lease.node_id != "node-a" && lease.epoch == 2,
        "a living node took the lease over: {lease:?}"
    );
    // So is the host, its page moving on from the dead node to node c.
    let (host_again, _) = Page::join(cluster.ports[2], &invited[0].1).await;
    drop(host);
    hall.close().await;
    host_again.close().await;
    drop(cluster);
    store.close().await;
    data.cleanup().await;
}
