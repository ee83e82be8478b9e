//! Crash safety: the server is killed (SIGKILL) during a started meeting with connected
//! halls; after a restart the halls reconnect by themselves, find the meeting still
//! started, and no attendance is lost.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use common::{free_port, start, store_of, sudden_meeting, wait_until, DataDir};

/// What the halls' pages saw: how many welcomes, and the phase each showed.
#[derive(Default)]
struct Seen {
    welcomes: AtomicUsize,
    phases: Mutex<Vec<String>>,
}

/// A hall's page, reduced to its socket: joins, pings, and when the connection drops,
/// joins again by itself until told to stop. Counts its welcomes and notes their phase;
/// the host's page (`starts`) starts the meeting after its first welcome.
async fn hall(
    url: String,
    token: String,
    starts: bool,
    seen: Arc<Seen>,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut to_start = starts;
    loop {
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await {
            let join = json!({ "type": "join", "v": 1, "token": token }).to_string();
            if ws.send(Message::text(join)).await.is_ok() {
                let mut ping = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        msg = ws.next() => match msg {
                            Some(Ok(Message::Text(t))) => {
                                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                                if v["type"] == "welcome" {
                                    let phase = v["state"]["phase"].as_str().unwrap_or("?").to_string();
                                    seen.phases.lock().unwrap().push(phase);
                                    seen.welcomes.fetch_add(1, Ordering::SeqCst);
                                    if std::mem::take(&mut to_start) {
                                        let start = json!({ "type": "set_phase", "phase": "started" });
                                        if ws.send(Message::text(start.to_string())).await.is_err() {
                                            break;
                                        }
                                    }
                                }
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                        _ = ping.tick() => {
                            if ws.send(Message::text(json!({ "type": "ping", "ts": 0 }).to_string())).await.is_err() {
                                break;
                            }
                        }
                        () = stop.notified() => return,
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_killed_server_loses_no_attendance() {
    let dir = DataDir::new().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = start(&dir, port).await;

    let store = store_of(&dir).await;
    let (meeting, mut invited) = sudden_meeting(&base, &store, "vp.tinh", "25").await;
    let host = invited[0].0;
    // The host hall and two others.
    invited.truncate(3);

    let ws_url = format!("ws://127.0.0.1:{port}/ws");
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(tokio::sync::Notify::new());
    let pages: Vec<_> = invited
        .iter()
        .map(|(h, t)| {
            tokio::spawn(hall(
                ws_url.clone(),
                t.clone(),
                *h == host,
                seen.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let welcomes = || seen.welcomes.load(Ordering::SeqCst);
    wait_until("three halls are in", || welcomes() == 3).await;
    // The host started the meeting; wait until the store has it.
    let mut started = 0;
    for _ in 0..100 {
        let events = store.live_events(meeting).await.unwrap();
        started = events
            .iter()
            .filter(|e| e.kind == "meeting_started")
            .count();
        if started > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(started, 1, "the host started the meeting");
    // Let presence be written down a few times, then kill the server without warning.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut server = server;
    server.kill().await.unwrap();
    let killed_at = scheduler::time::now();

    let _server = start(&dir, port).await;
    wait_until("the halls reconnect by themselves", || welcomes() == 6).await;
    let phases = seen.phases.lock().unwrap().clone();
    assert_eq!(
        phases[3..],
        ["started", "started", "started"],
        "after the restart every hall finds the meeting started: {phases:?}"
    );
    let admin = store.principal_by_username("admin").await.unwrap();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = store.live_events(meeting).await.unwrap();
        if invited.iter().all(|(h, _)| {
            events
                .iter()
                .filter(|e| e.hall_id == Some(*h) && e.kind == "join")
                .count()
                == 2
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (hall_id, _) in &invited {
        let mine: Vec<(&str, &str, i64)> = events
            .iter()
            .filter(|e| e.hall_id == Some(*hall_id) && (e.kind == "join" || e.kind == "leave"))
            .map(|e| (e.kind.as_str(), e.detail.as_str(), e.at))
            .collect();
        let kinds: Vec<(&str, &str)> = mine.iter().map(|(k, d, _)| (*k, *d)).collect();
        assert_eq!(
            kinds,
            [("join", ""), ("leave", "server_restart"), ("join", "")],
            "hall {hall_id}: {mine:?}"
        );
        let (joined, closed) = (mine[0].2, mine[1].2);
        assert!(
            closed > joined && closed <= killed_at,
            "closed at the last presence write: {mine:?}, killed at {killed_at}"
        );
    }
    let starts = events.iter().filter(|e| e.kind == "meeting_started");
    assert_eq!(starts.count(), 1, "the restart wrote no second start");
    assert_eq!(
        store.recorded_phase(meeting).await.unwrap(),
        scheduler::live::RecordedPhase::Started
    );
    let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
    for (hall_id, _) in &invited {
        let row = rows.iter().find(|r| r.hall.hall_id == *hall_id).unwrap();
        assert_eq!(
            (row.intervals, row.last_leave),
            (2, None),
            "one interval before the crash, one open after it"
        );
    }
    stop.notify_waiters();
    for p in pages {
        p.abort();
    }
    store.close().await;
    dir.cleanup().await;
}
