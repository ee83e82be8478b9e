//! Scheduler benchmarks: unit import, nationwide scope resolution and conflict checks, per backend.
//!
//! A plain `main` that prints median/min/max wall-clock times (no assertions on time).
//! Run with `cargo bench -p scheduler --bench scheduler_bench`; see BENCHMARKS.md.
//! `-- national` runs only the national meeting on the 2025 tree (issue 13).

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveTime};
use scheduler::demo::{self, DemoOptions, PHU_THO, UNITS_2024_CSV, UNITS_2025_CSV};
use scheduler::national::{with_country_root, CountryRoot};
use scheduler::testing::TestDb;
use scheduler::time::{from_local, local_date, now};
use scheduler::{
    Backend, ImportOptions, Level, MeetingDraft, MeetingKind, NewAccount, Role, Scope,
};

/// Fresh-database imports per backend (each creates a database, so kept small).
const IMPORT_RUNS: usize = 5;
/// Runs of the cheap, repeatable operations.
const QUERY_RUNS: usize = 30;

/// Median, min and max of some timings, printed as one line against a target.
fn report(label: &str, target_ms: f64, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(times[times.len() / 2]);
    println!(
        "  {label:<44} median {median:>9.2} ms  min {:>9.2}  max {:>9.2}  (n={}, target < {target_ms} ms, median is {:.1}% of target)",
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        100.0 * median / target_ms,
    );
}

/// Times `runs` calls of `f`, after one untimed warm-up call when `warm_up` is set.
async fn time_runs<F, Fut>(runs: usize, warm_up: bool, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if warm_up {
        f().await;
    }
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        out.push(started.elapsed());
    }
    out
}

/// The 2024 file with a `country` unit above the provinces: the file has no root, and a
/// nationwide meeting needs one unit whose subtree is the whole country.
fn country_rooted_csv() -> Vec<u8> {
    with_country_root(UNITS_2024_CSV, &CountryRoot::default()).expect("a country root added")
}

fn scope(root_unit_id: i64, levels: &[Level]) -> Scope {
    Scope {
        root_unit_id,
        levels: levels.iter().copied().collect(),
        include_halls: Default::default(),
        exclude_halls: Default::default(),
    }
}

async fn fresh(backend: Backend) -> TestDb {
    TestDb::new(backend).await.expect("a fresh test database")
}

/// 1. Import of the whole 2024 tree into a fresh database, then the idempotent re-import.
async fn bench_import(backend: Backend) {
    let mut first = Vec::new();
    let mut again = Vec::new();
    for _ in 0..IMPORT_RUNS {
        let db = fresh(backend).await;
        let started = Instant::now();
        let r = db
            .store
            .import_units(UNITS_2024_CSV, ImportOptions::default(), |_, _| {})
            .await
            .expect("the 2024 file imports");
        first.push(started.elapsed());
        assert_eq!(r.inserted, 10_810, "every unit is new");
        for _ in 0..2 {
            let started = Instant::now();
            let r = db
                .store
                .import_units(UNITS_2024_CSV, ImportOptions::default(), |_, _| {})
                .await
                .expect("the re-import succeeds");
            again.push(started.elapsed());
            assert_eq!(r.unchanged, 10_810, "a re-import changes nothing");
        }
        db.cleanup().await;
    }
    report("import 2024 tree (10,810 units), fresh db", 2000.0, first);
    report("re-import, nothing changes", 2000.0, again);
}

