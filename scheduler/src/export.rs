//! Attendance exports: CSV (UTF-8 with BOM so Excel shows Vietnamese) and XLSX, in Việt Nam time.

use rust_xlsxwriter::{Format, Workbook};

use crate::attendance::RollCallStatus;
use crate::reports::{HallPeriodAttendance, MeetingAttendance, Presence};
use crate::time::display_local;
use crate::{Error, Result};

/// A table ready to write: a header and rows of cells.
pub struct Table {
    /// Column titles (Vietnamese).
    pub header: Vec<&'static str>,
    /// One row per hall.
    pub rows: Vec<Vec<String>>,
}

fn level_vi(level: &str) -> &'static str {
    match level {
        "country" => "Trung ương",
        "province" => "Tỉnh",
        "district" => "Huyện",
        _ => "Xã",
    }
}

fn presence_vi(p: Presence) -> &'static str {
    match p {
        Presence::Present => "Có mặt",
        Presence::Late => "Đến muộn",
        Presence::Absent => "Vắng",
    }
}

fn roll_call_vi(r: Option<RollCallStatus>) -> &'static str {
    match r {
        Some(RollCallStatus::Present) => "Có mặt",
        Some(RollCallStatus::Late) => "Đến muộn",
        Some(RollCallStatus::Absent) => "Vắng",
        None => "",
    }
}

/// A leave reason in Vietnamese.
pub fn leave_reason_vi(reason: &str) -> &'static str {
    match reason {
        "left" => "Rời phòng họp",
        "removed" => "Bị mời ra",
        "network_lost" => "Mất kết nối",
        "server_restart" => "Máy chủ khởi động lại",
        "meeting_ended" => "Kết thúc họp",
        _ => "",
    }
}

/// The per-meeting report as a table.
pub fn meeting_table(rows: &[MeetingAttendance]) -> Table {
    let header = vec![
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
        "Lý do",
        "Số người",
        "Trạng thái",
    ];
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                r.hall.unit_code.clone(),
                r.hall.unit_name.clone(),
                level_vi(&r.hall.level).to_string(),
                r.hall.hall_name.clone(),
                r.first_join.map(display_local).unwrap_or_default(),
                r.last_leave.map(display_local).unwrap_or_default(),
                r.last_leave_reason
                    .as_deref()
                    .map(leave_reason_vi)
                    .unwrap_or_default()
                    .to_string(),
                r.minutes_present.to_string(),
                r.intervals.to_string(),
                r.reconnects.to_string(),
                if r.roll_call_unanswered {
                    "Không trả lời".to_string()
                } else {
                    roll_call_vi(r.roll_call).to_string()
                },
                r.roll_call_reason.clone(),
                r.headcount.map(|h| h.to_string()).unwrap_or_default(),
                presence_vi(r.presence).to_string(),
            ]
        })
        .collect();
    Table { header, rows }
}

/// The per-unit, per-period report as a table.
pub fn period_table(rows: &[HallPeriodAttendance]) -> Table {
    let header = vec![
        "Mã đơn vị",
        "Đơn vị",
        "Cấp",
        "Điểm cầu",
        "Số cuộc họp được mời",
        "Số cuộc tham dự",
        "Số cuộc vắng",
        "Tổng số phút",
    ];
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                r.hall.unit_code.clone(),
                r.hall.unit_name.clone(),
                level_vi(&r.hall.level).to_string(),
                r.hall.hall_name.clone(),
                r.invited.to_string(),
                r.attended.to_string(),
                r.absent.to_string(),
                r.minutes.to_string(),
            ]
        })
        .collect();
    Table { header, rows }
}

/// CSV, UTF-8 with a byte-order mark (Excel then reads Vietnamese correctly).
pub fn to_csv(table: &Table) -> Result<Vec<u8>> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(&table.header)
            .map_err(|e| Error::Internal(e.to_string()))?;
        for row in &table.rows {
            w.write_record(row)
                .map_err(|e| Error::Internal(e.to_string()))?;
        }
        w.flush().map_err(|e| Error::Internal(e.to_string()))?;
    }
    Ok(out)
}

/// An XLSX workbook with one sheet: a bold header, numbers as numbers.
pub fn to_xlsx(table: &Table, sheet: &str, title: &str) -> Result<Vec<u8>> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("xlsx: {e}"));
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet).map_err(err)?;
    let bold = Format::new().set_bold();
    ws.write_string_with_format(0, 0, title, &bold)
        .map_err(err)?;
    for (c, h) in table.header.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold)
            .map_err(err)?;
        ws.set_column_width(c as u16, if c == 1 || c == 3 { 32 } else { 16 })
            .map_err(err)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (row_i, col) = (r as u32 + 3, c as u16);
            // Codes keep their leading zeros as text; counts and minutes are numbers.
            match cell.parse::<f64>() {
                Ok(n) if c > 0 && !cell.is_empty() => {
                    ws.write_number(row_i, col, n).map_err(err)?
                }
                _ => ws.write_string(row_i, col, cell).map_err(err)?,
            };
        }
    }
    book.save_to_buffer().map_err(err)
}
