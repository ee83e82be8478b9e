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

/// A small 2025-style tree: Phú Thọ and four communes.
const SMALL_2025: &str = "code,parent_code,level,division_type,name
25,,province,tỉnh,Tỉnh Phú Thọ
07900,25,commune,xã,Xã Thu Cúc
07909,25,commune,xã,Xã Lai Đồng
07912,25,commune,xã,Xã Tân Sơn
07918,25,commune,xã,Xã Minh Đài
";

fn from_2025() -> ImportOptions {
    ImportOptions {
        valid_from: "2025-07-01".parse().unwrap(),
        valid_to: None,
    }
}

/// The statistics office renumbers communes: a re-import keeps each unit (and its hall)
/// under its new code, follows names when two codes swap, and reports what changed.
pub async fn a_reimport_with_new_codes_updates_and_reports(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let s = &db.store;
    let on = "2026-01-01".parse().unwrap();
    s.import_units(SMALL_2025.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap();
    let thu_cuc = s.unit_by_code("07900", on).await.unwrap();
    let hall = s
        .create_hall(thu_cuc.id, "Điểm cầu UBND xã Thu Cúc")
        .await
        .unwrap();
    let lai_dong = s.unit_by_code("07909", on).await.unwrap().id;
    let tan_son = s.unit_by_code("07912", on).await.unwrap().id;

    // Thu Cúc gets a new code; Lai Đồng and Tân Sơn swap theirs; Minh Đài is gone; a new
    // commune arrives; the province's name loses its prefix.
    let edited = "code,parent_code,level,division_type,name
25,,province,tỉnh,Phú Thọ
07901,25,commune,xã,Xã Thu Cúc
07912,25,commune,xã,Xã Lai Đồng
07909,25,commune,xã,Xã Tân Sơn
07920,25,commune,xã,Xã Kiệt Sơn
";
    let report = s
        .import_units(edited.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap();
    let changes: Vec<(&str, &str)> = report
        .code_changes
        .iter()
        .map(|c| (c.old_code.as_str(), c.new_code.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![("07900", "07901"), ("07909", "07912"), ("07912", "07909")]
    );
    assert_eq!(report.removed.len(), 1);
    assert_eq!(report.removed[0].name, "Xã Minh Đài");
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (1, 4, 0)
    );
    assert_eq!(report.changed.get("code"), Some(&3));
    assert_eq!(report.changed.get("name"), Some(&1));
    // The hall stayed with its commune, now under the new code.
    let hall = s.hall(hall.id).await.unwrap();
    assert_eq!(hall.unit_id, thu_cuc.id);
    assert_eq!(s.unit(thu_cuc.id).await.unwrap().code, "07901");
    assert_eq!(s.unit_by_code("07912", on).await.unwrap().id, lai_dong);
    assert_eq!(s.unit_by_code("07909", on).await.unwrap().id, tan_son);
    assert_eq!(
        s.unit_by_code("07920", on).await.unwrap().name,
        "Xã Kiệt Sơn"
    );

    // Again: nothing changes.
    let again = s
        .import_units(edited.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 5));
    assert!(again.code_changes.is_empty() && again.removed.is_empty());

    // A commune with a hall cannot silently disappear: the import is refused, nothing written.
    let without_thu_cuc: String = edited
        .lines()
        .filter(|l| !l.contains("Thu Cúc"))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = s
        .import_units(without_thu_cuc.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unit_in_use"), "{err}");
    assert!(err.to_string().contains("07901"), "{err}");
    assert_eq!(s.unit(thu_cuc.id).await.unwrap().code, "07901");
    db.cleanup().await;
}

/// One code, one version of the tree on any day: an open-ended 2024 tree and a 2025 tree
/// from 1 July 2025 overlap, and the error says how to close the first.
pub async fn overlapping_validity_is_refused_with_its_code(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let s = &db.store;
    let phu_tho_2024 = scheduler::demo::province_subset(UNITS_2024_CSV, "25");
    s.import_units(&phu_tho_2024, ImportOptions::default(), |_, _| {})
        .await
        .unwrap();
    let err = s
        .import_units(SMALL_2025.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap_err();
    match &err {
        Error::Import {
            line,
            column,
            message,
        } => {
            assert_eq!((*line, column.as_str()), (2, "code"));
            assert!(
                message.starts_with("validity_overlap: code 25"),
                "{message}"
            );
            assert!(message.contains("valid_to"), "{message}");
        }
        other => panic!("expected an import error, got {other:?}"),
    }
    let in_2026 = s.unit_counts("2026-01-01".parse().unwrap()).await.unwrap();
    assert_eq!(
        in_2026,
        vec![
            (Level::Province, 1),
            (Level::District, 13),
            (Level::Commune, 207)
        ],
        "nothing written"
    );
    // Closing the 2024 tree on 30 June 2025 makes room for the 2025 one.
    let close = ImportOptions {
        valid_to: Some("2025-06-30".parse().unwrap()),
        ..ImportOptions::default()
    };
    let closed = s
        .import_units(&phu_tho_2024, close, |_, _| {})
        .await
        .unwrap();
    assert_eq!(closed.changed.get("valid_to"), Some(&(closed.updated)));
    assert_eq!(closed.updated, 221);
    s.import_units(SMALL_2025.as_bytes(), from_2025(), |_, _| {})
        .await
        .unwrap();
    let on = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let old = s.unit_by_code("25", on("2025-06-30")).await.unwrap();
    let new = s.unit_by_code("25", on("2025-07-01")).await.unwrap();
    assert_ne!(old.id, new.id);
    db.cleanup().await;
}
