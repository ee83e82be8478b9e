//! Scheduler benchmarks: unit import, nationwide scope resolution and conflict checks, per backend.
//!
//! A plain `main` that prints median/min/max wall-clock times (no assertions on time).
//! Run with `cargo bench -p scheduler --bench scheduler_bench`; see BENCHMARKS.md.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveTime};
use scheduler::demo::{self, DemoOptions, PHU_THO, UNITS_2024_CSV};
use scheduler::testing::TestDb;
use scheduler::time::{from_local, local_date, now};
use scheduler::{Backend, ImportOptions, Level, MeetingDraft, MeetingKind, Scope};

/// Fresh-database imports per backend (each creates a database, so kept small).
const IMPORT_RUNS: usize = 5;
/// Runs of the cheap, repeatable operations.
const QUERY_RUNS: usize = 30;
/// Code of the synthetic country root added above the 63 provinces.
const COUNTRY: &str = "0";

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
    let text = String::from_utf8_lossy(UNITS_2024_CSV);
    let mut lines = text.lines();
    let mut out = format!(
        "{}\n{COUNTRY},,country,nước,Nước Cộng hòa Xã hội Chủ nghĩa Việt Nam\n",
        lines.next().unwrap_or_default()
    );
    for line in lines {
        match line.split_once(",,") {
            // Only a root row has an empty second column: code,,level,...
            Some((code, rest)) if !code.contains(',') => {
                out.push_str(&format!("{code},{COUNTRY},{rest}\n"))
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    out.into_bytes()
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
    let country = s.unit_by_code(COUNTRY, today).await.expect("root").id;
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

async fn run(backend: Backend) {
    println!("{backend:?}:");
    bench_import(backend).await;
    bench_scope(backend).await;
    bench_conflicts(backend).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        run(Backend::Sqlite).await;
        match TestDb::new(Backend::Postgres).await {
            Ok(probe) => {
                probe.cleanup().await;
                run(Backend::Postgres).await;
            }
            Err(e) => println!(
                "Postgres: skipped, cannot create a test database at {}: {e}",
                scheduler::testing::postgres_admin_url()
            ),
        }
    });
}
