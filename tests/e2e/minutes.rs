//! The meeting record (biên bản, `GET …/minutes.docx`): a scripted meeting's document read
//! back — its attendance by level, roll call, headcounts and floor timeline — the record of
//! a meeting not yet held, and who may not have it.

use std::io::Read;

use hoinghi_tests::{spawn_app_on, TestApp};
use quick_xml::events::Event;
use scheduler::attendance::{LeaveReason, RollCallStatus};
use scheduler::changes::{Change, RecordedChange};
use scheduler::time::{display_local, display_local_secs, Timestamp};
use scheduler::Backend;
use serde_json::Value;

use crate::reports::tan_son_briefing;

/// A paragraph or a table of the document, in order.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text(String),
    Table(Vec<Vec<String>>),
}

/// The blocks of `word/document.xml` inside a DOCX file.
fn read_docx(bytes: &[u8]) -> Vec<Block> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    archive
        .by_name("word/document.xml")
        .expect("the document part")
        .read_to_string(&mut xml)
        .unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut blocks, mut text, mut in_text) = (Vec::new(), String::new(), false);
    let (mut depth, mut rows, mut row): (usize, Vec<Vec<String>>, Vec<String>) =
        (0, Vec::new(), Vec::new());
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => match e.name().as_ref() {
                "w:tbl" => depth += 1,
                "w:t" => in_text = true,
                _ => {}
            },
            Event::Text(t) if in_text => text.push_str(&t),
            Event::GeneralRef(r) if in_text => {
                text.push_str(&quick_xml::escape::unescape(&format!("&{};", &*r)).unwrap());
            }
            Event::End(e) => match e.name().as_ref() {
                "w:t" => in_text = false,
                "w:p" if depth == 0 => blocks.push(Block::Text(std::mem::take(&mut text))),
                "w:tc" => row.push(std::mem::take(&mut text)),
                "w:tr" => rows.push(std::mem::take(&mut row)),
                "w:tbl" => {
                    depth -= 1;
                    blocks.push(Block::Table(std::mem::take(&mut rows)));
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    blocks
}

/// The texts of the document's paragraphs (tables left out).
fn texts(blocks: &[Block]) -> Vec<&str> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            Block::Table(_) => None,
        })
        .collect()
}

/// The table right after the paragraph `heading`.
fn table_after<'a>(blocks: &'a [Block], heading: &str) -> &'a [Vec<String>] {
    let at = blocks
        .iter()
        .position(|b| *b == Block::Text(heading.into()))
        .unwrap_or_else(|| panic!("no heading {heading:?} in {blocks:#?}"));
    match &blocks[at + 1] {
        Block::Table(rows) => rows,
        other => panic!("after {heading:?}: {other:?}"),
    }
}

async fn download(app: &TestApp, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mime = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        res.status().as_u16(),
        mime,
        res.bytes().await.unwrap().to_vec(),
    )
}

/// A floor change as a live room hands it to the attendance writer.
async fn floor_change(app: &TestApp, id: i64, n: u32, at: Timestamp, kind: &str, hall: i64) {
    let change = RecordedChange {
        id: format!("minutes-test-{n}"),
        meeting_id: id,
        at,
        change: Change::LiveEvent {
            hall_id: Some(hall),
            kind: kind.into(),
            detail: "điểm cầu chủ trì".into(),
            by: None,
        },
    };
    app.db.store.write_change(&change).await.unwrap();
}

/// An invited hall of the meeting's invitation list, by its id.
fn invited(list: &[Value], hall_id: i64) -> &Value {
    list.iter().find(|i| i["hall_id"] == hall_id).unwrap()
}

