//! A live meeting over a real store (the Phú Thọ demo on a fresh SQLite file): the
//! service recording into it, invited halls' pages, and waiting for the meeting's log.

use super::{quiet, Page};
use scheduler::live::LiveEvent;
use scheduler::Store;
use sfu::SfuConfig;
use signaling::{Signaling, StoreAdmit, StoreRecorder};
use std::time::{Duration, Instant};

/// A service (one run of the server) recording into `store` and asking it who is invited.
pub fn server(store: &Store) -> Signaling {
    Signaling::start(SfuConfig::default(), quiet())
        .expect("valid config")
        .record_with(StoreRecorder::spawn(store.clone(), 10))
        .with_roster(store.clone())
}

/// A page of invited `hall` whose tokens the store checks, `join` sent with the hall's
/// own token (the answer not awaited).
pub async fn invited(signaling: &Signaling, store: &Store, meeting: i64, hall: i64) -> Page {
    let token = store
        .join_token_of(meeting, hall)
        .await
        .expect("query")
        .expect("invited");
    let mut page = Page::open_with(signaling, StoreAdmit::new(store.clone()));
    page.send_join(&token);
    page
}

/// How many rows of `kind` the meeting's log has.
pub async fn rows(store: &Store, meeting: i64, kind: &str) -> usize {
    let events = store.live_events(meeting).await.expect("log");
    events.iter().filter(|e| e.kind == kind).count()
}

/// Waits (real time, bounded) until the meeting's log has exactly `n` rows of `kind`;
/// returns the log.
pub async fn logged(store: &Store, meeting: i64, kind: &str, n: usize) -> Vec<LiveEvent> {
    let deadline = Instant::now() + super::WAIT;
    loop {
        let events = store.live_events(meeting).await.expect("log");
        if events.iter().filter(|e| e.kind == kind).count() == n {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "not {n} {kind} rows in {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
