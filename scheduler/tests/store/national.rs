//! Both trees under a country root (issue 13 items 4 and 5): the levels offered per date,
//! per-level counts, the national scope on the 2025 tree, and who may schedule it.
//! Expected figures are counted from the CSV files here, never written down.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use scheduler::demo::{province_subset, PHU_THO, UNITS_2024_CSV, UNITS_2025_CSV};
use scheduler::national::{with_country_root, CountryRoot};
use scheduler::testing::TestDb;
use scheduler::time::now;
use scheduler::{
    Backend, Error, ImportOptions, Level, MeetingDraft, MeetingKind, NewAccount, Role, Store,
};

use crate::support::{demo_hash, scope, who};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// The last day of the three-tier tree and the first of the two-tier one.
fn reform() -> (NaiveDate, NaiveDate) {
    (day(2025, 6, 30), day(2025, 7, 1))
}

/// Rows of a unit file per level, counted from its `level` column.
fn per_level(csv: &[u8]) -> BTreeMap<Level, usize> {
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(csv).lines().skip(1) {
        let level = line.split(',').nth(2).and_then(Level::parse);
        *out.entry(level.expect("a level column")).or_default() += 1;
    }
    out
}

/// A fresh database holding the 2024 tree (valid to 2025-06-30) and the 2025 tree
/// (valid from 2025-07-01), both under the default country root, with one hall per unit
/// of either tree (none for the country unit).
async fn both_trees(backend: Backend) -> TestDb {
    let db = TestDb::new(backend).await.expect("a fresh test database");
    let (last, first) = reform();
    let country = CountryRoot::default();
    for (csv, options) in [
        (
            UNITS_2024_CSV,
            ImportOptions {
                valid_to: Some(last),
                ..ImportOptions::default()
            },
        ),
        (
            UNITS_2025_CSV,
            ImportOptions {
                valid_from: first,
                ..ImportOptions::default()
            },
        ),
    ] {
        let rooted = with_country_root(csv, &country).expect("a country root added");
        db.store
            .import_units(&rooted, options, |_, _| {})
            .await
            .expect("the tree imports");
    }
    db.execute(
        "INSERT INTO halls (unit_id, name, feed_token, active, created_at)
         SELECT id, 'Điểm cầu ' || name, 'national-' || id, 1, 0 FROM units WHERE level <> 'country'",
    )
    .await
    .expect("one hall per unit");
    db
}

fn counts(tiers: &[scheduler::Tier]) -> Vec<(Level, i64, i64)> {
    tiers.iter().map(|t| (t.level, t.units, t.halls)).collect()
}

fn expected(csv: &[u8]) -> Vec<(Level, i64, i64)> {
    per_level(csv)
        .into_iter()
        .map(|(l, n)| (l, n as i64, n as i64))
        .collect()
}

async fn country(store: &Store, date: NaiveDate) -> scheduler::Unit {
    store
        .unit_by_code(&CountryRoot::default().code, date)
        .await
        .expect("the country root")
}

pub async fn the_levels_offered_follow_the_date(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let (before, after) = (day(2025, 3, 1), day(2026, 3, 1));
    let phu_tho_2024 = s.unit_by_code(PHU_THO, before).await.unwrap();

    // Before the reform: three tiers, the counts of the 2024 file.
    let old = s.tiers(&phu_tho_2024, before).await.unwrap();
    let old_csv = province_subset(UNITS_2024_CSV, PHU_THO);
    assert_eq!(counts(&old), expected(&old_csv));
    assert!(old.iter().any(|t| t.level == Level::District));

    // After it: the same province (by code) is another unit, with two tiers only.
    let phu_tho_2025 = s.unit_on(phu_tho_2024.id, after).await.unwrap();
    assert_ne!(phu_tho_2025.id, phu_tho_2024.id);
    assert_eq!(phu_tho_2025.code, PHU_THO);
    assert_eq!(
        s.unit_on(phu_tho_2025.id, after).await.unwrap().id,
        phu_tho_2025.id
    );
    let new = s.tiers(&phu_tho_2025, after).await.unwrap();
    let new_csv = province_subset(UNITS_2025_CSV, PHU_THO);
    assert_eq!(counts(&new), expected(&new_csv));
    let levels: Vec<Level> = new.iter().map(|t| t.level).collect();
    assert_eq!(levels, [Level::Province, Level::Commune]);

    // A district has no successor: it does not exist on a date after the reform.
    let tan_son = s.unit_by_code("240", before).await.unwrap();
    match s.unit_on(tan_son.id, after).await {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "date"),
        other => panic!("expected an invalid date, got {other:?}"),
    }

    // The whole country on each side of the reform, the root itself counted.
    let mut national = vec![(Level::Country, 1, 0)];
    national.extend(expected(UNITS_2025_CSV));
    let root = country(s, after).await;
    assert_eq!(counts(&s.tiers(&root, after).await.unwrap()), national);
    let mut national_2024 = vec![(Level::Country, 1, 0)];
    national_2024.extend(expected(UNITS_2024_CSV));
    let root_2024 = country(s, before).await;
    assert_eq!(
        counts(&s.tiers(&root_2024, before).await.unwrap()),
        national_2024
    );
    db.cleanup().await;
}