async fn the_record_of_a_scripted_meeting(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let vp = app.login("vp.tanson").await;
    let (id, start) = tan_son_briefing(&app, &vp).await;
    let (_, list) = app
        .get(&format!("/api/v1/meetings/{id}/invitations"), Some(&vp))
        .await;
    let list = list["invitations"].as_array().unwrap().clone();
    let host = app.hall_id("240").await;
    let (a, b) = (app.hall_id("08578").await, app.hall_id("08545").await);
    let c = list
        .iter()
        .map(|i| i["hall_id"].as_i64().unwrap())
        .find(|h| ![host, a, b].contains(h))
        .unwrap();
    let name = |h: i64| invited(&list, h)["hall_name"].as_str().unwrap().to_string();
    let unit = |h: i64| invited(&list, h)["unit_name"].as_str().unwrap().to_string();

    // The meeting: the host and A come in time, B late; a roll call (A present, B late,
    // C marked absent with a reason, the rest silent); two headcounts; the floor goes to
    // A, then to B, and is taken back; A leaves before the end.
    let s = &app.db.store;
    s.meeting_started(id, start, None).await.unwrap();
    s.record_join(id, host, start, 30).await.unwrap();
    s.record_join(id, a, start + 60, 30).await.unwrap();
    s.record_headcount(id, host, 40, start + 100).await.unwrap();
    let rc = s.start_roll_call(id, start + 300, None).await.unwrap();
    s.answer_roll_call(rc, a, RollCallStatus::Present, "", start + 320, None)
        .await
        .unwrap();
    s.answer_roll_call(rc, c, RollCallStatus::Absent, "mất điện", start + 330, None)
        .await
        .unwrap();
    s.record_headcount(id, a, 25, start + 400).await.unwrap();
    floor_change(&app, id, 1, start + 600, "give_floor", a).await;
    s.record_join(id, b, start + 900, 30).await.unwrap();
    s.answer_roll_call(rc, b, RollCallStatus::Late, "", start + 950, None)
        .await
        .unwrap();
    s.end_roll_call(rc, start + 1000, None, "host")
        .await
        .unwrap();
    floor_change(&app, id, 2, start + 1000, "give_floor", b).await;
    floor_change(&app, id, 3, start + 1195, "take_floor", b).await;
    s.record_leave(id, a, start + 1500, LeaveReason::Left)
        .await
        .unwrap();
    s.meeting_ended(id, start + 1920, None).await.unwrap();

    let path = format!("/api/v1/meetings/{id}/minutes.docx");
    let (status, mime, bytes) = download(&app, &path, &vp).await;
    assert_eq!(status, 200);
    assert_eq!(
        mime,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let doc = read_docx(&bytes);
    let lines = texts(&doc);
    for line in [
        "BIÊN BẢN HỘI NGHỊ TRỰC TUYẾN",
        "Tên hội nghị: Họp giao ban huyện Tân Sơn",
        "Hình thức: Giao ban",
        &format!("Điểm cầu chính: {}", name(host)),
        &format!(
            "Thời gian dự kiến: {} – {}",
            display_local(start),
            display_local(start + 3600)
        ),
        &format!("Bắt đầu lúc: {}", display_local_secs(start)),
        &format!("Kết thúc lúc: {}", display_local_secs(start + 1920)),
        &format!("Số điểm cầu được mời: {}", list.len()),
        "Số điểm cầu tham dự: 3 (Có mặt 2, Đến muộn 1)",
        &format!("Số điểm cầu vắng: {}", list.len() - 3),
        &format!(
            "Lần điểm danh 1 ({} – {}): Có mặt 1; Đến muộn 1; Vắng 1.",
            display_local_secs(start + 300),
            display_local_secs(start + 1000)
        ),
        // Every commune but A, B and C was silent; the host is never counted so.
        &format!("Không trả lời lần điểm danh cuối: {}", list.len() - 4),
        "Tổng số người tại các điểm cầu đã báo cáo: 65",
        "Số điểm cầu báo cáo số người: 2",
        "Chưa có bản ghi hình.",
    ] {
        assert!(lines.contains(&line), "{line:?} not in {lines:#?}");
    }

    // Attendance by level: the report's columns, each hall as the script made it.
    let header = [
        "Điểm cầu",
        "Vào lần đầu",
        "Lý do rời",
        "Số phút tham dự",
        "Điểm danh",
        "Lý do điểm danh",
        "Số người",
        "Kết quả",
    ];
    let row = |cells: [&str; 8]| cells.map(str::to_string).to_vec();
    let district = table_after(&doc, "Cấp huyện: mời 1, tham dự 1, vắng 0");
    assert_eq!(district[0], header);
    assert_eq!(
        district[1..],
        [row([
            &name(host),
            &display_local(start),
            "Cuộc họp kết thúc",
            "32",
            "",
            "",
            "40",
            "Có mặt"
        ])]
    );
    let communes = list.len() - 1;
    let heading = format!("Cấp xã: mời {communes}, tham dự 2, vắng {}", communes - 2);
    let table = table_after(&doc, &heading);
    assert_eq!(table[0], header);
    let mut expected = vec![
        row([
            &name(a),
            &display_local(start + 60),
            "Tự rời cuộc họp",
            "24",
            "Có mặt",
            "",
            "25",
            "Có mặt",
        ]),
        row([
            &name(b),
            &display_local(start + 900),
            "Cuộc họp kết thúc",
            "17",
            "Đến muộn",
            "",
            "",
            "Đến muộn",
        ]),
        row([&name(c), "", "", "0", "Vắng", "mất điện", "", "Vắng"]),
    ];
    for i in &list {
        let h = i["hall_id"].as_i64().unwrap();
        if ![host, a, b, c].contains(&h) {
            expected.push(row([
                &name(h),
                "",
                "",
                "0",
                "Không trả lời",
                "",
                "",
                "Vắng",
            ]));
        }
    }
    let mut got = table[1..].to_vec();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    // The floor timeline: who had the floor, when (Việt Nam time), for how long, how it ended.
    let floor = table_after(&doc, "V. Diễn biến phát biểu");
    assert_eq!(
        floor,
        [
            row7([
                "STT",
                "Điểm cầu",
                "Đơn vị",
                "Bắt đầu",
                "Kết thúc",
                "Thời lượng",
                "Cách kết thúc"
            ]),
            row7([
                "1",
                &name(a),
                &unit(a),
                &display_local_secs(start + 600),
                &display_local_secs(start + 1000),
                "6 phút 40 giây",
                "Chuyển quyền phát biểu cho điểm cầu khác"
            ]),
            row7([
                "2",
                &name(b),
                &unit(b),
                &display_local_secs(start + 1000),
                &display_local_secs(start + 1195),
                "3 phút 15 giây",
                "Chủ trì thu hồi quyền phát biểu"
            ]),
        ]
    );
    // Times are Việt Nam time: 7 hours ahead of UTC.
    assert!(display_local_secs(start + 600).starts_with(
        &chrono::DateTime::from_timestamp(start + 600 + 7 * 3600, 0)
            .unwrap()
            .format("%H:%M:%S")
            .to_string()
    ));

    // The page route gives the same document to the browser's session.
    let (status, _, page_bytes) =
        download(&app, &format!("/meetings/{id}/minutes.docx"), &vp).await;
    assert_eq!(status, 200);
    assert_eq!(texts(&read_docx(&page_bytes))[..8], lines[..8]);
    app.stop().await;
}

fn row7(cells: [&str; 7]) -> Vec<String> {
    cells.map(str::to_string).to_vec()
}

#[tokio::test]
async fn the_record_of_a_scripted_meeting_sqlite() {
    the_record_of_a_scripted_meeting(Backend::Sqlite).await
}

#[tokio::test]
async fn the_record_of_a_scripted_meeting_postgres() {
    the_record_of_a_scripted_meeting(Backend::Postgres).await
}

/// A meeting not yet held has a record that says so, without attendance; a room account
/// is refused as from the reports, another district's secretariat finds no such meeting.
#[tokio::test]
async fn a_meeting_not_held_and_who_may_not_have_the_record() {
    let app = hoinghi_tests::spawn_app().await;
    let vp = app.login("vp.tanson").await;
    let (id, _) = tan_son_briefing(&app, &vp).await;
    let path = format!("/api/v1/meetings/{id}/minutes.docx");
    let (status, _, bytes) = download(&app, &path, &vp).await;
    assert_eq!(status, 200);
    let doc = read_docx(&bytes);
    let lines = texts(&doc);
    assert!(
        lines.contains(&"Hội nghị chưa diễn ra: chưa có số liệu tham dự."),
        "{lines:#?}"
    );
    assert!(
        !doc.iter().any(|b| matches!(b, Block::Table(_))),
        "no tables: {doc:#?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("II.")), "{lines:#?}");

    let other = app.login("vp.doanhung").await;
    let (status, body) = app.get(&path, Some(&other)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _, _) = download(&app, &format!("/meetings/{id}/minutes.docx"), &other).await;
    assert_eq!(status, 404, "the page route too");
    let hall = app.login("dc.08578").await;
    let (status, _) = app.get(&path, Some(&hall)).await;
    assert_eq!(status, 403, "a room account reads no reports");
    let (status, _) = app.get(&path, None).await;
    assert_eq!(status, 401);
    app.stop().await;
}
