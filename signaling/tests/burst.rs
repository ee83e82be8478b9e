//! The 220-hall burst (issue 12, defect C) over real WebSockets and a real store: 220 halls
//! answer a roll call and report a headcount at the same instant while the host pings.
//! No socket is cut, every answer is acknowledged to its hall and recorded; the host's
//! round trips during the burst are printed (no timed assertion: figures go to
//! BENCHMARKS.md). Run with `--nocapture` to see them.

mod common;

use futures::{SinkExt, StreamExt};
use scheduler::testing::{demo_db, province_meeting_now};
use scheduler::{Backend, Level};
use serde_json::{json, Value};
use signaling::StoreAdmit;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;

const HALLS: usize = 220;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What one page saw.
#[derive(Debug, Default)]
struct Report {
    /// Its own answer came back as `control{roll_call_answer}` about itself.
    acked: bool,
    /// The close frame, if the server closed it (any close here is a cut).
    cut: Option<String>,
    frames: usize,
}

/// Shared by the test and every page.
struct Run {
    addr: SocketAddr,
    /// Every page joined (and got the roll call).
    joined: Barrier,
    /// Every page read what the joins sent it: the burst starts.
    start: Barrier,
    acked: AtomicUsize,
    stop: AtomicBool,
}

async fn connect(addr: SocketAddr, token: &str) -> (Socket, i64) {
    let url = format!("ws://{addr}/ws");
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    let join = json!({"type": "join", "v": 1, "token": token});
    socket.send(text(&join)).await.expect("join sent");
    loop {
        let m = next_json(&mut socket).await.expect("welcome");
        if m["type"] == "welcome" {
            return (socket, m["hall"]["id"].as_i64().expect("hall id"));
        }
    }
}

