//! Several nodes on one database: each node's recovery closes only its own intervals.
//! Each node is a store of its own name over the same database (as two processes are).

use scheduler::attendance::JoinKind;
use scheduler::reports::MeetingAttendance;
use scheduler::time::now;
use scheduler::{Backend, Level, MeetingDraft, MeetingKind, Scope, Store};

use crate::support::{demo_db, hall_of, scope, tan_son_halls, unit_id, who};

const GRACE: i64 = 30;

pub(crate) fn draft(host: i64, scope: Scope, start: i64) -> MeetingDraft {
    MeetingDraft {
        title: "Giao ban liên điểm".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: host,
        starts_at: start,
        ends_at: start + 7200,
        scope,
        recurrence: None,
    }
}

/// A hall's intervals as (joined, left, why it ended).
pub(crate) fn intervals(
    rows: &[MeetingAttendance],
    hall: i64,
) -> Vec<(i64, Option<i64>, Option<String>)> {
    rows.iter()
        .find(|r| r.hall.hall_id == hall)
        .expect("the hall is invited")
        .timeline
        .iter()
        .map(|i| (i.joined_at, i.left_at, i.end_reason.clone()))
        .collect()
}

pub async fn a_nodes_recovery_leaves_other_nodes_intervals_open(backend: Backend) {
    let db = demo_db(backend).await;
    let admin_store = &db.store;
    let admin = who(admin_store, "admin").await;
    let tan_son = unit_id(admin_store, "240").await;
    let (host, c, e, g) = (
        hall_of(admin_store, "240").await.id,
        hall_of(admin_store, "08578").await.id,
        hall_of(admin_store, "08545").await.id,
        hall_of(admin_store, "08590").await.id,
    );
    let start = now() + 3600;
    let m = admin_store
        .schedule(
            &admin,
            draft(
                host,
                scope(tan_son, &[Level::District, Level::Commune]),
                start,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let a: Store = admin_store.clone().with_node("node-a");
    let b: Store = admin_store.clone().with_node("node-b");
    assert_eq!(
        (admin_store.node_id(), a.node_id()),
        ("local", "node-a"),
        "a store without a name is the local node"
    );
    a.meeting_started(m, start, None).await.unwrap();
    a.record_join(m, c, start + 100, GRACE).await.unwrap();
    b.record_join(m, e, start + 110, GRACE).await.unwrap();
    b.record_join(m, g, start + 120, GRACE).await.unwrap();
    a.record_heartbeats(m, &[c], start + 150).await.unwrap();
    b.record_heartbeats(m, &[e, g], start + 170).await.unwrap();
    // Hall g drops from node b and comes back through node a within the grace period:
    // its interval goes on, and is node a's to close from now on.
    b.record_disconnect(m, g, start + 180).await.unwrap();
    assert_eq!(
        a.record_join(m, g, start + 190, GRACE).await.unwrap(),
        JoinKind::Reconnected
    );
    a.record_heartbeats(m, &[c, g], start + 200).await.unwrap();

    // Node a restarts: it closes its own two intervals at its last presence write.
    assert_eq!(a.recover_open_sessions().await.unwrap(), 2);
    let rows = admin_store.meeting_attendance(&admin, m).await.unwrap();
    let restart = Some("server_restart".to_string());
    assert_eq!(
        intervals(&rows, c),
        [(start + 100, Some(start + 200), restart.clone())]
    );
    assert_eq!(
        intervals(&rows, g),
        [(start + 120, Some(start + 200), restart.clone())],
        "the interval node a continued was closed by node a"
    );
    assert_eq!(
        intervals(&rows, e),
        [(start + 110, None, None)],
        "node b's hall is still present"
    );
    // A second start of node a, and the local node's, find nothing of theirs open.
    assert_eq!(a.recover_open_sessions().await.unwrap(), 0);
    assert_eq!(admin_store.recover_open_sessions().await.unwrap(), 0);

    // Node b goes on writing, then restarts too.
    b.record_heartbeats(m, &[e], start + 300).await.unwrap();
    assert_eq!(b.recover_open_sessions().await.unwrap(), 1);
    let rows = admin_store.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        intervals(&rows, e),
        [(start + 110, Some(start + 300), restart)]
    );
    db.cleanup().await;
}

pub async fn a_dead_nodes_intervals_are_closed_by_name(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (tan_son, [host, c, e]) = tan_son_halls(s).await;
    let start = now() + 3600;
    let m = s
        .schedule(
            &admin,
            draft(
                host,
                scope(tan_son, &[Level::District, Level::Commune]),
                start,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let (a, b) = (s.clone().with_node("node-a"), s.clone().with_node("node-b"));
    b.record_join(m, c, start + 10, GRACE).await.unwrap();
    b.record_join(m, e, start + 10, GRACE).await.unwrap();
    b.record_heartbeats(m, &[c, e], start + 40).await.unwrap();
    b.record_disconnect(m, e, start + 45).await.unwrap();
    // Node b died; node a takes its meetings over and closes what b left open.
    assert_eq!(a.close_node_sessions("node-b").await.unwrap(), 2);
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        intervals(&rows, c),
        [(start + 10, Some(start + 40), Some("server_restart".into()))]
    );
    assert_eq!(
        intervals(&rows, e),
        [(start + 10, Some(start + 45), Some("network_lost".into()))],
        "a hall that had dropped ends when it dropped"
    );
    assert_eq!(b.recover_open_sessions().await.unwrap(), 0);
    db.cleanup().await;
}

/// Two stores on the same database with pools (and in-process locks) of their own, as
/// two nodes have.
async fn two_nodes(db: &scheduler::testing::TestDb) -> (Store, Store) {
    let a = Store::connect(&db.url).await.unwrap().with_node("node-a");
    let b = Store::connect(&db.url).await.unwrap().with_node("node-b");
    (a, b)
}

pub async fn two_nodes_booking_one_hall_at_once_book_it_once(backend: Backend) {
    let db = demo_db(backend).await;
    let (a, b) = two_nodes(&db).await;
    let admin = who(&a, "admin").await;
    let vp = who(&b, "vp.tanson").await;
    let tan_son = unit_id(&a, "240").await;
    let host = hall_of(&a, "240").await.id;
    let day = 86_400;
    for round in 1..=10 {
        let start = now() + round * day;
        let one = draft(
            host,
            scope(tan_son, &[Level::District, Level::Commune]),
            start,
        );
        let two = draft(host, scope(tan_son, &[Level::District]), start + 1800);
        let (x, y) = tokio::join!(a.schedule(&admin, one, None), b.schedule(&vp, two, None));
        let conflicts = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Err(scheduler::Error::Conflict(_))))
            .count();
        assert_eq!(
            (x.is_ok() as u8 + y.is_ok() as u8, conflicts),
            (1, 1),
            "round {round}: one booked, one told of the conflict: {x:?} / {y:?}"
        );
    }
    // Two meetings at different hours, each moved by another node onto the same hour.
    let start = now() + 20 * day;
    let ts = scope(tan_son, &[Level::District]);
    let first = a
        .schedule(&admin, draft(host, ts.clone(), start), None)
        .await
        .unwrap()
        .remove(0);
    let second = a
        .schedule(&admin, draft(host, ts, start + 3 * 3600), None)
        .await
        .unwrap()
        .remove(0);
    let target = start + 10 * 3600;
    let onto = |from: i64| scheduler::MeetingChange {
        starts_at: Some(target + from % 2 * 600),
        ends_at: Some(target + 3600),
        ..Default::default()
    };
    let (x, y) = tokio::join!(
        a.update_meeting(&admin, first.id, onto(first.id), None),
        b.update_meeting(&admin, second.id, onto(second.id), None)
    );
    assert_eq!(
        (x.is_ok() as u8 + y.is_ok() as u8),
        1,
        "one of two edits onto the same hour: {x:?} / {y:?}"
    );
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

pub async fn a_meeting_has_one_home_node_at_a_time(backend: Backend) {
    use scheduler::LeaseTake::{HeldBy, Taken};
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let host = hall_of(s, "240").await.id;
    let m = s
        .schedule(
            &admin,
            draft(host, scope(tan_son, &[Level::District]), now()),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let (a, b) = (s.clone().with_node("node-a"), s.clone().with_node("node-b"));
    let home = |take: scheduler::LeaseTake| match take {
        Taken(l) => ("taken", l.node_id, l.epoch, l.expires_at),
        HeldBy(l) => ("held by", l.node_id, l.epoch, l.expires_at),
    };
    let t = now();
    assert_eq!(
        s.lease(m).await.unwrap(),
        None,
        "no lease before it goes live"
    );
    assert_eq!(
        home(a.take_lease(m, t, 15).await.unwrap()),
        ("taken", "node-a".into(), 1, t + 15)
    );
    assert_eq!(
        home(b.take_lease(m, t + 5, 15).await.unwrap()),
        ("held by", "node-a".into(), 1, t + 15),
        "another node is told which node is home"
    );
    // Renewed at t+10, the lease holds past its first expiry.
    assert!(a.renew_lease(m, 1, t + 10, 15).await.unwrap());
    assert_eq!(
        home(b.take_lease(m, t + 20, 15).await.unwrap()),
        ("held by", "node-a".into(), 1, t + 25)
    );
    // Node a stops renewing (it died): at expiry node b takes it over, a new epoch.
    assert_eq!(
        home(b.take_lease(m, t + 25, 15).await.unwrap()),
        ("taken", "node-b".into(), 2, t + 40)
    );
    assert!(
        !a.renew_lease(m, 1, t + 26, 15).await.unwrap(),
        "the old holder learns it is not home any more"
    );
    assert!(
        !a.release_lease(m, 1).await.unwrap(),
        "nor can it give up the new holder's lease"
    );
    assert_eq!(
        home(a.take_lease(m, t + 27, 15).await.unwrap()),
        ("held by", "node-b".into(), 2, t + 40)
    );
    // Node b gives it up (its room ended, or it stops): node a may take it at once.
    assert!(b.release_lease(m, 2).await.unwrap());
    assert!(!s.lease(m).await.unwrap().unwrap().is_live(t + 28));
    assert_eq!(
        home(a.take_lease(m, t + 28, 15).await.unwrap()),
        ("taken", "node-a".into(), 3, t + 43)
    );
    // A node taking its own lease again (a room opened anew) starts a new epoch too.
    assert_eq!(
        home(a.take_lease(m, t + 29, 15).await.unwrap()),
        ("taken", "node-a".into(), 4, t + 44)
    );
    assert!(!a.renew_lease(m, 3, t + 30, 15).await.unwrap());
    assert!(a.renew_lease(m, 4, t + 30, 15).await.unwrap());
    db.cleanup().await;
}

pub async fn two_nodes_racing_for_a_lease_get_one_home(backend: Backend) {
    use scheduler::LeaseTake::Taken;
    let db = demo_db(backend).await;
    let (a, b) = two_nodes(&db).await;
    let admin = who(&a, "admin").await;
    let tan_son = unit_id(&a, "240").await;
    let host = hall_of(&a, "240").await.id;
    let m = a
        .schedule(
            &admin,
            draft(host, scope(tan_son, &[Level::District]), now()),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let t = now();
    for round in 0..10 {
        let (x, y) = tokio::join!(
            a.take_lease(m, t + round, 15),
            b.take_lease(m, t + round, 15)
        );
        let winners: Vec<_> = [x.unwrap(), y.unwrap()]
            .into_iter()
            .filter_map(|take| match take {
                Taken(l) => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let won = &winners[0];
        assert_eq!(won.epoch, round + 1, "every take is a new epoch");
        let holder = if won.node_id == "node-a" { &a } else { &b };
        assert!(holder.release_lease(m, won.epoch).await.unwrap());
    }
    a.close().await;
    b.close().await;
    db.cleanup().await;
}
