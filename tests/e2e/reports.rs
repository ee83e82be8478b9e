//! Attendance reports over HTTP: JSON for pages, CSV with BOM and XLSX downloads, role limits.

use chrono::{Duration, Utc};
use hoinghi_tests::{spawn_app, spawn_app_on, TestApp};
use scheduler::time::display_local;
use scheduler::Backend;
use serde_json::json;

#[tokio::test]
async fn attendance_downloads_open_with_vietnamese_text() {
    let app = spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let (id, start) = tan_son_briefing(&app, &vp).await;
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
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Điểm cầu UBND xã Tân Sơn"), "{text}");
    assert!(
        text.contains(
            "Mã đơn vị,Đơn vị,Cấp,Điểm cầu,Vào lần đầu,Rời lần cuối,Lý do rời,Số phút tham dự"
        ),
        "the page's words: {text}"
    );

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

/// A download: status, `Content-Disposition` and the body.
/// Huyện Tân Sơn's secretariat (`vp`) schedules a briefing of the district and its
/// communes in two hours: its id and start.
pub(crate) async fn tan_son_briefing(app: &TestApp, vp: &str) -> (i64, scheduler::time::Timestamp) {
    let body = json!({
        "title": "Họp giao ban huyện Tân Sơn",
        "kind": "routine",
        "host_hall_id": app.hall_id("240").await,
        "starts_at": (Utc::now() + Duration::hours(2)).to_rfc3339(),
        "duration_minutes": 60,
        "scope": { "root_unit_id": app.unit_id("240").await, "levels": ["district", "commune"] },
    });
    let (_, created) = app.post("/api/v1/meetings", Some(vp), &body).await;
    let id = created["meetings"][0]["id"].as_i64().unwrap();
    let start =
        scheduler::time::parse_instant(created["meetings"][0]["starts_at"].as_str().unwrap())
            .unwrap();
    (id, start)
}

async fn download(app: &TestApp, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let disposition = res
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        res.status().as_u16(),
        disposition,
        res.bytes().await.unwrap().to_vec(),
    )
}

/// A CSV download's records after the byte-order mark and the header.
fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "BOM first");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A hall whose name is a formula, one named `1e5`, a server restart in the middle of a
/// meeting: the downloads show every interval with why it ended, no cell runs as a
/// formula in a spreadsheet, and text stays text in the XLSX.
async fn exports_show_every_interval_and_keep_text_as_text(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let admin = app.login("admin").await;
    let vp = app.login("vp.tanson").await;
    let (formula, number) = (app.hall_id("08578").await, app.hall_id("08545").await);
    let evil = "=HYPERLINK(\"http://evil.example\",\"Xem\")";
    for (hall, name) in [(formula, evil), (number, "1e5")] {
        let (status, _) = app
            .patch(
                &format!("/api/v1/halls/{hall}"),
                &admin,
                &json!({ "name": name }),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (id, start) = tan_son_briefing(&app, &vp).await;
    let s = &app.db.store;
    s.record_join(id, number, start + 60, 30).await.unwrap();
    s.record_join(id, formula, start + 120, 30).await.unwrap();
    s.record_heartbeats(id, &[number, formula], start + 600)
        .await
        .unwrap();
    // The server dies here; at start-up the open intervals close, then the halls return.
    s.recover_open_sessions().await.unwrap();
    s.record_join(id, formula, start + 660, 30).await.unwrap();
    s.meeting_ended(id, start + 1920, None).await.unwrap();
    let api = format!("/api/v1/meetings/{id}/attendance");

    let (status, _, bytes) = download(&app, &format!("{api}?format=csv"), &vp).await;
    assert_eq!(status, 200);
    let (header, rows) = csv_rows(&bytes);
    assert_eq!(header[3], "Điểm cầu");
    let row = rows.iter().find(|r| r[0] == "08578").unwrap();
    assert_eq!(row[3], format!("'{evil}"), "a formula stays text");
    assert!(
        rows.iter()
            .flatten()
            .all(|cell| !cell.starts_with(['=', '+', '-', '@'])),
        "no cell starts like a formula"
    );

    let (status, disposition, bytes) =
        download(&app, &format!("{api}?format=csv&part=intervals"), &vp).await;
    assert_eq!(status, 200);
    assert!(disposition.contains("cac-lan-vao.csv"), "{disposition}");
    let (header, rows) = csv_rows(&bytes);
    assert_eq!(
        header,
        [
            "Mã đơn vị",
            "Đơn vị",
            "Cấp",
            "Điểm cầu",
            "Vào lúc",
            "Rời lúc",
            "Lý do rời",
            "Số lần kết nối lại"
        ]
    );
    let intervals: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| [r[0].as_str(), r[4].as_str(), r[5].as_str(), r[6].as_str()])
        .collect();
    let (t, restart, ended) = (display_local, "Máy chủ khởi động lại", "Cuộc họp kết thúc");
    assert_eq!(
        intervals,
        [
            ["08545", &t(start + 60), &t(start + 600), restart],
            ["08578", &t(start + 120), &t(start + 600), restart],
            ["08578", &t(start + 660), &t(start + 1920), ended],
        ],
        "every interval, a restart in the middle too"
    );

    let (status, _, bytes) = download(&app, &format!("{api}?format=xlsx"), &vp).await;
    assert_eq!(status, 200);
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    assert_eq!(book.sheet_names(), ["Điểm danh", "Các lần vào ra"]);
    let sheet = book.worksheet_range("Điểm danh").unwrap();
    let row = sheet
        .rows()
        .find(|r| r[0] == Data::String("08545".into()))
        .expect("the hall's row");
    assert_eq!(row[3], Data::String("1e5".into()), "not the number 100000");
    let sheet = book.worksheet_range("Các lần vào ra").unwrap();
    let ends: Vec<String> = sheet.rows().skip(3).map(|r| r[6].to_string()).collect();
    assert_eq!(ends, [restart, restart, ended]);

    let (status, body) = app
        .get(&format!("{api}?format=xlsx&part=intervals"), Some(&vp))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "intervals are a CSV part; the workbook has both sheets"
    );
    let from = (Utc::now() - Duration::days(1)).to_rfc3339();
    let to = (Utc::now() + Duration::days(1)).to_rfc3339();
    let period = format!(
        "/api/v1/reports/units/{}?from={}&to={}&format=csv",
        app.unit_id("240").await,
        urlencode(&from),
        urlencode(&to)
    );
    let (status, _, bytes) = download(&app, &period, &vp).await;
    assert_eq!(status, 200);
    let (header, rows) = csv_rows(&bytes);
    assert_eq!(
        header[4..],
        [
            "Số cuộc họp được mời",
            "Số cuộc tham dự",
            "Số cuộc vắng",
            "Tổng số phút"
        ]
    );
    let row = rows.iter().find(|r| r[0] == "08578").unwrap();
    assert_eq!(
        (row[3].as_str(), row[5].as_str()),
        (format!("'{evil}").as_str(), "1")
    );
    app.stop().await;
}

#[tokio::test]
async fn exports_show_every_interval_and_keep_text_as_text_sqlite() {
    exports_show_every_interval_and_keep_text_as_text(Backend::Sqlite).await
}

#[tokio::test]
async fn exports_show_every_interval_and_keep_text_as_text_postgres() {
    exports_show_every_interval_and_keep_text_as_text(Backend::Postgres).await
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
