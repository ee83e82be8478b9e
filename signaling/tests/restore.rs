//! A room opened again after a restart takes up the phase the store recorded: a started
//! meeting comes back `started` without a second start, a tested one `test`, an ended
//! one refuses joins. Over a real store (the Phú Thọ demo on a fresh database, SQLite or
//! PostgreSQL); each `Signaling` here stands for one run of the server. Real time,
//! bounded waits.

mod common;

use common::store::{invited, logged, rows, server};
use common::Page;
use scheduler::testing::{demo_db, province_meeting_now, test_backend, TestDb};
use scheduler::Level;
use serde_json::json;
use signaling::protocol::{ErrorCode, Phase, ServerMessage};
use std::time::Duration;

/// A seeded store with a province meeting open now: the meeting and its host hall.
async fn province_meeting() -> (TestDb, i64, i64) {
    let db = demo_db(test_backend()).await.expect("demo database");
    let m = province_meeting_now(&db.store, "Giao ban", &[Level::Province, Level::District])
        .await
        .expect("scheduled");
    (db, m.id, m.host_hall_id)
}

/// The phase in the page's `welcome`.
async fn welcome_phase(page: &mut Page) -> Phase {
    page.expect("welcome", |m| match m {
        ServerMessage::Welcome { state, .. } => Some(state.phase),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_started_meeting_comes_back_started_without_a_second_start() {
    let (db, meeting, host) = province_meeting().await;
    let store = &db.store;
    let first = server(store);
    let mut page = invited(&first, store, meeting, host).await;
    assert_eq!(welcome_phase(&mut page).await, Phase::Waiting);
    page.send(json!({"type": "set_phase", "phase": "started"}));
    logged(store, meeting, "meeting_started", 1).await;
    drop(page);
    drop(first);

    // The next run: the first page to join sees the meeting started.
    let second = server(store);
    let mut page = invited(&second, store, meeting, host).await;
    assert_eq!(welcome_phase(&mut page).await, Phase::Started);
    page.send(json!({"type": "set_phase", "phase": "started"}));
    page.send(json!({"type": "set_phase", "phase": "test"}));
    assert_eq!(
        page.error().await,
        ErrorCode::OutOfOrder,
        "no going back to the test"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rows(store, meeting, "meeting_started").await,
        1,
        "no second start (the store keeps the first start time)"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_tested_meeting_comes_back_in_the_test_and_an_ended_one_refuses_joins() {
    let (db, meeting, host) = province_meeting().await;
    let store = &db.store;
    let first = server(store);
    let mut page = invited(&first, store, meeting, host).await;
    welcome_phase(&mut page).await;
    page.send(json!({"type": "set_phase", "phase": "test"}));
    logged(store, meeting, "test_started", 1).await;
    drop(page);
    drop(first);

    let second = server(store);
    let mut page = invited(&second, store, meeting, host).await;
    assert_eq!(welcome_phase(&mut page).await, Phase::Test);
    page.send(json!({"type": "set_phase", "phase": "ended"}));
    logged(store, meeting, "meeting_ended", 1).await;
    drop(page);
    drop(second);

    let third = server(store);
    let mut page = invited(&third, store, meeting, host).await;
    assert_eq!(page.error().await, ErrorCode::MeetingEnded);
    db.cleanup().await;
}
