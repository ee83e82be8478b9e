//! A chaired meeting moving home (the drain and fail-over tests): before the move the
//! host gives hall x the floor, hall y raises its hand, the host mutes hall z and opens
//! a roll call that x and y answer; after it every page must be welcomed with that
//! floor, hand, mute and open roll call, z's answer must go into the same roll call, and
//! the report must list the three answers.

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::get_json;
use super::roaming::Welcome;

/// The host's, x's, y's and z's pages: their hall ids and where to send their messages.
pub struct Chaired {
    pub host: (i64, UnboundedSender<Value>),
    pub x: (i64, UnboundedSender<Value>),
    pub y: (i64, UnboundedSender<Value>),
    pub z: (i64, UnboundedSender<Value>),
}

/// How many `kind` rows the meeting's log has.
async fn count(store: &scheduler::Store, meeting: i64, kind: &str) -> usize {
    let events = store.live_events(meeting).await.unwrap();
    events.iter().filter(|e| e.kind == kind).count()
}

/// Waits (bounded) until the meeting's log has `n` rows of `kind`.
pub async fn logged(store: &scheduler::Store, meeting: i64, kind: &str, n: usize) {
    for _ in 0..200 {
        if count(store, meeting, kind).await == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not {n} {kind} rows");
}

impl Chaired {
    /// The chair's work before the move (the pages are in; the meeting started). Returns
    /// the meeting's state as the staff's look at it through `base` shows it then.
    pub async fn chair(
        &self,
        http: &reqwest::Client,
        base: &str,
        staff: &str,
        store: &scheduler::Store,
        meeting: i64,
    ) -> Value {
        let send = |to: &UnboundedSender<Value>, m: Value| to.send(m).unwrap();
        send(
            &self.host.1,
            json!({"type": "give_floor", "hall_id": self.x.0}),
        );
        send(&self.y.1, json!({"type": "raise_hand"}));
        send(
            &self.host.1,
            json!({"type": "mute", "hall_id": self.z.0, "muted": true}),
        );
        send(&self.host.1, json!({"type": "start_roll_call"}));
        logged(store, meeting, "roll_call_started", 1).await;
        send(
            &self.x.1,
            json!({"type": "roll_call_answer", "status": "present"}),
        );
        send(
            &self.y.1,
            json!({"type": "roll_call_answer", "status": "late"}),
        );
        logged(store, meeting, "roll_call_answer", 2).await;
        let url = format!("{base}/api/v1/meetings/{meeting}/live");
        let shown = get_json(http, &url, staff).await;
        self.assert_state(&shown["state"], shown["state"]["roll_call"].as_u64());
        shown["state"].clone()
    }

    /// `state` shows x's floor, y's hand, z muted and roll call `roll_call` open.
    pub fn assert_state(&self, state: &Value, roll_call: Option<u64>) {
        assert_eq!(state["floor"]["hall_id"], self.x.0, "the floor: {state}");
        assert_eq!(state["hands"], json!([self.y.0]), "the hands: {state}");
        let muted = state["muted"].as_array().cloned().unwrap_or_default();
        assert!(muted.contains(&json!(self.z.0)), "z muted: {state}");
        // Halls join muted here: the floor holder was unmuted by the floor.
        assert!(!muted.contains(&json!(self.x.0)), "x speaks: {state}");
        assert!(roll_call.is_some(), "a roll call: {state}");
        assert_eq!(
            state["roll_call"].as_u64(),
            roll_call,
            "the same roll call: {state}"
        );
    }

    /// After the move: every page welcomed again (`after`) shows the chair's state as
    /// before; z answers into the same roll call, which the report then lists with the
    /// three answers.
    pub async fn carried_over(
        &self,
        after: &[Welcome],
        before: &Value,
        store: &scheduler::Store,
        meeting: i64,
    ) {
        let roll_call = before["roll_call"].as_u64();
        for w in after {
            self.assert_state(&w.state, roll_call);
        }
        self.z
            .1
            .send(json!({"type": "roll_call_answer", "status": "present"}))
            .unwrap();
        logged(store, meeting, "roll_call_answer", 3).await;
        assert_eq!(count(store, meeting, "roll_call_started").await, 1);
        let latest = store.latest_roll_call(meeting).await.unwrap().unwrap();
        assert!(!latest.ended && latest.answers.len() == 3, "{latest:?}");
        let admin = store.principal_by_username("admin").await.unwrap();
        let rows = store.meeting_attendance(&admin, meeting).await.unwrap();
        let answer = |hall: i64| {
            let row = rows.iter().find(|r| r.hall.hall_id == hall).unwrap();
            row.roll_call.map(|s| s.as_str())
        };
        assert_eq!(
            [answer(self.x.0), answer(self.y.0), answer(self.z.0)],
            [Some("present"), Some("late"), Some("present")],
            "the roll-call report lists the three answers"
        );
    }
}
