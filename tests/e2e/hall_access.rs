//! Who may be in a live meeting and act on it (issue 11 F8, F10, F18, F19): a disabled hall
//! or room account is out at once (and cannot log in again), live controls only around the meeting's time, roll-call
//! marks only for invited halls, and the socket only for pages of our own origin.

use chrono::{Duration, Utc};
use hoinghi_tests::{next_event, spawn_app, TestApp, PASSWORD};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Tân Sơn's district and communes, starting `start`; returns the meeting id.
async fn schedule(app: &TestApp, start: &str) -> i64 {
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Họp khẩn", "kind": "sudden", "host_hall_id": app.hall_id("240").await,
        "starts_at": start, "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    created["meetings"][0]["id"].as_i64().unwrap()
}

async fn token_of(app: &TestApp, meeting: i64, hall: i64) -> String {
    let vp = app.login("vp.tanson").await;
    let (_, inv) = app
        .get(
            &format!("/api/v1/meetings/{meeting}/invitations"),
            Some(&vp),
        )
        .await;
    inv["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["hall_id"] == hall)
        .unwrap()["join_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Checks that commune hall 08578's token, socket, join check and calendar feed are all
/// refused once the administrator PATCHes `disable` with `active: false` while the hall
/// is in a meeting.
async fn out_at_once(app: &TestApp, disable: &str) {
    let id = schedule(app, "now").await;
    let hall = app.hall_id("08578").await;
    let token = token_of(app, id, hall).await;
    let kiosk = app.login("dc.08578").await;
    let (_, mine) = app.get("/api/v1/my/meetings", Some(&kiosk)).await;
    let feed = mine["calendar_url"]
        .as_str()
        .unwrap()
        .replace(&app.base, "");
    let (mut socket, welcome) = app.ws_join(&token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    let admin = app.login("admin").await;
    let (status, body) = app
        .patch(disable, &admin, &json!({ "active": false }))
        .await;
    assert_eq!(status, 200, "{body}");
    // The live socket is told and closed.
    loop {
        match next_event(&mut socket).await {
            Ok(m) if m["type"] == "error" => {
                assert_eq!(m["code"], "join_refused", "{m}");
            }
            Ok(_) => {}
            Err(close) => {
                assert_eq!(close.map(|c| c.0), Some(1008));
                break;
            }
        }
    }
    let (_, again) = app.ws_join(&token).await;
    assert_eq!(
        (again["type"].as_str(), again["code"].as_str()),
        (Some("error"), Some("join_refused")),
        "{again}"
    );
    let (status, body) = app.get(&format!("/api/v1/join/{token}"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("hall_disabled")),
        "{body}"
    );
    assert_eq!(app.get_text(&feed).await.0, 404);
}

#[tokio::test]
async fn a_disabled_hall_is_out_of_its_meetings_at_once() {
    let app = spawn_app().await;
    let hall = app.hall_id("08578").await;
    out_at_once(&app, &format!("/api/v1/halls/{hall}")).await;
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_room_account_is_out_of_its_meetings_at_once() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let (_, accounts) = app.get("/api/v1/accounts", Some(&admin)).await;
    let account = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "dc.08578")
        .unwrap()["id"]
        .clone();
    out_at_once(&app, &format!("/api/v1/accounts/{account}")).await;
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_halls_room_account_cannot_log_in_even_with_its_password() {
    let app = spawn_app().await;
    let hall = app.hall_id("08578").await;
    let admin = app.login("admin").await;
    let path = format!("/api/v1/halls/{hall}");
    let (status, body) = app.patch(&path, &admin, &json!({ "active": false })).await;
    assert_eq!(status, 200, "{body}");
    let login = json!({ "username": "dc.08578", "password": PASSWORD });
    let (status, body) = app.post("/api/v1/auth/login", None, &login).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("hall_disabled")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ngừng hoạt động"), "{message}");
    // The login page says so in Vietnamese, and opens no session.
    let res = app
        .client
        .post(format!("{}/login", app.base))
        .header("origin", &app.base)
        .form(&[("username", "dc.08578"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().get("set-cookie").is_none());
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            "Điểm cầu này đã bị ngừng hoạt động nên tài khoản phòng họp không đăng nhập được"
        ),
        "{page}"
    );
    // A wrong password is still only a wrong password: nothing is told about the hall.
    let wrong = json!({ "username": "dc.08578", "password": "sai-mat-khau" });
    let (status, body) = app.post("/api/v1/auth/login", None, &wrong).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials"))
    );
    // Enabled again, it logs in.
    let (status, _) = app.patch(&path, &admin, &json!({ "active": true })).await;
    assert_eq!(status, 200);
    let (status, body) = app.post("/api/v1/auth/login", None, &login).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn live_controls_run_only_around_the_meetings_time_and_never_once_cancelled() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let later = schedule(&app, &(Utc::now() + Duration::hours(5)).to_rfc3339()).await;
    let start = json!({ "type": "set_phase", "phase": "started" });
    let (status, body) = app
        .post(&format!("/api/v1/meetings/{later}/live"), Some(&vp), &start)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("join_too_early")),
        "{body}"
    );

    let now = schedule(&app, "now").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/meetings/{now}/cancel"),
            Some(&vp),
            &json!({ "reason": "Hoãn" }),
        )
        .await;
    assert_eq!(status, 200);
    let end = json!({ "type": "set_phase", "phase": "ended" });
    let (status, body) = app
        .post(&format!("/api/v1/meetings/{now}/live"), Some(&vp), &end)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("meeting_cancelled")),
        "{body}"
    );
    let (_, seen) = app.get(&format!("/api/v1/meetings/{now}"), Some(&vp)).await;
    assert_eq!(seen["meeting"]["status"], "cancelled");
    app.stop().await;
}

#[tokio::test]
async fn a_roll_call_mark_names_only_halls_invited_to_the_meeting() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let id = schedule(&app, "now").await;
    let live = format!("/api/v1/meetings/{id}/live");
    let (status, body) = app
        .post(&live, Some(&vp), &json!({ "type": "start_roll_call" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let stranger = app.hall_id("25").await;
    let mark = json!({ "type": "mark_roll_call", "hall_id": stranger, "status": "absent", "reason": "mất điện" });
    let (status, body) = app.post(&live, Some(&vp), &mark).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_hall")),
        "{body}"
    );
    let invited = app.hall_id("08578").await;
    let mark = json!({ "type": "mark_roll_call", "hall_id": invited, "status": "absent", "reason": "mất điện" });
    assert_eq!(app.post(&live, Some(&vp), &mark).await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_meeting_socket_opens_only_for_pages_of_our_own_origin() {
    let app = spawn_app().await;
    let open = |origin: Option<String>| {
        let mut request = app.ws_url().into_client_request().unwrap();
        if let Some(o) = origin {
            request.headers_mut().insert("origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    let refused = open(Some("http://evil.example".into())).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!(
            "a foreign origin must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    assert!(open(Some(app.base.clone())).await.is_ok(), "our own pages");
    assert!(
        open(None).await.is_ok(),
        "non-browser clients send no Origin"
    );
    app.stop().await;
}
