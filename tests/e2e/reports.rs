//! Attendance reports over HTTP: JSON for pages, CSV with BOM and XLSX downloads, role limits.

use chrono::{Duration, Utc};
use hoinghi_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn attendance_downloads_open_with_vietnamese_text() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let body = json!({
        "title": "Họp giao ban huyện Tân Sơn",
        "kind": "routine",
        "host_hall_id": app.hall_id("240").await,
        "starts_at": (Utc::now() + Duration::hours(2)).to_rfc3339(),
        "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (_, created) = app.post("/api/v1/meetings", Some(&vp), &body).await;
    let id = created["meetings"][0]["id"].as_i64().unwrap();
    let start =
        scheduler::time::parse_instant(created["meetings"][0]["starts_at"].as_str().unwrap())
            .unwrap();
    let s = &app.db.store;
    s.record_join(id, app.hall_id("08578").await, start + 120, 30)
        .await
        .unwrap();
    s.meeting_ended(id, start + 1920, None).await.unwrap();

    let (status, report) = app
        .get(&format!("/api/v1/meetings/{id}/attendance"), Some(&vp))
        .await;
    assert_eq!((status, report["total"].as_u64()), (200, Some(18)));
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit_code"] == "08578")
        .unwrap();
    assert_eq!(
        (row["minutes_present"].as_i64(), row["presence"].as_str()),
        (Some(30), Some("present"))
    );

    let res = app
        .client
        .get(format!(
            "{}/api/v1/meetings/{id}/attendance?format=csv",
            app.base
        ))
        .bearer_auth(&vp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    assert!(String::from_utf8_lossy(&bytes).contains("Điểm cầu UBND xã Tân Sơn"));

    let res = app
        .client
        .get(format!(
            "{}/api/v1/meetings/{id}/attendance?format=xlsx",
            app.base
        ))
        .bearer_auth(&vp)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX file is a zip archive");

    let from = (Utc::now() - Duration::days(1)).to_rfc3339();
    let to = (Utc::now() + Duration::days(1)).to_rfc3339();
    let q = format!(
        "/api/v1/reports/units/{}?from={}&to={}",
        app.unit_id("240").await,
        urlencode(&from),
        urlencode(&to)
    );
    let (status, period) = app.get(&q, Some(&vp)).await;
    assert_eq!(
        (status, period["total"].as_u64()),
        (200, Some(18)),
        "{period}"
    );
    let (status, _) = app
        .get(
            &format!(
                "/api/v1/reports/units/{}?from={}&to={}",
                app.unit_id("25").await,
                urlencode(&from),
                urlencode(&to)
            ),
            Some(&vp),
        )
        .await;
    assert_eq!(
        status, 403,
        "a district secretariat cannot report on the province"
    );
    let hall = app.login("dc.08578").await;
    let (status, _) = app
        .get(&format!("/api/v1/meetings/{id}/attendance"), Some(&hall))
        .await;
    assert_eq!(status, 403, "a room account reads no reports");
    let (status, body) = app
        .get(
            &format!("/api/v1/meetings/{id}/attendance?format=pdf"),
            Some(&vp),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "unknown format refused"
    );
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
