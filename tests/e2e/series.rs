//! Scheduling gaps over HTTP (issue 13 item 7): cancelling a series from one occurrence on,
//! the reason shown to halls on their join page, and the status on the meeting page.

use chrono::{Duration, Utc};
use hoinghi_tests::{spawn_app, TestApp};
use serde_json::json;

async fn page(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(token) = cookie {
        req = req.header("cookie", format!("hoinghi_session={token}"));
    }
    let res = req.send().await.expect("page fetched");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn cancelling_this_and_following_tells_the_halls_why() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Giao ban tuần", "kind": "routine", "host_hall_id": app.hall_id("240").await,
        "starts_at": (Utc::now() + Duration::hours(24)).to_rfc3339(), "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
        "recurrence": "FREQ=WEEKLY;COUNT=3",
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let ids: Vec<i64> = created["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    // The meeting page of a series offers "and the following ones".
    assert!(page(&app, &format!("/meetings/{}", ids[0]), Some(&vp))
        .await
        .1
        .contains("id=\"c-following\""));

    let reason = "Chuyển sang họp trực tiếp tại hội trường";
    let (status, body) = app
        .post(
            &format!("/api/v1/meetings/{}/cancel", ids[1]),
            Some(&vp),
            &json!({ "reason": reason, "following": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancelled"], json!([ids[1], ids[2]]));
    let (_, first) = app
        .get(&format!("/api/v1/meetings/{}", ids[0]), Some(&vp))
        .await;
    assert_eq!(first["meeting"]["status"], "scheduled");

    // The commune hall's link of the last one says it was cancelled, and why.
    let hall = app.hall_id("08578").await;
    let (_, inv) = app
        .get(
            &format!("/api/v1/meetings/{}/invitations", ids[2]),
            Some(&vp),
        )
        .await;
    let token = inv["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["hall_id"] == hall)
        .unwrap()["join_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, text) = page(&app, &format!("/j/{token}"), None).await;
    assert_eq!(status, 410);
    assert!(
        text.contains("Cuộc họp đã bị hủy") && text.contains(reason),
        "{text}"
    );
    // The meeting page shows it too.
    let (_, text) = page(&app, &format!("/meetings/{}", ids[2]), Some(&vp)).await;
    assert!(
        text.contains("id=\"cancel-reason\"") && text.contains(reason),
        "{text}"
    );
    // The first is still open to its halls, without a reason.
    let (_, first_inv) = app
        .get(
            &format!("/api/v1/meetings/{}/invitations", ids[0]),
            Some(&vp),
        )
        .await;
    assert_eq!(first_inv["total"], inv["total"]);
    // Held without any hall, or held: the meeting page says so.
    for (status, words) in [("not_held", "Không tổ chức"), ("ended", "Đã kết thúc")] {
        app.db
            .execute(&format!(
                "UPDATE meetings SET status = '{status}' WHERE id = {}",
                ids[0]
            ))
            .await
            .unwrap();
        let (_, text) = page(&app, &format!("/meetings/{}", ids[0]), Some(&vp)).await;
        let line = text
            .lines()
            .find(|l| l.contains("id=\"meeting-status\""))
            .unwrap_or_default();
        assert!(line.contains(words), "{status}: {line}");
    }
    app.stop().await;
}

#[tokio::test]
async fn editing_this_and_following_moves_the_later_occurrences() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let start = Utc::now() + Duration::hours(24);
    let body = json!({
        "title": "Giao ban tuần", "kind": "routine", "host_hall_id": app.hall_id("240").await,
        "starts_at": start.to_rfc3339(), "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district"] },
        "recurrence": "FREQ=WEEKLY;COUNT=3",
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let starts: Vec<String> = created["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["starts_at"].as_str().unwrap().to_string())
        .collect();
    let ids: Vec<i64> = created["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let second = chrono::DateTime::parse_from_rfc3339(&starts[1]).unwrap();
    let (status, body) = app
        .patch(
            &format!("/api/v1/meetings/{}", ids[1]),
            &vp,
            &json!({
                "title": "Giao ban chiều",
                "starts_at": (second + Duration::hours(6)).to_rfc3339(),
                "following": true,
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let changed = body["meetings"].as_array().unwrap();
    assert_eq!(changed.len(), 2);
    for (m, before) in changed.iter().zip(&starts[1..]) {
        let was = chrono::DateTime::parse_from_rfc3339(before).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339(m["starts_at"].as_str().unwrap()).unwrap();
        assert_eq!(now - was, Duration::hours(6), "{m}");
        assert_eq!(m["title"], "Giao ban chiều");
    }
    let (_, first) = app
        .get(&format!("/api/v1/meetings/{}", ids[0]), Some(&vp))
        .await;
    assert_eq!(
        (
            first["meeting"]["title"].as_str(),
            first["meeting"]["starts_at"].as_str()
        ),
        (Some("Giao ban tuần"), Some(starts[0].as_str()))
    );
    // The meeting page of a series offers moving the later ones too.
    let (_, text) = page(&app, &format!("/meetings/{}", ids[0]), Some(&vp)).await;
    assert!(text.contains("id=\"p-following\""), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn the_week_view_lists_a_secretariats_meetings_by_day() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let start = Utc::now() + Duration::hours(48);
    let body = json!({
        "title": "Họp triển khai thu hoạch chè", "kind": "routine",
        "host_hall_id": app.hall_id("240").await,
        "starts_at": start.to_rfc3339(), "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].as_i64().unwrap();
    let day = scheduler::time::local_date(start.timestamp());
    let (status, text) = page(&app, &format!("/week?start={day}"), Some(&vp)).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("href=\"/meetings/{id}\"")) && text.contains("thu hoạch chè"),
        "{text}"
    );
    // Its day heading holds it: the section of that weekday.
    let section = text
        .split("<section class=\"box\"")
        .find(|s| s.contains(&format!("href=\"/meetings/{id}\"")))
        .unwrap();
    assert!(
        section.contains(&day.format("%d/%m/%Y").to_string()),
        "{section}"
    );
    // Three weeks later it is not there; a room account gets no week view.
    let later = day + chrono::Duration::days(21);
    let (_, text) = page(&app, &format!("/week?start={later}"), Some(&vp)).await;
    assert!(!text.contains(&format!("href=\"/meetings/{id}\"")));
    let kiosk = app.login("dc.08578").await;
    assert_eq!(page(&app, "/week", Some(&kiosk)).await.0, 403);
    app.stop().await;
}