fn text(value: &Value) -> Message {
    Message::Text(value.to_string().into())
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Pings and reads until the pong: what was sent before is read.
async fn drain(socket: &mut Socket) {
    socket
        .send(text(&json!({"type": "ping", "ts": -1.0})))
        .await
        .expect("ping sent");
    while next_json(socket).await.expect("pong")["type"] != "pong" {}
}

/// One hall: joined, waits for the roll call and the common start, then answers and
/// reports at once, and reads everything until the run stops.
async fn hall(run: Arc<Run>, token: String) -> Report {
    let (mut socket, me) = connect(run.addr, &token).await;
    while next_json(&mut socket).await.expect("roll call")["type"] != "roll_call" {}
    run.joined.wait().await;
    drain(&mut socket).await;
    run.start.wait().await;
    let answer = json!({"type": "roll_call_answer", "status": "present"});
    let people = json!({"type": "headcount", "people": 20 + me % 50});
    socket.feed(text(&answer)).await.expect("sent");
    socket.feed(text(&people)).await.expect("sent");
    socket.flush().await.expect("sent");
    read_until_stopped(&run, &mut socket, Some(me)).await
}

/// Reads until the run stops; counts frames, notes its own acknowledgement and any close.
async fn read_until_stopped(run: &Run, socket: &mut Socket, me: Option<i64>) -> Report {
    let mut report = Report::default();
    while !run.stop.load(Ordering::Relaxed) {
        let frame = match tokio::time::timeout(Duration::from_millis(100), socket.next()).await {
            Err(_) => continue,
            Ok(frame) => frame,
        };
        match frame {
            Some(Ok(Message::Text(t))) => {
                report.frames += 1;
                if let Some(me) = me.filter(|_| !report.acked && t.contains("roll_call_answer")) {
                    let m: Value = serde_json::from_str(&t).expect("JSON");
                    if m["type"] == "control" && m["hall_id"] == me {
                        report.acked = true;
                        run.acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Some(Ok(Message::Close(frame))) => {
                report.cut = Some(format!("{frame:?}"));
                return report;
            }
            None | Some(Err(_)) => {
                report.cut = Some("dropped".into());
                return report;
            }
            Some(Ok(_)) => {}
        }
    }
    report
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_220_answers_and_headcounts_cuts_no_socket_and_loses_no_answer() {
    let db = demo_db(Backend::Sqlite).await.expect("demo database");
    let store = &db.store;
    let levels = [Level::Province, Level::District, Level::Commune];
    let meeting = province_meeting_now(store, "Giao ban toàn tỉnh", &levels)
        .await
        .expect("scheduled");
    let signaling = common::store::server(store);
    let addr = common::ws::listen(signaling.clone(), StoreAdmit::new(store.clone())).await;
    let meeting_id = meeting.id;
    let token = |hall| async move {
        store
            .join_token_of(meeting_id, hall)
            .await
            .expect("query")
            .expect("invited")
    };

    let (mut host, _) = connect(addr, &token(meeting.host_hall_id).await).await;
    for m in [
        json!({"type": "readiness"}),
        json!({"type": "set_phase", "phase": "started"}),
        json!({"type": "start_roll_call"}),
    ] {
        host.send(text(&m)).await.expect("sent");
    }
    let invited = store.invited_halls(meeting.id).await.expect("invited");
    let halls: Vec<i64> = invited
        .iter()
        .map(|i| i.hall_id)
        .filter(|&h| h != meeting.host_hall_id)
        .take(HALLS)
        .collect();
    assert_eq!(halls.len(), HALLS, "the province invites enough halls");
    let run = Arc::new(Run {
        addr,
        joined: Barrier::new(HALLS + 1),
        start: Barrier::new(HALLS + 1),
        acked: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let mut pages = Vec::new();
    for &h in &halls {
        pages.push(tokio::spawn(hall(run.clone(), token(h).await)));
    }

    run.joined.wait().await;
    drain(&mut host).await;

    // The host reads on its own task and pings every 40 ms through the burst; a ping
    // carries the milliseconds since `t0`.
    let t0 = Instant::now();
    let (mut host_tx, mut host_rx) = host.split();
    let reader_run = run.clone();
    let host_reader = tokio::spawn(async move {
        let mut rtts = Vec::new();
        let mut report = Report::default();
        while !reader_run.stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(100), host_rx.next()).await {
                Err(_) => {}
                Ok(Some(Ok(Message::Text(t)))) => {
                    report.frames += 1;
                    if t.contains("\"pong\"") {
                        let m: Value = serde_json::from_str(&t).expect("JSON");
                        let sent = m["ts"].as_f64().expect("ts");
                        rtts.push(t0.elapsed().as_secs_f64() * 1000.0 - sent);
                    }
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    report.cut = Some(format!("{f:?}"));
                    break;
                }
                Ok(None | Some(Err(_))) => {
                    report.cut = Some("dropped".into());
                    break;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
        (rtts, report)
    });

    run.start.wait().await;
    let burst = Instant::now();
    let pinger_run = run.clone();
    let pinger = tokio::spawn(async move {
        let mut pings = 0;
        while !pinger_run.stop.load(Ordering::Relaxed) {
            let ts = t0.elapsed().as_secs_f64() * 1000.0;
            if host_tx
                .send(text(&json!({"type": "ping", "ts": ts})))
                .await
                .is_err()
            {
                break;
            }
            pings += 1;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        pings
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.acked.load(Ordering::Relaxed) < HALLS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_acked = burst.elapsed();
    while common::store::rows(store, meeting_id, "roll_call_answer").await < HALLS
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recorded = burst.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.stop.store(true, Ordering::Relaxed);

    let mut reports = Vec::new();
    for page in pages {
        reports.push(page.await.expect("page"));
    }
    let pings = pinger.await.expect("pinger");
    let (mut rtts, host_report) = host_reader.await.expect("host");
    rtts.sort_by(f64::total_cmp);
    let cut = reports.iter().filter(|r| r.cut.is_some()).count();
    let acked = reports.iter().filter(|r| r.acked).count();
    let frames: usize = reports.iter().map(|r| r.frames).sum();
    let answers = common::store::rows(store, meeting.id, "roll_call_answer").await;
    let headcounts = common::store::rows(store, meeting.id, "headcount").await;
    println!(
        "burst of {HALLS} answers + {HALLS} headcounts: halls cut {cut}, host cut {}, \
         acknowledged {acked}, all acknowledged after {:.0} ms, recorded {answers} answers and \
         {headcounts} headcounts after {:.0} ms; frames per hall page {:.0}, host {}; \
         host round trip over {} pongs of {pings} pings: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        u8::from(host_report.cut.is_some()),
        all_acked.as_secs_f64() * 1000.0,
        recorded.as_secs_f64() * 1000.0,
        frames as f64 / HALLS as f64,
        host_report.frames,
        rtts.len(),
        percentile(&rtts, 0.5),
        percentile(&rtts, 0.99),
        rtts.last().copied().unwrap_or(f64::NAN),
    );
    let first_cut = reports.iter().find_map(|r| r.cut.clone());
    assert_eq!(cut, 0, "no hall's socket is cut (the first: {first_cut:?})");
    assert_eq!(host_report.cut, None, "the host's socket is not cut");
    assert_eq!(acked, HALLS, "every hall's answer is acknowledged to it");
    assert_eq!(answers, HALLS, "every answer is recorded");
    assert_eq!(headcounts, HALLS, "every headcount is recorded");
    assert!(!rtts.is_empty(), "the host's pings were answered");
    db.cleanup().await;
}
