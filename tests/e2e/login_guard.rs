//! Logins under abuse (issue 11 F2, F3, F5, F19): bounded password hashing, throttling per
//! account and per address that an administrator can see and clear, and `next` that only
//! ever leads back into Hoinghi.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use hoinghi_tests::{spawn_app_with, TestApp, PASSWORD};
use scheduler::testing::test_backend;
use serde_json::{json, Value};

async fn attempt(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    app.post(
        "/api/v1/auth/login",
        None,
        &json!({ "username": username, "password": password }),
    )
    .await
}

/// A login from `from` (a loopback address: each /24 of 127/8 is a client network of its
/// own to the server): the status.
async fn attempt_from(app: &TestApp, from: Ipv4Addr, username: &str, password: &str) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .build()
        .expect("a client");
    client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

/// A login carrying the `hoinghi_device` cookie `device`: (status, body, the new device
/// cookie's value if one was set).
async fn attempt_as_device(
    app: &TestApp,
    username: &str,
    password: &str,
    device: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut req = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({ "username": username, "password": password }));
    if let Some(d) = device {
        req = req.header("cookie", format!("hoinghi_device={d}"));
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let set = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("hoinghi_device="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), set)
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_until_it_waits_or_an_administrator_clears_it() {
    let app = spawn_app_with(test_backend(), |s| {
        s.login_account_free_attempts = 3;
        s.login_address_free_attempts = 1000;
        s.login_lock_base_secs = 600;
    })
    .await;
    let admin = app.login("admin").await;
    for _ in 0..3 {
        let (status, body) = attempt(&app, "vp.tinh", "sai-mat-khau").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("bad_credentials"))
        );
    }
    // Locked: even the right password waits, and the message says until when.
    let (status, body) = attempt(&app, "vp.tinh", PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Thử lại sau"), "{message}");
    let wait = body["error"]["retry_after"].as_i64().unwrap();
    assert!((1..=600).contains(&wait), "{body}");
    // Another account from the same address is not affected.
    assert_eq!(attempt(&app, "vp.tanson", PASSWORD).await.0, 200);

    // The administrator sees the lockout and clears it.
    let (status, list) = app.get("/api/v1/lockouts", Some(&admin)).await;
    assert_eq!(status, 200, "{list}");
    let locked: Vec<&Value> = list["lockouts"].as_array().unwrap().iter().collect();
    assert_eq!(locked.len(), 1, "{list}");
    assert_eq!(
        (locked[0]["kind"].as_str(), locked[0]["key"].as_str()),
        (Some("account"), Some("vp.tinh"))
    );
    assert_eq!(locked[0]["failures"], 3);
    let vp = app.login("vp.tanson").await;
    assert_eq!(app.get("/api/v1/lockouts", Some(&vp)).await.0, 403);
    let (status, _) = app.delete("/api/v1/lockouts/account/vp.tinh", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get("/api/v1/lockouts", Some(&admin)).await.1["lockouts"],
        json!([])
    );
    assert_eq!(attempt(&app, "vp.tinh", PASSWORD).await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_slowed_down() {
    let app = spawn_app_with(test_backend(), |s| {
        s.login_account_free_attempts = 1000;
        s.login_address_free_attempts = 3;
        s.login_lock_base_secs = 600;
    })
    .await;
    for user in ["dc.240", "dc.08578", "khong.co.ai"] {
        assert_eq!(attempt(&app, user, "sai-mat-khau").await.0, 401);
    }
    let (status, body) = attempt(&app, "vp.tinh", PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{body}"
    );
    app.stop().await;
}

/// A server with one password-hashing slot, `wait_ms` of wait for it, and no lockouts
/// in the way.
async fn one_hashing_slot(wait_ms: u64) -> TestApp {
    spawn_app_with(test_backend(), |s| {
        s.login_hash_slots = 1;
        s.login_hash_wait_ms = wait_ms;
        s.login_account_free_attempts = 1000;
        s.login_address_free_attempts = 1000;
    })
    .await
}

#[tokio::test]
async fn password_hashing_is_bounded_and_the_excess_is_told_busy() {
    let app = one_hashing_slot(0).await;
    // Known names: a name with no account is refused without a check at all.
    let flood = (0..12).map(|_| {
        let app = &app;
        async move { attempt(app, "vp.tanson", "sai-mat-khau").await }
    });
    let answers = join_all(flood).await;
    let busy = answers
        .iter()
        .filter(|(status, body)| *status == 503 && body["error"]["code"] == "busy")
        .count();
    let refused = answers.iter().filter(|(status, _)| *status == 401).count();
    assert!(
        busy >= 1,
        "one hashing slot cannot take 12 logins at once: {answers:?}"
    );
    assert_eq!(busy + refused, 12, "{answers:?}");
    // Once the flood is over, a real login goes through.
    assert_eq!(attempt(&app, "vp.tinh", PASSWORD).await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn made_up_account_names_take_no_password_check_slot() {
    let app = one_hashing_slot(0).await;
    // The flood of the test above, with names no account has: none runs argon2, so none
    // waits for the one slot; each is told what a wrong password is told.
    let flood = (0..12).map(|i| {
        let app = &app;
        async move { attempt(app, &format!("khach.{i}"), "sai-mat-khau").await }
    });
    for (status, body) in join_all(flood).await {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("bad_credentials")),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_browser_that_logged_in_before_is_not_held_by_its_addresss_lockout() {
    let app = spawn_app_with(test_backend(), |s| {
        s.login_account_free_attempts = 1000;
        s.login_address_free_attempts = 2;
        s.login_lock_base_secs = 600;
    })
    .await;
    let (status, _, device) = attempt_as_device(&app, "vp.tanson", PASSWORD, None).await;
    assert_eq!(status, 200);
    let device = device.expect("a successful login sets the device cookie");
    // Someone else behind the same address guesses until the address is locked.
    for name in ["khong.co.ai", "cung.khong.co"] {
        assert_eq!(attempt(&app, name, "sai-mat-khau").await.0, 401);
    }
    assert_eq!(attempt(&app, "vp.tanson", PASSWORD).await.0, 429);
    // The browser that logged in before still gets in (and is not given another cookie).
    let (status, body, again) = attempt_as_device(&app, "vp.tanson", PASSWORD, Some(&device)).await;
    assert_eq!((status, again), (200, None), "{body}");
    assert_eq!(body["account"]["username"], "vp.tanson");
    // Its cookie is for vp.tanson only.
    let (status, body, _) = attempt_as_device(&app, "vp.tinh", PASSWORD, Some(&device)).await;
    assert_eq!(status, 429, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_browser_that_logged_in_before_is_served_before_a_flood_of_wrong_passwords() {
    let app = one_hashing_slot(120_000).await;
    let (status, _, device) = attempt_as_device(&app, "vp.tanson", PASSWORD, None).await;
    assert_eq!(status, 200);
    let device = device.expect("a device cookie");
    // 40 wrong passwords for a real account (each runs argon2) on the one slot, all from
    // this test's own address, the address the correct login comes from too.
    const FLOOD: usize = 40;
    let answered = AtomicUsize::new(0);
    let flood = join_all((0..FLOOD).map(|_| async {
        let (status, _) = attempt(&app, "vp.tinh", "sai-mat-khau").await;
        answered.fetch_add(1, Ordering::SeqCst);
        status
    }));
    let known = async {
        // Once the flood is being checked, the browser that logged in before comes.
        while answered.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (status, body, _) = attempt_as_device(&app, "vp.tanson", PASSWORD, Some(&device)).await;
        (status, body, answered.load(Ordering::SeqCst))
    };
    let (statuses, (status, body, before)) = tokio::join!(flood, known);
    assert_eq!(status, 200, "{body}");
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    // Served ahead of the queue: most of the flood was still waiting (in turn, it would
    // have come after all of it).
    assert!(
        before <= FLOOD / 2,
        "{before} of {FLOOD} wrong passwords were answered before it"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_quiet_accounts_login_is_served_before_a_flood_on_accounts_under_attack() {
    let app = one_hashing_slot(120_000).await;
    // Three real accounts under attack: each has just failed.
    let attacked = ["vp.tinh", "dc.08578", "dc.07975"];
    for name in attacked {
        assert_eq!(attempt(&app, name, "sai-mat-khau").await.0, 401);
    }
    // 40 more guesses at them (each runs argon2 on the one slot), each from its own /24:
    // turns per network cannot tell them from users.
    const FLOOD: usize = 40;
    let answered = AtomicUsize::new(0);
    let flood = join_all((0..FLOOD).map(|i| {
        let (app, answered) = (&app, &answered);
        async move {
            let from = Ipv4Addr::new(127, 1, i as u8, 1);
            let status =
                attempt_from(app, from, attacked[i % attacked.len()], "sai-mat-khau").await;
            answered.fetch_add(1, Ordering::SeqCst);
            status
        }
    }));
    let quiet = async {
        // Once the flood is being checked, a user of an account nobody attacks comes,
        // from a network of its own and a browser that never logged in.
        while answered.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = attempt_from(&app, Ipv4Addr::new(127, 0, 2, 1), "vp.tanson", PASSWORD).await;
        (status, answered.load(Ordering::SeqCst))
    };
    let (statuses, (status, before)) = tokio::join!(flood, quiet);
    assert_eq!(status, 200);
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    // Served next: most of the flood was still waiting (in turn per network, it would
    // have come after every guess queued before it).
    assert!(
        before <= FLOOD / 2,
        "{before} of {FLOOD} wrong passwords were answered before it"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_login_from_a_network_staff_signed_in_from_is_served_before_a_flood_on_quiet_names() {
    let app = one_hashing_slot(120_000).await;
    // 40 real room accounts, none failed yet: a botnet's first pass over real names.
    const FLOOD: usize = 40;
    let names: Vec<String> = app
        .db
        .store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| matches!(a.role, scheduler::Role::Hall { .. }))
        .map(|a| a.username)
        .take(FLOOD)
        .collect();
    assert_eq!(names.len(), FLOOD);
    // The province's staff signed in from the province's network (127.0.7.0/24 here).
    let office = |host| Ipv4Addr::new(127, 0, 7, host);
    assert_eq!(
        attempt_from(&app, office(5), "vp.tinh", PASSWORD).await,
        200
    );
    let answered = AtomicUsize::new(0);
    let flood = join_all(names.iter().enumerate().map(|(i, name)| {
        let (app, answered) = (&app, &answered);
        async move {
            let from = Ipv4Addr::new(127, 1, i as u8, 1);
            let status = attempt_from(app, from, name, "sai-mat-khau").await;
            answered.fetch_add(1, Ordering::SeqCst);
            status
        }
    }));
    let staff = async {
        // Once the flood is being checked, another member of staff comes from another
        // PC of that network, with a browser that never logged in.
        while answered.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = attempt_from(&app, office(9), "vp.tanson", PASSWORD).await;
        (status, answered.load(Ordering::SeqCst))
    };
    let (statuses, (status, before)) = tokio::join!(flood, staff);
    assert_eq!(status, 200);
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    // Served next: in turn per network with the flood (every name still quiet), it would
    // have come after all of it.
    assert!(
        before <= FLOOD / 2,
        "{before} of {FLOOD} wrong passwords were answered before it"
    );
    app.stop().await;
}

#[tokio::test]
async fn after_login_next_only_leads_back_into_hoinghi() {
    let app = spawn_app_with(test_backend(), |_| {}).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (next, expected) in [
        ("/meetings/7", "/meetings/7"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("/x\ny", "/"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
        ("https://evil.example/", "/"),
    ] {
        let res = client
            .post(format!("{}/login", app.base))
            .header("origin", &app.base)
            .form(&[
                ("username", "vp.tinh"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "next={next:?}");
        assert_eq!(res.headers()["location"], expected, "next={next:?}");
    }
    app.stop().await;
}
