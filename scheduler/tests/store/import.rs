//! Unit import: real counts, idempotence, all-or-nothing on a broken file, diacritic-free search.

use scheduler::demo::UNITS_2024_CSV;
use scheduler::testing::TestDb;
use scheduler::{Backend, Error, ImportOptions, Level};

use crate::support::today;

pub async fn the_2024_file_gives_the_real_counts_and_reimport_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let first = db
        .store
        .import_units(UNITS_2024_CSV, ImportOptions::default(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(first.per_level.get("province"), Some(&63));
    assert_eq!(first.per_level.get("district"), Some(&696));
    assert_eq!(first.per_level.get("commune"), Some(&10051));
    assert_eq!(first.inserted, 10810);
    let counts = db.store.unit_counts(today()).await.unwrap();
    assert_eq!(
        counts,
        vec![
            (Level::Province, 63),
            (Level::District, 696),
            (Level::Commune, 10051)
        ]
    );

    let again = db
        .store
        .import_units(UNITS_2024_CSV, ImportOptions::default(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (again.inserted, again.updated, again.unchanged),
        (0, 0, 10810)
    );
    assert_eq!(db.store.unit_counts(today()).await.unwrap(), counts);
    db.cleanup().await;
}

pub async fn a_broken_file_changes_nothing_and_names_the_line(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let text = String::from_utf8(UNITS_2024_CSV.to_vec()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    // Line 5001 of the file (header is line 1) gets a level that does not exist.
    let broken_row = lines[5000].replacen(",commune,", ",hamlet,", 1);
    lines[5000] = &broken_row;
    let broken = lines.join("\n");
    match db
        .store
        .import_units(broken.as_bytes(), ImportOptions::default(), |_, _| {})
        .await
    {
        Err(Error::Import {
            line,
            column,
            message,
        }) => {
            assert_eq!(line, 5001);
            assert_eq!(column, "level");
            assert!(message.contains("hamlet"), "{message}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    assert!(
        db.store.unit_counts(today()).await.unwrap().is_empty(),
        "nothing written"
    );

    // A parent that is missing is found too, after a good import: still nothing changes.
    db.store
        .import_units(UNITS_2024_CSV, ImportOptions::default(), |_, _| {})
        .await
        .unwrap();
    let orphan = format!("{text}99999,998,commune,xã,Xã Không Có\n");
    let err = db
        .store
        .import_units(orphan.as_bytes(), ImportOptions::default(), |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Import { line: 10812, ref column, .. } if column == "parent_code"),
        "{err:?}"
    );
    let communes = db.store.unit_counts(today()).await.unwrap()[2];
    assert_eq!(communes, (Level::Commune, 10051));
    db.cleanup().await;
}

pub async fn search_finds_names_without_diacritics(backend: Backend) {
    let db = crate::support::demo_db(backend).await;
    let found = db
        .store
        .search_units("tan son", today(), None, 20)
        .await
        .unwrap();
    let names: Vec<&str> = found.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"Huyện Tân Sơn"), "{names:?}");
    assert!(names.contains(&"Xã Tân Sơn"), "{names:?}");
    assert!(db
        .store
        .search_units("viet tri", today(), None, 5)
        .await
        .unwrap()
        .iter()
        .any(|u| u.name == "Thành phố Việt Trì"));
    assert!(db
        .store
        .search_units("%", today(), None, 5)
        .await
        .unwrap()
        .is_empty());
    db.cleanup().await;
}

/// A unit import while a live meeting's attendance is being written: both succeed (the
/// import's transaction waits for the write lock instead of failing "database is locked").
pub async fn an_import_while_attendance_is_written_succeeds(backend: Backend) {
    use scheduler::{Level, MeetingDraft, MeetingKind};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let db = crate::support::demo_db(backend).await;
    let s = db.store.clone();
    let admin = crate::support::who(&s, "admin").await;
    let province = crate::support::unit_id(&s, "25").await;
    let host = crate::support::hall_of(&s, "25").await.id;
    let start = scheduler::time::now() + 3600;
    let draft = MeetingDraft {
        title: "Giao ban".into(),
        description: String::new(),
        kind: MeetingKind::Routine,
        host_hall_id: host,
        starts_at: start,
        ends_at: start + 3600,
        scope: crate::support::scope(province, &[Level::Province]),
        recurrence: None,
    };
    let m = s.schedule(&admin, draft, None).await.unwrap().remove(0).id;
    // Hà Nội's first 600 units: a tree of its own (province, its districts, their communes).
    let text = String::from_utf8(UNITS_2024_CSV.to_vec()).unwrap();
    let slice: Vec<&str> = text.lines().take(601).collect();
    let slice = slice.join("\n");

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (s, stop) = (s.clone(), stop.clone());
        async move {
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                s.record_headcount(m, host, 40, start).await.unwrap();
                written += 1;
            }
            written
        }
    });
    let mut reports = Vec::new();
    for _ in 0..3 {
        let report = s
            .import_units(slice.as_bytes(), ImportOptions::default(), |_, _| {})
            .await;
        reports.push(report.map(|r| r.inserted + r.unchanged));
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    let headcounts = writer.await.unwrap();
    assert!(headcounts > 0, "attendance was written meanwhile");
    for r in reports {
        assert_eq!(r.unwrap(), 600, "every import went through");
    }
    db.cleanup().await;
}
