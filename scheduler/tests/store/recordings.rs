//! Recordings as records: written when they start and end, listed to the meeting's own
//! staff only, deleted by an administrator only (file removed, logged), crash-left rows
//! interrupted at start-up by their own node, old ones expired by the retention sweep —
//! and migration 0011 reaches a database already at 0013.

use std::path::Path;
use std::time::Duration;

use scheduler::recordings::RecordingState;
use scheduler::time::now;
use scheduler::{Backend, Error, Level, MeetingDraft, MeetingKind, Store};
use sqlx::{AnyConnection, Connection, Executor};

use crate::support::{demo_db, hall_of, scope, unit_id, who};

async fn tan_son_meeting(s: &Store) -> i64 {
    let admin = who(s, "admin").await;
    let start = now() + 600;
    let draft = MeetingDraft {
        title: "Giao ban huyện Tân Sơn".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: hall_of(s, "240").await.id,
        starts_at: start,
        ends_at: start + 7200,
        scope: scope(unit_id(s, "240").await, &[Level::Commune]),
        recurrence: None,
    };
    s.schedule(&admin, draft, None).await.unwrap().remove(0).id
}

/// Writes `bytes` bytes at `file` under `dir`, making its folder.
fn write(dir: &Path, file: &str, bytes: usize) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![7u8; bytes]).unwrap();
}

/// The kinds of the meeting's history entries, with their account.
async fn history(s: &Store, m: i64) -> Vec<(String, Option<i64>, String)> {
    let admin = who(s, "admin").await;
    s.meeting_events(&admin, m)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("recording"))
        .map(|e| (e.kind, e.account_id, e.detail))
        .collect()
}

pub async fn recordings_are_listed_to_the_owning_staff_and_end_as_told(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let m = tan_son_meeting(s).await;
    let owner = who(s, "vp.tanson").await;
    let foreign = who(s, "vp.doanhung").await;
    let hall = who(s, "dc.240").await;

    let a = s
        .recording_started(m, &format!("{m}/{m}-1.webm"), "Hội trường UBND huyện")
        .await
        .unwrap();
    let b = s
        .recording_started(m, &format!("{m}/{m}-2.webm"), "vp.tanson")
        .await
        .unwrap();
    let list = s.recordings(&owner, m).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].status, RecordingState::Recording);
    assert_eq!(list[0].started_by, "Hội trường UBND huyện");
    assert_eq!((list[0].ended_at, list[0].bytes), (None, None));
    assert_eq!(list[0].node_id, "local");

    s.recording_ended(a, Duration::from_millis(61_500), 4_200_000, None)
        .await
        .unwrap();
    s.recording_ended(
        b,
        Duration::from_secs(3),
        1000,
        Some("recording_write_failed"),
    )
    .await
    .unwrap();
    // A second end changes nothing; an unknown recording is not found.
    s.recording_ended(a, Duration::from_secs(1), 1, Some("late"))
        .await
        .unwrap();
    assert!(matches!(
        s.recording_ended(a + b + 100, Duration::ZERO, 0, None)
            .await,
        Err(Error::NotFound(_))
    ));

    let list = s.recordings(&owner, m).await.unwrap();
    assert_eq!(list[0].status, RecordingState::Finished);
    assert_eq!(
        (
            list[0].duration_ms,
            list[0].bytes,
            list[0].error_code.as_deref()
        ),
        (Some(61_500), Some(4_200_000), None)
    );
    assert!(list[0].ended_at.unwrap() >= list[0].started_at);
    assert_eq!(list[1].status, RecordingState::Failed);
    assert_eq!(
        list[1].error_code.as_deref(),
        Some("recording_write_failed")
    );
    assert_eq!(s.recording(&owner, a).await.unwrap(), list[0]);

    // Another district's secretariat does not know the meeting; a hall may not list.
    assert!(matches!(
        s.recordings(&foreign, m).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.recording(&foreign, a).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.recordings(&hall, m).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        s.recording(&hall, a).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(s.recordings(&who(s, "admin").await, m).await.unwrap(), list);

    // A file outside the directory is never written down.
    for bad in ["/etc/passwd", "../x.webm", ""] {
        assert!(matches!(
            s.recording_started(m, bad, "x").await,
            Err(Error::Invalid { .. })
        ));
    }
}

pub async fn an_administrator_deletes_a_recording_its_file_gone_and_logged(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let m = tan_son_meeting(s).await;
    let owner = who(s, "vp.tanson").await;
    let admin = who(s, "admin").await;
    let file = format!("{m}/{m}-1.webm");
    write(dir.path(), &file, 2048);
    let id = s.recording_started(m, &file, "vp.tanson").await.unwrap();

    // Not while it is being written.
    assert!(matches!(
        s.delete_recording(&admin, id, dir.path()).await,
        Err(Error::WrongState("recording_in_progress"))
    ));
    s.recording_ended(id, Duration::from_secs(10), 2048, None)
        .await
        .unwrap();
    // The owning secretariat may not delete.
    assert!(matches!(
        s.delete_recording(&owner, id, dir.path()).await,
        Err(Error::Forbidden(_))
    ));
    assert!(dir.path().join(&file).exists());

    let deleted = s.delete_recording(&admin, id, dir.path()).await.unwrap();
    assert_eq!(deleted.status, RecordingState::Deleted);
    assert!(!deleted.status.has_file());
    assert_eq!(deleted.deleted_by, Some(admin.account.display_name.clone()));
    assert!(deleted.deleted_at.is_some());
    assert!(!dir.path().join(&file).exists());
    // Listed as deleted, by whom.
    let listed = s.recordings(&owner, m).await.unwrap();
    assert_eq!(listed, vec![deleted]);
    let log = history(s, m).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].0.as_str(), log[0].1),
        ("recording_deleted", Some(admin.account.id))
    );
    assert!(log[0].2.contains(&file), "{}", log[0].2);

    assert!(matches!(
        s.delete_recording(&admin, id, dir.path()).await,
        Err(Error::Gone("recording_deleted"))
    ));
    assert!(matches!(
        s.delete_recording(&admin, id + 100, dir.path()).await,
        Err(Error::NotFound(_))
    ));
}

