//! The scripted meeting: a province meeting on today's demo map with 221 halls (the host
//! and 220 others), every attendance change of which the script knows — the joins, the
//! start, 20 halls leaving by their button and coming back, a roll call with 220
//! answers, 220 headcounts (each hall its own number), a restart when the fault is one,
//! the host ending the meeting — and the check of what the store recorded against it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::common::wait_until;
use crate::halls::{page, people_of, Order, Seen};

/// Halls in the meeting, the host included.
pub const HALLS: usize = 221;
/// Halls that leave by their button and come back.
pub const LEAVERS: usize = 20;
/// Joins in flight at once while the meeting fills.
const JOINING: usize = 32;

/// One recorded or scripted change: (hall, kind, detail). The meeting's own rows
/// (`meeting_started`, `roll_call_started`, `meeting_ended`) have no hall.
pub type Row = (Option<i64>, String, String);

/// The meeting being played.
pub struct Meeting {
    pub id: i64,
    /// The halls, host first.
    pub halls: Vec<i64>,
    orders: Vec<mpsc::UnboundedSender<Order>>,
    pub seen: Arc<Seen>,
    pages: Vec<JoinHandle<()>>,
    /// Times the server was stopped under the halls (each: a `server_restart` leave and
    /// a join for every hall).
    restarts: usize,
}

impl Meeting {
    /// Schedules the meeting on `store` (beside the server) and lets every hall in, in
    /// groups; waits until all are welcomed.
    pub async fn join(store: &scheduler::Store, port: u16) -> Meeting {
        use scheduler::Level;
        let m = scheduler::testing::province_meeting_now(
            store,
            "Giao ban trực tuyến toàn tỉnh",
            &[Level::Province, Level::Commune],
        )
        .await
        .expect("the meeting is scheduled");
        let invited = store.invited_halls(m.id).await.unwrap();
        let mut halls: Vec<i64> = invited.iter().map(|h| h.hall_id).collect();
        halls.retain(|&h| h != m.host_hall_id);
        halls.insert(0, m.host_hall_id);
        assert!(
            halls.len() >= HALLS,
            "{} halls invited, the script needs {HALLS}",
            halls.len()
        );
        halls.truncate(HALLS);
        let url = format!("ws://127.0.0.1:{port}/ws");
        let seen = Arc::new(Seen::default());
        let (mut orders, mut pages) = (Vec::new(), Vec::new());
        for (i, &hall) in halls.iter().enumerate() {
            let token = store.join_token_of(m.id, hall).await.unwrap().unwrap();
            let (tx, rx) = mpsc::unbounded_channel();
            orders.push(tx);
            pages.push(tokio::spawn(page(
                url.clone(),
                hall,
                token,
                i == 0,
                seen.clone(),
                rx,
            )));
            if (i + 1) % JOINING == 0 || i + 1 == halls.len() {
                let n = i + 1;
                wait_until("a group of halls is in", || {
                    seen.welcomes.load(Ordering::SeqCst) >= n
                })
                .await;
            }
        }
        Meeting {
            id: m.id,
            halls,
            orders,
            seen,
            pages,
            restarts: 0,
        }
    }

    fn host(&self, msg: serde_json::Value) {
        self.orders[0].send(Order::Send(msg)).unwrap();
    }

    fn welcomes(&self) -> usize {
        self.seen.welcomes.load(Ordering::SeqCst)
    }

    /// Welcomes every hall got so far in the script: the first join, the leavers'
    /// rejoins, and one per hall per restart.
    fn welcomes_due(&self, left: bool) -> usize {
        HALLS + if left { LEAVERS } else { 0 } + self.restarts * HALLS
    }

    /// The host starts the meeting.
    pub async fn start(&self) {
        self.host(json!({ "type": "set_phase", "phase": "started" }));
        wait_until("the host sees the meeting started", || {
            self.seen.started.load(Ordering::SeqCst)
        })
        .await;
    }

    /// The leavers press leave and come back; waits for them only if `wait`.
    pub async fn leave_and_rejoin(&self, wait: bool) {
        for tx in &self.orders[1..=LEAVERS] {
            tx.send(Order::LeaveAndRejoin).unwrap();
        }
        if wait {
            self.rejoined(true).await;
        }
    }

    /// Waits until every hall is in again (after leaves, `left`, and restarts).
    pub async fn rejoined(&self, left: bool) {
        let due = self.welcomes_due(left);
        wait_until("every hall is back in", || self.welcomes() >= due).await;
    }

    /// The host starts a roll call; waits until every other hall was told.
    pub async fn roll_call(&self) {
        self.host(json!({ "type": "start_roll_call" }));
        wait_until("every hall is told of the roll call", || {
            self.seen.roll_calls.load(Ordering::SeqCst) >= HALLS - 1
        })
        .await;
    }

    /// Every hall but the host answers and reports its headcount in the same instant;
    /// waits until the room acknowledged all 440 to their halls.
    pub async fn burst(&self) {
        for tx in &self.orders[1..] {
            tx.send(Order::Burst).unwrap();
        }
        wait_until("every answer and headcount is acknowledged", || {
            self.seen.answers.load(Ordering::SeqCst) == HALLS - 1
                && self.seen.headcounts.load(Ordering::SeqCst) == HALLS - 1
        })
        .await;
    }

    /// The server was stopped under the halls: they come back by themselves.
    pub fn restarted(&mut self) {
        self.restarts += 1;
    }

