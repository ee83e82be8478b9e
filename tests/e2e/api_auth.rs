//! Login, sessions, logout and role checks over HTTP.

use hoinghi_tests::{spawn_app, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn login_gives_a_session_that_logout_revokes() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "vp.tinh", "password": "sai" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials"))
    );

    let token = app.login("vp.tinh").await;
    let (status, me) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "vp.tinh");
    assert_eq!(me["role"], "secretariat");
    assert_eq!(me["display_name"], "Văn phòng UBND tỉnh Phú Thọ");

    let (status, _) = app
        .post("/api/v1/auth/logout", Some(&token), &json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_login_cookie_is_http_only_and_authenticates() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({ "username": "admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("hoinghi_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let me: serde_json::Value = client
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");
    app.stop().await;
}

#[tokio::test]
async fn every_route_checks_the_role() {
    let app = spawn_app().await;
    let (status, _) = app.get("/api/v1/meetings", None).await;
    assert_eq!(status, 401);
    let hall = app.login("dc.08578").await;
    let (status, body) = app.get("/api/v1/accounts", Some(&hall)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = app.get("/api/v1/halls", Some(&hall)).await;
    assert_eq!(status, 403);
    let district = app.login("vp.tanson").await;
    let (status, _) = app
        .get(
            &format!("/api/v1/halls?unit={}", app.unit_id("25").await),
            Some(&district),
        )
        .await;
    assert_eq!(
        status, 403,
        "a district secretariat cannot list the province's halls"
    );
    let (status, halls) = app.get("/api/v1/halls", Some(&district)).await;
    assert_eq!(
        (status, halls["halls"].as_array().map(Vec::len)),
        (200, Some(18))
    );
    let (status, _) = app
        .post(
            "/api/v1/halls",
            Some(&district),
            &json!({ "unit_id": app.unit_id("240").await, "name": "Phòng 2" }),
        )
        .await;
    assert_eq!(status, 403, "only administrators add halls");

    let admin = app.login("admin").await;
    let (status, created) = app
        .post(
            "/api/v1/halls",
            Some(&admin),
            &json!({ "unit_id": app.unit_id("240").await, "name": "Phòng họp trực tuyến số 2" }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, account) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            &json!({ "username": "dc.240b", "display_name": "Phòng 2 Tân Sơn", "password": "mat-khau-phong-2", "role": "hall", "hall_id": created["hall"]["id"] }),
        )
        .await;
    assert_eq!(status, 200, "{account}");
    let (status, dup) = app
        .post("/api/v1/accounts", Some(&admin), &json!({ "username": "dc.240b", "display_name": "x", "password": "mat-khau-phong-2", "role": "admin" }))
        .await;
    assert_eq!(
        (status, dup["error"]["code"].as_str()),
        (409, Some("duplicate"))
    );
    app.stop().await;
}
