//! The hall's calendar feed: RFC 5545 with the join link, changes and cancellations visible.

use chrono::{Duration, Utc};
use hoinghi_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn the_hall_feed_carries_the_join_link_and_the_cancellation() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Họp triển khai phòng chống dịch",
        "description": "Các xã báo cáo",
        "kind": "sudden",
        "host_hall_id": app.hall_id("240").await,
        "starts_at": (Utc::now() + Duration::hours(5)).to_rfc3339(),
        "duration_minutes": 90,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let id = created["meetings"][0]["id"].clone();
    let hall = app.login("dc.08578").await;
    let (_, mine) = app.get("/api/v1/my/meetings", Some(&hall)).await;
    let feed_url = mine["calendar_url"].as_str().unwrap().to_string();
    let join_url = mine["meetings"][0]["join_url"]
        .as_str()
        .unwrap()
        .to_string();
    let path = feed_url.strip_prefix(&app.base).unwrap().to_string();

    let (status, ics) = app.get_text(&path).await;
    assert_eq!(status, 200);
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.starts_with("BEGIN:VCALENDAR"), "{unfolded}");
    assert!(unfolded.contains("SUMMARY:Họp triển khai phòng chống dịch"));
    assert!(unfolded.contains(&format!("URL:{join_url}")), "{unfolded}");
    assert!(
        unfolded.contains("CONFERENCE;")
            && unfolded.contains("VALUE=URI")
            && unfolded.contains(&format!(":{join_url}")),
        "{unfolded}"
    );
    assert!(unfolded.contains("STATUS:CONFIRMED"));

    let (status, _) = app
        .post(
            &format!("/api/v1/meetings/{id}/cancel"),
            Some(&vp),
            &json!({ "reason": "Hoãn" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, ics) = app.get_text(&path).await;
    assert!(
        ics.contains("STATUS:CANCELLED") && ics.contains("SEQUENCE:1"),
        "{ics}"
    );
    let (status, _) = app
        .get_text(&format!("/calendar/{}.ics", "0".repeat(64)))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
