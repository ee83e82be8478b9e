//! The floor (with an optional speaking limit) and microphones: who speaks, who is
//! muted; every change tells the pages concerned and refills the slots.

use super::chair::{Floor, Outcome};
use super::Room;
use crate::protocol::{Action, Actor, ServerMessage};
use std::time::Duration;
use tokio::time::Instant;

impl Room {
    /// Mutes or unmutes a hall and tells its page; returns whether it changed.
    pub(super) fn set_muted(&mut self, hall_id: i64, muted: bool, by: Actor) -> bool {
        let changed = if muted {
            self.chair.muted.insert(hall_id)
        } else {
            self.chair.muted.remove(&hall_id)
        };
        if changed {
            if let Some(m) = self.member_by_hall(hall_id) {
                m.tell(ServerMessage::Muted { muted, by });
            }
        }
        changed
    }

    /// After speaking: a hall not allowed to unmute itself is muted again.
    fn close_mic(&mut self, hall_id: i64, by: Actor) {
        if hall_id != self.meeting.host_hall_id && !self.chair.may_unmute.contains(&hall_id) {
            self.set_muted(hall_id, true, by);
        }
    }

    pub(super) async fn give_floor(
        &mut self,
        hall_id: i64,
        limit: Option<u32>,
        by: Actor,
    ) -> Outcome {
        self.present(hall_id)?;
        if let Some(old) = self.chair.floor.take() {
            if old.hall_id != hall_id {
                self.close_mic(old.hall_id, by);
            }
        }
        self.chair.hands.retain(|&h| h != hall_id);
        let secs = limit.filter(|&s| s > 0);
        let floor = Floor {
            hall_id,
            deadline: secs.map(|s| Instant::now() + Duration::from_secs(s.into())),
            until: secs.map(|s| scheduler::time::now() + i64::from(s)),
        };
        self.chair.floor = Some(floor);
        self.set_muted(hall_id, false, by);
        self.broadcast(ServerMessage::Floor {
            hall_id: Some(hall_id),
            until: floor.until,
        });
        self.announce(Action::GiveFloor, Some(hall_id), by, true);
        self.refill_all().await;
        Ok(())
    }

    pub(super) async fn take_floor(&mut self, by: Actor, action: Action) {
        let Some(old) = self.chair.floor.take() else {
            return;
        };
        self.close_mic(old.hall_id, by);
        self.broadcast(ServerMessage::Floor {
            hall_id: None,
            until: None,
        });
        self.announce(action, Some(old.hall_id), by, true);
        self.refill_all().await;
    }

    /// Takes the floor back when the speaking time ran out.
    pub(super) async fn expire_floor(&mut self, now: Instant) {
        let due = self
            .chair
            .floor
            .and_then(|f| f.deadline)
            .is_some_and(|d| d <= now);
        if due {
            self.take_floor(Actor::Server, Action::FloorExpired).await;
        }
    }
}
