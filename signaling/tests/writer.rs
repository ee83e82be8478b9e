//! The attendance writer against a real database that fails: writes refused for a while
//! (an injected trigger on the table every change goes through), then accepted again —
//! every change is written once, in order; and a server that dies while the database is
//! away leaves a journal the next start writes, once, before it closes what the crash
//! left open. On SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use scheduler::attendance::LeaveReason;
use scheduler::testing::{demo_db, province_meeting_now, TestDb};
use scheduler::{Backend, Level, Store};
use signaling::protocol::{Actor, RollCallStatus};
use signaling::recorder::JournalConfig;
use signaling::{PresenceChange, PresenceKind, Recorder, StoreRecorder};

/// Makes every attendance change fail in the database (a trigger raising an error on
/// the change ledger, from a connection of its own), as a database refusing writes would.
async fn break_writes(db: &TestDb) {
    let sql: &[&str] = match db.store.backend() {
        Backend::Sqlite => &["CREATE TRIGGER fault BEFORE INSERT ON attendance_changes \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION fault() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fault BEFORE INSERT ON attendance_changes \
             FOR EACH ROW EXECUTE FUNCTION fault()",
        ],
    };
    for s in sql {
        db.execute(s).await.expect("fault installed");
    }
}

async fn mend_writes(db: &TestDb) {
    let sql = match db.store.backend() {
        Backend::Sqlite => "DROP TRIGGER fault",
        Backend::Postgres => "DROP TRIGGER fault ON attendance_changes",
    };
    db.execute(sql).await.expect("fault removed");
}

/// A seeded database with a province meeting open now and five of its halls.
async fn meeting(backend: Backend) -> (TestDb, i64, Vec<i64>) {
    let db = demo_db(backend).await.expect("demo database");
    let levels = [Level::Province, Level::District];
    let m = province_meeting_now(&db.store, "Giao ban", &levels)
        .await
        .expect("scheduled");
    let halls: Vec<i64> = db
        .store
        .invited_halls(m.id)
        .await
        .unwrap()
        .iter()
        .map(|h| h.hall_id)
        .take(5)
        .collect();
    (db, m.id, halls)
}

/// A short meeting: start, five joins, a roll call answered by all, headcounts, two
/// leaves, the roll call closed, the end. Returns the log kinds it must leave, in order.
fn script(recorder: &dyn Recorder, meeting: i64, halls: &[i64], roll_call: u64) -> Vec<String> {
    let host = Actor::Hall { hall_id: halls[0] };
    let at = scheduler::time::now();
    let rec = |kind| {
        recorder.record(PresenceChange {
            meeting_id: meeting,
            at,
            kind,
        })
    };
    let mut kinds = Vec::new();
    rec(PresenceKind::MeetingStarted { by: host });
    kinds.push("meeting_started");
    for &hall_id in halls {
        rec(PresenceKind::Joined { hall_id });
        kinds.push("join");
    }
    rec(PresenceKind::RollCallStarted {
        roll_call,
        by: host,
    });
    kinds.push("roll_call_started");
    for &hall_id in halls {
        rec(PresenceKind::RollCallAnswered {
            roll_call,
            hall_id,
            status: RollCallStatus::Present,
            reason: String::new(),
            by: Actor::Hall { hall_id },
        });
        kinds.push("roll_call_answer");
        rec(PresenceKind::Headcount {
            hall_id,
            people: 12,
        });
        kinds.push("headcount");
    }
    for &hall_id in &halls[3..] {
        rec(PresenceKind::Left {
            hall_id,
            reason: LeaveReason::Left,
        });
        kinds.push("leave");
    }
    rec(PresenceKind::RollCallEnded {
        roll_call,
        by: host,
    });
    kinds.push("roll_call_ended");
    rec(PresenceKind::MeetingEnded { by: host });
    kinds.extend(["leave", "leave", "leave", "meeting_ended"]);
    kinds.into_iter().map(String::from).collect()
}

/// How many changes the script records.
const SCRIPTED: u64 = 1 + 5 + 1 + 10 + 2 + 1 + 1;

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_written_once(store: &Store, meeting: i64, expected: &[String]) {
    let kinds: Vec<String> = store
        .live_events(meeting)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, expected, "every change once, in order");
    assert_eq!(
        store.written_changes(meeting).await.unwrap(),
        SCRIPTED as i64
    );
}

