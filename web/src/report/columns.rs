//! The columns of every attendance report, once: the per-meeting table, its intervals
//! (every join to its leave, with why it ended), the meeting's guests (khách mời, apart
//! from the halls), its floor timeline (who spoke when, for the meeting record) and the
//! per-unit-period table. Headers are
//! `words.tsv` keys (`att.*`, `rep.*`); the page, the CSV and the XLSX all read these lists.

use scheduler::floor::FloorTurn;
use scheduler::guests::GuestAttendance;
use scheduler::reports::{
    AttendanceInterval, HallPeriodAttendance, HallRef, MeetingAttendance, Presence,
};
use scheduler::time::Timestamp;

use super::{Column, Value};

/// One interval of one hall, a row of the intervals table.
#[derive(Debug, Clone)]
pub struct IntervalRow {
    /// The hall it belongs to.
    pub hall: HallRef,
    /// The interval.
    pub interval: AttendanceInterval,
}

impl IntervalRow {
    /// Every interval of every hall of a meeting report, halls in the report's order.
    pub fn all(rows: &[MeetingAttendance]) -> Vec<IntervalRow> {
        rows.iter()
            .flat_map(|r| {
                r.timeline.iter().map(|i| IntervalRow {
                    hall: r.hall.clone(),
                    interval: i.clone(),
                })
            })
            .collect()
    }
}

/// One turn at the floor, a row of the floor timeline.
#[derive(Debug, Clone)]
pub struct FloorRow {
    /// Its place in the timeline, from 1.
    pub number: i64,
    /// The turn.
    pub turn: FloorTurn,
    /// Seconds at the floor (an open turn: until the document was made).
    pub seconds: i64,
}

impl FloorRow {
    /// The timeline's turns, numbered, open ones counted up to `now`.
    pub fn all(turns: &[FloorTurn], now: Timestamp) -> Vec<FloorRow> {
        turns
            .iter()
            .zip(1..)
            .map(|(t, number)| FloorRow {
                number,
                turn: t.clone(),
                seconds: t.seconds(now),
            })
            .collect()
    }
}

/// A report row about one hall.
trait AboutHall {
    fn hall(&self) -> &HallRef;
}

impl AboutHall for MeetingAttendance {
    fn hall(&self) -> &HallRef {
        &self.hall
    }
}

impl AboutHall for IntervalRow {
    fn hall(&self) -> &HallRef {
        &self.hall
    }
}

impl AboutHall for HallPeriodAttendance {
    fn hall(&self) -> &HallRef {
        &self.hall
    }
}

/// The columns every table starts with: unit code, unit, level, hall. Codes and levels
/// are for spreadsheets; the unit and hall names are on the page unless it groups by hall.
fn hall_columns<R: AboutHall>(names_on_page: bool) -> Vec<Column<R>> {
    let names = |c: Column<R>| if names_on_page { c } else { c.export_only() };
    vec![
        Column::new("att.unit_code", |r: &R| {
            Value::Text(r.hall().unit_code.clone())
        })
        .export_only(),
        names(Column::new("att.unit", |r: &R| {
            Value::Text(r.hall().unit_name.clone())
        })),
        Column::new("att.level", |r: &R| Value::word("level", &r.hall().level)).export_only(),
        names(Column::new("att.hall", |r: &R| {
            Value::Text(r.hall().hall_name.clone())
        })),
    ]
}

/// Why an interval ended, in words: the stored leave reason (`leave.server_restart` …),
/// or still connected, or dropped and within the grace period to come back.
fn end_word(left_at: Option<Timestamp>, reason: Option<&str>) -> Value {
    match (left_at, reason) {
        (_, Some(reason)) => Value::word("leave", reason),
        (None, None) => Value::Word("att.connected".into()),
        (Some(_), None) => Value::Word("att.reconnecting".into()),
    }
}

fn presence_code(p: Presence) -> &'static str {
    match p {
        Presence::Present => "present",
        Presence::Late => "late",
        Presence::Absent => "absent",
    }
}

