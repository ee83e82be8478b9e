//! Login networks: under a flood of wrong passwords for real names not yet failing, a login
//! from a network staff signed in from lately is checked before the flood, and a flood
//! from networks that failed lately waits behind a quiet login from a never-seen one.
//! Counted on one password-check thread (never timed).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use scheduler::{Backend, Client, Error, LoginPolicy, Role, Store};

use crate::support::demo_db;

const FLOOD: usize = 40;

fn one_thread(store: &Store) -> Store {
    store.clone().with_login_policy(LoginPolicy {
        hash_slots: 1,
        hash_wait: Duration::from_secs(120),
        account_free_attempts: 1000,
        address_free_attempts: 1000,
        ..LoginPolicy::default()
    })
}

async fn log_in(store: &Store, name: &str, password: &str, from: &str) -> scheduler::Result<()> {
    let client = Client {
        address: Some(from),
        ..Client::default()
    };
    let lifetimes = scheduler::Lifetimes {
        session_secs: 3600,
        device_secs: None,
    };
    store
        .sign_in(name, password, lifetimes, client)
        .await
        .map(|_| ())
}

/// `FLOOD` room accounts' names: real, and none has failed.
async fn real_names(store: &Store) -> Vec<String> {
    let accounts = store.accounts().await.unwrap();
    let names: Vec<String> = accounts
        .into_iter()
        .filter(|a| matches!(a.role, Role::Hall { .. }))
        .map(|a| a.username)
        .take(FLOOD)
        .collect();
    assert_eq!(names.len(), FLOOD);
    names
}

/// Wrong passwords for `names`, the i-th from `from(i)`, all at once; once two are
/// answered, `name` logs in from `address` with the right password. Returns how many of
/// the flood were answered before it, and checks every answer.
async fn flood_then_login(
    store: &Store,
    names: &[String],
    from: impl Fn(usize) -> String,
    name: &str,
    address: &str,
) -> usize {
    let answered = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for (i, guessed) in names.iter().enumerate() {
        let (store, answered, guessed, from) =
            (store.clone(), answered.clone(), guessed.clone(), from(i));
        flood.push(tokio::spawn(async move {
            let r = log_in(&store, &guessed, "sai-mat-khau", &from).await;
            answered.fetch_add(1, Ordering::SeqCst);
            r
        }));
    }
    while answered.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let login = log_in(store, name, "hoinghi-demo", address).await;
    let before = answered.load(Ordering::SeqCst);
    assert!(login.is_ok(), "{login:?}");
    for f in flood {
        let r = f.await.unwrap();
        assert!(matches!(r, Err(Error::BadCredentials)), "{r:?}");
    }
    before
}

pub async fn a_login_from_a_network_staff_signed_in_from_goes_before_a_flood_on_quiet_names(
    backend: Backend,
) {
    let db = demo_db(backend).await;
    let store = one_thread(&db.store);
    let names = real_names(&store).await;
    // Someone of the province signed in from its network yesterday... or just now.
    log_in(&store, "vp.tinh", "hoinghi-demo", "198.18.7.5")
        .await
        .expect("the demo password logs in");
    // A botnet's first guesses at names not failed yet, each client alone in its /24;
    // then another member of staff, on another PC of that network, no device cookie.
    let from = |i: usize| format!("198.19.{i}.1");
    let before = flood_then_login(&store, &names, from, "vp.tanson", "198.18.7.9").await;
    // Served next: in turn per network with the flood, it would come after all of it.
    assert!(
        before <= FLOOD / 2,
        "{before} of {FLOOD} wrong passwords were answered before it"
    );
    db.cleanup().await;
}

pub async fn a_flood_from_networks_that_failed_lately_waits_behind_a_quiet_login(backend: Backend) {
    let db = demo_db(backend).await;
    let store = one_thread(&db.store);
    let names = real_names(&store).await;
    // Each of the botnet's networks has failed once (a made-up name: no check).
    let mut tried = Vec::new();
    for i in 0..FLOOD {
        let store = store.clone();
        tried.push(tokio::spawn(async move {
            let from = format!("198.19.{i}.1");
            log_in(&store, &format!("khong.co.{i}"), "sai-mat-khau", &from).await
        }));
    }
    for t in tried {
        assert!(matches!(t.await.unwrap(), Err(Error::BadCredentials)));
    }
    // Then guesses at real names none has failed yet, from other addresses of those
    // networks; a user of a quiet account comes from a never-seen network.
    let from = |i: usize| format!("198.19.{i}.2");
    let before = flood_then_login(&store, &names, from, "vp.tanson", "198.18.8.9").await;
    assert!(
        before <= FLOOD / 2,
        "{before} of {FLOOD} wrong passwords were answered before it"
    );
    db.cleanup().await;
}
