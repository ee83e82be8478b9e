//! Who is in the room: joins (with refusals and replacement), leaves, grace periods and
//! the periodic "still here" written for attendance.

use super::{Member, Room, SessionId};
use crate::link::{close, SessionLink};
use crate::protocol::{ErrorCode, Phase, ProtocolError, Reason, ServerMessage, PROTOCOL_VERSION};
use crate::recorder::PresenceKind;
use crate::Admission;
use scheduler::attendance::LeaveReason;
use tokio::time::Instant;

impl Room {
    /// Why the room refuses `hall_id` now, if it does: the meeting ended, the hall was
    /// removed, or the meeting is locked and the hall is not present (nor the host, nor
    /// back within the grace period after the room moved).
    fn refusal(&self, hall_id: i64) -> Option<ProtocolError> {
        if self.chair.phase == Phase::Ended || self.shared.is_ended(self.meeting.id) {
            return Some(ProtocolError::new(
                ErrorCode::MeetingEnded,
                "the meeting has ended",
            ));
        }
        if self.chair.removed.contains(&hall_id) {
            return Some(ProtocolError::new(
                ErrorCode::Removed,
                "the host removed this hall from the meeting",
            ));
        }
        // A hall that was in the meeting's previous room (before a move or a restart)
        // comes back to its place, as a reconnect does.
        let present =
            self.member_by_hall(hall_id).is_some() || self.live.returning.contains(&hall_id);
        if self.chair.locked && !present && hall_id != self.meeting.host_hall_id {
            return Some(ProtocolError::new(
                ErrorCode::MeetingLocked,
                "the meeting is locked; no new hall may join",
            ));
        }
        // A node that cannot carry one more hall refuses it rather than degrade every
        // meeting; a hall already present (a reconnect, a reload) keeps its place.
        if !present {
            let refused = self.shared.load.refusal(&self.shared.config.capacity);
            if let Some(message) = refused {
                return Some(ProtocolError::new(ErrorCode::Capacity, message));
            }
        }
        None
    }

    /// Adds the hall, or gives its existing place to the new socket.
    pub(super) async fn join(
        &mut self,
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
    ) -> Result<SessionId, ProtocolError> {
        let hall = admission.hall;
        let hall_id = hall.id;
        if let Some(refused) = self.refusal(hall_id) {
            return Err(refused);
        }
        self.empty_since = None;
        let fresh: SessionId = uuid::Uuid::new_v4().simple().to_string().into();
        let session = match self.members.iter().position(|m| m.hall.id == hall.id) {
            Some(i) => {
                let old = &mut self.members[i];
                if let Some(old_link) = old.link.take() {
                    old_link.error(ErrorCode::Replaced, "this hall joined from another page");
                    old_link.close(close::REPLACED, ErrorCode::Replaced.as_str());
                }
                // Session ids stay unique per socket, so a late message of the old
                // socket can never act for the new one; `resume` is only recorded.
                let resumed = resume.is_some_and(|r| *r == *old.session);
                tracing::info!(
                    hall = hall.id,
                    resumed,
                    "hall rejoined; its old session is replaced"
                );
                let session = fresh;
                let replaced = std::mem::replace(&mut old.session, session.clone());
                // The old page watched the board; the new one asks again.
                self.readiness_watchers.retain(|s| *s != replaced);
                let old = &mut self.members[i];
                old.link = Some(link);
                old.lost_until = None;
                self.drop_media(i).await;
                session
            }
            None => {
                tracing::info!(hall = hall.id, guest = hall.id < 0, "hall joined");
                let host = self.meeting.host_hall_id;
                if self.seen.insert(hall_id)
                    && hall_id != host
                    && self.shared.config.halls_join_muted
                {
                    self.chair.muted.insert(hall_id);
                }
                self.broadcast(ServerMessage::ParticipantJoined {
                    hall_id: hall.id,
                    name: hall.name.clone(),
                    reason: Reason::Joined,
                    muted: self.chair.muted.contains(&hall_id),
                    guest: scheduler::guests::guest_of(hall_id).is_some(),
                    source: false,
                });
                let seat = crate::load::Seat::take(&self.shared.load);
                self.members
                    .push(Member::new(hall, fresh.clone(), Some(link), seat));
                fresh
            }
        };
        self.shared
            .record(self.meeting.id, PresenceKind::Joined { hall_id });
        let host = self.meeting.host_hall_id;
        let participants = self
            .members
            .iter()
            .filter(|m| !m.is_viewer())
            .map(|m| m.participant(host))
            .collect();
        if let Some(m) = self.members.iter().find(|m| m.session == session) {
            m.tell(ServerMessage::Welcome {
                v: PROTOCOL_VERSION,
                session_id: session.to_string(),
                hall: m.hall.clone(),
                meeting: self.meeting.clone(),
                participants,
                heartbeat_ms: u64::try_from(self.shared.config.heartbeat.as_millis())
                    .unwrap_or(u64::MAX),
                state: Box::new(self.chair.state()),
                // Fresh TURN credentials on every (re)join: kiosks run all day.
                ice_servers: self
                    .shared
                    .config
                    .ice
                    .servers(&m.hall, scheduler::time::now()),
                ice_transport_policy: self.shared.config.ice.transport_policy,
            });
            if self.speaker.is_some() {
                m.tell(ServerMessage::ActiveSpeaker {
                    hall_id: self.speaker,
                });
            }
            if let Some(id) = self.chair.roll_call {
                m.tell(ServerMessage::RollCall { id });
            }
            let recording = self.recording_info();
            if recording.on {
                m.tell(ServerMessage::Recording(recording));
            }
        }
        Ok(session)
    }

