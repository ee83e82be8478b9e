//! Report tables: the words come from the dictionary, CSV cells cannot run as formulas,
//! XLSX text stays text.

use calamine::{Data, Reader, Xlsx};
use scheduler::attendance::RollCallStatus;
use scheduler::reports::{AttendanceInterval, HallRef, MeetingAttendance, Presence};

use super::columns::{self, IntervalRow};
use super::xlsx::{to_xlsx, Sheet};
use super::{csv::to_csv, Audience, Cell, Table};
use crate::pages::i18n::Lang;

/// 2026-03-02 08:00 in Việt Nam.
const EIGHT: i64 = 1_772_413_200;

fn hall(name: &str) -> HallRef {
    HallRef {
        hall_id: 7,
        hall_name: name.into(),
        unit_code: "08578".into(),
        unit_name: "Xã Tân Sơn".into(),
        level: "commune".into(),
    }
}

fn interval(from: i64, until: Option<i64>, why: Option<&str>) -> AttendanceInterval {
    AttendanceInterval {
        joined_at: from,
        left_at: until,
        end_reason: why.map(str::to_string),
        reconnects: 0,
    }
}

/// A hall that was in, lost the server to a restart, came back and stayed to the end.
fn restarted(name: &str, roll_call_reason: &str) -> MeetingAttendance {
    let timeline = vec![
        interval(EIGHT, Some(EIGHT + 600), Some("server_restart")),
        interval(EIGHT + 660, Some(EIGHT + 3600), Some("meeting_ended")),
    ];
    MeetingAttendance {
        hall: hall(name),
        first_join: Some(EIGHT),
        last_leave: Some(EIGHT + 3600),
        last_leave_reason: Some("meeting_ended".into()),
        minutes_present: 59,
        intervals: 2,
        reconnects: 0,
        timeline,
        roll_call: None,
        roll_call_reason: roll_call_reason.into(),
        roll_call_unanswered: false,
        headcount: Some(12),
        presence: Presence::Present,
    }
}

fn text_of(table: &Table, row: usize) -> Vec<String> {
    table.rows[row]
        .iter()
        .map(|c| match c {
            Cell::Number(n) => n.to_string(),
            Cell::Text(s) => s.clone(),
        })
        .collect()
}

#[test]
fn meeting_headers_and_words_come_from_the_dictionary() {
    let rows = [restarted("Điểm cầu UBND xã Tân Sơn", "")];
    let t = Table::build(Lang::Vi, &columns::meeting(), &rows, Audience::Download);
    assert_eq!(
        t.header,
        [
            "Mã đơn vị",
            "Đơn vị",
            "Cấp",
            "Điểm cầu",
            "Vào lần đầu",
            "Rời lần cuối",
            "Lý do rời",
            "Số phút tham dự",
            "Số lần vào",
            "Số lần kết nối lại",
            "Điểm danh",
            "Lý do điểm danh",
            "Số người",
            "Kết quả",
        ]
    );
    assert_eq!(
        text_of(&t, 0),
        [
            "08578",
            "Xã Tân Sơn",
            "Xã",
            "Điểm cầu UBND xã Tân Sơn",
            "08:00 02/03/2026",
            "09:00 02/03/2026",
            "Cuộc họp kết thúc",
            "59",
            "2",
            "0",
            "",
            "",
            "12",
            "Có mặt",
        ]
    );
    let mut silent = restarted("x", "");
    (silent.roll_call_unanswered, silent.presence) = (true, Presence::Absent);
    let mut marked = restarted("y", "Mất điện");
    (marked.roll_call, marked.presence) = (Some(RollCallStatus::Absent), Presence::Absent);
    let t = Table::build(
        Lang::Vi,
        &columns::meeting(),
        &[silent, marked],
        Audience::Download,
    );
    let roll_call = |row| text_of(&t, row)[10..].to_vec();
    assert_eq!(roll_call(0), ["Không trả lời", "", "12", "Vắng"]);
    assert_eq!(roll_call(1), ["Vắng", "Mất điện", "12", "Vắng"]);
    let page = Table::build(Lang::En, &columns::meeting(), &rows, Audience::Page);
    assert!(
        !page.header.contains(&"Unit code") && page.header.contains(&"Result"),
        "the page leaves out codes and levels, in the reader's language: {:?}",
        page.header
    );
}

