//! Scheduling over HTTP: tier scopes, previews, conflicts, visibility, join tokens.

use chrono::{Duration, Utc};
use hoinghi_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

/// An RFC 3339 instant `hours` from now.
fn in_hours(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339()
}

async fn meeting(
    app: &TestApp,
    root: &str,
    host: &str,
    levels: &[&str],
    start_in_hours: i64,
) -> Value {
    json!({
        "title": "Giao ban trực tuyến tuần",
        "kind": "routine",
        "host_hall_id": app.hall_id(host).await,
        "starts_at": in_hours(start_in_hours),
        "duration_minutes": 120,
        "scope": { "root_unit_id": app.unit_id(root).await, "levels": levels },
    })
}

#[tokio::test]
async fn tier_scopes_invite_221_14_and_18_halls() {
    let app = spawn_app().await;
    let vp = app.login("vp.tinh").await;
    let all = meeting(&app, "25", "25", &["province", "district", "commune"], 2).await;
    let (status, preview) = app
        .post(
            "/api/v1/scope/preview",
            Some(&vp),
            &json!({ "scope": all["scope"], "host_hall_id": all["host_hall_id"] }),
        )
        .await;
    assert_eq!((status, preview["total"].as_u64()), (200, Some(221)));
    assert_eq!(
        preview["per_level"],
        json!({ "province": 1, "district": 13, "commune": 207 })
    );
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &all).await;
    assert_eq!(status, 200, "{created}");
    let m = &created["meetings"][0];
    assert_eq!(m["invited"], 221);
    let (_, inv) = app
        .get(
            &format!("/api/v1/meetings/{}/invitations", m["id"]),
            Some(&vp),
        )
        .await;
    assert_eq!(inv["total"], 221);
    assert!(inv["invitations"][0]["join_url"]
        .as_str()
        .unwrap()
        .contains("/j/"));

    let upper = meeting(&app, "25", "25", &["province", "district"], 30).await;
    let (_, created) = app.post("/api/v1/meetings", Some(&vp), &upper).await;
    assert_eq!(created["meetings"][0]["invited"], 14);

    let vp_tan_son = app.login("vp.tanson").await;
    let district = meeting(&app, "240", "240", &["district", "commune"], 60).await;
    let (status, created) = app
        .post("/api/v1/meetings", Some(&vp_tan_son), &district)
        .await;
    assert_eq!(
        (status, created["meetings"][0]["invited"].as_u64()),
        (200, Some(18)),
        "{created}"
    );

    // Excluding one hall removes exactly it.
    let mut fewer = meeting(&app, "25", "25", &["province", "district", "commune"], 90).await;
    fewer["scope"]["exclude_halls"] = json!([app.hall_id("08578").await]);
    let (_, preview) = app
        .post(
            "/api/v1/scope/preview",
            Some(&vp),
            &json!({ "scope": fewer["scope"], "host_hall_id": fewer["host_hall_id"] }),
        )
        .await;
    assert_eq!(preview["total"], 220);
    assert!(!preview["hall_ids"]
        .as_array()
        .unwrap()
        .contains(&json!(app.hall_id("08578").await)));
    app.stop().await;
}

