//! A home node dies: another node takes its lapsed lease over once (a new epoch that
//! fences the old holder out) and closes the intervals the dead node left open in that
//! meeting at its last presence write; halls coming back open new intervals.

use scheduler::attendance::JoinKind;
use scheduler::time::now;
use scheduler::{Backend, Level, Store};

use crate::cluster::{draft, intervals};
use crate::support::{demo_db, hall_of, scope, tan_son_halls, unit_id, who};

const GRACE: i64 = 30;
const LEASE: i64 = 15;

pub async fn a_dead_homes_meeting_is_taken_over_once(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (tan_son, [host, c, e]) = tan_son_halls(s).await;
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let schedule = |start| s.schedule(&admin, draft(host, ts.clone(), start), None);
    let m = schedule(t).await.unwrap().remove(0).id;
    let other = schedule(t + 3 * 3600).await.unwrap().remove(0).id;
    let [a, b, c_node] = ["node-a", "node-b", "node-c"].map(|n| s.clone().with_node(n));

    // Node a is home to both meetings; halls c and e are in m, hall c in the other.
    a.take_lease(m, t, LEASE).await.unwrap();
    a.take_lease(other, t, LEASE).await.unwrap();
    a.meeting_started(m, t, None).await.unwrap();
    a.record_join(m, c, t + 1, GRACE).await.unwrap();
    a.record_join(m, e, t + 1, GRACE).await.unwrap();
    a.record_join(other, c, t + 1, GRACE).await.unwrap();
    a.record_heartbeats(m, &[c, e], t + 5).await.unwrap();
    a.record_disconnect(m, e, t + 8).await.unwrap();
    assert!(a.renew_lease(other, 1, t + 10, 2 * LEASE).await.unwrap());
    assert_eq!(
        b.lapsed_leases(t + 14).await.unwrap(),
        [],
        "nothing lapsed yet"
    );

    // Node a dies at t+10: m's lease lapses at t+15 (the other meeting's was renewed).
    let lapsed = b.lapsed_leases(t + 16).await.unwrap();
    let ids: Vec<(i64, &str, i64)> = lapsed
        .iter()
        .map(|l| (l.meeting_id, l.node_id.as_str(), l.epoch))
        .collect();
    assert_eq!(ids, [(m, "node-a", 1)]);
    let over = b
        .take_over_lease(&lapsed[0], t + 16, LEASE)
        .await
        .unwrap()
        .expect("node b takes the lapsed lease over");
    assert_eq!(
        (over.lease.node_id.as_str(), over.lease.epoch, over.closed),
        ("node-b", 2, 2)
    );
    // Node c saw the same lapsed lease a moment later: it is taken, it gets nothing.
    assert_eq!(
        c_node
            .take_over_lease(&lapsed[0], t + 16, LEASE)
            .await
            .unwrap(),
        None
    );
    assert_eq!(b.lapsed_leases(t + 17).await.unwrap(), []);
    // The dead node, back, is fenced out: it cannot renew nor give the lease up.
    assert!(!a.renew_lease(m, 1, t + 17, LEASE).await.unwrap());
    assert!(!a.release_lease(m, 1).await.unwrap());

    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        intervals(&rows, c),
        [(t + 1, Some(t + 5), Some("node_lost".into()))],
        "closed at node a's last heartbeat"
    );
    assert_eq!(
        intervals(&rows, e),
        [(t + 1, Some(t + 8), Some("network_lost".into()))],
        "a hall that had dropped ends when it dropped"
    );
    let elsewhere = s.meeting_attendance(&admin, other).await.unwrap();
    assert_eq!(
        intervals(&elsewhere, c),
        [(t + 1, None, None)],
        "the meeting node a still holds is left alone"
    );

    // The halls come back through node b: a new interval each, nothing continued.
    assert_eq!(
        b.record_join(m, c, t + 18, GRACE).await.unwrap(),
        JoinKind::New
    );
    assert_eq!(
        b.record_join(m, e, t + 18, GRACE).await.unwrap(),
        JoinKind::New
    );
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(intervals(&rows, c).len(), 2);
    assert_eq!(intervals(&rows, e)[1], (t + 18, None, None));
    assert_eq!(
        s.recorded_phase(m).await.unwrap(),
        scheduler::live::RecordedPhase::Started
    );
    db.cleanup().await;
}

