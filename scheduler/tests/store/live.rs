//! The live meeting's records: the phase a room takes up after a restart, and a roll
//! call ended with halls that never answered.

use scheduler::attendance::RollCallStatus;
use scheduler::live::RecordedPhase;
use scheduler::reports::Presence;
use scheduler::time::now;
use scheduler::{Backend, Level, MeetingDraft, MeetingKind};

use crate::support::{demo_db, hall_of, scope, unit_id, who};

const GRACE: i64 = 30;

/// A meeting of Tân Sơn's district and communes hosted by its district hall, starting
/// at `start`; its id.
async fn tan_son_meeting(s: &scheduler::Store, host: i64, start: i64) -> i64 {
    let admin = who(s, "admin").await;
    let tan_son = unit_id(s, "240").await;
    let draft = MeetingDraft {
        title: "Họp khẩn".into(),
        description: String::new(),
        kind: MeetingKind::Sudden,
        host_hall_id: host,
        starts_at: start,
        ends_at: start + 3600,
        scope: scope(tan_son, &[Level::District, Level::Commune]),
        recurrence: None,
    };
    s.schedule(&admin, draft, None).await.unwrap().remove(0).id
}

pub async fn the_recorded_phase_follows_test_start_and_end(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let host = hall_of(s, "240").await.id;
    let start = now() + 7200;
    let m = tan_son_meeting(s, host, start).await;
    let other = tan_son_meeting(s, host, start + 86400).await;
    assert_eq!(
        s.recorded_phase(m).await.unwrap(),
        RecordedPhase::NotStarted
    );
    s.record_live_event(m, None, start - 600, "test_started", "by hall 1", None)
        .await
        .unwrap();
    assert_eq!(s.recorded_phase(m).await.unwrap(), RecordedPhase::Test);
    s.meeting_started(m, start, None).await.unwrap();
    assert_eq!(s.recorded_phase(m).await.unwrap(), RecordedPhase::Started);
    assert_eq!(
        s.recorded_phase(other).await.unwrap(),
        RecordedPhase::NotStarted,
        "another meeting's records do not count"
    );
    s.record_join(m, host, start + 10, GRACE).await.unwrap();
    s.meeting_ended(m, start + 1800, None).await.unwrap();
    assert_eq!(s.recorded_phase(m).await.unwrap(), RecordedPhase::Ended);
    assert!(s.recorded_phase(i64::MAX).await.is_err(), "no such meeting");
    db.cleanup().await;
}

pub async fn an_ended_roll_call_counts_halls_without_an_answer_absent(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let admin = who(s, "admin").await;
    let (host, b, c, d) = (
        hall_of(s, "240").await.id,
        hall_of(s, "08578").await.id,
        hall_of(s, "08545").await.id,
        hall_of(s, "08548").await.id,
    );
    let start = now() - 300;
    let m = tan_son_meeting(s, host, start).await;
    s.meeting_started(m, start, None).await.unwrap();
    for h in [host, b, c] {
        s.record_join(m, h, start + 5, GRACE).await.unwrap();
    }
    let first = s.start_roll_call(m, start + 60, None).await.unwrap();
    s.answer_roll_call(first, b, RollCallStatus::Present, "", start + 70, None)
        .await
        .unwrap();
    s.answer_roll_call(first, c, RollCallStatus::Late, "", start + 80, None)
        .await
        .unwrap();
    let second = s.start_roll_call(m, start + 300, None).await.unwrap();
    s.answer_roll_call(second, b, RollCallStatus::Present, "", start + 310, None)
        .await
        .unwrap();

    let report = |s: &scheduler::Store| {
        let (s, admin) = (s.clone(), admin.clone());
        async move {
            let rows = s.meeting_attendance(&admin, m).await.unwrap();
            move |h: i64| {
                let r = rows.iter().find(|r| r.hall.hall_id == h).unwrap();
                (r.roll_call, r.roll_call_unanswered, r.presence)
            }
        }
    };
    let open = report(s).await;
    assert_eq!(
        open(c),
        (Some(RollCallStatus::Late), false, Presence::Late),
        "while the roll call runs, an earlier answer stands"
    );
    assert_eq!(open(host), (None, false, Presence::Present));

    assert!(s
        .end_roll_call(second, start + 400, Some(admin.account.id), "by account 1")
        .await
        .unwrap());
    assert!(
        !s.end_roll_call(second, start + 410, None, "by hall 1")
            .await
            .unwrap(),
        "ending twice changes nothing"
    );
    let ended = report(s).await;
    assert_eq!(
        ended(b),
        (Some(RollCallStatus::Present), false, Presence::Present)
    );
    assert_eq!(
        ended(c),
        (None, true, Presence::Absent),
        "connected but silent in the ended roll call: absent, no answer"
    );
    assert_eq!(ended(d), (None, true, Presence::Absent), "never came");
    assert_eq!(
        ended(host),
        (None, false, Presence::Present),
        "the host presents; it answers no roll call"
    );

    // A reason learnt afterwards: the secretariat marks the silent hall.
    s.answer_roll_call(
        second,
        d,
        RollCallStatus::Absent,
        "Mất điện",
        start + 500,
        Some(admin.account.id),
    )
    .await
    .unwrap();
    let marked = s.meeting_attendance(&admin, m).await.unwrap();
    let rd = marked.iter().find(|r| r.hall.hall_id == d).unwrap();
    assert_eq!(
        (
            rd.roll_call,
            rd.roll_call_reason.as_str(),
            rd.roll_call_unanswered
        ),
        (Some(RollCallStatus::Absent), "Mất điện", false)
    );
    let log: Vec<_> = s
        .live_events(m)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "roll_call_ended")
        .map(|e| (e.at, e.detail, e.account_id))
        .collect();
    assert_eq!(
        log,
        [(
            start + 400,
            "by account 1".to_string(),
            Some(admin.account.id)
        )],
        "logged once, with who and when"
    );
    assert!(
        marked
            .iter()
            .any(|r| r.hall.hall_id == c && r.roll_call_unanswered && r.roll_call.is_none()),
        "marking one silent hall leaves the other unanswered"
    );
    db.cleanup().await;
}