pub async fn a_crash_leaves_its_nodes_recordings_interrupted_with_their_size(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let m = tan_son_meeting(s).await;
    let owner = who(s, "vp.tanson").await;
    let mine = s.recording_started(m, "a/1.webm", "x").await.unwrap();
    let missing = s.recording_started(m, "a/2.webm", "x").await.unwrap();
    let other = s
        .clone()
        .with_node("node-b")
        .recording_started(m, "b/1.webm", "x")
        .await
        .unwrap();
    write(dir.path(), "a/1.webm", 1234);

    assert_eq!(s.interrupt_recordings(dir.path()).await.unwrap(), 2);
    let rec = |id| {
        let owner = &owner;
        async move { s.recording(owner, id).await.unwrap() }
    };
    let r = rec(mine).await;
    assert_eq!(
        (r.status, r.bytes, r.duration_ms),
        (RecordingState::Interrupted, Some(1234), None)
    );
    assert!(r.ended_at.unwrap() >= r.started_at);
    assert_eq!(rec(missing).await.bytes, Some(0));
    // Another node's recording is that node's to recover.
    assert_eq!(rec(other).await.status, RecordingState::Recording);
    assert_eq!(s.interrupt_recordings(dir.path()).await.unwrap(), 0);
    let log = history(s, m).await;
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|(kind, by, _)| kind == "recording_interrupted" && by.is_none()));
}

pub async fn retention_expires_old_recordings_and_removes_their_files(backend: Backend) {
    let db = demo_db(backend).await;
    let s = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let m = tan_son_meeting(s).await;
    let owner = who(s, "vp.tanson").await;
    let admin = who(s, "admin").await;
    let ended = |id| s.recording_ended(id, Duration::from_secs(5), 10, None);
    let old = s.recording_started(m, "old.webm", "x").await.unwrap();
    ended(old).await.unwrap();
    let gone = s.recording_started(m, "gone.webm", "x").await.unwrap();
    ended(gone).await.unwrap();
    let running = s.recording_started(m, "running.webm", "x").await.unwrap();
    for f in ["old.webm", "gone.webm", "running.webm"] {
        write(dir.path(), f, 10);
    }
    s.delete_recording(&admin, gone, dir.path()).await.unwrap();

    // 0 days keeps everything; within the period nothing expires.
    let later = now() + 31 * 86_400;
    assert_eq!(s.expire_recordings(dir.path(), 0, later).await.unwrap(), 0);
    assert_eq!(s.expire_recordings(dir.path(), 30, now()).await.unwrap(), 0);
    assert!(dir.path().join("old.webm").exists());

    assert_eq!(s.expire_recordings(dir.path(), 30, later).await.unwrap(), 1);
    let list = s.recordings(&owner, m).await.unwrap();
    let state = |id| list.iter().find(|r| r.id == id).unwrap().status;
    assert_eq!(state(old), RecordingState::Expired);
    assert_eq!(state(gone), RecordingState::Deleted);
    assert_eq!(state(running), RecordingState::Recording);
    assert!(!dir.path().join("old.webm").exists());
    assert!(dir.path().join("running.webm").exists());
    assert!(matches!(
        s.delete_recording(&admin, old, dir.path()).await,
        Err(Error::Gone("recording_expired"))
    ));
    let log = history(s, m).await;
    let expired: Vec<_> = log
        .iter()
        .filter(|(kind, _, _)| kind == "recording_expired")
        .collect();
    assert_eq!(expired.len(), 1);
    assert!(expired[0].1.is_none() && expired[0].2.contains("old.webm"));
    assert_eq!(s.expire_recordings(dir.path(), 30, later).await.unwrap(), 0);
}

pub async fn a_database_at_0013_without_0011_gets_it_at_the_next_start(backend: Backend) {
    let db = demo_db(backend).await;
    // As a database migrated before 0011 existed: 0012 and 0013 applied, 0011 not.
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    conn.execute("DROP TABLE recordings").await.unwrap();
    conn.execute("DELETE FROM _sqlx_migrations WHERE version = 11")
        .await
        .unwrap();
    conn.close().await.unwrap();

    let again = Store::connect(&db.url).await.unwrap();
    let m = tan_son_meeting(&again).await;
    let id = again.recording_started(m, "r.webm", "x").await.unwrap();
    let owner = who(&again, "vp.tanson").await;
    assert_eq!(again.recordings(&owner, m).await.unwrap()[0].id, id);
    again.close().await;
}
