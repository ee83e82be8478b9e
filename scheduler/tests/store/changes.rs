//! Recorded changes written many per transaction (`Store::write_changes`, the attendance
//! writer's path): in order, each id once, and all or nothing.

use scheduler::attendance::RollCallStatus;
use scheduler::changes::{Change, RecordedChange, Written};
use scheduler::testing::province_meeting_now;
use scheduler::time::now;
use scheduler::{Backend, Level};

use crate::support::demo_db;

fn change(id: &str, meeting_id: i64, change: Change) -> RecordedChange {
    RecordedChange {
        id: id.into(),
        meeting_id,
        at: now(),
        change,
    }
}

pub async fn a_batch_is_written_in_order_once_and_all_or_nothing(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let m = province_meeting_now(s, "Giao ban", &[Level::Province, Level::District])
        .await
        .expect("scheduled")
        .id;
    let halls: Vec<i64> = s
        .invited_halls(m)
        .await
        .unwrap()
        .iter()
        .map(|h| h.hall_id)
        .take(3)
        .collect();
    let mut batch = vec![change("r-1", m, Change::MeetingStarted { by: None })];
    for (i, &hall_id) in halls.iter().enumerate() {
        let join = Change::Join {
            hall_id,
            grace_secs: 10,
        };
        batch.push(change(&format!("r-j{i}"), m, join));
    }
    // A roll call and its answers in the same transaction: the answers find it.
    batch.push(change("r-rc", m, Change::RollCallStarted { by: None }));
    for (i, &hall_id) in halls.iter().enumerate() {
        let answer = Change::RollCallAnswered {
            roll_call: "r-rc".into(),
            hall_id,
            status: RollCallStatus::Present,
            reason: String::new(),
            by: None,
        };
        batch.push(change(&format!("r-a{i}"), m, answer));
    }
    let written = s.write_changes(&batch).await.expect("written");
    assert_eq!(written, vec![Written::Now; batch.len()]);
    let kinds = |events: Vec<scheduler::live::LiveEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.kind).collect()
    };
    let expected = [
        "meeting_started",
        "join",
        "join",
        "join",
        "roll_call_started",
        "roll_call_answer",
        "roll_call_answer",
        "roll_call_answer",
    ];
    assert_eq!(kinds(s.live_events(m).await.unwrap()), expected);

    // A replay of the batch with one new change (and that change twice): only it is written.
    let headcount = change(
        "r-h",
        m,
        Change::Headcount {
            hall_id: halls[0],
            people: 25,
        },
    );
    let mut again = batch.clone();
    again.push(headcount.clone());
    again.push(headcount);
    let written = s.write_changes(&again).await.expect("written");
    let mut want = vec![Written::Before; batch.len()];
    want.extend([Written::Now, Written::Before]);
    assert_eq!(written, want);
    let events = kinds(s.live_events(m).await.unwrap());
    assert_eq!(&events[..expected.len()], expected);
    assert_eq!(&events[expected.len()..], ["headcount"]);
    assert_eq!(s.written_changes(m).await.unwrap(), batch.len() as i64 + 1);

    // A change the database refuses in the middle: the batch writes nothing, and the
    // error says no retry helps (the writer then writes its changes one by one).
    let refused = [
        change(
            "r-h2",
            m,
            Change::Headcount {
                hall_id: halls[1],
                people: 30,
            },
        ),
        change(
            "r-bad",
            m,
            Change::Headcount {
                hall_id: halls[2],
                people: -1,
            },
        ),
    ];
    let err = s.write_changes(&refused).await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(kinds(s.live_events(m).await.unwrap()).len(), events.len());
    assert_eq!(s.written_changes(m).await.unwrap(), batch.len() as i64 + 1);
    db.cleanup().await;
}
