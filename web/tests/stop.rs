//! A graceful stop (SIGTERM) of the real binary loses nothing: pages are told the server
//! restarts (close 1012) and the halls' intervals end as `server_restart` at the stop;
//! a burst of roll-call answers and headcounts followed by the meeting's end and an
//! immediate SIGTERM is written in full, the end once.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use common::roaming::terminate;
use common::{free_port, start, store_of, sudden_meeting, wait_until, DataDir};

/// Headcounts each hall reports after answering the roll call.
const HEADCOUNTS: usize = 10;

/// What the pages saw.
#[derive(Default)]
struct Seen {
    welcomes: AtomicUsize,
    /// Close codes received, by hall.
    closes: Mutex<Vec<(i64, u16)>>,
    /// Answers and headcounts acknowledged to the halls that sent them (the room took
    /// them; other pages get these reports coalesced, see docs/protocol.md).
    answers: AtomicUsize,
    headcounts: AtomicUsize,
}

impl Seen {
    fn closed_with(&self, code: u16) -> usize {
        let closes = self.closes.lock().unwrap();
        closes.iter().filter(|(_, c)| *c == code).count()
    }
}

/// A hall's page reduced to its socket: joins (again after a close, except after the
/// meeting ended), pings, answers a roll call with an answer and [`HEADCOUNTS`]
/// headcounts 50 ms apart; the host's page sends what the test tells it.
async fn page(
    url: String,
    hall: i64,
    token: String,
    seen: Arc<Seen>,
    mut host: Option<mpsc::UnboundedReceiver<Value>>,
) {
    loop {
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await {
            let join = json!({ "type": "join", "v": 1, "token": token }).to_string();
            let _ = ws.send(Message::text(join)).await;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut queue: VecDeque<Value> = VecDeque::new();
            let mut pings = 0u32;
            let code = loop {
                let order = async {
                    match host.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                            match (v["type"].as_str(), v["action"].as_str()) {
                                (Some("welcome"), _) => { seen.welcomes.fetch_add(1, Ordering::SeqCst); }
                                (Some("roll_call"), _) if host.is_none() => {
                                    queue.push_back(json!({ "type": "roll_call_answer", "status": "present" }));
                                    for n in 0..HEADCOUNTS {
                                        queue.push_back(json!({ "type": "headcount", "people": 20 + n }));
                                    }
                                }
                                (Some("control"), Some("roll_call_answer")) if host.is_none() && v["hall_id"] == hall => {
                                    seen.answers.fetch_add(1, Ordering::SeqCst);
                                }
                                (Some("control"), Some("headcount")) if host.is_none() && v["hall_id"] == hall => {
                                    seen.headcounts.fetch_add(1, Ordering::SeqCst);
                                }
                                _ => {}
                            }
                        }
                        Some(Ok(Message::Close(frame))) => break frame.map_or(1005, |f| u16::from(f.code)),
                        Some(Ok(_)) => {}
                        _ => break 1006,
                    },
                    Some(order) = order => { let _ = ws.send(Message::text(order.to_string())).await; }
                    _ = tick.tick() => {
                        pings += 1;
                        let next = queue.pop_front().or_else(|| pings.is_multiple_of(20).then(|| json!({ "type": "ping", "ts": 0 })));
                        if let Some(m) = next {
                            let _ = ws.send(Message::text(m.to_string())).await;
                        }
                    }
                }
            };
            seen.closes.lock().unwrap().push((hall, code));
            if code == 4004 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_stopped_server_tells_the_pages_and_writes_every_change() {
    let dir = DataDir::new().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&dir, port).await;
    let store = store_of(&dir).await;
    let (meeting, invited) = sudden_meeting(&base, &store, "vp.tinh", "25").await;
    let halls = invited.len();
    assert!(halls > 5, "a province hall and 17 below it: {halls}");

    let url = format!("ws://127.0.0.1:{port}/ws");
    let seen = Arc::new(Seen::default());
    let (to_host, host_rx) = mpsc::unbounded_channel();
    let mut host_rx = Some(host_rx);
    let pages: Vec<_> = invited
        .iter()
        .map(|(h, t)| {
            tokio::spawn(page(
                url.clone(),
                *h,
                t.clone(),
                seen.clone(),
                host_rx.take(),
            ))
        })
        .collect();
    let welcomes = || seen.welcomes.load(Ordering::SeqCst);
    wait_until("every hall is in", || welcomes() == halls).await;
    to_host
        .send(json!({ "type": "set_phase", "phase": "started" }))
        .unwrap();
    let joined = |events: &[scheduler::live::LiveEvent], kind: &str| {
        events.iter().filter(|e| e.kind == kind).count()
    };
    for _ in 0..200 {
        let events = store.live_events(meeting).await.unwrap();
        if joined(&events, "join") == halls && joined(&events, "meeting_started") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A stop during the meeting: every page is told, every interval ends at the stop.
    let stopped_at = scheduler::time::now();
    terminate(&mut server).await;
    // A page that comes back while the server drains is told again (1012), never
    // admitted: every hall was told, and nothing else.
    {
        let closes = seen.closes.lock().unwrap();
        let told: std::collections::BTreeSet<i64> = closes.iter().map(|(h, _)| *h).collect();
        assert_eq!(told.len(), halls, "every page got 1012: {closes:?}");
        assert!(
            closes.iter().all(|(_, c)| *c == 1012),
            "only 1012: {closes:?}"
        );
    }
    let events = store.live_events(meeting).await.unwrap();
    for (hall, _) in &invited {
        let leave = events
            .iter()
            .find(|e| e.hall_id == Some(*hall) && e.kind == "leave");
        let leave = leave.unwrap_or_else(|| panic!("hall {hall} has no leave: {events:?}"));
        assert_eq!(leave.detail, "server_restart");
        assert!(
            leave.at >= stopped_at,
            "ended at the stop, not at a heartbeat: {leave:?}"
        );
    }

    // Back up: the pages come back by themselves; a roll call, a burst of answers and
    // headcounts, the end, and at once a stop.
    let mut server = start(&dir, port).await;
    wait_until("every hall is back", || welcomes() == 2 * halls).await;
    to_host.send(json!({ "type": "start_roll_call" })).unwrap();
    let answering = halls - 1;
    wait_until("the room took every answer and headcount", || {
        seen.answers.load(Ordering::SeqCst) == answering
            && seen.headcounts.load(Ordering::SeqCst) == answering * HEADCOUNTS
    })
    .await;
    to_host
        .send(json!({ "type": "set_phase", "phase": "ended" }))
        .unwrap();
    wait_until("every page was told the meeting ended", || {
        seen.closed_with(4004) == halls
    })
    .await;
    terminate(&mut server).await;
    let _server = start(&dir, port).await;

    let events = store.live_events(meeting).await.unwrap();
    assert_eq!(
        joined(&events, "roll_call_answer"),
        answering,
        "every answer written"
    );
    assert_eq!(
        joined(&events, "headcount"),
        answering * HEADCOUNTS,
        "every headcount written"
    );
    assert_eq!(joined(&events, "meeting_ended"), 1, "the end, once");
    assert_eq!(
        store.recorded_phase(meeting).await.unwrap(),
        scheduler::live::RecordedPhase::Ended
    );
    for (hall, _) in &invited {
        let mine: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e.hall_id == Some(*hall) && (e.kind == "join" || e.kind == "leave"))
            .map(|e| (e.kind.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            mine,
            [
                ("join", ""),
                ("leave", "server_restart"),
                ("join", ""),
                ("leave", "meeting_ended")
            ],
            "hall {hall}"
        );
    }
    for p in pages {
        p.abort();
    }
    store.close().await;
    dir.cleanup().await;
}
