//! Fencing: a node whose home lease another node took over (it was paused, or cut off
//! from the database, long enough for its lease to lapse) learns it at its next renewal
//! and closes its room: the page is told to come back (1012) and nothing is recorded
//! by the old home — the intervals were closed by the take-over, once. Over the Phú Thọ
//! demo (SQLite, or PostgreSQL with `TEST_BACKEND=postgres`).

mod common;

use std::time::Duration;

use common::store::{invited, logged, rows, server};
use scheduler::testing::{demo_db, province_meeting_now, test_backend};
use scheduler::Level;
use signaling::protocol::ErrorCode;
use signaling::HomeLeases;

#[tokio::test]
async fn a_node_whose_lease_was_taken_over_closes_its_room_and_writes_nothing() {
    let db = demo_db(test_backend()).await.expect("demo database");
    let levels = [Level::Province, Level::District];
    let m = province_meeting_now(&db.store, "Giao ban", &levels)
        .await
        .expect("scheduled");
    let lease = Duration::from_secs(3);
    let (store_a, store_b) = (
        db.store.clone().with_node("node-a"),
        db.store.clone().with_node("node-b"),
    );
    let a = server(&store_a).with_home(HomeLeases::start(store_a.clone(), lease));
    a.watch_leases();
    let mut host = invited(&a, &store_a, m.id, m.host_hall_id).await;
    host.welcome().await;
    logged(&db.store, m.id, "join", 1).await;

    // Node b finds node a's lease lapsed (as if node a had stood still for its length)
    // and takes it over: the host's interval is closed at node a's last presence write.
    let found = db.store.lease(m.id).await.expect("read").expect("a lease");
    let over = store_b
        .take_over_lease(&found, found.expires_at, 3)
        .await
        .expect("take")
        .expect("taken over");
    assert_eq!((over.lease.epoch, over.closed), (2, 1));

    // Node a's next renewal (every second) fails: its room sends the page away.
    let closed = tokio::time::timeout(Duration::from_secs(5), host.close_frame())
        .await
        .expect("the page is told within the renewal period");
    assert_eq!(closed, (1012, "server_restart".into()));
    for _ in 0..50 {
        if a.room_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.room_count(), 0, "node a's room is gone");
    assert_eq!(a.home().expect("leases").held().await, Vec::<i64>::new());
    // The page comes back to node a and is sent on to the new home.
    let mut again = invited(&a, &store_a, m.id, m.host_hall_id).await;
    assert_eq!(again.error().await, ErrorCode::HomeElsewhere);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leaves: Vec<String> = db
        .store
        .live_events(m.id)
        .await
        .expect("log")
        .into_iter()
        .filter(|e| e.kind == "leave")
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        leaves,
        ["node_lost"],
        "the old home wrote no leave of its own"
    );
    assert_eq!(rows(&db.store, m.id, "join").await, 1);
    db.cleanup().await;
}
