//! Many recorded changes in one transaction with few round trips to the database: what
//! a burst is made of (220 roll-call answers and 220 headcounts at once) costs one or two
//! statements a change instead of five.
//!
//! Headcount rows and the live log's rows of answers and headcounts are collected and
//! written as multi-row inserts, in their order, before any other change is written
//! (nothing in the attendance steps reads them back, so the rows and their order are
//! those of writing one change at a time); the roll call an answer names is looked up
//! once per transaction.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::{placeholders, Change, RecordedChange, CHUNK};
use crate::attendance::write;
use crate::guests::guest_of;
use crate::time::Timestamp;
use crate::Result;

/// A row of the live log, waiting to be inserted.
struct Event {
    meeting_id: i64,
    participant: Option<i64>,
    at: Timestamp,
    kind: &'static str,
    detail: String,
    account_id: Option<i64>,
}

/// The state of one transaction writing a batch.
#[derive(Default)]
pub(super) struct Batch {
    /// A roll call's starting change id → the roll call's id and its meeting.
    roll_calls: HashMap<String, (i64, i64)>,
    /// Headcounts to insert: (meeting, hall, at, people).
    headcounts: Vec<(i64, i64, Timestamp, i64)>,
    /// Live log rows to insert, in order.
    events: Vec<Event>,
}

impl Batch {
    /// Writes what `rc` says (part of it later, at [`Batch::flush`]).
    pub async fn apply(
        &mut self,
        c: &mut AnyConnection,
        node: &str,
        rc: &RecordedChange,
    ) -> Result<()> {
        match &rc.change {
            Change::Headcount { hall_id, people } => {
                write::check_people(*people)?;
                self.headcounts
                    .push((rc.meeting_id, *hall_id, rc.at, *people));
                self.events.push(Event {
                    meeting_id: rc.meeting_id,
                    participant: Some(*hall_id),
                    at: rc.at,
                    kind: "headcount",
                    detail: people.to_string(),
                    account_id: None,
                });
            }
            Change::RollCallAnswered {
                roll_call,
                hall_id,
                status,
                reason,
                by,
            } => {
                let (id, meeting_id) = self.roll_call(c, roll_call).await?;
                let reason = write::answer_reason(reason)?;
                write::store_answer(c, id, *hall_id, *status, reason, rc.at, *by).await?;
                self.events.push(Event {
                    meeting_id,
                    participant: Some(*hall_id),
                    at: rc.at,
                    kind: "roll_call_answer",
                    detail: write::answer_detail(*status, reason),
                    account_id: *by,
                });
            }
            _ => {
                // Its own rows come after those collected so far.
                self.flush(c).await?;
                super::apply(c, node, rc).await?;
            }
        }
        Ok(())
    }

    /// The roll call started by change `change_id`, and its meeting.
    async fn roll_call(&mut self, c: &mut AnyConnection, change_id: &str) -> Result<(i64, i64)> {
        if let Some(&known) = self.roll_calls.get(change_id) {
            return Ok(known);
        }
        let id = write::roll_call_by_change(c, change_id).await?;
        let meeting_id = write::meeting_of_roll_call(c, id).await?;
        self.roll_calls
            .insert(change_id.to_owned(), (id, meeting_id));
        Ok((id, meeting_id))
    }

    /// Inserts the rows collected so far, in order.
    pub async fn flush(&mut self, c: &mut AnyConnection) -> Result<()> {
        for chunk in self.headcounts.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO headcounts (meeting_id, hall_id, at, people) VALUES {}",
                placeholders(1, chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for &(meeting_id, hall_id, at, people) in chunk {
                q = q.bind(meeting_id).bind(hall_id).bind(at).bind(people);
            }
            q.execute(&mut *c).await?;
        }
        self.headcounts.clear();
        for chunk in self.events.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO attendance_events (meeting_id, hall_id, guest_id, at, kind, detail, account_id) VALUES {}",
                placeholders(1, chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                // A guest is named by its own column; `hall_id` stays empty (as `live_event`).
                let guest_id = e.participant.and_then(guest_of);
                let hall_id = e.participant.filter(|_| guest_id.is_none());
                q = q
                    .bind(e.meeting_id)
                    .bind(hall_id)
                    .bind(guest_id)
                    .bind(e.at)
                    .bind(e.kind)
                    .bind(e.detail.as_str())
                    .bind(e.account_id);
            }
            q.execute(&mut *c).await?;
        }
        self.events.clear();
        Ok(())
    }
}
