//! Two nodes on one database (the Phú Thọ demo on a fresh SQLite file, or PostgreSQL
//! with `TEST_BACKEND=postgres`): the first node to open a meeting's room is its home
//! and holds its lease; the other refuses that meeting's halls with `home_elsewhere`,
//! naming the home node, until the home node stops and gives the lease up.

mod common;

use std::time::Duration;

use common::store::{invited, server};
use signaling::protocol::{ErrorCode, ServerMessage};
use signaling::HomeLeases;

#[tokio::test]
async fn a_second_node_refuses_a_meeting_another_node_is_home_to() {
    let (db, m, halls) = common::nodes::meeting_with_halls("Giao ban hai máy chủ", 1).await;
    let other = halls[0];
    let lease = Duration::from_secs(3);
    let (store_a, store_b) = (
        db.store.clone().with_node("node-a"),
        db.store.clone().with_node("node-b"),
    );
    let a = server(&store_a).with_home(HomeLeases::start(store_a.clone(), lease));
    let b = server(&store_b).with_home(HomeLeases::start(store_b.clone(), lease));

    let mut host = invited(&a, &store_a, m.id, m.host_hall_id).await;
    host.welcome().await;
    assert_eq!(a.home().expect("leases").held().await, [m.id]);

    let refused = |m: &ServerMessage| match m {
        ServerMessage::Error { code, message } => Some((*code, message.clone())),
        _ => None,
    };
    let mut page = invited(&b, &store_b, m.id, other).await;
    let (code, message) = page.expect("a refusal", refused).await;
    assert_eq!(code, ErrorCode::HomeElsewhere);
    assert!(message.contains("node-a"), "names the home node: {message}");
    assert_eq!(page.close_frame().await, (1013, "home_elsewhere".into()));
    assert_eq!(b.room_count(), 0, "no second room");

    // Renewed every second, the lease outlives its three seconds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut page = invited(&b, &store_b, m.id, other).await;
    assert_eq!(page.error().await, ErrorCode::HomeElsewhere);

    // Node a stops: it gives the lease up and node b may be home at once.
    a.stop().await;
    let given_up = db.store.lease(m.id).await.expect("read").expect("a lease");
    assert!(!given_up.is_live(scheduler::time::now()));
    let mut page = invited(&b, &store_b, m.id, other).await;
    page.welcome().await;
    let now_home = db.store.lease(m.id).await.expect("read").expect("a lease");
    assert_eq!(
        (now_home.node_id.as_str(), now_home.epoch),
        ("node-b", 2),
        "node b took it over in a new epoch"
    );
    assert_eq!(b.home().expect("leases").held().await, [m.id]);
    db.cleanup().await;
}