    /// Removes member `i`: tells the others, clears its floor, spotlight and hand, then
    /// takes its media off their slots.
    pub(super) async fn remove(&mut self, i: usize, reason: Reason) {
        if self.members[i].feed.is_some() {
            // A WHIP source or WHEP viewer: never in attendance.
            return self.remove_feed(i).await;
        }
        let m = self.members.remove(i);
        tracing::info!(hall = m.hall.id, ?reason, "hall left");
        let leave = match reason {
            Reason::NetworkLost => LeaveReason::NetworkLost,
            Reason::Removed => LeaveReason::Removed,
            _ => LeaveReason::Left,
        };
        self.shared.record(
            self.meeting.id,
            PresenceKind::Left {
                hall_id: m.hall.id,
                reason: leave,
            },
        );
        self.broadcast(ServerMessage::ParticipantLeft {
            hall_id: m.hall.id,
            name: m.hall.name,
            reason,
        });
        self.readiness_watchers.retain(|s| *s != m.session);
        if self.chair.forget(m.hall.id) {
            if self.chair.floor.is_none() {
                self.broadcast(ServerMessage::Floor {
                    hall_id: None,
                    until: None,
                });
            }
            self.broadcast_meeting_state();
        }
        if let Some(peer) = m.peer {
            self.close_on(m.node.as_deref(), peer).await;
        }
        self.refill_all().await;
        if self.only_recording_left() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Ends grace periods that are over.
    pub(super) async fn expire(&mut self, now: Instant) {
        while let Some(i) = self
            .members
            .iter()
            .position(|m| m.lost_until.is_some_and(|t| t <= now))
        {
            self.remove(i, Reason::NetworkLost).await;
        }
    }

    /// Writes down the connected halls as present, every `presence_interval`.
    pub(super) fn write_presence(&mut self, now: Instant) {
        if now < self.next_presence {
            return;
        }
        self.next_presence = now + self.shared.config.presence_interval;
        let hall_ids: Vec<i64> = self
            .members
            .iter()
            .filter(|m| m.link.is_some())
            .map(|m| m.hall.id)
            .collect();
        if !hall_ids.is_empty() {
            self.shared
                .record(self.meeting.id, PresenceKind::Heartbeat { hall_ids });
        }
    }
}
