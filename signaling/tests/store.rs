//! A live meeting over a real store (the Phú Thọ demo on a fresh database: SQLite, or
//! PostgreSQL with `TEST_BACKEND=postgres`): the readiness board counts invited
//! halls per district, and the lifecycle, roll call, headcount and removal reach the
//! meeting's log in order. Real time, bounded waits.

mod common;

use common::store::{invited, logged, server};
use common::Page;
use scheduler::live::LiveEvent;
use scheduler::testing::{demo_db, province_meeting_now, test_backend, TestDb};
use scheduler::{Hall, Level, Store};
use serde_json::json;
use signaling::protocol::ServerMessage;
use signaling::protocol::{ClientMessage, LinkState, MeetingInfo, Phase, Readiness};
use signaling::Signaling;
use std::time::Duration;

/// A seeded store with a meeting of the whole province open now; the meeting, its host
/// hall, a district hall and a commune hall of that district.
async fn province_meeting() -> (TestDb, MeetingInfo, [Hall; 3]) {
    let db = demo_db(test_backend()).await.expect("demo database");
    let store = &db.store;
    let levels = [Level::Province, Level::District, Level::Commune];
    let m = province_meeting_now(store, "Giao ban trực tuyến toàn tỉnh", &levels)
        .await
        .expect("scheduled");
    let host = store.hall(m.host_hall_id).await.expect("host");
    let halls = store.halls_in("/").await.expect("halls");
    let mut district = None;
    for h in &halls {
        if store.unit(h.unit_id).await.expect("unit").level == Level::District {
            district = Some(h.clone());
            break;
        }
    }
    let district = district.expect("a district hall");
    let commune = halls
        .iter()
        .find(|h| h.unit_path.starts_with(&district.unit_path) && h.id != district.id)
        .expect("a commune of that district");
    (db, MeetingInfo::from(m), [host, district, commune.clone()])
}

/// A page of invited `hall`, joined.
async fn join(signaling: &Signaling, store: &Store, meeting: i64, hall: i64) -> Page {
    let mut page = invited(signaling, store, meeting, hall).await;
    page.welcome().await;
    page
}

fn row<'a>(events: &'a [LiveEvent], kind: &str, hall: Option<i64>) -> Option<&'a LiveEvent> {
    events.iter().find(|e| e.kind == kind && e.hall_id == hall)
}

