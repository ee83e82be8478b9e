//! Ranges and lengths checked at the edge (issue 11 F9, F12, F17, F19): dates far in the
//! past or future, control characters in names and titles, very long searches.

use chrono::{Duration, Utc};
use hoinghi_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn names_and_titles_refuse_control_characters() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let vp = app.login("vp.tanson").await;
    let hall = app.hall_id("08578").await;
    for name in ["Phòng họp\r\nNAME:giả", "Phòng\rhọp", "Phòng\u{7}họp"] {
        let (status, body) = app
            .patch(
                &format!("/api/v1/halls/{hall}"),
                &admin,
                &json!({ "name": name }),
            )
            .await;
        assert_eq!(
            (status, body["error"]["fields"]["name"].is_string()),
            (422, true),
            "{name:?}: {body}"
        );
    }
    let body = json!({
        "title": "Giao ban\rSUMMARY:giả", "kind": "routine", "host_hall_id": app.hall_id("240").await,
        "starts_at": (Utc::now() + Duration::hours(2)).to_rfc3339(), "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district"] },
    });
    let (status, body) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(
        (status, body["error"]["fields"]["title"].is_string()),
        (422, true),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn dates_far_in_the_past_or_future_are_refused_at_the_edge() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let create = |start: &str| {
        json!({
            "title": "Giao ban", "kind": "routine", "host_hall_id": 0, "starts_at": start,
            "duration_minutes": 60, "scope": { "root_unit_id": 0, "levels": ["district"] },
        })
    };
    let mut body = create(&(Utc::now() + Duration::hours(2)).to_rfc3339());
    body["host_hall_id"] = json!(app.hall_id("240").await);
    body["scope"]["root_unit_id"] = json!(app.unit_id("240").await);
    let (status, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    assert_eq!(status, 200, "{created}");
    let path = format!("/api/v1/meetings/{}", created["meetings"][0]["id"]);
    for day in ["2020-01-06", "9999-12-31", "-262143-03-01"] {
        let (start, end) = (format!("{day}T08:00"), format!("{day}T09:00"));
        let (status, reply) = app
            .patch(&path, &vp, &json!({ "starts_at": start, "ends_at": end }))
            .await;
        assert_eq!(
            (status, reply["error"]["fields"]["starts_at"].is_string()),
            (422, true),
            "{start}: {reply}"
        );
        body["starts_at"] = json!(start);
        let (status, reply) = app.post("/api/v1/meetings", Some(&vp), &body).await;
        assert_eq!(
            (status, reply["error"]["fields"]["starts_at"].is_string()),
            (422, true),
            "{start}: {reply}"
        );
    }
    // Report periods: a clear error or a sane default, never a dropped connection.
    let unit = app.unit_id("240").await;
    let (status, reply) = app
        .get(
            &format!("/api/v1/reports/units/{unit}?from=2026-01-01T00:00&to=-262143-03-01T00:00"),
            Some(&vp),
        )
        .await;
    assert_eq!(
        (status, reply["error"]["fields"]["to"].is_string()),
        (422, true),
        "{reply}"
    );
    let res = app
        .client
        .get(format!(
            "{}/reports?to=-262143-03-01&from=+262142-01-01",
            app.base
        ))
        .bearer_auth(&vp)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(res.status().as_u16(), 200);
    let (status, _) = app
        .get("/api/v1/meetings?from=-262143-03-01T00:00", Some(&vp))
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}

#[tokio::test]
async fn a_very_long_search_is_a_clear_error() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let q = "a".repeat(60_000);
    let (status, body) = app
        .get(&format!("/api/v1/units/search?q={q}"), Some(&vp))
        .await;
    assert_eq!(
        (status, body["error"]["fields"]["q"].is_string()),
        (422, true),
        "{body}"
    );
    let (status, _) = app.get("/api/v1/units/search?q=tan%20son", Some(&vp)).await;
    assert_eq!(status, 200);
    app.stop().await;
}
