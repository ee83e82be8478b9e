//! The floor timeline of a meeting (diễn biến phát biểu): who had the floor, from when to
//! when, and how each turn ended. Derived from the meeting's live log — the
//! `give_floor`, `take_floor` and `floor_expired` rows the rooms write through the
//! attendance writer, the holder's `leave` and the `meeting_ended` row — never stored apart.

use serde::Serialize;
use sqlx::Row;

use crate::accounts::Principal;
use crate::time::{self, Timestamp};
use crate::{Result, Store};

/// The live log's kinds for the floor, as the rooms write them (the names of
/// `signaling`'s `Action`s; a test there checks they agree).
pub const GIVE_FLOOR: &str = "give_floor";
pub const TAKE_FLOOR: &str = "take_floor";
pub const FLOOR_EXPIRED: &str = "floor_expired";

/// How a turn at the floor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorEnd {
    /// The host gave the floor to another hall.
    Passed,
    /// The host took the floor back.
    Taken,
    /// The speaking time ran out and the server took it back.
    Expired,
    /// The hall left the meeting (also removed, or its link lost for good).
    Left,
    /// The meeting ended.
    MeetingEnded,
}

impl FloorEnd {
    /// The stable code (`passed`, `taken`, …), also the dictionary key's last part.
    pub fn as_str(self) -> &'static str {
        match self {
            FloorEnd::Passed => "passed",
            FloorEnd::Taken => "taken",
            FloorEnd::Expired => "expired",
            FloorEnd::Left => "left",
            FloorEnd::MeetingEnded => "meeting_ended",
        }
    }
}

/// One hall's turn at the floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloorTurn {
    /// The hall that had the floor.
    pub hall_id: i64,
    pub hall_name: String,
    /// Its unit on the meeting's day.
    pub unit_name: String,
    /// When it was given the floor.
    pub from: Timestamp,
    /// When the turn ended; none while the hall still has the floor.
    pub until: Option<Timestamp>,
    /// How it ended; none while it has not.
    pub end: Option<FloorEnd>,
}

impl FloorTurn {
    /// Seconds at the floor (an open turn counts up to `now`).
    pub fn seconds(&self, now: Timestamp) -> i64 {
        (self.until.unwrap_or(now) - self.from).max(0)
    }
}

/// A row of the live log that matters to the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FloorEvent {
    pub at: Timestamp,
    pub kind: String,
    pub hall_id: Option<i64>,
    /// The hall's name and unit, when the row names a hall.
    pub names: Option<(String, String)>,
}

/// The turns the log's rows describe, oldest first. Giving the floor again to the hall
/// that has it continues its turn (a new speaking limit, not a new turn).
pub(crate) fn turns(events: &[FloorEvent]) -> Vec<FloorTurn> {
    let mut out: Vec<FloorTurn> = Vec::new();
    let mut open: Option<FloorTurn> = None;
    let mut close = |open: &mut Option<FloorTurn>, at: Timestamp, end: FloorEnd| {
        if let Some(mut turn) = open.take() {
            turn.until = Some(at.max(turn.from));
            turn.end = Some(end);
            out.push(turn);
        }
    };
    for e in events {
        let holder = open.as_ref().map(|t| t.hall_id);
        match (e.kind.as_str(), e.hall_id) {
            (GIVE_FLOOR, Some(h)) if holder == Some(h) => {}
            (GIVE_FLOOR, Some(h)) => {
                close(&mut open, e.at, FloorEnd::Passed);
                let (hall_name, unit_name) = e.names.clone().unwrap_or_default();
                open = Some(FloorTurn {
                    hall_id: h,
                    hall_name,
                    unit_name,
                    from: e.at,
                    until: None,
                    end: None,
                });
            }
            (TAKE_FLOOR, _) => close(&mut open, e.at, FloorEnd::Taken),
            (FLOOR_EXPIRED, _) => close(&mut open, e.at, FloorEnd::Expired),
            ("leave", Some(h)) if holder == Some(h) => close(&mut open, e.at, FloorEnd::Left),
            ("meeting_ended", _) => close(&mut open, e.at, FloorEnd::MeetingEnded),
            _ => {}
        }
    }
    out.extend(open);
    out
}

