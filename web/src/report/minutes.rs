//! The meeting record (biên bản hội nghị trực tuyến) as a Word document, derived like the
//! attendance report from the stored rows: the meeting, the invited halls by level with
//! how each took part (the report's own columns, picked by key), the roll calls, the
//! headcounts, the floor timeline and the recordings. In Vietnamese: it is the unit's record.

use scheduler::floor::FloorTurn;
use scheduler::minutes::HeldMeeting;
use scheduler::reports::{MeetingAttendance, Presence};
use scheduler::time::{display_local, display_local_secs, Timestamp};
use scheduler::{Meeting, MeetingStatus, Recording};

use super::columns::{self, FloorRow};
use super::docx::Document;
use super::{Audience, Table};
use crate::pages::i18n::{text, Lang};

/// The record is the unit's document: in Vietnamese.
const LANG: Lang = Lang::Vi;

/// The attendance report's columns the record shows for each level, by header key:
/// what each hall did and why it was absent, without the codes a spreadsheet sorts by.
const ATTENDANCE_KEYS: [&str; 8] = [
    "att.hall",
    "att.first_join",
    "att.leave_reason",
    "att.minutes",
    "att.roll_call",
    "att.roll_call_reason",
    "att.headcount",
    "att.presence",
];

/// Levels from the top; a level the tree names otherwise comes last.
const LEVELS: [&str; 4] = ["country", "province", "district", "commune"];

/// Everything the record is made of.
pub struct MinutesData<'a> {
    /// The meeting as scheduled.
    pub meeting: &'a Meeting,
    /// When it was held, its roll calls.
    pub held: &'a HeldMeeting,
    /// The attendance report's rows: every invited hall `who` may see.
    pub rows: &'a [MeetingAttendance],
    /// Who had the floor, oldest turn first.
    pub floor: &'a [FloorTurn],
    /// The meeting's recordings, oldest first.
    pub recordings: &'a [Recording],
    /// The server's public base URL, for the recordings' links.
    pub base: &'a str,
    /// When the record is made (open turns and intervals count up to it).
    pub now: Timestamp,
}

fn t(key: &str) -> String {
    text(LANG, key)
}

/// The record as DOCX bytes.
pub fn document(d: &MinutesData) -> Result<Vec<u8>, String> {
    let m = d.meeting;
    let mut doc = Document::new()
        .subtitle(&t("min.country"))
        .subtitle(&t("min.motto"))
        .text("")
        .title(&t("min.title"))
        .subtitle(&m.title)
        .heading(&t("min.general"))
        .field(&t("min.meeting"), &m.title)
        .field(&t("min.kind"), &t(&format!("kind.{}", m.kind.as_str())))
        .field(&t("min.host"), &m.host_hall_name)
        .field(&t("min.scope"), &m.scope_root_name)
        .field(
            &t("min.planned"),
            &format!(
                "{} – {}",
                display_local(m.starts_at),
                display_local(m.ends_at)
            ),
        );
    let Some(started) = d.held.started_at else {
        let key = if m.status == MeetingStatus::Cancelled {
            "min.cancelled"
        } else {
            "min.not_held"
        };
        return made(doc.text(&t(key)), d.now);
    };
    doc = doc
        .field(&t("min.started"), &display_local_secs(started))
        .field(
            &t("min.ended"),
            &d.held
                .ended_at
                .map_or_else(|| t("min.not_ended"), display_local_secs),
        );
    doc = attendance(doc, d.rows);
    doc = roll_calls(doc, d);
    doc = headcounts(doc, d.rows);
    doc = doc.heading(&t("min.floor"));
    doc = if d.floor.is_empty() {
        doc.text(&t("min.floor_none"))
    } else {
        let rows = FloorRow::all(d.floor, d.now);
        doc.table(&Table::build(
            LANG,
            &columns::floor(),
            &rows,
            Audience::Download,
        ))
    };
    doc = recordings(doc.heading(&t("min.recordings")), d);
    made(doc, d.now)
}