pub async fn a_scope_asking_for_a_level_gone_on_its_date_is_refused(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let after = day(2026, 3, 1);
    let phu_tho = s.unit_by_code(PHU_THO, after).await.unwrap();
    let all = [Level::Province, Level::District, Level::Commune];
    match s.resolve_scope(&scope(phu_tho.id, &all), None, after).await {
        Err(Error::LevelNotOnDate { level, date, .. }) => {
            assert_eq!((level, date), (Level::District, after))
        }
        other => panic!("expected the district level refused, got {other:?}"),
    }
    // Without it the preview counts each level on that date.
    let two = [Level::Province, Level::Commune];
    let preview = s
        .resolve_scope(&scope(phu_tho.id, &two), None, after)
        .await
        .unwrap();
    let csv = per_level(&province_subset(UNITS_2025_CSV, PHU_THO));
    let want: BTreeMap<String, usize> = csv
        .iter()
        .map(|(l, n)| (l.as_str().to_string(), *n))
        .collect();
    assert_eq!(preview.per_level, want);
    assert_eq!(preview.total, csv.values().sum::<usize>());

    // The 2024 province with all three levels on a date before the reform is fine.
    let before = day(2025, 3, 1);
    let old = s.unit_by_code(PHU_THO, before).await.unwrap();
    let preview = s
        .resolve_scope(&scope(old.id, &all), None, before)
        .await
        .unwrap();
    let old_rows = per_level(&province_subset(UNITS_2024_CSV, PHU_THO));
    assert_eq!(preview.total, old_rows.values().sum::<usize>());
    db.cleanup().await;
}

pub async fn a_national_scope_resolves_every_province_and_commune(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let after = day(2026, 3, 1);
    let root = country(s, after).await;
    let rows = per_level(UNITS_2025_CSV);
    let preview = s
        .resolve_scope(
            &scope(root.id, &[Level::Province, Level::Commune]),
            None,
            after,
        )
        .await
        .unwrap();
    assert_eq!(
        preview.total,
        rows[&Level::Province] + rows[&Level::Commune],
        "{:?}",
        preview.per_level
    );
    assert_eq!(preview.per_level["province"], rows[&Level::Province]);
    // The same root asked for districts on that date is refused.
    let with_district = [Level::Province, Level::District, Level::Commune];
    assert!(matches!(
        s.resolve_scope(&scope(root.id, &with_district), None, after)
            .await,
        Err(Error::LevelNotOnDate {
            level: Level::District,
            ..
        })
    ));
    db.cleanup().await;
}

pub async fn only_the_national_secretariat_schedules_national_meetings(backend: Backend) {
    let db = both_trees(backend).await;
    let s = &db.store;
    let today = scheduler::time::local_date(now());
    let (before, _) = reform();
    let root = country(s, today).await;
    let seat = s
        .create_hall(root.id, "Hội trường Chính phủ")
        .await
        .unwrap();
    // The national secretariat owns the country unit; the province's owns Phú Thọ of the
    // 2024 tree, whose path (/0/25/) still covers Phú Thọ of the 2025 tree.
    let phu_tho_2024 = s.unit_by_code(PHU_THO, before).await.unwrap();
    for (username, unit_id) in [("vp.quocgia", root.id), ("vp.tinh", phu_tho_2024.id)] {
        let account = NewAccount {
            username: username.into(),
            display_name: format!("Văn phòng {username}"),
            role: Role::Secretariat { unit_id },
        };
        s.create_account(account, demo_hash()).await.unwrap();
    }
    let start = now() + 7 * 24 * 3600;
    let national = MeetingDraft {
        title: "Hội nghị trực tuyến toàn quốc".into(),
        description: String::new(),
        kind: MeetingKind::NationalRelay,
        host_hall_id: seat.id,
        starts_at: start,
        ends_at: start + 3 * 3600,
        scope: scope(root.id, &[Level::Province, Level::Commune]),
        recurrence: None,
    };
    let province = who(s, "vp.tinh").await;
    match s.schedule(&province, national.clone(), None).await {
        Err(Error::Forbidden(why)) => assert!(why.contains("national"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        s.authorize_scope(&province, &national.scope, None).await,
        Err(Error::Forbidden(_))
    ));
    // The province may schedule its own two-tier meeting on today's tree.
    let phu_tho = s.unit_by_code(PHU_THO, today).await.unwrap();
    let own_host = s
        .halls_in(&phu_tho.path)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.unit_id == phu_tho.id)
        .expect("the 2025 province hall");
    let mut own = national.clone();
    own.title = "Giao ban trực tuyến toàn tỉnh".into();
    own.kind = MeetingKind::Routine;
    own.host_hall_id = own_host.id;
    own.scope = scope(phu_tho.id, &[Level::Province, Level::Commune]);
    own.starts_at += 4 * 3600;
    own.ends_at += 4 * 3600;
    let created = s.schedule(&province, own, None).await.unwrap();
    let rows = per_level(&province_subset(UNITS_2025_CSV, PHU_THO));
    assert_eq!(created[0].invited as usize, rows.values().sum::<usize>());

    // The national secretariat schedules it: every province and commune, and its host.
    let nation = who(s, "vp.quocgia").await;
    let created = s.schedule(&nation, national, None).await.unwrap();
    let all = per_level(UNITS_2025_CSV);
    assert_eq!(
        created[0].invited as usize,
        all[&Level::Province] + all[&Level::Commune] + 1
    );
    db.cleanup().await;
}