#[tokio::test]
async fn readiness_counts_per_district_and_the_roll_call_reaches_the_store() {
    let (db, meeting, [host_hall, district, commune]) = province_meeting().await;
    let store = &db.store;
    let signaling = server(store);
    let mut host = join(&signaling, store, meeting.id, host_hall.id).await;
    let mut d = join(&signaling, store, meeting.id, district.id).await;
    let mut c = join(&signaling, store, meeting.id, commune.id).await;

    // The board: every invited hall, 3 connected, the district line counts 2.
    let invited = store.invited_halls(meeting.id).await.expect("invited");
    let board = loop {
        host.send(json!({"type": "readiness"}));
        let board: Readiness = host
            .expect("readiness", |m| match m {
                ServerMessage::Readiness(r) => Some((**r).clone()),
                _ => None,
            })
            .await;
        if board.invited > 0 {
            break board;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(board.invited, invited.len());
    assert!(board.invited > 200, "the whole province: {}", board.invited);
    assert_eq!(board.connected, 3);
    let group = &invited
        .iter()
        .find(|i| i.hall_id == commune.id)
        .expect("the commune is invited")
        .group_unit_name;
    let line = board
        .per_district
        .iter()
        .find(|u| &u.unit == group)
        .expect("its district's line");
    let under = invited
        .iter()
        .filter(|i| &i.group_unit_name == group)
        .count();
    assert_eq!((line.invited, line.connected), (under, 2), "{line:?}");
    assert_eq!(
        board
            .per_district
            .iter()
            .map(|u| u.connected)
            .sum::<usize>(),
        3
    );
    let of = |id: i64| {
        board
            .halls
            .iter()
            .find(|h| h.hall_id == id)
            .expect("listed")
            .state
    };
    assert_eq!(of(commune.id), LinkState::Connected, "in, no media yet");
    let absent = invited
        .iter()
        .find(|i| ![host_hall.id, district.id, commune.id].contains(&i.hall_id));
    assert_eq!(of(absent.expect("others").hall_id), LinkState::NotConnected);

    // Start, roll call, answers, marks, headcount, removal, end.
    host.send(json!({"type": "set_phase", "phase": "started"}));
    host.send(json!({"type": "start_roll_call"}));
    c.expect("roll_call", |m| match m {
        ServerMessage::RollCall { .. } => Some(()),
        _ => None,
    })
    .await;
    c.send(json!({"type": "roll_call_answer", "status": "present"}));
    c.send(json!({"type": "headcount", "people": 25}));
    d.send(json!({"type": "mark_roll_call", "hall_id": district.id, "status": "present"}));
    assert_eq!(d.error().await, signaling::protocol::ErrorCode::Forbidden);
    host.send(json!({"type": "mark_roll_call", "hall_id": district.id, "status": "absent", "reason": "mất điện"}));
    host.send(json!({"type": "remove", "hall_id": commune.id}));
    assert_eq!(c.close_frame().await, (4003, "removed".into()));
    host.send(json!({"type": "readiness"}));
    let board = host
        .expect("the board with answers", |m| match m {
            ServerMessage::Readiness(r) => Some((**r).clone()),
            _ => None,
        })
        .await;
    let hall = |id: i64| {
        board
            .halls
            .iter()
            .find(|h| h.hall_id == id)
            .expect("listed")
            .clone()
    };
    assert_eq!(hall(commune.id).people, Some(25));
    assert_eq!(hall(commune.id).state, LinkState::NotConnected, "removed");
    assert_eq!(
        hall(district.id).roll_call,
        Some(signaling::protocol::RollCallStatus::Absent)
    );
    host.send(json!({"type": "set_phase", "phase": "ended"}));
    assert_eq!(d.close_frame().await, (4004, "meeting_ended".into()));

    let events = logged(store, meeting.id, "meeting_ended", 1).await;
    let c_id = Some(commune.id);
    assert!(
        row(&events, "meeting_started", None).is_some(),
        "{events:?}"
    );
    assert!(row(&events, "roll_call_started", None).is_some());
    assert_eq!(
        row(&events, "roll_call_answer", c_id).map(|e| e.detail.as_str()),
        Some("present")
    );
    assert_eq!(
        row(&events, "roll_call_answer", Some(district.id)).map(|e| e.detail.as_str()),
        Some("absent: mất điện")
    );
    assert_eq!(
        row(&events, "headcount", c_id).map(|e| e.detail.as_str()),
        Some("25")
    );
    assert_eq!(
        row(&events, "leave", c_id).map(|e| e.detail.as_str()),
        Some("removed")
    );
    let by_host = format!("by hall {}", host_hall.id);
    assert_eq!(
        row(&events, "remove", c_id).map(|e| &e.detail),
        Some(&by_host)
    );
    assert_eq!(
        row(&events, "meeting_ended", None).map(|e| e.detail.as_str()),
        Some("ended")
    );
    assert_eq!(
        row(&events, "leave", Some(district.id)).map(|e| e.detail.as_str()),
        Some("meeting_ended"),
        "the halls still in close with the meeting"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_secretariat_ends_a_meeting_no_hall_attended_and_it_is_recorded_as_not_held() {
    let (db, meeting, _) = province_meeting().await;
    let store = &db.store;
    let signaling = server(store);
    let vp = store
        .principal_by_username("vp.tinh")
        .await
        .expect("the province secretariat");
    let act = |phase: Phase| ClientMessage::SetPhase { phase };
    signaling
        .act(&meeting, vp.account.id, act(Phase::Ended))
        .await
        .expect("ended");
    let events = logged(store, meeting.id, "meeting_ended", 1).await;
    let ended = row(&events, "meeting_ended", None).expect("logged");
    assert_eq!(ended.detail, "not_held");
    assert_eq!(ended.account_id, Some(vp.account.id), "who ended it");
    let again = signaling
        .act(&meeting, vp.account.id, act(Phase::Started))
        .await;
    assert_eq!(
        again.map_err(|e| e.code),
        Err(signaling::protocol::ErrorCode::MeetingEnded)
    );
    db.cleanup().await;
}
