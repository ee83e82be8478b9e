//! `writer_bench`: how fast the attendance writer puts a 221-hall burst into the database.
//!
//! The real writer (`StoreRecorder` with its journal: the one the server runs) on a fresh
//! Phú Thọ demo database, SQLite and then PostgreSQL (`HOINGHI_TEST_POSTGRES_URL`, by
//! default postgres://postgres@127.0.0.1:5432/test). A province meeting of all three
//! levels (221 invited halls) is started and every hall joins; then, for each burst, a
//! roll call is opened (written before the clock starts) and the 220 halls other than
//! the host each record a roll-call answer and a headcount at the same instant — 440
//! changes, as the rooms record them when 220 pages answer at once. Timed: from the
//! first change recorded until the writer says every one of them is in the database
//! (`StoreRecorder::flush`). Then the rows are counted: every answer and headcount once.
//!
//! Prints figures and the load average (this machine is shared); asserts only that
//! nothing was lost. Without `--bench` (as `cargo test --all-targets` runs it) it exits.
//!
//! ```text
//! cargo bench -p signaling --bench writer_bench
//! cargo bench -p signaling --bench writer_bench -- --backend postgres --bursts 10
//! ```

use std::time::{Duration, Instant};

use scheduler::testing::{demo_db, province_meeting_now};
use scheduler::{Backend, Level};
use signaling::protocol::{Actor, RollCallStatus};
use signaling::recorder::JournalConfig;
use signaling::{PresenceChange, PresenceKind, Recorder, StoreRecorder};

/// The longest a burst may take before the run is called failed.
const PATIENCE: Duration = Duration::from_secs(120);

fn value(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("writer_bench: pass --bench (cargo bench -p signaling --bench writer_bench)");
        return;
    }
    let bursts: usize = value(&args, "--bursts")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let backends = match value(&args, "--backend").as_deref() {
        None | Some("both") => vec![Backend::Sqlite, Backend::Postgres],
        Some("sqlite") => vec![Backend::Sqlite],
        Some("postgres") => vec![Backend::Postgres],
        Some(other) => {
            eprintln!("--backend {other}: expected sqlite, postgres or both");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime"); // a bench without a runtime cannot run at all
    for backend in backends {
        if let Err(e) = runtime.block_on(run(backend, bursts)) {
            println!("{backend:?}: ERR {e}");
            std::process::exit(1);
        }
    }
}

/// One recorded change of the meeting, now.
fn record(recorder: &StoreRecorder, meeting_id: i64, kind: PresenceKind) {
    recorder.record(PresenceChange {
        meeting_id,
        at: scheduler::time::now(),
        kind,
    });
}

async fn run(backend: Backend, bursts: usize) -> Result<(), String> {
    let db = demo_db(backend).await.map_err(|e| e.to_string())?;
    let levels = [Level::Province, Level::District, Level::Commune];
    let meeting = province_meeting_now(&db.store, "Giao ban", &levels)
        .await
        .map_err(|e| e.to_string())?;
    let invited = db
        .store
        .invited_halls(meeting.id)
        .await
        .map_err(|e| e.to_string())?;
    let host = meeting.host_hall_id;
    let halls: Vec<i64> = invited
        .iter()
        .map(|h| h.hall_id)
        .filter(|&h| h != host)
        .collect();
    // The journal beside the database, on the same disk, as the server keeps it.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).map_err(|e| e.to_string())?;
    let journal = JournalConfig {
        path: dir.path().join("attendance.journal"),
        max_bytes: 256 << 20,
    };
    let recorder = StoreRecorder::start(db.store.clone(), 10, &journal)
        .map_err(|e| format!("journal: {e}"))?;
    let m = meeting.id;
    let by = Actor::Hall { hall_id: host };

    println!(
        "{backend:?}: {} invited halls; load average {}",
        invited.len(),
        load_average()
    );
    let started = Instant::now();
    record(&recorder, m, PresenceKind::MeetingStarted { by });
    for h in invited.iter().map(|h| h.hall_id) {
        record(&recorder, m, PresenceKind::Joined { hall_id: h });
    }
    if !recorder.flush(PATIENCE).await {
        return Err("the joins were not written".into());
    }
    let joins = started.elapsed();
    println!(
        "  start + {} joins: {:.0} ms ({:.0} changes/s)",
        invited.len(),
        joins.as_secs_f64() * 1e3,
        (invited.len() + 1) as f64 / joins.as_secs_f64()
    );

    let mut times = Vec::new();
    for burst in 1..=bursts {
        let roll_call = burst as u64;
        record(
            &recorder,
            m,
            PresenceKind::RollCallStarted { roll_call, by },
        );
        if !recorder.flush(PATIENCE).await {
            return Err("the roll call was not written".into());
        }
        let t0 = Instant::now();
        for &hall_id in &halls {
            record(
                &recorder,
                m,
                PresenceKind::RollCallAnswered {
                    roll_call,
                    hall_id,
                    status: RollCallStatus::Present,
                    reason: String::new(),
                    by: Actor::Hall { hall_id },
                },
            );
            record(
                &recorder,
                m,
                PresenceKind::Headcount {
                    hall_id,
                    people: 10 + burst as i64,
                },
            );
        }
        if !recorder.flush(PATIENCE).await {
            return Err(format!("burst {burst} not written within {PATIENCE:?}"));
        }
        let took = t0.elapsed();
        let changes = halls.len() * 2;
        println!(
            "  burst {burst}: {changes} changes in {:.0} ms ({:.0} changes/s); load average {}",
            took.as_secs_f64() * 1e3,
            changes as f64 / took.as_secs_f64(),
            load_average()
        );
        times.push(took);
        record(&recorder, m, PresenceKind::RollCallEnded { roll_call, by });
    }
    if !recorder.flush(PATIENCE).await {
        return Err("the last roll call was not closed".into());
    }

    // Nothing lost, nothing twice.
    let events = db.store.live_events(m).await.map_err(|e| e.to_string())?;
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    let expected = halls.len() * bursts;
    if count("roll_call_answer") != expected || count("headcount") != expected {
        return Err(format!(
            "expected {expected} answers and headcounts, the log has {} and {}",
            count("roll_call_answer"),
            count("headcount")
        ));
    }
    let health = recorder.health();
    if health.pending != 0 || health.journal_bytes != 0 || health.degraded {
        return Err(format!("the writer is not idle after the run: {health:?}"));
    }

    times.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let median = &times[times.len() / 2];
    println!(
        "{backend:?}: burst of {} changes, {bursts} runs: median {:.0} ms ({:.0} changes/s), \
         fastest {:.0} ms, slowest {:.0} ms; {} written in all, every one once",
        halls.len() * 2,
        ms(median),
        (halls.len() * 2) as f64 / median.as_secs_f64(),
        ms(&times[0]),
        ms(&times[times.len() - 1]),
        health.written
    );
    drop(recorder);
    db.cleanup().await;
    Ok(())
}
