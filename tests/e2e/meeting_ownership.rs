//! Who owns a meeting: its scope root (the unit it belongs to), never where its host hall
//! sits. Issue 11 F1 (a district secretariat took over a province meeting hosted in its
//! district), F15 (a conflict named a meeting the caller cannot see) and F16 (unit pages
//! listing halls, scope previews with foreign halls).

use chrono::{Duration, Utc};
use hoinghi_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

/// A meeting of unit `root` hosted by the hall of unit `host`, starting `start` from now.
async fn body(app: &TestApp, root: &str, host: &str, levels: &[&str], start: &str) -> Value {
    json!({
        "title": "Giao ban trực tuyến toàn tỉnh",
        "kind": "routine",
        "host_hall_id": app.hall_id(host).await,
        "starts_at": start,
        "duration_minutes": 120,
        "scope": { "root_unit_id": app.unit_id(root).await, "levels": levels },
    })
}

fn code(reply: &(u16, Value)) -> (u16, Option<&str>) {
    (reply.0, reply.1["error"]["code"].as_str())
}

#[tokio::test]
async fn a_province_meeting_hosted_in_a_district_belongs_to_the_province() {
    let app = spawn_app().await;
    let province = app.login("vp.tinh").await;
    let district = app.login("vp.tanson").await;
    // Issue 11's repro: the province's meeting, presented from Tân Sơn's hall.
    let m = body(&app, "25", "240", &["province", "district"], "now").await;
    let (status, created) = app.post("/api/v1/meetings", Some(&province), &m).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].as_i64().unwrap();
    assert_eq!(created["meetings"][0]["invited"], 14);

    // The district secretariat cannot see, list, read tokens of, edit, cancel or run it.
    let path = format!("/api/v1/meetings/{id}");
    let not_found = (404, Some("not_found"));
    assert_eq!(code(&app.get(&path, Some(&district)).await), not_found);
    let invitations = app
        .get(&format!("{path}/invitations"), Some(&district))
        .await;
    assert_eq!(code(&invitations), not_found, "{}", invitations.1);
    let (_, listed) = app.get("/api/v1/meetings", Some(&district)).await;
    assert_eq!(listed["meetings"], json!([]), "{listed}");
    let takeover = json!({ "title": "x", "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district"] } });
    assert_eq!(
        code(&app.patch(&path, &district, &takeover).await),
        not_found
    );
    let cancel = app
        .post(&format!("{path}/cancel"), Some(&district), &json!({}))
        .await;
    assert_eq!(code(&cancel), not_found);
    let end = json!({ "type": "set_phase", "phase": "ended" });
    let ended = app
        .post(&format!("{path}/live"), Some(&district), &end)
        .await;
    assert_eq!(code(&ended), not_found, "{}", ended.1);
    assert_eq!(
        code(&app.get(&format!("{path}/live"), Some(&district)).await),
        not_found
    );

    // Nothing changed: the province still has its 14 halls, title and tokens.
    let (status, seen) = app.get(&path, Some(&province)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["meeting"]["title"], "Giao ban trực tuyến toàn tỉnh");
    assert_eq!(seen["meeting"]["invited"], 14);
    assert_eq!(seen["meeting"]["status"], "scheduled");
    let (_, inv) = app
        .get(&format!("{path}/invitations"), Some(&province))
        .await;
    let tokens = inv["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["join_token"].is_string())
        .count();
    assert_eq!(tokens, 14, "the owner hands every hall its link");

    // The host hall itself sees the meeting and only its own token.
    let host_hall = app.login("dc.240").await;
    let (status, inv) = app
        .get(&format!("{path}/invitations"), Some(&host_hall))
        .await;
    assert_eq!(status, 200, "{inv}");
    let shown: Vec<&Value> = inv["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["join_token"].is_string())
        .collect();
    assert_eq!(shown.len(), 1, "{inv}");
    assert_eq!(shown[0]["hall_id"], app.hall_id("240").await);
    app.stop().await;
}

#[tokio::test]
async fn an_edit_is_checked_against_the_meeting_before_and_after() {
    let app = spawn_app().await;
    let province = app.login("vp.tinh").await;
    let district = app.login("vp.tanson").await;
    // The province schedules a meeting of Tân Sơn's halls, presented from the province.
    let start = (Utc::now() + Duration::hours(3)).to_rfc3339();
    let m = body(&app, "240", "25", &["district", "commune"], &start).await;
    let (status, created) = app.post("/api/v1/meetings", Some(&province), &m).await;
    assert_eq!(status, 200, "{created}");
    let path = format!("/api/v1/meetings/{}", created["meetings"][0]["id"]);
    // Tân Sơn sees it (its unit owns it) but may not move the province's host hall away.
    let (status, _) = app.get(&path, Some(&district)).await;
    assert_eq!(status, 200);
    let own_host = json!({ "host_hall_id": app.hall_id("240").await });
    let (status, body) = app.patch(&path, &district, &own_host).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (_, seen) = app.get(&path, Some(&province)).await;
    assert_eq!(seen["meeting"]["host_hall"]["id"], app.hall_id("25").await);
    // The province may.
    let (status, body) = app.patch(&path, &province, &own_host).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_conflict_never_names_a_meeting_the_caller_cannot_see() {
    let app = spawn_app().await;
    let province = app.login("vp.tinh").await;
    let district = app.login("vp.tanson").await;
    let start = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let mut secret = body(
        &app,
        "25",
        "25",
        &["province", "district", "commune"],
        &start,
    )
    .await;
    secret["title"] = json!("Họp bàn nhân sự (mật)");
    let (status, _) = app.post("/api/v1/meetings", Some(&province), &secret).await;
    assert_eq!(status, 200);
    let theirs = body(&app, "240", "240", &["district", "commune"], &start).await;
    let (status, body) = app.post("/api/v1/meetings", Some(&district), &theirs).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let conflict = &body["error"]["conflicts"][0];
    assert_eq!(conflict["halls"], 18, "the overlap is still told: {body}");
    assert!(conflict["meeting_id"].is_null(), "{body}");
    assert!(!body.to_string().contains("nhân sự"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn unit_halls_and_scope_previews_stay_inside_the_callers_unit() {
    let app = spawn_app().await;
    let district = app.login("vp.tanson").await;
    let commune_hall = app.login("dc.08578").await;
    let province_unit = app.unit_id("25").await;
    // Halls of a unit are listed only to staff whose unit holds it.
    let (status, body) = app
        .get(&format!("/api/v1/units/{province_unit}"), Some(&district))
        .await;
    assert_eq!(status, 200, "the tree itself is public to accounts");
    assert_eq!(body["halls"], json!([]), "{body}");
    let own = app.unit_id("240").await;
    let (_, body) = app
        .get(&format!("/api/v1/units/{own}"), Some(&district))
        .await;
    assert_eq!(body["halls"].as_array().map(Vec::len), Some(1), "{body}");
    let (_, body) = app
        .get(&format!("/api/v1/units/{own}"), Some(&commune_hall))
        .await;
    assert_eq!(body["halls"], json!([]), "{body}");

    // A preview may not add or host from halls outside the caller's unit.
    let scope = json!({ "root_unit_id": own, "levels": ["district"], "include_halls": [app.hall_id("25").await] });
    let (status, body) = app
        .post(
            "/api/v1/scope/preview",
            Some(&district),
            &json!({ "scope": scope }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let scope = json!({ "root_unit_id": own, "levels": ["district"] });
    let (status, body) = app
        .post(
            "/api/v1/scope/preview",
            Some(&district),
            &json!({ "scope": scope, "host_hall_id": app.hall_id("25").await }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    app.stop().await;
}