pub async fn an_outage_loses_nothing_and_keeps_order(backend: Backend) {
    let (db, m, halls) = meeting(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let recorder = StoreRecorder::start(db.store.clone(), 10, &journal).unwrap();
    break_writes(&db).await;
    let expected = script(recorder.as_ref(), m, &halls, 1);
    until("writes failed a few times", || {
        recorder.health().failed_attempts >= 3
    })
    .await;
    let during = recorder.health();
    assert!(during.degraded);
    assert_eq!(during.pending, SCRIPTED);
    assert!(during.journal_bytes > 0, "kept on disk meanwhile");
    assert!(db.store.live_events(m).await.unwrap().is_empty());

    mend_writes(&db).await;
    assert!(
        recorder.flush(Duration::from_secs(30)).await,
        "written after recovery"
    );
    let after = recorder.health();
    assert!(!after.degraded);
    assert_eq!((after.pending, after.journal_bytes), (0, 0));
    assert_eq!(after.written, SCRIPTED);
    assert_written_once(&db.store, m, &expected).await;
    db.cleanup().await;
}

/// A 1-MiB journal in `dir`, as a server's data directory would hold it.
fn journal_in(dir: &tempfile::TempDir) -> JournalConfig {
    JournalConfig {
        path: dir.path().join("attendance.journal"),
        max_bytes: 1 << 20,
    }
}

/// The first run of a server: a recorder on a runtime of its own, so it can die
/// mid-flight (`shutdown_background`) as a killed process would.
async fn first_run(
    db: &TestDb,
    journal: &JournalConfig,
) -> (tokio::runtime::Runtime, std::sync::Arc<StoreRecorder>) {
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (url, j) = (db.url.clone(), journal.clone());
    let recorder = first
        .spawn(async move {
            let store = Store::connect(&url).await.unwrap();
            StoreRecorder::start(store, 10, &j).unwrap()
        })
        .await
        .unwrap();
    (first, recorder)
}

pub async fn a_crash_during_an_outage_is_written_once_at_the_next_start(backend: Backend) {
    let (db, m, halls) = meeting(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    break_writes(&db).await;
    let (first, recorder) = first_run(&db, &journal).await;
    let expected = script(recorder.as_ref(), m, &halls, 7);
    until("everything is journaled while writes fail", || {
        let h = recorder.health();
        h.failed_attempts > 0 && h.pending == SCRIPTED
    })
    .await;
    // A copy of the journal as it is now: what a crash after the writes came back but
    // before the journal was emptied would leave (every line already written).
    let copy = dir.path().join("copy");
    std::fs::copy(&journal.path, &copy).unwrap();
    first.shutdown_background();
    drop(recorder);

    // The next start, with the database back: the journal is written first, once.
    mend_writes(&db).await;
    let second = StoreRecorder::start(db.store.clone(), 10, &journal).unwrap();
    assert!(second.health().degraded, "changes of a previous run wait");
    assert!(second.flush(Duration::from_secs(30)).await);
    assert!(!second.health().degraded);
    assert_written_once(&db.store, m, &expected).await;

    // The same lines again (a crash before the journal was emptied): nothing doubles.
    std::fs::copy(&copy, &journal.path).unwrap();
    let third = StoreRecorder::start(db.store.clone(), 10, &journal).unwrap();
    assert!(third.flush(Duration::from_secs(30)).await);
    assert_written_once(&db.store, m, &expected).await;
    assert_eq!(third.health().journal_bytes, 0);
    db.cleanup().await;
}

/// How a hall's intervals at a meeting ended, oldest first (`None`: still open).
async fn endings(store: &Store, meeting: i64, hall_id: i64) -> Vec<Option<String>> {
    let admin = store.principal_by_username("admin").await.unwrap();
    let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
    let row = rows.iter().find(|r| r.hall.hall_id == hall_id).unwrap();
    row.timeline.iter().map(|i| i.end_reason.clone()).collect()
}

/// A crash leaves two halls' intervals open and one hall's leave in the journal, not
/// yet written. At the next start the replay is held up (the database refuses writes):
/// the start-up recovery must wait for it — closing the leaving hall's interval early
/// would record `server_restart` and lose its real leave — and run once it is written.
pub async fn the_start_up_recovery_waits_for_the_journal(backend: Backend) {
    let (db, m, halls) = meeting(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let (first, recorder) = first_run(&db, &journal).await;
    let (leaving, staying) = (halls[1], halls[2]);
    let at = scheduler::time::now();
    let rec = |kind| {
        recorder.record(PresenceChange {
            meeting_id: m,
            at,
            kind,
        })
    };
    rec(PresenceKind::MeetingStarted {
        by: Actor::Hall { hall_id: halls[0] },
    });
    rec(PresenceKind::Joined { hall_id: leaving });
    rec(PresenceKind::Joined { hall_id: staying });
    assert!(
        recorder.flush(Duration::from_secs(30)).await,
        "joins written"
    );
    break_writes(&db).await;
    rec(PresenceKind::Left {
        hall_id: leaving,
        reason: LeaveReason::Left,
    });
    until("the leave is journaled, not written", || {
        let h = recorder.health();
        h.failed_attempts > 0 && h.pending == 1
    })
    .await;
    first.shutdown_background();
    drop(recorder);

    // The next start: the database still refuses the replay for a while.
    let second = StoreRecorder::start(db.store.clone(), 10, &journal).unwrap();
    assert!(
        !second.flush(Duration::from_millis(500)).await,
        "not done while writes fail"
    );
    assert_eq!(
        endings(&db.store, m, leaving).await,
        [None],
        "leave not yet written"
    );
    assert_eq!(
        endings(&db.store, m, staying).await,
        [None],
        "the recovery waits behind the replay"
    );
    mend_writes(&db).await;
    assert!(
        second.flush(Duration::from_secs(30)).await,
        "replayed, then recovered"
    );
    assert_eq!(
        endings(&db.store, m, leaving).await,
        [Some("left".to_string())],
        "the journal's leave, not a restart"
    );
    assert_eq!(
        endings(&db.store, m, staying).await,
        [Some("server_restart".to_string())],
        "left open by the crash: closed by the recovery"
    );
    db.cleanup().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(scheduler::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(scheduler::Backend::Postgres).await } )*
        }
    };
}