#[tokio::test]
async fn a_district_secretariat_cannot_reach_beyond_its_district() {
    let app = spawn_app().await;
    let vp_tan_son = app.login("vp.tanson").await;
    let province = meeting(&app, "25", "25", &["province", "district", "commune"], 2).await;
    let (status, body) = app
        .post("/api/v1/meetings", Some(&vp_tan_son), &province)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = app
        .post(
            "/api/v1/scope/preview",
            Some(&vp_tan_son),
            &json!({ "scope": province["scope"] }),
        )
        .await;
    assert_eq!(status, 403);

    let vp_doan_hung = app.login("vp.doanhung").await;
    let theirs = meeting(&app, "230", "230", &["district", "commune"], 2).await;
    let (_, created) = app
        .post("/api/v1/meetings", Some(&vp_doan_hung), &theirs)
        .await;
    let id = &created["meetings"][0]["id"];
    let (status, body) = app
        .get(&format!("/api/v1/meetings/{id}"), Some(&vp_tan_son))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "foreign ids leak nothing"
    );
    let (status, _) = app
        .get(
            &format!("/api/v1/meetings/{id}/invitations"),
            Some(&vp_tan_son),
        )
        .await;
    assert_eq!(status, 404);
    let (_, listed) = app.get("/api/v1/meetings", Some(&vp_tan_son)).await;
    assert_eq!(listed["meetings"], json!([]));

    // A hall sees only its own meetings, each with its own join link.
    let commune_of_doan_hung = app.login("dc.07975").await; // Xã Hùng Xuyên, Đoan Hùng
    let (_, mine) = app
        .get("/api/v1/my/meetings", Some(&commune_of_doan_hung))
        .await;
    assert_eq!(mine["meetings"].as_array().map(Vec::len), Some(1), "{mine}");
    assert!(mine["meetings"][0]["join_url"]
        .as_str()
        .unwrap()
        .contains("/j/"));
    let outsider = app.login("dc.08578").await;
    let (_, theirs_seen) = app.get("/api/v1/my/meetings", Some(&outsider)).await;
    assert_eq!(theirs_seen["meetings"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn an_overlapping_meeting_is_a_409_naming_the_conflict() {
    let app = spawn_app().await;
    let vp = app.login("vp.tinh").await;
    let (_, first) = app
        .post(
            "/api/v1/meetings",
            Some(&vp),
            &meeting(&app, "25", "25", &["province", "district", "commune"], 2).await,
        )
        .await;
    let mut overlapping = meeting(&app, "240", "240", &["district", "commune"], 3).await;
    overlapping["title"] = json!("Họp khẩn phòng chống dịch");
    let (status, body) = app.post("/api/v1/meetings", Some(&vp), &overlapping).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let conflict = &body["error"]["conflicts"][0];
    assert_eq!(conflict["meeting_id"], first["meetings"][0]["id"]);
    assert_eq!(conflict["title"], "Giao ban trực tuyến tuần");
    assert_eq!(conflict["halls"], 18);
    assert!(conflict["starts_at_local"]
        .as_str()
        .unwrap()
        .ends_with("+07:00"));

    overlapping["override_reason"] = json!("Dịch bệnh khẩn cấp");
    let (status, forced) = app.post("/api/v1/meetings", Some(&vp), &overlapping).await;
    assert_eq!(status, 200, "{forced}");
    assert_eq!(
        forced["meetings"][0]["override_reason"],
        "Dịch bệnh khẩn cấp"
    );
    app.stop().await;
}

#[tokio::test]
async fn join_tokens_refuse_foreign_halls_and_ended_meetings() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let mut sudden = meeting(&app, "240", "240", &["district", "commune"], 0).await;
    sudden["kind"] = json!("sudden");
    sudden["starts_at"] = json!("now");
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &sudden).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].clone();
    let commune = app.login("dc.08578").await;
    let (_, mine) = app.get("/api/v1/my/meetings", Some(&commune)).await;
    let token = mine["meetings"][0]["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    let (status, grant) = app
        .get(&format!("/api/v1/join/{token}"), Some(&commune))
        .await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["hall"]["name"], "Điểm cầu UBND xã Tân Sơn");
    let other = app.login("dc.08545").await;
    let (status, body) = app
        .get(&format!("/api/v1/join/{token}"), Some(&other))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("join_foreign_hall"))
    );
    let (status, _) = app
        .get(&format!("/api/v1/join/{}", "ab".repeat(32)), None)
        .await;
    assert_eq!(status, 404);

    // The meeting is moved into the past: its tokens have expired.
    let past = json!({ "starts_at": in_hours(-3), "ends_at": in_hours(-2) });
    let (status, moved) = app
        .patch(&format!("/api/v1/meetings/{id}"), &vp, &past)
        .await;
    assert_eq!(status, 200, "{moved}");
    let (status, body) = app
        .get(&format!("/api/v1/join/{token}"), Some(&commune))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("join_expired"))
    );
    app.stop().await;
}
