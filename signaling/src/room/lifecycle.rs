//! The meeting's phases (waiting → test → started → ended), taking up the recorded phase
//! when a room opens again (after a restart, on a new home node), removing a hall, and
//! the server's stop.

use super::chair::{forbidden, Outcome};
use super::{error, Room};
use crate::link::{close, SessionLink};
use crate::protocol::{Action, Actor, ErrorCode, Phase, ProtocolError, Reason};
use crate::recorder::PresenceKind;
use tokio::time::Instant;

impl Room {
    /// Takes up the phase the store recorded for this meeting, before the room serves
    /// anyone (joins wait in the queue meanwhile): a meeting started before a restart is
    /// `started` again, with nothing recorded anew (its first start time stays); one only
    /// tested is `test` (the host starts it from there as usual); one ended is `ended` and
    /// refuses joins. The floor, hands, mutes, lock, roll call and recording come back
    /// from the live state (`live`). Without a store, or if it cannot answer, the room
    /// starts `waiting` as before.
    pub(super) async fn restore_phase(&mut self) {
        use scheduler::live::RecordedPhase;
        let Some(store) = self.shared.roster.get() else {
            return;
        };
        let phase = match store.recorded_phase(self.meeting.id).await {
            Ok(RecordedPhase::NotStarted) => return,
            Ok(RecordedPhase::Test) => Phase::Test,
            Ok(RecordedPhase::Started) => Phase::Started,
            Ok(RecordedPhase::Ended) => {
                self.shared.end(self.meeting.id);
                Phase::Ended
            }
            Err(e) => {
                tracing::error!(meeting = self.meeting.id, error = ?e, "recorded phase not read");
                return;
            }
        };
        tracing::info!(
            meeting = self.meeting.id,
            ?phase,
            "phase taken up from the store"
        );
        self.chair.phase = phase;
    }

    pub(super) async fn set_phase(&mut self, phase: Phase, by: Actor) -> Outcome {
        use Phase::{Ended, Started, Test, Waiting};
        let from = self.chair.phase;
        let allowed = match (from, phase) {
            (Ended, _) => {
                return Err(ProtocolError::new(
                    ErrorCode::MeetingEnded,
                    "the meeting has ended",
                ))
            }
            (Test, Test) | (Started, Started) => return Ok(()),
            (_, Waiting) | (Started, Test) => false,
            (Waiting, _) | (Test, Started | Ended) | (Started, Ended) => true,
        };
        if !allowed {
            return Err(ProtocolError::new(
                ErrorCode::OutOfOrder,
                format!("the meeting cannot go from {from:?} to {phase:?}"),
            ));
        }
        self.chair.phase = phase;
        match phase {
            Test => self.announce(Action::TestStarted, None, by, true),
            Started => {
                self.shared
                    .record(self.meeting.id, PresenceKind::MeetingStarted { by });
                self.announce(Action::MeetingStarted, None, by, false);
                self.record_by_default().await;
            }
            Ended => self.end_meeting(by).await,
            Waiting => {}
        }
        Ok(())
    }

    /// Ends the meeting: records it, closes every hall, refuses joins from now on.
    async fn end_meeting(&mut self, by: Actor) {
        tracing::info!(meeting = self.meeting.id, "meeting ended");
        // The recording ends with the meeting (its file is finished).
        let _ = self.stop_recording(by).await;
        self.chair.floor = None;
        self.announce(Action::MeetingEnded, None, by, false);
        self.shared.end(self.meeting.id);
        self.shared
            .record(self.meeting.id, PresenceKind::MeetingEnded { by });
        for m in std::mem::take(&mut self.members) {
            if let Some(link) = m.link {
                link.error(ErrorCode::MeetingEnded, "the meeting has ended");
                link.close(close::MEETING_ENDED, ErrorCode::MeetingEnded.as_str());
            }
            if let Some(peer) = m.peer {
                self.close_on(m.node.as_deref(), peer).await;
            }
        }
        self.readiness_watchers.clear();
        self.empty_since = Some(Instant::now());
    }

    /// The server stops: every present hall's interval ends now as `server_restart`, and
    /// its page is told with close code 1012 (come back at once). Returns those links.
    /// Without `record` nothing is written (fenced out: the meeting's home moved).
    pub(super) async fn stop_for_restart(&mut self, record: bool) -> Vec<SessionLink> {
        let _ = self.stop_recording(Actor::Server).await;
        let mut closed = Vec::new();
        for m in std::mem::take(&mut self.members) {
            let reason = scheduler::attendance::LeaveReason::ServerRestart;
            let hall_id = m.hall.id;
            if m.feed.is_none() && record {
                self.shared
                    .record(self.meeting.id, PresenceKind::Left { hall_id, reason });
            }
            if let Some(link) = m.link {
                link.close(close::SERVICE_RESTART, "server_restart");
                closed.push(link);
            }
            if let Some(peer) = m.peer {
                self.close_on(m.node.as_deref(), peer).await;
            }
        }
        self.readiness_watchers.clear();
        self.empty_since = Some(Instant::now());
        closed
    }

    /// The node stops and hands the meeting to another node: every hall leaves with
    /// nothing recorded — its interval stays open, and its join through the new home
    /// within the grace period continues it. Returns the links, still open.
    pub(super) async fn hand_over(&mut self) -> Vec<SessionLink> {
        let _ = self.stop_recording(Actor::Server).await;
        let mut links = Vec::new();
        for m in std::mem::take(&mut self.members) {
            links.extend(m.link);
            if let Some(peer) = m.peer {
                self.close_on(m.node.as_deref(), peer).await;
            }
        }
        self.readiness_watchers.clear();
        self.empty_since = Some(Instant::now());
        links
    }

    pub(super) async fn remove_hall(&mut self, hall_id: i64, by: Actor) -> Outcome {
        if hall_id == self.meeting.host_hall_id {
            return Err(forbidden("the host hall cannot be removed"));
        }
        self.chair.removed.insert(hall_id);
        if let Some(i) = self.members.iter().position(|m| m.hall.id == hall_id) {
            if let Some(link) = self.members[i].link.take() {
                link.send(error(
                    ErrorCode::Removed,
                    "the host removed this hall from the meeting",
                ));
                link.close(close::REMOVED, ErrorCode::Removed.as_str());
            }
            self.remove(i, Reason::Removed).await;
        }
        self.announce(Action::Remove, Some(hall_id), by, true);
        Ok(())
    }

    /// An administrator disabled the hall (or its room account), or staff revoked a
    /// guest: its socket is told and closed, and it leaves the meeting (its token is
    /// refused from now on by the store).
    pub(super) async fn shut_out(&mut self, hall_id: i64) {
        let Some(i) = self.members.iter().position(|m| m.hall.id == hall_id) else {
            return;
        };
        let (code, message) = match scheduler::guests::guest_of(hall_id) {
            Some(_) => (ErrorCode::GuestRevoked, "this guest invitation was revoked"),
            None => (ErrorCode::JoinRefused, "this hall has been disabled"),
        };
        if let Some(link) = self.members[i].link.take() {
            link.send(error(code, message));
            link.close(close::POLICY, code.as_str());
        }
        self.remove(i, Reason::Removed).await;
    }
}