/// A change the database itself refuses (a headcount out of range) in the middle of a
/// burst: it alone is dropped (logged), every other change is written once, in order.
pub async fn a_refused_change_is_dropped_alone_and_the_rest_written_in_order(backend: Backend) {
    let (db, m, halls) = meeting(backend).await;
    let recorder = StoreRecorder::spawn(db.store.clone(), 10);
    let at = scheduler::time::now();
    let rec = |kind| {
        recorder.record(PresenceChange {
            meeting_id: m,
            at,
            kind,
        })
    };
    let mut expected = vec!["meeting_started".to_string()];
    rec(PresenceKind::MeetingStarted {
        by: Actor::Hall { hall_id: halls[0] },
    });
    for &hall_id in &halls {
        rec(PresenceKind::Joined { hall_id });
        expected.push("join".into());
    }
    for (i, &hall_id) in halls.iter().enumerate() {
        let people = if i == 2 { -1 } else { 10 + i as i64 };
        rec(PresenceKind::Headcount { hall_id, people });
        if people >= 0 {
            expected.push("headcount".into());
        }
    }
    assert!(recorder.flush(Duration::from_secs(30)).await, "all done");
    let health = recorder.health();
    assert_eq!((health.pending, health.written), (0, expected.len() as u64));
    assert!(!health.degraded, "a refusal is not an outage");
    let events = db.store.live_events(m).await.unwrap();
    let kinds: Vec<String> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds, expected);
    let counts: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "headcount")
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(
        counts,
        ["10", "11", "13", "14"],
        "every good headcount, in order"
    );
    assert_eq!(
        db.store.written_changes(m).await.unwrap(),
        expected.len() as i64
    );
    db.cleanup().await;
}

on_both_backends!(
    an_outage_loses_nothing_and_keeps_order,
    a_crash_during_an_outage_is_written_once_at_the_next_start,
    a_refused_change_is_dropped_alone_and_the_rest_written_in_order,
    the_start_up_recovery_waits_for_the_journal,
);