/// 2. Resolution of a nationwide scope over 10,810 halls (one per unit).
async fn bench_scope(backend: Backend) {
    let db = fresh(backend).await;
    let s = &db.store;
    s.import_units(&country_rooted_csv(), ImportOptions::default(), |_, _| {})
        .await
        .expect("the country-rooted file imports");
    // Setup, not measured: one statement through a side pool (the store's pool is private).
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("side pool");
    sqlx::query(
        "INSERT INTO halls (unit_id, name, feed_token, active, created_at)
         SELECT id, 'Điểm cầu ' || name, 'bench-' || code, 1, 0 FROM units WHERE level <> 'country'",
    )
    .execute(&pool)
    .await
    .expect("halls inserted");
    pool.close().await;
    let today = local_date(now());
    let country = s
        .unit_by_code(&CountryRoot::default().code, today)
        .await
        .expect("root")
        .id;
    let levels = [Level::Province, Level::District, Level::Commune];
    let nationwide = scope(country, &levels);
    let total = s.resolve_scope(&nationwide, None, today).await.expect("ok");
    println!(
        "  (nationwide scope resolves to {} halls: {:?})",
        total.total, total.per_level
    );
    let times = time_runs(QUERY_RUNS, true, || async {
        let p = s.resolve_scope(&nationwide, None, today).await.expect("ok");
        assert_eq!(p.total, 10_810);
    })
    .await;
    report("resolve_scope, country root, 3 levels", 50.0, times);

    let mut provinces = Vec::new();
    for node in s.unit_children(Some(country), today).await.expect("ok") {
        provinces.push(scope(node.unit.id, &levels));
    }
    let times = time_runs(QUERY_RUNS / 3, true, || async {
        let mut n = 0;
        for p in &provinces {
            n += s.resolve_scope(p, None, today).await.expect("ok").total;
        }
        assert_eq!(n, 10_810);
    })
    .await;
    report("resolve_scope x63 provinces (sum)", 50.0, times);
    db.cleanup().await;
}

/// 3. Conflict check of a 221-hall Phú Thọ meeting against a year of weekly briefings.
async fn bench_conflicts(backend: Backend) {
    let db = fresh(backend).await;
    let s = &db.store;
    let hash = scheduler::hash_password("hoinghi-bench").expect("a hash");
    let options = DemoOptions {
        whole_country: false,
        meetings: false,
    };
    demo::seed(s, options, &hash).await.expect("demo seeds");
    let admin = s.principal_by_username("admin").await.expect("admin");
    let today = local_date(now());
    let province = s.unit_by_code(PHU_THO, today).await.expect("province");
    let host = s.halls_in(&province.path).await.expect("halls");
    let host = host
        .iter()
        .find(|h| h.unit_id == province.id)
        .expect("hall");
    let all = scope(
        province.id,
        &[Level::Province, Level::District, Level::Commune],
    );
    let halls = s
        .resolve_scope(&all, Some(host.id), today)
        .await
        .expect("ok");
    let monday = today + chrono::Duration::days(7 - today.weekday().num_days_from_monday() as i64);
    let at = |d: chrono::NaiveDate, h: u32| {
        from_local(d.and_time(NaiveTime::MIN) + chrono::Duration::hours(h.into()))
    };
    let started = Instant::now();
    let series = s
        .schedule(
            &admin,
            MeetingDraft {
                title: "Giao ban trực tuyến UBND tỉnh tuần".into(),
                description: String::new(),
                kind: MeetingKind::Routine,
                host_hall_id: host.id,
                starts_at: at(monday, 8),
                ends_at: at(monday, 11),
                scope: all.clone(),
                recurrence: Some("FREQ=WEEKLY;COUNT=52".into()),
            },
            None,
        )
        .await
        .expect("the series schedules");
    println!(
        "  (setup: {} briefings x {} halls scheduled in {:.0} ms, one run)",
        series.len(),
        halls.total,
        started.elapsed().as_secs_f64() * 1e3
    );
    let week_26 = monday + chrono::Duration::weeks(25);
    for (label, slot, expected) in [
        (
            "find_conflicts, 221 halls, overlaps 1",
            (at(week_26, 9), at(week_26, 10)),
            1,
        ),
        (
            "find_conflicts, 221 halls, overlaps none",
            (at(week_26, 14), at(week_26, 15)),
            0,
        ),
    ] {
        let times = time_runs(QUERY_RUNS, true, || async {
            let c = s
                .find_conflicts(&halls.hall_ids, &[slot], &[])
                .await
                .expect("ok");
            assert_eq!(c.len(), expected);
        })
        .await;
        report(label, 20.0, times);
    }
    db.cleanup().await;
}

