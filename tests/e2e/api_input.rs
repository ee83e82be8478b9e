//! Bad input gets a clear error with a code, and nothing breaks: JSON, sizes, types, fields, CSV.

use hoinghi_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_get_coded_errors() {
    let app = spawn_app().await;
    let vp = app.login("vp.tinh").await;
    let (status, body) = app
        .post_raw(
            "/api/v1/meetings",
            Some(&vp),
            "application/json",
            b"{\"title\":".to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (status, body) = app
        .post_raw("/api/v1/meetings", Some(&vp), "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "admin", "password": "x", "remember": true }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "unknown fields are refused"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("remember"));
    let (status, body) = app
        .post(
            "/api/v1/halls",
            Some(&app.login("admin").await),
            &json!({ "unit_id": "hai", "name": "x" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "wrong types are refused"
    );
    let huge = vec![b' '; 200 * 1024];
    let (status, body) = app
        .post_raw("/api/v1/meetings", Some(&vp), "application/json", huge)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, body) = app.get("/api/v1/no-such-route", Some(&vp)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // The server is still fine.
    assert_eq!(
        app.get("/healthz", None).await,
        (200, json!({ "status": "ok" }))
    );
    app.stop().await;
}

#[tokio::test]
async fn every_bad_field_is_named_at_once() {
    let app = spawn_app().await;
    let vp = app.login("vp.tinh").await;
    let bad = json!({
        "title": "  ",
        "kind": "routine",
        "host_hall_id": app.hall_id("25").await,
        "starts_at": "thứ hai tới",
        "ends_at": "2026-13-01T08:00",
        "scope": { "root_unit_id": app.unit_id("25").await, "levels": [] },
        "recurrence": "FREQ=DAILY",
    });
    let (status, body) = app.post("/api/v1/meetings", Some(&vp), &bad).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let fields = body["error"]["fields"].as_object().unwrap();
    for f in [
        "title",
        "starts_at",
        "ends_at",
        "scope.levels",
        "recurrence",
    ] {
        assert!(fields.contains_key(f), "{f} missing from {body}");
    }
    let (status, body) = app.post("/api/v1/meetings", Some(&vp), &json!({ "title": "x", "kind": "party", "host_hall_id": 1, "starts_at": "now", "duration_minutes": 5, "scope": { "root_unit_id": 1, "levels": ["province"] } })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "unknown kind"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_broken_csv_import_names_the_line_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let csv = "code,parent_code,level,division_type,name\r\n26,,province,tỉnh,Tỉnh Vĩnh Phúc\r\n243,26,district,thành phố,Thành phố Vĩnh Yên\r\n08707,243,,phường,Phường Tích Sơn\r\n";
    let (status, body) = app
        .post_raw(
            "/api/v1/units/import",
            Some(&admin),
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("import_failed")),
        "{body}"
    );
    assert_eq!(
        (
            body["error"]["line"].as_u64(),
            body["error"]["column"].as_str()
        ),
        (Some(4), Some("level"))
    );
    let (_, found) = app
        .get("/api/v1/units/search?q=vinh%20yen", Some(&admin))
        .await;
    assert_eq!(found["units"], json!([]), "nothing was imported");

    let fixed = csv.replace(",243,,phường,", ",243,commune,phường,");
    let (status, body) = app
        .post_raw(
            "/api/v1/units/import",
            Some(&admin),
            "text/csv",
            fixed.into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["report"]["per_level"],
        json!({ "commune": 1, "district": 1, "province": 1 })
    );
    let (_, found) = app
        .get("/api/v1/units/search?q=vinh%20yen", Some(&admin))
        .await;
    assert_eq!(found["units"][0]["name"], "Thành phố Vĩnh Yên");
    let vp = app.login("vp.tinh").await;
    let (status, _) = app
        .post_raw("/api/v1/units/import", Some(&vp), "text/csv", b"x".to_vec())
        .await;
    assert_eq!(status, 403);
    app.stop().await;
}

#[tokio::test]
async fn units_are_browsed_and_searched_without_diacritics() {
    let app = spawn_app().await;
    let token = app.login("dc.25").await;
    let (_, roots) = app.get("/api/v1/units", Some(&token)).await;
    assert_eq!(roots["units"][0]["name"], "Tỉnh Phú Thọ");
    assert_eq!(roots["units"][0]["children"], 13);
    let (_, found) = app
        .get("/api/v1/units/search?q=TAN%20SON", Some(&token))
        .await;
    assert_eq!(found["units"][0]["name"], "Huyện Tân Sơn");
    let (status, body) = app.get("/api/v1/units?date=hôm-nay", Some(&token)).await;
    assert_eq!(
        (status, body["error"]["fields"]["date"].is_string()),
        (422, true)
    );
    app.stop().await;
}
