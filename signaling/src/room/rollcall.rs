//! Roll call (điểm danh), headcounts and the readiness board of the host and secretariat.
//!
//! Answers, marks and headcounts are written through the recorder (in order, after the
//! roll call they belong to) and announced to every page; the board counts invited
//! halls (from the store) connected now, per district, with each hall's link state:
//! loss both ways, round trip and jitter from the SFU's statistics.

use super::{Member, Room};
use crate::link::{Frame, StateKey};
use crate::protocol::{
    Action, Actor, ErrorCode, HallReadiness, LinkState, ProtocolError, Readiness, RollCallStatus,
    ServerMessage, UnitReadiness,
};
use crate::recorder::PresenceKind;
use sfu::PeerStats;
use std::time::Duration;
use tokio::time::Instant;

/// Loss above which a link counts as poor, either way: of the hall's media reaching
/// the SFU, or of the SFU's media reaching the hall (as the hall reports it).
const POOR_LOSS: f32 = 0.05;
/// Round trip above which a link counts as poor: a conversation starts to stumble.
const POOR_RTT_MS: u128 = 300;
/// Jitter above which a link counts as poor.
const POOR_JITTER_MS: u128 = 50;

/// Whether a hall's link is "poor" on the board (đường truyền kém): loss over 5 % in
/// either direction, a round trip over 300 ms or jitter over 50 ms.
fn link_is_poor(s: &PeerStats) -> bool {
    s.loss_in > POOR_LOSS
        || s.loss_out > POOR_LOSS
        || s.rtt.is_some_and(|rtt| rtt.as_millis() > POOR_RTT_MS)
        || s.jitter_in.as_millis() > POOR_JITTER_MS
}

/// Milliseconds for the board, rounded to the nearest (a 0.7 ms loopback round trip
/// shows as 1 ms, not 0), saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_micros().saturating_add(500) / 1000).unwrap_or(u64::MAX)
}
/// Largest headcount a hall may report (the store's bound).
const MAX_PEOPLE: u32 = 10_000;

type Outcome = Result<(), ProtocolError>;

fn no_roll_call() -> ProtocolError {
    ProtocolError::new(ErrorCode::OutOfOrder, "no roll call is in progress")
}

fn roll_call_ended() -> ProtocolError {
    ProtocolError::new(ErrorCode::RollCallEnded, "the roll call has ended")
}

fn is_guest(hall_id: i64) -> bool {
    scheduler::guests::guest_of(hall_id).is_some()
}

/// Guests are not halls: the roll call and headcounts are the halls' (a guest's
/// presence is its attendance intervals).
fn not_for_guests() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Forbidden,
        "guests take no part in the roll call or headcount",
    )
}

impl Room {
    /// Starts a roll call: every page gets `roll_call{id}`.
    pub(super) fn start_roll_call(&mut self, by: Actor) {
        // A number the pages have not seen in this meeting (one taken up from another
        // node's room may come round on this node's count).
        let mut id = self.shared.new_roll_call();
        while Some(id) == self.chair.roll_call || Some(id) == self.chair.ended_roll_call {
            id = self.shared.new_roll_call();
        }
        self.chair.roll_call = Some(id);
        self.chair.ended_roll_call = None;
        self.chair.answers.clear();
        let change = PresenceKind::RollCallStarted { roll_call: id, by };
        self.shared.record(self.meeting.id, change);
        self.broadcast(ServerMessage::RollCall { id });
        self.announce(Action::RollCallStarted, None, by, false);
    }

    /// Ends the roll call in progress: answers are refused from now on; the answers
    /// given stay on the board until the next roll call. Ending it again does nothing.
    pub(super) fn end_roll_call(&mut self, by: Actor) -> Outcome {
        let Some(id) = self.chair.roll_call.take() else {
            return match self.chair.ended_roll_call {
                Some(_) => Ok(()),
                None => Err(no_roll_call()),
            };
        };
        self.chair.ended_roll_call = Some(id);
        let change = PresenceKind::RollCallEnded { roll_call: id, by };
        self.shared.record(self.meeting.id, change);
        self.announce(Action::RollCallEnded, None, by, false);
        Ok(())
    }

