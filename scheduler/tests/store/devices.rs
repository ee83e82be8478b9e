//! Kiosk device sessions (issue 11 item 3): a room account's PC stays signed in for months
//! and renews while used, staff sessions do not; revoking and disabling end them.

use scheduler::devices::DEVICE_TOUCH_SECS;
use scheduler::time::now;
use scheduler::{Backend, Client, Error, Lifetimes, SignedIn, Store};

use crate::support::{demo_db, demo_hash, hall_of, who};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
// The tests below set the last use two hours back, so a use must then be written.
const _: () = assert!(DEVICE_TOUCH_SECS <= 2 * HOUR);
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn lifetimes() -> Lifetimes {
    Lifetimes {
        session_secs: 12 * HOUR,
        device_secs: Some(180 * DAY),
    }
}

async fn sign_in(store: &Store, username: &str, address: &str) -> SignedIn {
    let _ = demo_hash();
    let client = Client {
        address: Some(address),
        user_agent: Some(CHROME),
        ..Client::default()
    };
    store
        .sign_in(username, "hoinghi-demo", lifetimes(), client)
        .await
        .expect("the demo password logs in")
}

fn is_unauthenticated<T>(r: scheduler::Result<T>) -> bool {
    matches!(r, Err(Error::Unauthenticated))
}

pub async fn a_kiosk_stays_signed_in_for_months_and_staff_do_not(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let hall = hall_of(s, "08578").await;
    let before = now();
    let kiosk = sign_in(s, "dc.08578", "198.18.0.2").await;
    let device = kiosk.device.expect("a room account gets a device session");
    assert!(kiosk.expires_at >= before + 180 * DAY);
    let staff = sign_in(s, "vp.tinh", "198.18.0.3").await;
    assert_eq!(staff.device, None, "staff get no device session");
    assert!(staff.expires_at <= now() + 12 * HOUR);

    // Both signed in a month ago, last used two hours ago.
    let n = now();
    db.execute(&format!(
        "UPDATE device_sessions SET created_at = {}, last_used_at = {}, expires_at = {} WHERE id = {device}",
        n - 30 * DAY,
        n - 2 * HOUR,
        n + 180 * DAY - 2 * HOUR
    ))
    .await
    .unwrap();
    db.execute(&format!(
        "UPDATE sessions SET created_at = {}, expires_at = {}",
        n - 30 * DAY,
        n - 30 * DAY + 12 * HOUR
    ))
    .await
    .unwrap();
    assert!(is_unauthenticated(s.session(&staff.token, None).await));

    // The kiosk is still in, and its use is written: last used now, from its new address,
    // 180 days from now.
    let used = s
        .session(&kiosk.token, Some("198.18.0.9"))
        .await
        .expect("the kiosk is still signed in a month later");
    assert_eq!(used.principal.account.username, "dc.08578");
    assert_eq!(used.renewed_for, Some(180 * DAY));
    let listed = s.hall_devices(hall.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    let d = &listed[0];
    assert_eq!(d.id, device);
    assert_eq!(d.device_name, "Chrome 131 · Windows");
    assert_eq!(d.address.as_deref(), Some("198.18.0.9"));
    assert_eq!(d.created_at, n - 30 * DAY);
    assert!(
        d.last_used_at >= n && d.expires_at >= n + 180 * DAY,
        "{d:?}"
    );

    // Used again at once: nothing is written.
    let again = s.session(&kiosk.token, Some("198.18.0.10")).await.unwrap();
    assert_eq!(again.renewed_for, None);
    assert_eq!(s.hall_devices(hall.id).await.unwrap()[0], *d);

    // Unused past its lifetime, it is gone.
    db.execute(&format!(
        "UPDATE device_sessions SET last_used_at = {}, expires_at = {} WHERE id = {device}",
        n - 181 * DAY,
        n - DAY
    ))
    .await
    .unwrap();
    assert!(is_unauthenticated(s.session(&kiosk.token, None).await));
    assert!(s.hall_devices(hall.id).await.unwrap().is_empty());
    db.cleanup().await;
}

pub async fn revoking_a_device_signs_out_that_pc_only(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let hall = hall_of(s, "08578").await;
    let other = hall_of(s, "240").await;
    let first = sign_in(s, "dc.08578", "198.18.0.2").await;
    let second = sign_in(s, "dc.08578", "198.18.0.4").await;
    let first_id = first.device.unwrap();
    assert_eq!(s.hall_devices(hall.id).await.unwrap().len(), 2);
    assert_eq!(s.device_counts().await.unwrap().get(&hall.id), Some(&2));
    assert!(matches!(
        s.revoke_device(other.id, first_id).await,
        Err(Error::NotFound("device"))
    ));
    let revoked = s.revoke_device(hall.id, first_id).await.unwrap();
    assert_eq!(revoked.id, first_id);
    assert!(is_unauthenticated(s.session(&first.token, None).await));
    assert!(s.session(&second.token, None).await.is_ok());
    // Logging out on the PC ends its device session too.
    s.logout(&second.token).await.unwrap();
    assert!(s.hall_devices(hall.id).await.unwrap().is_empty());
    db.cleanup().await;
}

pub async fn disabling_the_hall_or_its_account_revokes_its_devices(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let hall = hall_of(s, "08578").await;
    let kiosk = sign_in(s, "dc.08578", "198.18.0.2").await;
    s.update_hall(hall.id, None, Some(false)).await.unwrap();
    assert!(is_unauthenticated(s.session(&kiosk.token, None).await));
    assert!(s.hall_devices(hall.id).await.unwrap().is_empty());

    s.update_hall(hall.id, None, Some(true)).await.unwrap();
    let kiosk = sign_in(s, "dc.08578", "198.18.0.2").await;
    let account = who(s, "dc.08578").await.account.id;
    s.update_account(account, None, Some(false)).await.unwrap();
    assert!(is_unauthenticated(s.session(&kiosk.token, None).await));
    assert!(s.hall_devices(hall.id).await.unwrap().is_empty());

    // A new password signs every PC out as well.
    s.update_account(account, None, Some(true)).await.unwrap();
    let kiosk = sign_in(s, "dc.08578", "198.18.0.2").await;
    s.update_account(account, Some(demo_hash()), None)
        .await
        .unwrap();
    assert!(is_unauthenticated(s.session(&kiosk.token, None).await));
    db.cleanup().await;
}