    /// The host ends the meeting; waits until every page was closed with 4004.
    pub async fn end(&self) {
        self.host(json!({ "type": "set_phase", "phase": "ended" }));
        wait_until("every page is told the meeting ended", || {
            self.seen.closed_with(4004) == HALLS
        })
        .await;
    }

    /// What the store must hold once the fault is over and before the meeting goes on:
    /// every change made before it (the halls' rows before any restart, no end).
    pub fn script_before_recovery(&self) -> Vec<Row> {
        let row = |h: i64, k: &str, d: &str| (Some(h), k.to_string(), d.to_string());
        let mut rows: Vec<Row> = vec![
            (None, "meeting_started".into(), String::new()),
            (None, "roll_call_started".into(), String::new()),
        ];
        for (i, &h) in self.halls.iter().enumerate() {
            rows.push(row(h, "join", ""));
            if (1..=LEAVERS).contains(&i) {
                rows.extend([row(h, "leave", "left"), row(h, "join", "")]);
            }
            if i > 0 {
                rows.push(row(h, "roll_call_answer", "present"));
                rows.push(row(h, "headcount", &people_of(h).to_string()));
            }
        }
        rows
    }

    /// What the store must hold for this meeting, as rows.
    pub fn script(&self) -> Vec<Row> {
        let row = |h: Option<i64>, k: &str, d: &str| (h, k.to_string(), d.to_string());
        let mut rows = vec![
            row(None, "meeting_started", ""),
            row(None, "roll_call_started", ""),
            row(None, "meeting_ended", ""),
        ];
        for (i, &h) in self.halls.iter().enumerate() {
            rows.extend(self.presence_of(i, h));
            if i > 0 {
                rows.push(row(Some(h), "roll_call_answer", "present"));
                rows.push(row(Some(h), "headcount", &people_of(h).to_string()));
            }
        }
        rows
    }

    /// A hall's joins and leaves, in order.
    fn presence_of(&self, i: usize, h: i64) -> Vec<Row> {
        let row = |k: &str, d: &str| (Some(h), k.to_string(), d.to_string());
        let mut rows = vec![row("join", "")];
        if (1..=LEAVERS).contains(&i) {
            rows.extend([row("leave", "left"), row("join", "")]);
        }
        for _ in 0..self.restarts {
            rows.extend([row("leave", "server_restart"), row("join", "")]);
        }
        rows.push(row("leave", "meeting_ended"));
        rows
    }

    pub fn stop(self) {
        drop(self.orders);
        for p in self.pages {
            p.abort();
        }
    }
}

/// What the store recorded against the script.
#[derive(Debug, Default)]
pub struct Tally {
    pub scripted: usize,
    /// Scripted rows found in the store.
    pub recorded: usize,
    /// Scripted but not in the store.
    pub missing: Vec<Row>,
    /// In the store but not scripted (a duplicate, or a change nobody made).
    pub extra: Vec<Row>,
    /// Halls whose joins and leaves are not in the scripted order.
    pub out_of_order: Vec<i64>,
}

impl Tally {
    pub fn exact(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.out_of_order.is_empty()
    }
}

/// The kinds of rows the script makes (the log holds other rows too: controls, pings of
/// the readiness board, …).
const KINDS: [&str; 7] = [
    "join",
    "leave",
    "meeting_started",
    "roll_call_started",
    "roll_call_answer",
    "headcount",
    "meeting_ended",
];

/// Compares the meeting's log in the store with the whole script, row for row.
pub async fn tally(store: &scheduler::Store, meeting: &Meeting) -> Tally {
    tally_against(store, meeting, &meeting.script()).await
}

/// Compares the meeting's log in the store with `script`, row for row.
pub async fn tally_against(store: &scheduler::Store, meeting: &Meeting, script: &[Row]) -> Tally {
    let events = store.live_events(meeting.id).await.unwrap();
    let recorded: Vec<Row> = events
        .iter()
        .filter(|e| KINDS.contains(&e.kind.as_str()))
        .map(|e| {
            // The meeting's own rows say who acted; the script knows only what happened.
            match e.kind.as_str() {
                "meeting_started" | "roll_call_started" | "meeting_ended" => {
                    (None, e.kind.clone(), String::new())
                }
                _ => (e.hall_id, e.kind.clone(), e.detail.clone()),
            }
        })
        .collect();
    let mut want: BTreeMap<&Row, usize> = BTreeMap::new();
    for r in script {
        *want.entry(r).or_default() += 1;
    }
    let mut tally = Tally {
        scripted: script.len(),
        ..Tally::default()
    };
    for r in &recorded {
        match want.get_mut(r) {
            Some(n) if *n > 0 => {
                *n -= 1;
                tally.recorded += 1;
            }
            _ => tally.extra.push(r.clone()),
        }
    }
    for (r, n) in want {
        tally.missing.extend(std::iter::repeat_n(r.clone(), n));
    }
    for (i, &h) in meeting.halls.iter().enumerate() {
        let theirs: Vec<&Row> = recorded
            .iter()
            .filter(|r| r.0 == Some(h) && (r.1 == "join" || r.1 == "leave"))
            .collect();
        let scripted = meeting.presence_of(i, h);
        if theirs.len() != scripted.len() || theirs.iter().zip(&scripted).any(|(a, b)| *a != b) {
            tally.out_of_order.push(h);
        }
    }
    tally
}