    /// A hall answers for itself: present or late.
    pub(super) fn answer_roll_call(&mut self, hall_id: i64, status: RollCallStatus) -> Outcome {
        if is_guest(hall_id) {
            return Err(not_for_guests());
        }
        if self.chair.roll_call.is_none() && self.chair.ended_roll_call.is_some() {
            return Err(roll_call_ended());
        }
        let id = self.chair.roll_call.ok_or_else(no_roll_call)?;
        if status == RollCallStatus::Absent {
            return Err(ProtocolError::new(
                ErrorCode::InvalidMessage,
                "a hall answers present or late",
            ));
        }
        let by = Actor::Hall { hall_id };
        self.record_answer(id, hall_id, status, String::new(), by);
        self.announce(Action::RollCallAnswer, Some(hall_id), by, false);
        Ok(())
    }

    /// The host or the secretariat marks a hall (absent with a reason, late, present), in
    /// the roll call in progress or, once ended, the last one.
    pub(super) fn mark_roll_call(
        &mut self,
        hall_id: i64,
        status: RollCallStatus,
        reason: String,
        by: Actor,
    ) -> Outcome {
        let id = self
            .chair
            .roll_call
            .or(self.chair.ended_roll_call)
            .ok_or_else(no_roll_call)?;
        let invited = self
            .invited
            .as_deref()
            .is_some_and(|halls| halls.iter().any(|h| h.hall_id == hall_id));
        if is_guest(hall_id) || (!invited && self.member_by_hall(hall_id).is_none()) {
            return Err(ProtocolError::new(
                ErrorCode::UnknownHall,
                "the hall is not invited to this meeting",
            ));
        }
        let reason = reason.trim().to_owned();
        if reason.chars().count() > 500 {
            return Err(ProtocolError::new(
                ErrorCode::InvalidMessage,
                "reason: at most 500 characters",
            ));
        }
        self.record_answer(id, hall_id, status, reason, by);
        self.announce(Action::RollCallMark, Some(hall_id), by, false);
        Ok(())
    }

    fn record_answer(
        &mut self,
        roll_call: u64,
        hall_id: i64,
        status: RollCallStatus,
        reason: String,
        by: Actor,
    ) {
        self.chair.answers.insert(hall_id, status);
        let change = PresenceKind::RollCallAnswered {
            roll_call,
            hall_id,
            status,
            reason,
            by,
        };
        self.shared.record(self.meeting.id, change);
    }

    /// A hall reports how many people are in its room.
    pub(super) fn headcount(&mut self, hall_id: i64, people: u32) -> Outcome {
        if is_guest(hall_id) {
            return Err(not_for_guests());
        }
        if people > MAX_PEOPLE {
            return Err(ProtocolError::new(
                ErrorCode::InvalidMessage,
                format!("people: 0 to {MAX_PEOPLE}"),
            ));
        }
        self.chair.headcounts.insert(hall_id, people);
        let change = PresenceKind::Headcount {
            hall_id,
            people: i64::from(people),
        };
        self.shared.record(self.meeting.id, change);
        let by = Actor::Hall { hall_id };
        self.announce(Action::Headcount, Some(hall_id), by, false);
        Ok(())
    }

    /// The host's page asked for the board: it gets it now and on changes.
    pub(super) fn watch_readiness(&mut self, session: &str) {
        let Some(i) = self.index_of(session) else {
            return;
        };
        let board = self.readiness();
        if let Some(link) = &self.members[i].link {
            let frame = Frame::of(&ServerMessage::Readiness(Box::new(board.clone())));
            link.set_state(StateKey::Readiness, frame);
        }
        let session = self.members[i].session.clone();
        if !self.readiness_watchers.contains(&session) {
            self.readiness_watchers.push(session);
        }
        self.readiness_sent = Some(board);
        self.next_readiness = Instant::now() + self.shared.config.readiness_interval;
    }

    /// Pushes the board to its watchers when it changed, at most every interval.
    pub(super) fn push_readiness(&mut self, now: Instant) {
        if self.readiness_watchers.is_empty() || now < self.next_readiness {
            return;
        }
        self.next_readiness = now + self.shared.config.readiness_interval;
        let board = self.readiness();
        if self.readiness_sent.as_ref() == Some(&board) {
            return;
        }
        let frame = Frame::of(&ServerMessage::Readiness(Box::new(board.clone())));
        for m in &self.members {
            if let Some(link) = m
                .link
                .as_ref()
                .filter(|_| self.readiness_watchers.contains(&m.session))
            {
                link.set_state(StateKey::Readiness, frame.clone());
            }
        }
        self.readiness_sent = Some(board);
    }

