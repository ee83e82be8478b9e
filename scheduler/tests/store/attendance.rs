//! Attendance: a scripted meeting gives exactly the expected report; crash recovery; the
//! report's data (its words and files are `web`'s: web/src/report).

use scheduler::attendance::{JoinKind, LeaveReason, RollCallStatus};
use scheduler::reports::{MeetingAttendance, Presence};
use scheduler::time::now;
use scheduler::{Backend, Level, MeetingDraft, MeetingKind, MeetingStatus, Scope};

use crate::support::{demo_db, hall_of, scope, tan_son_halls, unit_id, who};

const GRACE: i64 = 30;

fn draft(host: i64, scope: Scope, start: i64) -> MeetingDraft {
    MeetingDraft {
        title: "Giao ban".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: host,
        starts_at: start,
        ends_at: start + 7200,
        scope,
        recurrence: None,
    }
}

/// A hall's intervals as (joined, left, why it ended, reconnects).
fn timeline(r: &MeetingAttendance) -> Vec<(i64, Option<i64>, Option<&str>, i64)> {
    r.timeline
        .iter()
        .map(|i| {
            (
                i.joined_at,
                i.left_at,
                i.end_reason.as_deref(),
                i.reconnects,
            )
        })
        .collect()
}

pub async fn a_scripted_meeting_gives_exactly_the_expected_rows(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let province = unit_id(s, "25").await;
    let (a, b, c, d) = (
        hall_of(s, "25").await.id,
        hall_of(s, "240").await.id,
        hall_of(s, "08578").await.id,
        hall_of(s, "08545").await.id,
    );
    let start = now() + 7200;
    let m = s
        .schedule(
            &admin,
            draft(
                a,
                scope(
                    province,
                    &[Level::Province, Level::District, Level::Commune],
                ),
                start,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;

    assert_eq!(
        s.record_join(m, a, start - 300, GRACE).await.unwrap(),
        JoinKind::New,
        "waiting room"
    );
    s.meeting_started(m, start, Some(admin.account.id))
        .await
        .unwrap();
    s.record_join(m, b, start + 60, GRACE).await.unwrap();
    s.record_disconnect(m, b, start + 600).await.unwrap();
    assert_eq!(
        s.record_join(m, b, start + 620, GRACE).await.unwrap(),
        JoinKind::Reconnected
    );
    s.record_join(m, c, start + 900, GRACE).await.unwrap();
    let roll = s
        .start_roll_call(m, start + 1000, Some(admin.account.id))
        .await
        .unwrap();
    s.answer_roll_call(roll, b, RollCallStatus::Present, "", start + 1010, None)
        .await
        .unwrap();
    s.answer_roll_call(
        roll,
        d,
        RollCallStatus::Absent,
        "Mất điện",
        start + 1100,
        Some(admin.account.id),
    )
    .await
    .unwrap();
    s.record_headcount(m, a, 45, start + 1150).await.unwrap();
    s.record_headcount(m, a, 50, start + 1190).await.unwrap();
    s.record_disconnect(m, c, start + 1200).await.unwrap();
    assert_eq!(
        s.record_join(m, c, start + 1300, GRACE).await.unwrap(),
        JoinKind::New,
        "outside the grace period"
    );
    s.record_leave(m, b, start + 1800, LeaveReason::Removed)
        .await
        .unwrap();
    s.record_leave(m, a, start + 2000, LeaveReason::Left)
        .await
        .unwrap();
    assert!(s
        .meeting_ended(m, start + 2400, Some(admin.account.id))
        .await
        .unwrap());

    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(rows.len(), 221);
    let row = |h: i64| rows.iter().find(|r| r.hall.hall_id == h).unwrap().clone();
    let ra = row(a);
    assert_eq!(
        (
            ra.first_join,
            ra.last_leave,
            ra.last_leave_reason.as_deref()
        ),
        (Some(start - 300), Some(start + 2000), Some("left"))
    );
    assert_eq!(
        (
            ra.minutes_present,
            ra.intervals,
            ra.reconnects,
            ra.headcount,
            ra.presence
        ),
        (33, 1, 0, Some(50), Presence::Present)
    );
    let rb = row(b);
    assert_eq!(
        (
            rb.first_join,
            rb.last_leave,
            rb.last_leave_reason.as_deref()
        ),
        (Some(start + 60), Some(start + 1800), Some("removed"))
    );
    assert_eq!(
        (
            rb.minutes_present,
            rb.intervals,
            rb.reconnects,
            rb.roll_call,
            rb.presence
        ),
        (29, 1, 1, Some(RollCallStatus::Present), Presence::Present)
    );
    let rc = row(c);
    assert_eq!(
        (
            rc.first_join,
            rc.last_leave,
            rc.last_leave_reason.as_deref()
        ),
        (Some(start + 900), Some(start + 2400), Some("meeting_ended"))
    );
    assert_eq!(
        (rc.minutes_present, rc.intervals, rc.reconnects, rc.presence),
        (23, 2, 0, Presence::Late)
    );
    assert_eq!(
        timeline(&rb),
        [(start + 60, Some(start + 1800), Some("removed"), 1)],
        "a reconnect within the grace period stays one interval"
    );
    assert_eq!(
        timeline(&rc),
        [
            (start + 900, Some(start + 1200), Some("network_lost"), 0),
            (start + 1300, Some(start + 2400), Some("meeting_ended"), 0),
        ],
        "every interval with why it ended"
    );
    assert!(row(d).timeline.is_empty(), "never connected");
    let rd = row(d);
    assert_eq!(
        (
            rd.first_join,
            rd.roll_call,
            rd.roll_call_reason.as_str(),
            rd.presence
        ),
        (
            None,
            Some(RollCallStatus::Absent),
            "Mất điện",
            Presence::Absent
        )
    );
    let count = |p: Presence| rows.iter().filter(|r| r.presence == p).count();
    assert_eq!(
        (
            count(Presence::Present),
            count(Presence::Late),
            count(Presence::Absent)
        ),
        (2, 1, 218)
    );

    // The district secretariat sees only its district's halls of a meeting it may see.
    let tan_son = unit_id(s, "240").await;
    let m3 = s
        .schedule(
            &admin,
            draft(b, scope(tan_son, &[Level::District]), start + 86400),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    assert!(
        !s.meeting_ended(m3, start + 86400 + 3600, None)
            .await
            .unwrap(),
        "nobody came: not held"
    );
    assert_eq!(
        s.meeting_for(&admin, m3).await.unwrap().status,
        MeetingStatus::NotHeld
    );

    // Per unit and period: Tân Sơn's halls over both meetings.
    let vp = who(s, "vp.tanson").await;
    let period = s
        .unit_attendance(&vp, tan_son, start - 86400, start + 3 * 86400)
        .await
        .unwrap();
    assert_eq!(period.len(), 18);
    let p = |h: i64| period.iter().find(|r| r.hall.hall_id == h).unwrap().clone();
    assert_eq!(
        (p(b).invited, p(b).attended, p(b).absent, p(b).minutes),
        (2, 1, 1, 29)
    );
    assert_eq!(
        (p(c).invited, p(c).attended, p(c).absent, p(c).minutes),
        (1, 1, 0, 23)
    );
    assert_eq!(
        (p(d).invited, p(d).attended, p(d).absent, p(d).minutes),
        (1, 0, 1, 0)
    );
    assert!(
        s.unit_attendance(&vp, province, start, start + 86400)
            .await
            .is_err(),
        "not the province"
    );
    db.cleanup().await;
}

pub async fn a_crash_closes_intervals_at_the_last_heartbeat(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (tan_son, [host, c, e]) = tan_son_halls(s).await;
    let start = now() + 3600;
    let m = s
        .schedule(
            &admin,
            draft(
                host,
                scope(tan_son, &[Level::District, Level::Commune]),
                start,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    s.meeting_started(m, start, None).await.unwrap();
    s.record_join(m, c, start + 100, GRACE).await.unwrap();
    s.record_join(m, e, start + 100, GRACE).await.unwrap();
    s.record_heartbeats(m, &[c, e], start + 130).await.unwrap();
    s.record_disconnect(m, e, start + 140).await.unwrap();
    s.record_heartbeats(m, &[c, e], start + 160).await.unwrap();
    // The server dies here; on restart the open intervals are closed.
    assert_eq!(s.recover_open_sessions().await.unwrap(), 2);
    assert_eq!(
        s.record_join(m, c, start + 400, GRACE).await.unwrap(),
        JoinKind::New,
        "a new interval after the restart"
    );
    s.meeting_ended(m, start + 1000, None).await.unwrap();
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    let rc = rows.iter().find(|r| r.hall.hall_id == c).unwrap();
    assert_eq!(
        (rc.intervals, rc.minutes_present),
        (2, 1 + 10),
        "60 s before the crash, 600 s after"
    );
    assert_eq!(
        timeline(rc),
        [
            (start + 100, Some(start + 160), Some("server_restart"), 0),
            (start + 400, Some(start + 1000), Some("meeting_ended"), 0),
        ],
        "the restart in the middle is reported, not only the last leave"
    );
    assert_eq!(
        rc.last_leave_reason.as_deref(),
        Some("meeting_ended"),
        "the last leave alone hides the restart"
    );
    let re = rows.iter().find(|r| r.hall.hall_id == e).unwrap();
    assert_eq!(
        (re.last_leave, re.last_leave_reason.as_deref()),
        (Some(start + 140), Some("network_lost")),
        "a dropped hall ends when it dropped"
    );
    // Lapsed disconnects close by themselves.
    s.record_join(m, e, start + 2000, GRACE).await.unwrap();
    s.record_disconnect(m, e, start + 2100).await.unwrap();
    assert_eq!(
        s.close_lapsed(start + 2100 + GRACE + 1, GRACE)
            .await
            .unwrap(),
        1
    );
    db.cleanup().await;
}

pub async fn the_report_names_each_hall_with_its_unit_code(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let (host, c) = (hall_of(s, "240").await.id, hall_of(s, "08578").await.id);
    let start = now() + 3600;
    let m = s
        .schedule(
            &admin,
            draft(
                host,
                scope(tan_son, &[Level::District, Level::Commune]),
                start,
            ),
            None,
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    s.record_join(m, c, start + 60, GRACE).await.unwrap();
    s.meeting_ended(m, start + 3660, None).await.unwrap();
    let rows = s.meeting_attendance(&admin, m).await.unwrap();
    assert_eq!(
        rows.len(),
        18,
        "every invited hall of Tân Sơn, one row each"
    );
    let row = rows.iter().find(|r| r.hall.hall_id == c).unwrap();
    assert_eq!(
        (
            row.hall.unit_code.as_str(),
            row.hall.unit_name.as_str(),
            row.hall.level.as_str(),
            row.hall.hall_name.as_str()
        ),
        ("08578", "Xã Tân Sơn", "commune", "Điểm cầu UBND xã Tân Sơn"),
        "codes keep their zeros; names their diacritics"
    );
    assert_eq!(
        (row.minutes_present, row.intervals, row.reconnects),
        (60, 1, 0)
    );
    db.cleanup().await;
}