impl Store {
    /// The floor timeline of a meeting `who` may see (staff only, as the attendance
    /// report), oldest turn first.
    pub async fn floor_timeline(&self, who: &Principal, meeting_id: i64) -> Result<Vec<FloorTurn>> {
        who.require_staff()?;
        let meeting = self.meeting_for(who, meeting_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT e.at, e.kind, e.hall_id, h.name AS hall_name, u.name AS unit_name
             FROM attendance_events e LEFT JOIN halls h ON h.id = e.hall_id
             LEFT JOIN units u ON u.id = {}
             WHERE e.meeting_id = $1 AND e.kind IN ($3, $4, $5, 'leave', 'meeting_ended')
             ORDER BY e.id",
            crate::halls::unit_of_hall_on(2)
        ))
        .bind(meeting_id)
        .bind(time::local_date(meeting.starts_at).to_string())
        .bind(GIVE_FLOOR)
        .bind(TAKE_FLOOR)
        .bind(FLOOR_EXPIRED)
        .fetch_all(&self.pool)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let hall_name: Option<String> = r.try_get("hall_name")?;
            let unit_name: Option<String> = r.try_get("unit_name")?;
            events.push(FloorEvent {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                hall_id: r.try_get("hall_id")?,
                names: hall_name.map(|h| (h, unit_name.unwrap_or_default())),
            });
        }
        Ok(turns(&events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: Timestamp, kind: &str, hall_id: Option<i64>) -> FloorEvent {
        FloorEvent {
            at,
            kind: kind.into(),
            hall_id,
            names: hall_id.map(|h| (format!("hall {h}"), format!("unit {h}"))),
        }
    }

    fn summary(turns: &[FloorTurn]) -> Vec<(i64, Timestamp, Option<Timestamp>, Option<&str>)> {
        turns
            .iter()
            .map(|t| (t.hall_id, t.from, t.until, t.end.map(FloorEnd::as_str)))
            .collect()
    }

    #[test]
    fn each_way_a_turn_ends() {
        let events = [
            ev(100, "give_floor", Some(1)),
            ev(150, "give_floor", Some(2)),
            ev(160, "leave", Some(1)),
            ev(200, "take_floor", Some(2)),
            ev(300, "give_floor", Some(3)),
            ev(360, "floor_expired", Some(3)),
            ev(400, "give_floor", Some(1)),
            ev(420, "leave", Some(1)),
            ev(500, "give_floor", Some(2)),
            ev(600, "meeting_ended", None),
        ];
        assert_eq!(
            summary(&turns(&events)),
            [
                (1, 100, Some(150), Some("passed")),
                (2, 150, Some(200), Some("taken")),
                (3, 300, Some(360), Some("expired")),
                (1, 400, Some(420), Some("left")),
                (2, 500, Some(600), Some("meeting_ended")),
            ]
        );
    }

    #[test]
    fn giving_the_floor_again_continues_the_turn_and_an_open_turn_stays_open() {
        let events = [
            ev(100, "give_floor", Some(1)),
            ev(130, "give_floor", Some(1)),
            ev(140, "leave", Some(2)),
            ev(150, "take_floor", None),
            ev(170, "take_floor", None),
            ev(200, "give_floor", Some(2)),
        ];
        let turns = turns(&events);
        assert_eq!(
            summary(&turns),
            [(1, 100, Some(150), Some("taken")), (2, 200, None, None)]
        );
        assert_eq!(turns[0].hall_name, "hall 1");
        assert_eq!((turns[0].seconds(999), turns[1].seconds(260)), (50, 60));
    }
}
