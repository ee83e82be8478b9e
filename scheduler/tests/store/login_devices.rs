//! Known login devices (device cookies): a browser that logged in before is not held by
//! its address's lockout, only for the account it logged in to, and forgets it with the
//! password.

use scheduler::{Backend, Client, Error, LoginPolicy, Store};

use crate::support::{demo_db, demo_hash, who};

const ADDRESS: &str = "198.18.0.5";

async fn log_in(
    store: &Store,
    name: &str,
    password: &str,
    device: Option<&str>,
) -> scheduler::Result<scheduler::SignedIn> {
    let client = Client {
        address: Some(ADDRESS),
        known_device: device,
        ..Client::default()
    };
    let lifetimes = scheduler::Lifetimes {
        session_secs: 3600,
        device_secs: None,
    };
    store.sign_in(name, password, lifetimes, client).await
}

pub async fn a_known_device_passes_its_addresses_lockout_for_its_own_account_only(
    backend: Backend,
) {
    let db = demo_db(backend).await;
    let store = db.store.clone().with_login_policy(LoginPolicy {
        address_free_attempts: 2,
        account_free_attempts: 1000,
        lock_base_secs: 600,
        ..LoginPolicy::default()
    });
    let first = log_in(&store, "vp.tanson", "hoinghi-demo", None)
        .await
        .expect("the demo password logs in");
    let (device, lifetime) = first.known_device.expect("a device cookie is given");
    assert_eq!(lifetime, 365 * 86_400);
    let account = who(&store, "vp.tanson").await.account.id;
    assert_eq!(store.login_device_count(account).await.unwrap(), 1);
    // Someone else at the same address guesses: the address waits.
    for name in ["khong.co.ai", "cung.khong.co"] {
        let r = log_in(&store, name, "sai-mat-khau", None).await;
        assert!(matches!(r, Err(Error::BadCredentials)), "{r:?}");
    }
    let locked = log_in(&store, "vp.tanson", "hoinghi-demo", None).await;
    assert!(
        matches!(locked, Err(Error::TooManyAttempts { .. })),
        "{locked:?}"
    );
    // The browser that logged in before is let through, and keeps its cookie.
    let again = log_in(&store, "vp.tanson", "hoinghi-demo", Some(&device))
        .await
        .expect("a known device is not held by its address's lockout");
    assert_eq!(again.principal.account.id, account);
    assert!(again.known_device.is_none());
    // A wrong password from it is still refused.
    let wrong = log_in(&store, "vp.tanson", "sai-mat-khau", Some(&device)).await;
    assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
    // For another account the cookie counts for nothing.
    let other = log_in(&store, "vp.tinh", "hoinghi-demo", Some(&device)).await;
    assert!(
        matches!(other, Err(Error::TooManyAttempts { .. })),
        "{other:?}"
    );
    // A new password forgets the account's devices.
    store
        .update_account(account, Some(demo_hash()), None)
        .await
        .unwrap();
    assert_eq!(store.login_device_count(account).await.unwrap(), 0);
    let forgotten = log_in(&store, "vp.tanson", "hoinghi-demo", Some(&device)).await;
    assert!(
        matches!(forgotten, Err(Error::TooManyAttempts { .. })),
        "{forgotten:?}"
    );
    db.cleanup().await;
}
