//! A meeting's live state kept across a move of its home: the home room's JSON written
//! under its lease epoch and refused once another node took the lease over; the latest
//! roll call read back from its rows with the answers so far.

use scheduler::attendance::RollCallStatus;
use scheduler::time::now;
use scheduler::{Backend, Level};

use crate::cluster::draft;
use crate::support::{demo_db, hall_of, scope, tan_son_halls, unit_id, who};

const LEASE: i64 = 15;

pub async fn a_live_state_is_written_by_its_home_only(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let m = s
        .schedule(&admin, draft(host, ts, t), None)
        .await
        .unwrap()
        .remove(0)
        .id;
    let [a, b] = ["node-a", "node-b"].map(|n| s.clone().with_node(n));
    assert_eq!(a.live_state(m).await.unwrap(), None, "nothing written yet");

    // Node a is home in epoch 1: its writes go in, the last one stands.
    a.take_lease(m, t, LEASE).await.unwrap();
    assert!(a
        .save_live_state(m, Some(1), t, r#"{"floor":1}"#)
        .await
        .unwrap());
    assert!(a
        .save_live_state(m, Some(1), t + 1, r#"{"floor":2}"#)
        .await
        .unwrap());
    let saved = b.live_state(m).await.unwrap().expect("written");
    assert_eq!(
        (
            saved.node_id.as_str(),
            saved.epoch,
            saved.written_at,
            saved.state.as_str()
        ),
        ("node-a", 1, t + 1, r#"{"floor":2}"#)
    );
    // A write under an epoch node a never held is refused.
    assert!(!a.save_live_state(m, Some(2), t + 1, "{}").await.unwrap());

    // Node a's lease lapses; node b takes it over (epoch 2) and writes: node a, back
    // from a stall, writes under epoch 1 and is refused; node b's state stands.
    let found = b.lease(m).await.unwrap().expect("a lease");
    b.take_over_lease(&found, t + LEASE, LEASE)
        .await
        .unwrap()
        .expect("taken over");
    assert!(b
        .save_live_state(m, Some(2), t + 16, r#"{"floor":3}"#)
        .await
        .unwrap());
    assert!(!a
        .save_live_state(m, Some(1), t + 17, r#"{"floor":9}"#)
        .await
        .unwrap());
    let saved = a.live_state(m).await.unwrap().expect("written");
    assert_eq!((saved.node_id.as_str(), saved.epoch), ("node-b", 2));
    assert_eq!(
        saved.state, r#"{"floor":3}"#,
        "the fenced node overwrote nothing"
    );

    // A node without a cluster (no lease) writes as `local`, epoch 0.
    let other = s
        .schedule(
            &admin,
            draft(host, scope(tan_son, &[Level::District]), t + 3 * 3600),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    assert!(s.save_live_state(other, None, t, "{}").await.unwrap());
    let saved = s.live_state(other).await.unwrap().expect("written");
    assert_eq!((saved.node_id.as_str(), saved.epoch), ("local", 0));
    db.cleanup().await;
}

pub async fn the_latest_roll_call_comes_back_with_its_answers(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (tan_son, [host, c, e]) = tan_son_halls(s).await;
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let m = s
        .schedule(&admin, draft(host, ts, t), None)
        .await
        .unwrap()
        .remove(0)
        .id;
    assert_eq!(s.latest_roll_call(m).await.unwrap(), None);
    let first = s.start_roll_call(m, t, None).await.unwrap();
    s.answer_roll_call(first, c, RollCallStatus::Present, "", t + 1, None)
        .await
        .unwrap();
    s.end_roll_call(first, t + 2, None, "").await.unwrap();
    let second = s.start_roll_call(m, t + 3, None).await.unwrap();
    s.answer_roll_call(second, e, RollCallStatus::Late, "", t + 4, None)
        .await
        .unwrap();
    s.answer_roll_call(second, c, RollCallStatus::Present, "", t + 5, None)
        .await
        .unwrap();
    let latest = s.latest_roll_call(m).await.unwrap().expect("a roll call");
    assert_eq!(latest.id, second);
    assert!(!latest.ended, "the second is open");
    assert_eq!(
        latest.answers,
        [(e, RollCallStatus::Late), (c, RollCallStatus::Present)]
    );
    s.end_roll_call(second, t + 6, None, "").await.unwrap();
    assert!(s.latest_roll_call(m).await.unwrap().expect("one").ended);
    db.cleanup().await;
}