pub async fn a_join_that_takes_a_lapsed_lease_closes_the_dead_nodes_intervals(backend: Backend) {
    use scheduler::LeaseTake::Taken;
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let (host, c) = (hall_of(s, "240").await.id, hall_of(s, "08578").await.id);
    let t = now();
    let m = s
        .schedule(
            &admin,
            draft(host, scope(tan_son, &[Level::Commune]), t),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let (a, b) = (s.clone().with_node("node-a"), s.clone().with_node("node-b"));
    a.take_lease(m, t, LEASE).await.unwrap();
    a.record_join(m, c, t + 1, GRACE).await.unwrap();
    a.record_heartbeats(m, &[c], t + 4).await.unwrap();
    // A hall's join reaches node b after the lease lapsed (before any watcher looked).
    let Taken(lease) = b.take_lease(m, t + 20, LEASE).await.unwrap() else {
        panic!("node b takes the lapsed lease");
    };
    assert_eq!((lease.node_id.as_str(), lease.epoch), ("node-b", 2));
    assert_eq!(
        b.record_join(m, c, t + 20, GRACE).await.unwrap(),
        JoinKind::New,
        "within the grace period, yet a new interval: node a's was closed at the take"
    );
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        intervals(&rows, c),
        [
            (t + 1, Some(t + 4), Some("node_lost".into())),
            (t + 20, None, None)
        ]
    );
    // Node b taking its own lease again (its room reopened) closes nothing of its own.
    assert!(matches!(
        b.take_lease(m, t + 21, LEASE).await.unwrap(),
        Taken(_)
    ));
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(intervals(&rows, c)[1], (t + 20, None, None));
    db.cleanup().await;
}

pub async fn nodes_racing_to_take_over_get_one_home_and_close_once(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let halls = [
        hall_of(s, "08578").await.id,
        hall_of(s, "08545").await.id,
        hall_of(s, "08590").await.id,
    ];
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let mut meetings = Vec::new();
    for round in 0..5 {
        let start = t + round * 3 * 3600;
        let m = s.schedule(&admin, draft(host, ts.clone(), start), None);
        meetings.push(m.await.unwrap().remove(0).id);
    }
    let a = s.clone().with_node("node-a");
    for &m in &meetings {
        a.take_lease(m, t, LEASE).await.unwrap();
        for &h in &halls {
            a.record_join(m, h, t + 1, GRACE).await.unwrap();
        }
    }
    // Two nodes with pools of their own find the same lapsed leases at once.
    let b = Store::connect(&db.url).await.unwrap().with_node("node-b");
    let c = Store::connect(&db.url).await.unwrap().with_node("node-c");
    let lapsed = b.lapsed_leases(t + LEASE).await.unwrap();
    assert_eq!(lapsed.len(), meetings.len());
    for found in &lapsed {
        let (x, y) = tokio::join!(
            b.take_over_lease(found, t + LEASE, LEASE),
            c.take_over_lease(found, t + LEASE, LEASE)
        );
        let winners: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
        assert_eq!(
            winners.len(),
            1,
            "meeting {}: {winners:?}",
            found.meeting_id
        );
        assert_eq!(
            (winners[0].lease.epoch, winners[0].closed),
            (2, halls.len() as u64),
            "the winner closed each of node a's intervals, the loser none"
        );
        let rows = s
            .meeting_attendance(&admin, found.meeting_id)
            .await
            .unwrap();
        for &h in &halls {
            assert_eq!(
                intervals(&rows, h),
                [(t + 1, Some(t + 1), Some("node_lost".into()))]
            );
        }
    }
    b.close().await;
    c.close().await;
    db.cleanup().await;
}

