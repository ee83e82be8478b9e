//! Recordings at start-up: the ones a crash left open are marked interrupted (with the
//! size their file reached) before the server listens, and the retention sweep expires
//! those past `recordings.retention_days` (file removed, logged).

use std::path::Path;
use std::time::Duration;

use hoinghi_tests::{demo_db, spawn_app_over};
use scheduler::{Backend, Level, MeetingDraft, MeetingKind, Scope};
use sqlx::{AnyConnection, Connection, Executor};

use crate::recordings::pattern;

/// Writes `file` under `dir`, making its folder.
fn write(dir: &Path, file: &str, bytes: &[u8]) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn at_start_up_old_recordings_expire_and_open_ones_are_interrupted(backend: Backend) {
    // Rows written by a previous run: one finished ten days ago, one from yesterday, one
    // the run left open when it crashed.
    let db = demo_db(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let store = &db.store;
    let admin = store.principal_by_username("admin").await.unwrap();
    let date = scheduler::time::local_date(scheduler::time::now());
    let unit = store.unit_by_code("240", date).await.unwrap();
    let hall = store.halls_in(&unit.path).await.unwrap();
    let start = scheduler::time::now() + 600;
    let draft = MeetingDraft {
        title: "Giao ban có bản ghi cũ".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: hall.iter().find(|h| h.unit_id == unit.id).unwrap().id,
        starts_at: start,
        ends_at: start + 3600,
        scope: Scope {
            root_unit_id: unit.id,
            levels: [Level::Commune].into_iter().collect(),
            include_halls: Default::default(),
            exclude_halls: Default::default(),
        },
        recurrence: None,
    };
    let m = store
        .schedule(&admin, draft, None)
        .await
        .unwrap()
        .remove(0)
        .id;
    let mut ids = Vec::new();
    for (file, bytes) in [("old.webm", 300), ("recent.webm", 200), ("open.webm", 777)] {
        write(dir.path(), file, &pattern(bytes));
        ids.push(store.recording_started(m, file, "x").await.unwrap());
    }
    for id in &ids[..2] {
        store
            .recording_ended(*id, Duration::from_secs(60), 300, None)
            .await
            .unwrap();
    }
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    let aged = format!(
        "UPDATE recordings SET started_at = started_at - {} WHERE id = {}",
        10 * 86_400,
        ids[0]
    );
    conn.execute(aged.as_str()).await.unwrap();
    conn.close().await.unwrap();

    let app = spawn_app_over(db, |s| {
        s.recordings.dir = Some(dir.path().to_path_buf());
        s.recordings.retention_days = 7;
    })
    .await;
    let vp = app.login("vp.tanson").await;
    // The crash's row is closed before the server listens; the sweep runs at start-up.
    let swept = async {
        loop {
            let (_, body) = app
                .get(&format!("/api/v1/meetings/{m}/recordings"), Some(&vp))
                .await;
            if body["recordings"][0]["status"] == "expired" {
                break body["recordings"].as_array().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let list = tokio::time::timeout(Duration::from_secs(60), swept)
        .await
        .expect("the retention sweep runs at start-up");
    assert_eq!(list[1]["status"], "finished");
    assert_eq!(list[2]["status"], "interrupted");
    assert_eq!(list[2]["bytes"], 777);
    assert!(!dir.path().join("old.webm").exists());
    assert!(dir.path().join("recent.webm").exists() && dir.path().join("open.webm").exists());
    let (status, body) = app
        .get(&format!("/api/v1/recordings/{}/file", ids[0]), Some(&vp))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("recording_expired"))
    );
    let (_, events) = app
        .get(&format!("/api/v1/meetings/{m}/events"), Some(&vp))
        .await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("recording"))
        .collect();
    assert_eq!(kinds, ["recording_interrupted", "recording_expired"]);
    app.stop().await;
}

#[tokio::test]
async fn at_start_up_old_recordings_expire_and_open_ones_are_interrupted_sqlite() {
    at_start_up_old_recordings_expire_and_open_ones_are_interrupted(Backend::Sqlite).await
}

#[tokio::test]
async fn at_start_up_old_recordings_expire_and_open_ones_are_interrupted_postgres() {
    at_start_up_old_recordings_expire_and_open_ones_are_interrupted(Backend::Postgres).await
}
