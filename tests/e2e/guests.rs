//! Guests (khách mời, issue 13 item 6) over HTTP and the meeting socket: the meeting's staff
//! add, list and revoke them; a revoked guest is out at once and its link refused; other
//! staff see nothing; an ended, expired or cancelled meeting takes no guest; the report
//! keeps the guest's interval apart from the halls'.

use std::time::Duration;

use hoinghi_tests::{next_event, spawn_app, TestApp};
use serde_json::{json, Value};

/// Tân Sơn's district and communes, starting `start`; returns the meeting id.
async fn schedule(app: &TestApp, start: &str) -> i64 {
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Họp khẩn phòng chống lũ", "kind": "sudden", "host_hall_id": app.hall_id("240").await,
        "starts_at": start, "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
        // Several meetings of a test share the halls.
        "override_reason": "Kiểm thử khách mời",
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    created["meetings"][0]["id"].as_i64().unwrap()
}

fn journalist() -> Value {
    json!({ "name": "Phóng viên Báo Phú Thọ", "organisation": "Báo Phú Thọ", "phone": "0912 345 678" })
}

async fn host_token(app: &TestApp, meeting: i64) -> String {
    let vp = app.login("vp.tanson").await;
    let host = app.hall_id("240").await;
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
        .find(|i| i["hall_id"] == host)
        .unwrap()["join_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn only_the_meetings_staff_add_and_list_guests_with_checked_fields() {
    let app = spawn_app().await;
    let id = schedule(&app, "now").await;
    let guests = format!("/api/v1/meetings/{id}/guests");
    let vp = app.login("vp.tanson").await;

    let bad = json!({ "name": "Sở Y tế\nPhú Thọ", "phone": "12ab" });
    let (status, body) = app.post(&guests, Some(&vp), &bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields = body["error"]["fields"].as_object().unwrap();
    assert!(
        fields.contains_key("name") && fields.contains_key("phone"),
        "{body}"
    );
    let (status, body) = app
        .post(&guests, Some(&vp), &json!({ "name": "Sở Y tế" }))
        .await;
    assert_eq!(
        (status, body["error"]["fields"]["phone"].is_string()),
        (422, true),
        "{body}"
    );
    let (status, body) = app
        .post(
            &guests,
            Some(&vp),
            &json!({ "name": "Sở Y tế", "email": "soyte@phutho.gov.vn", "role": "host" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "unknown fields refused: {body}"
    );

    let (status, created) = app.post(&guests, Some(&vp), &journalist()).await;
    assert_eq!(status, 200, "{created}");
    let g = &created["guest"];
    let token = g["join_token"].as_str().unwrap();
    assert_eq!(g["join_url"], format!("{}/j/{token}", app.base));
    assert_eq!(g["participant_id"], -g["id"].as_i64().unwrap());

    // Another district's secretariat: the meeting does not exist for it.
    let other = app.login("vp.doanhung").await;
    assert_eq!(app.get(&guests, Some(&other)).await.0, 404);
    assert_eq!(app.post(&guests, Some(&other), &journalist()).await.0, 404);
    let revoke = format!("{guests}/{}/revoke", g["id"]);
    assert_eq!(app.post(&revoke, Some(&other), &json!({})).await.0, 404);
    // The host hall's room account sees the meeting, not its guests.
    let hall = app.login("dc.240").await;
    let (status, body) = app.get(&guests, Some(&hall)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    let (_, list) = app.get(&guests, Some(&vp)).await;
    assert_eq!(
        (list["total"].as_u64(), list["active"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(list["guests"][0]["name"], "Phóng viên Báo Phú Thọ");

    // The link opens the room page, labelled as a guest's.
    let (status, page) = app.get_text(&format!("/j/{token}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Khách mời") && page.contains("Phóng viên Báo Phú Thọ"),
        "{page}"
    );
    let (status, check) = app.get(&format!("/api/v1/join/{token}"), None).await;
    assert_eq!(
        (status, check["guest"].as_bool()),
        (200, Some(true)),
        "{check}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_guest_is_out_at_once_and_its_link_refused() {
    let app = spawn_app().await;
    let id = schedule(&app, "now").await;
    let vp = app.login("vp.tanson").await;
    let guests = format!("/api/v1/meetings/{id}/guests");
    let (_, created) = app.post(&guests, Some(&vp), &journalist()).await;
    let (guest_id, participant) = (
        created["guest"]["id"].as_i64().unwrap(),
        created["guest"]["participant_id"].as_i64().unwrap(),
    );
    let token = created["guest"]["join_token"].as_str().unwrap().to_string();

    let (_host, welcome) = app.ws_join(&host_token(&app, id).await).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let (mut socket, welcome) = app.ws_join(&token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["hall"]["id"], participant);
    let me = welcome["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["hall_id"] == participant)
        .cloned()
        .unwrap();
    assert_eq!(me["guest"], true, "{welcome}");

    // The secretariat's board counts the guest apart from the halls.
    let live = format!("/api/v1/meetings/{id}/live");
    let mut board = Value::Null;
    for _ in 0..100 {
        board = app.get(&live, Some(&vp)).await.1["readiness"].clone();
        if board["guests_connected"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(board["guests"][0]["hall_id"], participant, "{board}");
    assert_eq!(board["connected"], 1, "only the host hall: {board}");
    assert!(board["halls"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["hall_id"] != participant));

    let (status, revoked) = app
        .post(
            &format!("{guests}/{guest_id}/revoke"),
            Some(&vp),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["guest"]["revoked_at"].is_i64());
    loop {
        match next_event(&mut socket).await {
            Ok(m) if m["type"] == "error" => assert_eq!(m["code"], "guest_revoked", "{m}"),
            Ok(_) => {}
            Err(close) => {
                assert_eq!(close, Some((1008, "guest_revoked".to_string())));
                break;
            }
        }
    }
    let (_, again) = app.ws_join(&token).await;
    assert_eq!(
        (again["type"].as_str(), again["code"].as_str()),
        (Some("error"), Some("guest_revoked")),
        "{again}"
    );
    let (status, body) = app.get(&format!("/api/v1/join/{token}"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("guest_revoked"))
    );
    let (status, page) = app.get_text(&format!("/j/{token}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("Lời mời khách này đã bị thu hồi"), "{page}");
    let (_, list) = app.get(&guests, Some(&vp)).await;
    assert_eq!(
        (list["total"].as_u64(), list["active"].as_u64()),
        (Some(1), Some(0))
    );

    // The report holds the guest's interval, apart from the halls, ended as removed.
    let report_path = format!("/api/v1/meetings/{id}/attendance");
    let mut report = Value::Null;
    for _ in 0..100 {
        report = app.get(&report_path, Some(&vp)).await.1;
        if report["guests"][0]["last_leave_reason"] == "removed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(report["guests_total"], 1, "{report}");
    let row = &report["guests"][0];
    assert_eq!(row["name"], "Phóng viên Báo Phú Thọ");
    assert_eq!(row["intervals"], 1, "{row}");
    assert_eq!(row["timeline"][0]["end_reason"], "removed", "{row}");
    assert!(report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["hall_id"].as_i64().unwrap() > 0));
    let res = app
        .client
        .get(format!("{}{report_path}?format=csv&part=guests", app.base))
        .bearer_auth(&vp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let csv = res.text().await.unwrap();
    assert!(
        csv.contains("Khách mời,Cơ quan, đơn vị") || csv.contains("Khách mời,\"Cơ quan, đơn vị\""),
        "{csv}"
    );
    assert!(
        csv.contains("Phóng viên Báo Phú Thọ,Báo Phú Thọ,0912 345 678"),
        "{csv}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_ended_expired_or_cancelled_meeting_takes_no_guest() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;

    // Ended by the host: no new guest; the guest added before cannot come in.
    let ended = schedule(&app, "now").await;
    let (_, early) = app
        .post(
            &format!("/api/v1/meetings/{ended}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    let early_token = early["guest"]["join_token"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{ended}/live"),
            Some(&vp),
            &json!({ "type": "set_phase", "phase": "ended" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The end is written by the attendance writer, in its own time.
    for _ in 0..100 {
        let (_, m) = app
            .get(&format!("/api/v1/meetings/{ended}"), Some(&vp))
            .await;
        if m["meeting"]["status"] == "ended" || m["meeting"]["status"] == "not_held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{ended}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("join_expired")),
        "{body}"
    );
    let (_, refused) = app.ws_join(&early_token).await;
    assert_eq!(refused["code"], "meeting_ended", "{refused}");

    // Past its planned end.
    let expired = schedule(&app, "now").await;
    let (_, g) = app
        .post(
            &format!("/api/v1/meetings/{expired}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    let token = g["guest"]["join_token"].as_str().unwrap().to_string();
    let past = scheduler::time::now() - 7200;
    app.db
        .execute(&format!(
            "UPDATE meetings SET starts_at = {past}, ends_at = {} WHERE id = {expired}",
            past + 3600
        ))
        .await
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{expired}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("join_expired"))
    );
    let (status, body) = app.get(&format!("/api/v1/join/{token}"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("join_expired"))
    );
    let (_, refused) = app.ws_join(&token).await;
    assert_eq!(refused["code"], "token_expired", "{refused}");

    // Cancelled.
    let cancelled = schedule(&app, "now").await;
    let (_, g) = app
        .post(
            &format!("/api/v1/meetings/{cancelled}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    let token = g["guest"]["join_token"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/meetings/{cancelled}/cancel"),
        Some(&vp),
        &json!({ "reason": "Hoãn" }),
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{cancelled}/guests"),
            Some(&vp),
            &journalist(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("meeting_cancelled"))
    );
    let (status, _) = app.get(&format!("/api/v1/join/{token}"), None).await;
    assert_eq!(status, 410);
    app.stop().await;
}