pub async fn ended_and_given_up_meetings_are_not_taken_over(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let mut ids = Vec::new();
    for round in 0..3 {
        let m = s.schedule(&admin, draft(host, ts.clone(), t + round * 3 * 3600), None);
        ids.push(m.await.unwrap().remove(0).id);
    }
    let a = s.clone().with_node("node-a");
    for &m in &ids {
        a.take_lease(m, t, LEASE).await.unwrap();
    }
    let c = hall_of(s, "08578").await.id;
    a.record_join(ids[1], c, t + 1, GRACE).await.unwrap();
    // One ended, one's node stopped gracefully (its lease given up, its halls' leaves
    // still on their way through its writer), one's node died.
    a.meeting_ended(ids[0], t + 2, None).await.unwrap();
    assert!(a.release_lease(ids[1], 1).await.unwrap());
    let lapsed: Vec<i64> = s
        .lapsed_leases(t + LEASE + 1)
        .await
        .unwrap()
        .iter()
        .map(|l| l.meeting_id)
        .collect();
    assert_eq!(lapsed, [ids[2]]);
    // A join through node b takes the given-up lease and leaves node a's leave to node a.
    let b = s.clone().with_node("node-b");
    let found = s.lease(ids[1]).await.unwrap().unwrap();
    let over = b
        .take_over_lease(&found, t + 3, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((over.lease.epoch, over.closed), (2, 0));
    a.record_leave(
        ids[1],
        c,
        t + 2,
        scheduler::attendance::LeaveReason::ServerRestart,
    )
    .await
    .unwrap();
    let rows = s.meeting_attendance(&admin, ids[1]).await.unwrap();
    assert_eq!(
        intervals(&rows, c),
        [(t + 1, Some(t + 2), Some("server_restart".into()))]
    );
    db.cleanup().await;
}

/// A draining node hands its meetings over with the halls' intervals open (they come
/// back within the grace period and continue them); a hall that never comes back is
/// closed by the new home at its last presence write once the grace period is over —
/// not hours later at the meeting's end.
pub async fn halls_that_never_come_back_after_a_drain_are_closed_by_the_new_home(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (tan_son, [host, c, e]) = tan_son_halls(s).await;
    let t = now();
    let ts = scope(tan_son, &[Level::District, Level::Commune]);
    let schedule = |start| s.schedule(&admin, draft(host, ts.clone(), start), None);
    let m = schedule(t).await.unwrap().remove(0).id;
    let other = schedule(t + 3 * 3600).await.unwrap().remove(0).id;
    let [a, b, c_node] = ["node-a", "node-b", "node-c"].map(|n| s.clone().with_node(n));

    // Node a is home to both; halls c and e are in m, hall c in the other too.
    for meeting in [m, other] {
        a.take_lease(meeting, t, LEASE).await.unwrap();
        a.record_join(meeting, c, t + 1, GRACE).await.unwrap();
    }
    a.record_join(m, e, t + 1, GRACE).await.unwrap();
    a.record_heartbeats(m, &[c, e], t + 5).await.unwrap();
    // Node a drains at t+7: it gives both leases up, m goes to node b, the other to c.
    assert!(a.release_lease(m, 1).await.unwrap());
    assert!(a.release_lease(other, 1).await.unwrap());
    b.take_lease(m, t + 7, 3600).await.unwrap();
    c_node.take_lease(other, t + 7, 3600).await.unwrap();
    // Hall e comes back through node b and goes on; hall c never comes back.
    assert_eq!(
        b.record_join(m, e, t + 9, GRACE).await.unwrap(),
        JoinKind::Reconnected
    );

    assert_eq!(
        b.close_strays(t + 5 + GRACE, GRACE, 0).await.unwrap(),
        0,
        "within the grace period hall c may still come back"
    );
    assert_eq!(b.close_strays(t + 6 + GRACE, GRACE, 0).await.unwrap(), 1);
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        intervals(&rows, c),
        [(t + 1, Some(t + 5), Some("network_lost".into()))],
        "closed at its last heartbeat on node a"
    );
    assert_eq!(
        intervals(&rows, e),
        [(t + 1, None, None)],
        "the hall that came back is present"
    );
    let elsewhere = s.meeting_attendance(&admin, other).await.unwrap();
    assert_eq!(
        intervals(&elsewhere, c),
        [(t + 1, None, None)],
        "node b closes nothing in a meeting it is not home to"
    );
    assert_eq!(
        c_node.close_strays(t + 6 + GRACE, GRACE, 0).await.unwrap(),
        1,
        "the other meeting's new home closes its own stray"
    );
    assert_eq!(
        b.close_strays(t + 100 + GRACE, GRACE, 0).await.unwrap(),
        0,
        "nothing is closed twice, nor a present hall"
    );
    db.cleanup().await;
}
