//! Logins against a store whose only password-check thread is held: what still gets an
//! answer, and in which order the rest are served.

use std::sync::mpsc;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use crate::testing::{demo_db, test_backend, TestDb, DEMO_PASSWORD};
use crate::{Error, LoginPolicy, Role, Store};

/// Waits until `count` password checks wait for the held thread.
async fn until_waiting(store: &Store, count: usize) {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while store.login_guard.pool.waiting() < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waited.await.expect("the logins queue for a check");
}

/// A demo store with one password-check thread, and that thread held until the returned
/// sender sends (or is dropped).
async fn held_store() -> (TestDb, Store, mpsc::Sender<()>) {
    let db = demo_db(test_backend()).await.expect("demo database");
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
            .hashing(None, crate::password_pool::Lane::Failing, move |_| {
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

#[tokio::test]
async fn a_quiet_accounts_login_is_checked_before_wrong_passwords_for_failing_accounts() {
    let (db, store, open) = held_store().await;
    // Ten room accounts under attack: each failed a moment ago.
    let now = crate::time::now();
    let mut attacked = Vec::new();
    for account in store.accounts().await.unwrap() {
        if matches!(account.role, Role::Hall { .. }) && attacked.len() < 10 {
            store
                .record_failure(&account.username, None, now)
                .await
                .unwrap();
            attacked.push(account.username);
        }
    }
    assert_eq!(attacked.len(), 10);
    // 20 more guesses at them, each from its own /24, queue for the one thread.
    const FLOOD: usize = 20;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let (store, answered) = (store.clone(), answered.clone());
        let name = attacked[i % attacked.len()].clone();
        flood.push(tokio::spawn(async move {
            let address = format!("198.18.{i}.1");
            let r = store
                .login_from(&name, "sai-mat-khau", 3600, Some(&address))
                .await;
            answered.lock().unwrap().push("guess");
            r
        }));
    }
    until_waiting(&store, FLOOD).await;
    // Then a user of an account nobody attacks, from a network of its own.
    let quiet = {
        let (store, answered) = (store.clone(), answered.clone());
        tokio::spawn(async move {
            let r = store
                .login_from("vp.tinh", DEMO_PASSWORD, 3600, Some("198.18.200.1"))
                .await;
            answered.lock().unwrap().push("vp.tinh");
            r
        })
    };
    until_waiting(&store, FLOOD + 1).await;
    drop(open);
    let signed_in = quiet.await.unwrap();
    assert!(signed_in.is_ok(), "{signed_in:?}");
    for guess in flood {
        assert!(matches!(guess.await.unwrap(), Err(Error::BadCredentials)));
    }
    // Its check ran first; in turn per network it would have come after all 20.
    let answered = answered.lock().unwrap().clone();
    let at = answered.iter().position(|a| *a == "vp.tinh").unwrap();
    assert!(
        at < FLOOD / 2,
        "answered after {at} of {FLOOD} guesses: {answered:?}"
    );
    db.cleanup().await;
}