    /// The board now: invited halls (and any present hall not invited), per district;
    /// present guests apart, counted on their own.
    pub(super) fn readiness(&self) -> Readiness {
        let mut board = Readiness::default();
        let invited = self.invited.as_deref().unwrap_or(&[]);
        for inv in invited {
            let m = self.member_by_hall(inv.hall_id);
            let hall = self.hall_readiness(inv.hall_id, &inv.hall_name, m);
            let connected = hall.state != LinkState::NotConnected;
            board.invited += 1;
            board.connected += usize::from(connected);
            let unit = match board
                .per_district
                .iter_mut()
                .find(|u| u.unit == inv.group_unit_name)
            {
                Some(unit) => unit,
                None => {
                    board.per_district.push(UnitReadiness {
                        unit: inv.group_unit_name.clone(),
                        invited: 0,
                        connected: 0,
                    });
                    let last = board.per_district.len() - 1;
                    &mut board.per_district[last]
                }
            };
            unit.invited += 1;
            unit.connected += usize::from(connected);
            board.halls.push(hall);
        }
        for m in &self.members {
            if m.is_viewer() {
                continue;
            }
            if m.is_source() {
                board
                    .sources
                    .push(self.hall_readiness(m.hall.id, &m.hall.name, Some(m)));
            } else if m.is_guest() {
                let guest = self.hall_readiness(m.hall.id, &m.hall.name, Some(m));
                board.guests_connected += usize::from(guest.state != LinkState::NotConnected);
                board.guests.push(guest);
            } else if !invited.iter().any(|i| i.hall_id == m.hall.id) {
                let hall = self.hall_readiness(m.hall.id, &m.hall.name, Some(m));
                board.halls.push(hall);
            }
        }
        board
    }

    fn hall_readiness(&self, hall_id: i64, name: &str, m: Option<&Member>) -> HallReadiness {
        let stats = m.and_then(|m| m.stats.filter(|_| m.ready));
        let state = match m {
            None => LinkState::NotConnected,
            Some(m) if m.link.is_none() && m.feed.is_none() => LinkState::NotConnected,
            Some(m) if !m.ready => LinkState::Connected,
            Some(_) => match stats {
                Some(s) if link_is_poor(&s) => LinkState::Poor,
                _ => LinkState::MediaOk,
            },
        };
        HallReadiness {
            hall_id,
            name: name.to_owned(),
            state,
            loss: stats.map(|s| s.loss_in),
            loss_out: stats.map(|s| s.loss_out),
            rtt_ms: stats.and_then(|s| s.rtt).map(millis),
            jitter_ms: stats.map(|s| millis(s.jitter_in)),
            roll_call: self.chair.answers.get(&hall_id).copied(),
            people: self.chair.headcounts.get(&hall_id).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfu::PeerId;

    fn stats() -> PeerStats {
        let mut s = PeerStats::new(PeerId(1));
        s.rtt = Some(Duration::from_millis(42));
        s.jitter_in = Duration::from_millis(8);
        s
    }

    #[test]
    fn a_link_is_poor_on_loss_either_way_a_long_round_trip_or_jitter() {
        assert!(!link_is_poor(&stats()), "a good link");
        assert!(
            !link_is_poor(&PeerStats::new(PeerId(1))),
            "no round trip yet"
        );
        let mut s = stats();
        s.loss_in = 0.06;
        assert!(link_is_poor(&s), "loss of what the hall sends");
        let mut s = stats();
        s.loss_out = 0.06;
        assert!(link_is_poor(&s), "loss of what the hall receives");
        let mut s = stats();
        s.loss_out = 0.05;
        assert!(!link_is_poor(&s), "5 % is not over 5 %");
        let mut s = stats();
        s.rtt = Some(Duration::from_millis(301));
        assert!(link_is_poor(&s), "a satellite-like round trip");
        let mut s = stats();
        s.jitter_in = Duration::from_millis(51);
        assert!(link_is_poor(&s), "jitter");
    }

    #[test]
    fn board_milliseconds_round_to_the_nearest() {
        assert_eq!(millis(Duration::from_micros(690)), 1);
        assert_eq!(millis(Duration::from_micros(42_499)), 42);
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