#[test]
fn the_intervals_table_names_a_restart_in_the_middle() {
    let rows = [restarted("Điểm cầu UBND xã Tân Sơn", "")];
    let t = Table::build(
        Lang::Vi,
        &columns::intervals(),
        &IntervalRow::all(&rows),
        Audience::Download,
    );
    assert_eq!(
        t.header,
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
    let ends: Vec<String> = (0..2).map(|i| text_of(&t, i)[6].clone()).collect();
    assert_eq!(ends, ["Máy chủ khởi động lại", "Cuộc họp kết thúc"]);
    // Still connected, dropped within the grace period, and a reason no word exists for yet.
    let mut open = restarted("x", "");
    open.timeline = vec![
        interval(EIGHT, None, None),
        interval(EIGHT, Some(EIGHT + 5), None),
        interval(EIGHT, Some(EIGHT + 5), Some("power_cut")),
    ];
    let t = Table::build(
        Lang::Vi,
        &columns::intervals(),
        &IntervalRow::all(&[open]),
        Audience::Page,
    );
    let ends: Vec<String> = (0..3).map(|i| text_of(&t, i)[2].clone()).collect();
    assert_eq!(
        ends,
        ["Đang kết nối", "Mất kết nối, còn chờ vào lại", "power_cut"]
    );
}

#[test]
fn csv_cells_that_start_like_a_formula_stay_text() {
    // OWASP "CSV Injection": = + - @, and tab or CR before one.
    let names = [
        "=HYPERLINK(\"http://evil.example\",\"Bấm vào\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ];
    let rows: Vec<_> = names
        .iter()
        .map(|n| restarted(n, "=cmd|' /C calc'!A0"))
        .collect();
    let t = Table::build(Lang::Vi, &columns::meeting(), &rows, Audience::Download);
    let csv = to_csv(&t).expect("csv");
    assert_eq!(&csv[..3], &[0xEF, 0xBB, 0xBF], "BOM first");
    let mut reader = csv::ReaderBuilder::new().from_reader(&csv[3..]);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), names.len());
    for (record, name) in records.iter().zip(names) {
        assert_eq!(&record[3], format!("'{name}"), "the hall's name");
        assert_eq!(&record[11], "'=cmd|' /C calc'!A0", "the roll-call reason");
        assert_eq!(&record[7], "59", "numbers are left alone");
    }
}

#[test]
fn xlsx_writes_text_as_text_and_counts_as_numbers() {
    let rows = [restarted("1e5", "0012")];
    let summary = Table::build(Lang::Vi, &columns::meeting(), &rows, Audience::Download);
    let intervals = Table::build(
        Lang::Vi,
        &columns::intervals(),
        &IntervalRow::all(&rows),
        Audience::Download,
    );
    let bytes = to_xlsx(&[
        Sheet {
            name: "Điểm danh",
            title: "Giao ban",
            table: &summary,
        },
        Sheet {
            name: "Các lần vào ra",
            title: "Giao ban",
            table: &intervals,
        },
    ])
    .expect("xlsx");
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    let sheet = book.worksheet_range("Điểm danh").expect("the first sheet");
    let row: Vec<&Data> = sheet
        .rows()
        .nth(3)
        .expect("the hall's row")
        .iter()
        .collect();
    assert_eq!(
        row[0],
        &Data::String("08578".into()),
        "codes keep their zeros"
    );
    assert_eq!(
        row[3],
        &Data::String("1e5".into()),
        "a hall named 1e5 is not 100000"
    );
    assert_eq!(row[7], &Data::Float(59.0), "minutes are a number");
    assert_eq!(row[11], &Data::String("0012".into()), "a reason stays text");
    let sheet = book
        .worksheet_range("Các lần vào ra")
        .expect("the intervals sheet");
    let ends: Vec<String> = sheet.rows().skip(3).map(|r| r[6].to_string()).collect();
    assert_eq!(ends, ["Máy chủ khởi động lại", "Cuộc họp kết thúc"]);
}

#[test]
fn every_column_header_is_in_the_dictionary() {
    use crate::pages::i18n::lookup;
    let keys = columns::meeting()
        .iter()
        .map(|c| c.key)
        .chain(columns::intervals().iter().map(|c| c.key))
        .chain(columns::period().iter().map(|c| c.key))
        .collect::<Vec<_>>();
    for key in keys {
        assert!(
            lookup(Lang::Vi, key).is_some() && lookup(Lang::En, key).is_some(),
            "{key} is missing from words.tsv"
        );
    }
}

#[test]
fn sizes_read_as_people_write_them() {
    use super::size;
    assert_eq!(size(Lang::Vi, 850_000), "850 KB");
    assert_eq!(size(Lang::Vi, 1), "1 KB");
    assert_eq!(size(Lang::Vi, 12_400_000), "12,4 MB");
    assert_eq!(size(Lang::En, 12_400_000), "12.4 MB");
    assert_eq!(size(Lang::Vi, 1_250_000_000), "1,25 GB");
}