/// One line per recording: its start, length, size and state, and the link to its file
/// while it is kept.
fn recordings(mut doc: Document, d: &MinutesData) -> Document {
    if d.recordings.is_empty() {
        return doc.text(&t("min.recordings_none"));
    }
    for (n, r) in d.recordings.iter().enumerate() {
        let mut line = format!("{}. {}", n + 1, display_local_secs(r.started_at));
        if let Some(ms) = r.duration_ms {
            line.push_str(&format!(" — {}", super::duration(LANG, ms / 1000)));
        }
        if let Some(bytes) = r.bytes {
            line.push_str(&format!(" — {}", super::size(LANG, bytes)));
        }
        line.push_str(&format!(
            " — {}",
            t(&format!("rec.status_{}", r.status.as_str()))
        ));
        if r.status.has_file() {
            let url = crate::api::recordings::file_url(r.id);
            line.push_str(&format!(": {}{url}", d.base));
        }
        doc = doc.text(&line);
    }
    doc
}

/// The closing line (when the record was made), then the file.
fn made(doc: Document, now: Timestamp) -> Result<Vec<u8>, String> {
    doc.text("")
        .text(&format!("{} {}.", t("min.made"), display_local_secs(now)))
        .finish()
}

fn attended(r: &MeetingAttendance) -> bool {
    r.presence != Presence::Absent
}

/// Invited, attended and absent halls: the totals, then one table per level.
fn attendance(mut doc: Document, rows: &[MeetingAttendance]) -> Document {
    let present = rows
        .iter()
        .filter(|r| r.presence == Presence::Present)
        .count();
    let late = rows.iter().filter(|r| r.presence == Presence::Late).count();
    doc = doc
        .heading(&t("min.attendance"))
        .field(&t("min.invited"), &rows.len().to_string())
        .field(
            &t("min.attended"),
            &format!(
                "{} ({} {present}, {} {late})",
                present + late,
                t("presence.present"),
                t("presence.late")
            ),
        )
        .field(
            &t("min.absent"),
            &rows.iter().filter(|r| !attended(r)).count().to_string(),
        );
    let columns: Vec<_> = columns::meeting()
        .into_iter()
        .filter(|c| ATTENDANCE_KEYS.contains(&c.key))
        .collect();
    let order = |level: &str| {
        LEVELS
            .iter()
            .position(|l| *l == level)
            .unwrap_or(LEVELS.len())
    };
    let mut levels: Vec<&str> = rows.iter().map(|r| r.hall.level.as_str()).collect();
    levels.sort_by_key(|&l| (order(l), l));
    levels.dedup();
    for level in levels {
        let group: Vec<MeetingAttendance> = rows
            .iter()
            .filter(|r| r.hall.level == level)
            .cloned()
            .collect();
        let name_key = if order(level) < LEVELS.len() {
            format!("min.level.{level}")
        } else {
            "min.level.other".to_string()
        };
        let came = group.iter().filter(|r| attended(r)).count();
        doc = doc
            .heading(&format!(
                "{}: {} {}, {} {came}, {} {}",
                t(&name_key),
                t("min.count_invited"),
                group.len(),
                t("min.count_attended"),
                t("min.count_absent"),
                group.len() - came
            ))
            .table(&Table::build(LANG, &columns, &group, Audience::Download));
    }
    doc
}

/// Each roll call with its answers, and the halls that left the last one unanswered.
fn roll_calls(mut doc: Document, d: &MinutesData) -> Document {
    doc = doc.heading(&t("min.roll_call"));
    if d.held.roll_calls.is_empty() {
        return doc.text(&t("min.roll_call_none"));
    }
    for (n, round) in d.held.roll_calls.iter().enumerate() {
        let until = round
            .ended_at
            .map_or_else(|| t("min.round_open"), display_local_secs);
        doc = doc.text(&format!(
            "{} {} ({} – {until}): {} {}; {} {}; {} {}.",
            t("min.round"),
            n + 1,
            display_local_secs(round.started_at),
            t("rc.present"),
            round.present,
            t("rc.late"),
            round.late,
            t("rc.absent"),
            round.absent,
        ));
    }
    let unanswered = d.rows.iter().filter(|r| r.roll_call_unanswered).count();
    if unanswered > 0 {
        doc = doc.field(&t("min.no_answer"), &unanswered.to_string());
    }
    doc
}

/// The people the halls reported, added up.
fn headcounts(doc: Document, rows: &[MeetingAttendance]) -> Document {
    let doc = doc.heading(&t("min.headcount"));
    let reported: Vec<i64> = rows.iter().filter_map(|r| r.headcount).collect();
    if reported.is_empty() {
        return doc.text(&t("min.headcount_none"));
    }
    doc.field(
        &t("min.headcount_total"),
        &reported.iter().sum::<i64>().to_string(),
    )
    .field(&t("min.headcount_halls"), &reported.len().to_string())
}
