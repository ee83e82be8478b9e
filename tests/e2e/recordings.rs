//! Recordings on the meeting page and over the API: listed only to the staff who own the
//! meeting, the WebM served with range requests (what the browser's player seeks with),
//! deleted by an administrator only (file gone, logged), listed in the meeting record
//! (start-up's part: `recordings_startup.rs`).

use std::time::Duration;

use hoinghi_tests::{spawn_app_on, TestApp};
use scheduler::Backend;
use serde_json::Value;

use crate::reports::tan_son_briefing;

/// A file of `n` bytes that differ from their neighbours.
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Writes a recording row as the room would (started, ended) and its file.
async fn recorded(app: &TestApp, meeting: i64, bytes: &[u8]) -> i64 {
    let file = format!("{meeting}/{meeting}-1.webm");
    let path = app.recordings.join(&file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let store = &app.db.store;
    let id = store
        .recording_started(meeting, &file, "Hội trường UBND huyện Tân Sơn")
        .await
        .unwrap();
    store
        .recording_ended(id, Duration::from_millis(95_000), bytes.len() as u64, None)
        .await
        .unwrap();
    id
}

/// GET with the page's session cookie (as the `<video>` element sends it) and extra headers.
async fn get_cookie(
    app: &TestApp,
    path: &str,
    token: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("hoinghi_session={token}"));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

fn header<'r>(res: &'r reqwest::Response, name: &str) -> &'r str {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn the_meetings_own_staff_see_and_play_its_recordings_others_do_not() {
    let app = hoinghi_tests::spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let (m, _) = tan_son_briefing(&app, &vp).await;
    let bytes = pattern(10_000);
    let id = recorded(&app, m, &bytes).await;

    let (status, body) = app
        .get(&format!("/api/v1/meetings/{m}/recordings"), Some(&vp))
        .await;
    assert_eq!(status, 200, "{body}");
    let list = body["recordings"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["status"], "finished");
    assert_eq!(list[0]["duration_ms"], 95_000);
    assert_eq!(list[0]["bytes"], 10_000);
    assert_eq!(list[0]["started_by"], "Hội trường UBND huyện Tân Sơn");
    assert!(list[0]["started_at_local"]
        .as_str()
        .unwrap()
        .ends_with("+07:00"));
    let file_url = format!("/api/v1/recordings/{id}/file");
    assert_eq!(list[0]["file_url"], file_url.as_str());

    // The page lists it for its staff, with a player and a download link.
    let page = get_cookie(&app, &format!("/meetings/{m}"), &vp, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Bản ghi hình"), "{html}");
    assert!(html.contains(&format!(
        "<video controls preload=\"metadata\" src=\"{file_url}\""
    )));
    assert!(html.contains("Hoàn tất") && html.contains("1 phút 35 giây") && html.contains("10 KB"));
    assert!(
        !html.contains("/delete\""),
        "a secretariat gets no delete button"
    );

    // Another district's secretariat does not find the meeting; a hall may not list.
    let foreign = app.login("vp.doanhung").await;
    let hall = app.login("dc.240").await;
    for path in [
        format!("/api/v1/meetings/{m}/recordings"),
        format!("/api/v1/recordings/{id}"),
        file_url.clone(),
    ] {
        let (status, body) = app.get(&path, Some(&foreign)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
        let (status, body) = app.get(&path, Some(&hall)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
    let (status, _) = app.get(&file_url, None).await;
    assert_eq!(status, 401);

    // Once held, the meeting record (biên bản) lists it with its link.
    let start = scheduler::time::now();
    app.db.store.meeting_started(m, start, None).await.unwrap();
    let docx = get_cookie(
        &app,
        &format!("/api/v1/meetings/{m}/minutes.docx"),
        &vp,
        None,
    )
    .await;
    assert_eq!(docx.status(), 200);
    let xml = document_xml(&docx.bytes().await.unwrap());
    let line = format!("1 phút 35 giây — 10 KB — Hoàn tất: {}{file_url}", app.base);
    assert!(xml.contains(&line), "{xml}");
    app.stop().await;
}

/// The text of a DOCX's `word/document.xml`.
fn document_xml(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    archive
        .by_name("word/document.xml")
        .expect("the document part")
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[tokio::test]
async fn a_range_request_gets_exactly_its_bytes_and_a_bad_one_416() {
    let app = hoinghi_tests::spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let (m, _) = tan_son_briefing(&app, &vp).await;
    let bytes = pattern(10_000);
    let id = recorded(&app, m, &bytes).await;
    let url = format!("/api/v1/recordings/{id}/file");

    // The whole file, seekable.
    let res = get_cookie(&app, &url, &vp, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "video/webm");
    assert_eq!(header(&res, "accept-ranges"), "bytes");
    assert_eq!(res.bytes().await.unwrap(), bytes);

    // A range: 206 and exactly those bytes.
    let res = get_cookie(&app, &url, &vp, Some("bytes=1000-1999")).await;
    assert_eq!(res.status(), 206);
    assert_eq!(header(&res, "content-range"), "bytes 1000-1999/10000");
    assert_eq!(header(&res, "content-type"), "video/webm");
    assert_eq!(res.bytes().await.unwrap(), bytes[1000..2000]);
    // The last bytes, as a player asks for a WebM's cues.
    let res = get_cookie(&app, &url, &vp, Some("bytes=-16")).await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap(), bytes[9984..]);
    // From an offset to the end.
    let res = get_cookie(&app, &url, &vp, Some("bytes=9990-")).await;
    assert_eq!(res.status(), 206);
    assert_eq!(header(&res, "content-range"), "bytes 9990-9999/10000");

    // Beyond the file: 416, with its size.
    let res = get_cookie(&app, &url, &vp, Some("bytes=20000-20100")).await;
    assert_eq!(res.status(), 416);
    assert_eq!(header(&res, "content-range"), "bytes */10000");

    // A file missing from the directory is not found, coded.
    std::fs::remove_file(app.recordings.join(format!("{m}/{m}-1.webm"))).unwrap();
    let (status, body) = app.get(&url, Some(&vp)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    app.stop().await;
}

async fn an_administrator_deletes_a_recording_others_may_not(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let vp = app.login("vp.tanson").await;
    let admin = app.login("admin").await;
    let (m, _) = tan_son_briefing(&app, &vp).await;
    let id = recorded(&app, m, &pattern(4096)).await;
    let file = app.recordings.join(format!("{m}/{m}-1.webm"));

    // Not the owning secretariat, over the API or the page's form.
    let (status, body) = app.delete(&format!("/api/v1/recordings/{id}"), &vp).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let form = |token: &str| {
        app.client
            .post(format!("{}/recordings/{id}/delete", app.base))
            .header("cookie", format!("hoinghi_session={token}"))
            .header("origin", &app.base)
            .send()
    };
    assert_eq!(form(&vp).await.unwrap().status(), 403);
    assert!(file.exists());

    let (_, me) = app.get("/api/v1/me", Some(&admin)).await;
    let admin_name = me["display_name"]
        .as_str()
        .expect("a display name")
        .to_string();
    let (status, body) = app
        .delete(&format!("/api/v1/recordings/{id}"), &admin)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "deleted");
    assert_eq!(body["deleted_by"], admin_name.as_str());
    assert_eq!(body["file_url"], Value::Null);
    assert!(!file.exists(), "the file is gone from disk");

    // Gone for downloads; listed as deleted by whom; logged with the admin's account.
    let (status, body) = app
        .get(&format!("/api/v1/recordings/{id}/file"), Some(&vp))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("recording_deleted"))
    );
    let (_, list) = app
        .get(&format!("/api/v1/meetings/{m}/recordings"), Some(&vp))
        .await;
    assert_eq!(list["recordings"][0]["status"], "deleted");
    assert_eq!(list["recordings"][0]["deleted_by"], admin_name.as_str());
    let (_, events) = app
        .get(&format!("/api/v1/meetings/{m}/events"), Some(&vp))
        .await;
    let deleted: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "recording_deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{events}");
    assert_eq!(deleted[0]["account_id"], me["id"]);
    let html = get_cookie(&app, &format!("/meetings/{m}"), &vp, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Đã xóa") && html.contains(&format!("bởi {admin_name}")),
        "{html}"
    );
    assert!(html.contains("Xóa bản ghi hình"), "the history says so");

    let (status, body) = app
        .delete(&format!("/api/v1/recordings/{id}"), &admin)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("recording_deleted"))
    );

    // The page's button, for an administrator: back to the meeting's recordings.
    let second = recorded_as(&app, m, "2").await;
    let res = app
        .client
        .post(format!("{}/recordings/{second}/delete", app.base))
        .header("cookie", format!("hoinghi_session={admin}"))
        .header("origin", &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "redirected back to the page");
    assert!(res.url().path().ends_with(&format!("/meetings/{m}")));
    assert!(!app.recordings.join(format!("{m}/{m}-2.webm")).exists());
    app.stop().await;
}