/// The per-meeting report: one row per invited hall.
pub fn meeting() -> Vec<Column<MeetingAttendance>> {
    let mut columns = hall_columns(true);
    columns.extend([
        Column::new("att.first_join", |r: &MeetingAttendance| {
            Value::time(r.first_join)
        }),
        Column::new("att.last_leave", |r| Value::time(r.last_leave)),
        Column::new("att.leave_reason", |r| match r.first_join {
            None => Value::Empty,
            Some(_) => end_word(r.last_leave, r.last_leave_reason.as_deref()),
        }),
        Column::new("att.minutes", |r| Value::Number(r.minutes_present)),
        Column::new("att.intervals", |r| Value::Number(r.intervals)),
        Column::new("att.reconnects", |r| Value::Number(r.reconnects)),
        Column::new("att.roll_call", |r| match r.roll_call {
            _ if r.roll_call_unanswered => Value::Word("rc.no_answer".into()),
            Some(s) => Value::word("rc", s.as_str()),
            None => Value::Empty,
        }),
        Column::new("att.roll_call_reason", |r| {
            Value::Text(r.roll_call_reason.clone())
        }),
        Column::new("att.headcount", |r| Value::number(r.headcount)),
        Column::new("att.presence", |r| {
            Value::word("presence", presence_code(r.presence))
        }),
    ]);
    columns
}

/// Every interval of every hall of a meeting; the page groups them by hall, so the hall
/// names are for the downloads only.
pub fn intervals() -> Vec<Column<IntervalRow>> {
    let mut columns = hall_columns(false);
    columns.extend([
        Column::new("att.joined", |r: &IntervalRow| {
            Value::Time(r.interval.joined_at)
        }),
        Column::new("att.left", |r| Value::time(r.interval.left_at)),
        Column::new("att.leave_reason", |r| {
            end_word(r.interval.left_at, r.interval.end_reason.as_deref())
        }),
        Column::new("att.reconnects", |r| Value::Number(r.interval.reconnects)),
    ]);
    columns
}

/// The meeting's guests (khách mời): one row per guest, never counted among the halls.
pub fn guests() -> Vec<Column<GuestAttendance>> {
    vec![
        Column::new("att.guest", |r: &GuestAttendance| {
            Value::Text(r.name.clone())
        }),
        Column::new("att.organisation", |r: &GuestAttendance| {
            Value::Text(r.organisation.clone())
        }),
        Column::new("att.phone", |r: &GuestAttendance| {
            Value::Text(r.phone.clone())
        })
        .export_only(),
        Column::new("att.email", |r: &GuestAttendance| {
            Value::Text(r.email.clone())
        })
        .export_only(),
        Column::new("att.first_join", |r: &GuestAttendance| {
            Value::time(r.first_join)
        }),
        Column::new("att.last_leave", |r: &GuestAttendance| {
            Value::time(r.last_leave)
        }),
        Column::new("att.leave_reason", |r: &GuestAttendance| {
            match r.first_join {
                None => Value::Empty,
                Some(_) => end_word(r.last_leave, r.last_leave_reason.as_deref()),
            }
        }),
        Column::new("att.minutes", |r: &GuestAttendance| {
            Value::Number(r.minutes_present)
        }),
        Column::new("att.intervals", |r: &GuestAttendance| {
            Value::Number(r.intervals)
        }),
        Column::new("att.reconnects", |r: &GuestAttendance| {
            Value::Number(r.reconnects)
        }),
        Column::new("att.revoked", |r: &GuestAttendance| {
            Value::time(r.revoked_at)
        }),
    ]
}

/// The floor timeline (diễn biến phát biểu): one row per turn, oldest first.
pub fn floor() -> Vec<Column<FloorRow>> {
    vec![
        Column::new("floor.number", |r: &FloorRow| Value::Number(r.number)),
        Column::new("att.hall", |r: &FloorRow| {
            Value::Text(r.turn.hall_name.clone())
        }),
        Column::new("att.unit", |r: &FloorRow| {
            Value::Text(r.turn.unit_name.clone())
        }),
        Column::new("floor.from", |r: &FloorRow| Value::Clock(r.turn.from)),
        Column::new("floor.until", |r: &FloorRow| {
            r.turn.until.map_or(Value::Empty, Value::Clock)
        }),
        Column::new("floor.duration", |r: &FloorRow| Value::Duration(r.seconds)),
        Column::new("floor.end", |r: &FloorRow| match r.turn.end {
            Some(end) => Value::word("floor.end", end.as_str()),
            None => Value::Word("floor.speaking".into()),
        }),
    ]
}

/// The per-unit, per-period report: one row per hall of the subtree.
pub fn period() -> Vec<Column<HallPeriodAttendance>> {
    let mut columns = hall_columns(true);
    columns.extend([
        Column::new("rep.invited", |r: &HallPeriodAttendance| {
            Value::Number(r.invited)
        }),
        Column::new("rep.attended", |r| Value::Number(r.attended)),
        Column::new("rep.absent", |r| Value::Number(r.absent)),
        Column::new("rep.minutes", |r| Value::Number(r.minutes)),
    ]);
    columns
}