/// 4. A national meeting on the 2025 tree (issue 13).
///
/// Both trees imported under a country root (2024 valid to 2025-06-30, 2025 from
/// 2025-07-01), one hall per 2025 province and commune (3,355), a quarter of weekly
/// province briefings (34 provinces × 13 weeks); then the national scope's resolution,
/// the tier picker's counts and the conflict check.
async fn bench_national(backend: Backend) {
    let db = fresh(backend).await;
    let s = &db.store;
    let country = CountryRoot::default();
    let reform = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).expect("a date");
    let old = ImportOptions {
        valid_to: reform.pred_opt(),
        ..ImportOptions::default()
    };
    let new = ImportOptions {
        valid_from: reform,
        ..ImportOptions::default()
    };
    for (csv, options) in [(UNITS_2024_CSV, old), (UNITS_2025_CSV, new)] {
        let rooted = with_country_root(csv, &country).expect("a country root");
        s.import_units(&rooted, options, |_, _| {})
            .await
            .expect("the tree imports");
    }
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("side pool");
    sqlx::query(
        "INSERT INTO halls (unit_id, name, feed_token, active, created_at)
         SELECT id, 'Điểm cầu ' || name, 'bench-' || id, 1, 0 FROM units
         WHERE level <> 'country' AND valid_from = '2025-07-01'",
    )
    .execute(&pool)
    .await
    .expect("halls inserted");
    pool.close().await;
    let today = local_date(now());
    let root = s.unit_by_code(&country.code, today).await.expect("root");
    let seat = s
        .create_hall(root.id, "Hội trường Chính phủ")
        .await
        .expect("the national seat");
    let hash = scheduler::hash_password("hoinghi-bench").expect("a hash");
    let national = NewAccount {
        username: "vp.quocgia".into(),
        display_name: "Văn phòng Chính phủ".into(),
        role: Role::Secretariat { unit_id: root.id },
    };
    s.create_account(national, &hash).await.expect("account");
    let who = s.principal_by_username("vp.quocgia").await.expect("who");
    let two_tiers = [Level::Province, Level::Commune];
    let nationwide = scope(root.id, &two_tiers);

    let p = s.resolve_scope(&nationwide, None, today).await.expect("ok");
    println!(
        "  (national scope on the 2025 tree resolves to {} halls: {:?})",
        p.total, p.per_level
    );
    let times = time_runs(QUERY_RUNS, true, || async {
        let p = s.resolve_scope(&nationwide, None, today).await.expect("ok");
        assert_eq!(p.total, 3_355);
    })
    .await;
    report(
        "national resolve_scope, 2025 tree, 3,355 halls",
        50.0,
        times,
    );
    let times = time_runs(QUERY_RUNS, true, || async {
        s.authorize_scope(&who, &nationwide, Some(seat.id))
            .await
            .expect("the national secretariat may");
        let p = s
            .resolve_scope(&nationwide, Some(seat.id), today)
            .await
            .expect("ok");
        assert_eq!(p.total, 3_356);
    })
    .await;
    report("national preview (authorize + resolve, host)", 50.0, times);
    let times = time_runs(QUERY_RUNS, true, || async {
        let t = s.tiers(&root, today).await.expect("ok");
        assert_eq!(t.len(), 3);
    })
    .await;
    report("tiers of the country root (picker counts)", 50.0, times);
    if backend == Backend::Postgres {
        // The tables were filled seconds ago, before autovacuum could gather statistics:
        // the same queries once the planner has them (as it does in service).
        let pool = sqlx::AnyPool::connect(&db.url).await.expect("side pool");
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        pool.close().await;
        let times = time_runs(QUERY_RUNS, true, || async {
            let p = s.resolve_scope(&nationwide, None, today).await.expect("ok");
            assert_eq!(p.total, 3_355);
        })
        .await;
        report("after ANALYZE: national resolve_scope", 50.0, times);
        let times = time_runs(QUERY_RUNS, true, || async {
            let t = s.tiers(&root, today).await.expect("ok");
            assert_eq!(t.len(), 3);
        })
        .await;
        report("after ANALYZE: tiers of the country root", 50.0, times);
    }

    // Existing meetings: each province's weekly briefing for a quarter, all at once.
    let monday = today + chrono::Duration::days(7 - today.weekday().num_days_from_monday() as i64);
    let at = |d: chrono::NaiveDate, h: u32| {
        from_local(d.and_time(NaiveTime::MIN) + chrono::Duration::hours(h.into()))
    };
    let started = Instant::now();
    let provinces = s.unit_children(Some(root.id), today).await.expect("ok");
    let mut invited = 0;
    for node in &provinces {
        let halls = s.halls_in(&node.unit.path).await.expect("halls");
        let host = halls
            .iter()
            .find(|h| h.unit_id == node.unit.id)
            .expect("a province hall");
        let series = s
            .schedule(
                &who,
                MeetingDraft {
                    title: format!("Giao ban trực tuyến {}", node.unit.name),
                    description: String::new(),
                    kind: MeetingKind::Routine,
                    host_hall_id: host.id,
                    starts_at: at(monday, 8),
                    ends_at: at(monday, 11),
                    scope: scope(node.unit.id, &two_tiers),
                    recurrence: Some("FREQ=WEEKLY;COUNT=13".into()),
                },
                None,
            )
            .await
            .expect("the series schedules");
        invited += series.iter().map(|m| m.invited).sum::<i64>();
    }
    println!(
        "  (setup: {} provinces x 13 weekly briefings, {invited} invitations, scheduled in {:.0} ms, one run)",
        provinces.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let week_7 = monday + chrono::Duration::weeks(6);
    for (label, slot, expected) in [
        (
            "find_conflicts, 3,355 halls, overlaps 34",
            (at(week_7, 9), at(week_7, 10)),
            provinces.len(),
        ),
        (
            "find_conflicts, 3,355 halls, overlaps none",
            (at(week_7, 14), at(week_7, 15)),
            0,
        ),
    ] {
        let times = time_runs(QUERY_RUNS, true, || async {
            let c = s
                .find_conflicts(&p.hall_ids, &[slot], &[])
                .await
                .expect("ok");
            assert_eq!(c.len(), expected);
        })
        .await;
        report(label, 20.0, times);
    }
    let started = Instant::now();
    let created = s
        .schedule(
            &who,
            MeetingDraft {
                title: "Hội nghị trực tuyến toàn quốc".into(),
                description: String::new(),
                kind: MeetingKind::NationalRelay,
                host_hall_id: seat.id,
                starts_at: at(week_7, 14),
                ends_at: at(week_7, 16),
                scope: nationwide.clone(),
                recurrence: None,
            },
            None,
        )
        .await
        .expect("the national meeting schedules");
    println!(
        "  (schedule() of the national meeting, {} invitations: {:.0} ms, one run)",
        created[0].invited,
        started.elapsed().as_secs_f64() * 1e3
    );
    db.cleanup().await;
}

async fn run(backend: Backend, only_national: bool) {
    println!("{backend:?}:");
    if !only_national {
        bench_import(backend).await;
        bench_scope(backend).await;
        bench_conflicts(backend).await;
    }
    bench_national(backend).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // `cargo bench` passes `--bench`; a bare `national` picks the national part only.
    let only_national = std::env::args().skip(1).any(|a| a == "national");
    println!("load average: {}", load_average());
    runtime.block_on(async {
        run(Backend::Sqlite, only_national).await;
        match TestDb::new(Backend::Postgres).await {
            Ok(probe) => {
                probe.cleanup().await;
                run(Backend::Postgres, only_national).await;
            }
            Err(e) => println!(
                "Postgres: skipped, cannot create a test database at {}: {e}",
                scheduler::testing::postgres_admin_url()
            ),
        }
    });
    println!("load average: {}", load_average());
}

/// `/proc/loadavg`'s first three figures, for the record in BENCHMARKS.md.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
