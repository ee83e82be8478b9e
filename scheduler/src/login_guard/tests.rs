//! Logins against a store whose only password-check thread is held: what still gets an
//! answer, and in which order the rest are served.

use std::sync::mpsc;
use std::time::Duration;

use crate::testing::{demo_db, TestDb};
use crate::{Backend, Error, LoginPolicy, Store};

/// A demo store with one password-check thread, and that thread held until the returned
/// sender sends (or is dropped).
async fn held_store() -> (TestDb, Store, mpsc::Sender<()>) {
    let db = demo_db(Backend::Sqlite).await.expect("demo database");
    let store = db.store.clone().with_login_policy(LoginPolicy {
        hash_slots: 1,
        hash_wait: Duration::from_secs(60),
        account_free_attempts: 1000,
        address_free_attempts: 1000,
        ..LoginPolicy::default()
    });
    let (open, gate) = mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let guard = store.login_guard.clone();
    tokio::spawn(async move {
        guard
            .hashing(None, crate::password_pool::Lane::Anonymous, move |_| {
                let _ = started.send(());
                let _ = gate.recv();
            })
            .await
    });
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the gate takes the thread")
        .expect("the gate runs");
    (db, store, open)
}

#[tokio::test]
async fn a_made_up_name_is_refused_without_waiting_for_a_password_check() {
    let (db, store, open) = held_store().await;
    // The only thread is busy: a known name would wait for it; an unknown one does not.
    let made_up = tokio::time::timeout(
        Duration::from_secs(30),
        store.login_from("khong.co.ai", "sai-mat-khau", 3600, Some("198.18.0.9")),
    )
    .await
    .expect("answered while the only password-check thread is held");
    assert!(matches!(made_up, Err(Error::BadCredentials)), "{made_up:?}");
    // It still counts as a failure of that name and address.
    assert_eq!(store.login_counts().failures, 1);
    let known = store.login_from("vp.tinh", "sai-mat-khau", 3600, Some("198.18.0.9"));
    tokio::pin!(known);
    let waited = tokio::time::timeout(Duration::from_millis(300), &mut known).await;
    assert!(waited.is_err(), "a known name waits for the held thread");
    drop(open);
    assert!(matches!(known.await, Err(Error::BadCredentials)));
    db.cleanup().await;
}
