//! Kiosk device sessions over HTTP (issue 11 item 3): a room account's PC stays signed in
//! for months and its cookie is renewed while used; a staff login lasts hours; an
//! administrator lists and revokes a hall's PCs; disabling the hall signs them out.

use hoinghi_tests::{spawn_app, TestApp, PASSWORD};
use reqwest::redirect::Policy;
use serde_json::json;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const DAY: i64 = 86_400;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .user_agent(CHROME)
        .build()
        .expect("a client")
}

/// The session cookie a response sets: (token, Max-Age).
fn session_cookie(res: &reqwest::Response) -> Option<(String, i64)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let rest = c.strip_prefix("hoinghi_session=")?;
            let token = rest.split(';').next()?.to_string();
            let age = c
                .split(';')
                .find_map(|p| p.trim().strip_prefix("Max-Age="))?
                .parse()
                .ok()?;
            Some((token, age))
        })
}

/// Logs in through the login form as a browser does: (token, cookie Max-Age).
async fn form_login(app: &TestApp, username: &str) -> (String, i64) {
    let res = browser()
        .post(format!("{}/login", app.base))
        .header("origin", &app.base)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("login sent");
    assert_eq!(res.status().as_u16(), 303, "login {username}");
    session_cookie(&res).expect("a session cookie")
}

/// GET a page with the session cookie: (status, Location, renewed cookie).
async fn page(app: &TestApp, path: &str, token: &str) -> (u16, String, Option<(String, i64)>) {
    let res = browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("hoinghi_session={token}"))
        .send()
        .await
        .expect("page fetched");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let renewed = session_cookie(&res);
    (res.status().as_u16(), location, renewed)
}

fn months(age: i64) -> bool {
    (180 * DAY - 60..=180 * DAY).contains(&age)
}

#[tokio::test]
async fn a_kiosk_login_lasts_months_and_a_staff_login_hours() {
    let app = spawn_app().await;
    let (_, kiosk_age) = form_login(&app, "dc.08578").await;
    assert!(months(kiosk_age), "kiosk cookie Max-Age {kiosk_age}");
    let (_, staff_age) = form_login(&app, "vp.tinh").await;
    assert!(
        (12 * 3600 - 60..=12 * 3600).contains(&staff_age),
        "staff cookie Max-Age {staff_age}"
    );
    for (username, device) in [("dc.08578", true), ("admin", false)] {
        let (status, body) = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["device_session"].is_i64(),
            device,
            "{username}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_kiosk_in_use_past_the_ordinary_lifetime_stays_in_and_its_cookie_is_renewed() {
    let app = spawn_app().await;
    let (token, _) = form_login(&app, "dc.08578").await;
    // Signed in a month ago, last used two hours ago, about to expire.
    let n = scheduler::time::now();
    app.db
        .execute(&format!(
            "UPDATE device_sessions SET created_at = {}, last_used_at = {}, expires_at = {}",
            n - 30 * DAY,
            n - 7200,
            n + 600
        ))
        .await
        .unwrap();
    let (status, _, renewed) = page(&app, "/kiosk", &token).await;
    assert_eq!(status, 200);
    let (same, age) = renewed.expect("the cookie is renewed");
    assert_eq!(same, token);
    assert!(months(age), "renewed Max-Age {age}");
    // Used again within the hour: nothing to renew.
    let (status, _, renewed) = page(&app, "/kiosk", &token).await;
    assert_eq!((status, renewed), (200, None));
    let (status, _) = app.get("/api/v1/my/meetings", Some(&token)).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_administrator_sees_and_revokes_a_hall_pc() {
    let app = spawn_app().await;
    let hall = app.hall_id("08578").await;
    let (kiosk, _) = form_login(&app, "dc.08578").await;
    let (spare, _) = form_login(&app, "dc.08578").await;
    let admin = app.login("admin").await;
    let devices = format!("/api/v1/halls/{hall}/devices");
    let (status, body) = app.get(&devices, Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let listed = body["devices"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{body}");
    assert_eq!(listed[0]["device_name"], "Chrome 131 · Windows");
    assert_eq!(listed[0]["username"], "dc.08578");
    assert_eq!(listed[0]["address"], "127.0.0.1");
    assert!(listed.iter().all(|d| d.get("token").is_none()));
    let vp = app.login("vp.tinh").await;
    let (status, body) = app.get(&devices, Some(&vp)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // The admin page lists them.
    let (admin_page, _) = form_login(&app, "admin").await;
    let text = browser()
        .get(format!("{}/admin/halls/{hall}/devices", app.base))
        .header("cookie", format!("hoinghi_session={admin_page}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Chrome 131 · Windows") && text.contains("dc.08578"),
        "{text}"
    );
    // The halls list counts them and links there.
    let unit = app.unit_id("08578").await;
    let list = browser()
        .get(format!("{}/admin/halls?unit={unit}", app.base))
        .header("cookie", format!("hoinghi_session={admin_page}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = format!("<a href=\"/admin/halls/{hall}/devices\">2</a>");
    assert!(list.contains(&link), "{list}");

    // Revoked through the API: the PC's next page is the login form, its API calls 401.
    let spare_id = listed
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .max()
        .unwrap();
    let kiosk_id = listed
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .min()
        .unwrap();
    let (status, body) = app.delete(&format!("{devices}/{kiosk_id}"), &admin).await;
    assert_eq!(status, 200, "{body}");
    let (status, location, _) = page(&app, "/kiosk", &kiosk).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/login"), "{location}");
    let (status, body) = app.get("/api/v1/my/meetings", Some(&kiosk)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, body) = app.delete(&format!("{devices}/{kiosk_id}"), &admin).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // The other PC is still in, until revoked from the page.
    assert_eq!(page(&app, "/kiosk", &spare).await.0, 200);
    let res = browser()
        .post(format!(
            "{}/admin/halls/{hall}/devices/{spare_id}/revoke",
            app.base
        ))
        .header("cookie", format!("hoinghi_session={admin_page}"))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert!(page(&app, "/kiosk", &spare).await.1.starts_with("/login"));
    app.stop().await;
}

#[tokio::test]
async fn disabling_the_hall_or_its_account_signs_its_pcs_out() {
    let app = spawn_app().await;
    let hall = app.hall_id("08578").await;
    let admin = app.login("admin").await;
    let (_, accounts) = app.get("/api/v1/accounts", Some(&admin)).await;
    let account = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "dc.08578")
        .unwrap()["id"]
        .clone();
    for path in [
        format!("/api/v1/halls/{hall}"),
        format!("/api/v1/accounts/{account}"),
    ] {
        let (kiosk, _) = form_login(&app, "dc.08578").await;
        assert_eq!(page(&app, "/kiosk", &kiosk).await.0, 200);
        let (status, body) = app.patch(&path, &admin, &json!({ "active": false })).await;
        assert_eq!(status, 200, "{body}");
        let (status, location, _) = page(&app, "/kiosk", &kiosk).await;
        assert_eq!(status, 303, "{path}");
        assert!(location.starts_with("/login"), "{location}");
        let (_, body) = app
            .get(&format!("/api/v1/halls/{hall}/devices"), Some(&admin))
            .await;
        assert_eq!(body["devices"], json!([]), "{path}");
        app.patch(&path, &admin, &json!({ "active": true })).await;
    }
    app.stop().await;
}