/// A second finished recording of the meeting, file `{m}-{n}.webm`.
async fn recorded_as(app: &TestApp, m: i64, n: &str) -> i64 {
    let file = format!("{m}/{m}-{n}.webm");
    std::fs::write(app.recordings.join(&file), b"webm").unwrap();
    let id = app.db.store.recording_started(m, &file, "x").await.unwrap();
    app.db
        .store
        .recording_ended(id, Duration::from_secs(1), 4, None)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn an_administrator_deletes_a_recording_others_may_not_sqlite() {
    an_administrator_deletes_a_recording_others_may_not(Backend::Sqlite).await
}

#[tokio::test]
async fn an_administrator_deletes_a_recording_others_may_not_postgres() {
    an_administrator_deletes_a_recording_others_may_not(Backend::Postgres).await
}

/// The settings reach the rooms: a secretariat starts and stops a recording over the live
/// API and the meeting's list shows its row, under the configured directory, ended.
#[tokio::test]
async fn a_recording_started_live_is_listed_with_its_file_under_the_dir() {
    let app = hoinghi_tests::spawn_app().await;
    let levels = [scheduler::Level::Province, scheduler::Level::District];
    let m = scheduler::testing::province_meeting_now(&app.db.store, "Họp trực tuyến", &levels)
        .await
        .unwrap()
        .id;
    let vp = app.login("vp.tinh").await;
    let live = format!("/api/v1/meetings/{m}/live");
    let (status, body) = app
        .post(
            &live,
            Some(&vp),
            &serde_json::json!({"type": "start_recording"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &live,
            Some(&vp),
            &serde_json::json!({"type": "stop_recording"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ended = async {
        loop {
            let (_, body) = app
                .get(&format!("/api/v1/meetings/{m}/recordings"), Some(&vp))
                .await;
            if body["recordings"][0]["status"] != "recording" {
                break body["recordings"].as_array().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let list = tokio::time::timeout(Duration::from_secs(60), ended)
        .await
        .expect("the recording ends after its stop");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "finished", "{list:?}");
    let (_, me) = app.get("/api/v1/me", Some(&vp)).await;
    assert_eq!(list[0]["started_by"], me["display_name"]);
    assert!(
        app.recordings.join(m.to_string()).is_dir(),
        "its folder is under the dir"
    );
    app.stop().await;
}
