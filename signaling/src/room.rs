//! One owner task per live meeting: who is present, their sockets and media, driven by commands.
//!
//! The room is spawned by the [`registry`](crate::registry) on a meeting's first join and
//! owns everything about it: no locks, no shared state. Sessions send it commands
//! ([`Command`]); the dispatcher routes it the SFU's events about its peers. A hall is
//! present at most once: a second join of the same hall (a resume, a new tab, a kiosk
//! restart) replaces the first session. A socket that drops keeps its hall present for
//! the grace period; then the hall is removed as `network_lost`. Media decisions live in
//! [`media`]; which hall fills which slot in [`policy`](crate::policy).

mod handle;
mod media;

pub(crate) use handle::Command;
pub use handle::{Gone, HallStats, RoomHandle, SessionId};

use crate::link::{close, SessionLink};
use crate::protocol::{
    Candidate, ErrorCode, HallInfo, MeetingInfo, Participant, Reason, ServerMessage,
    PROTOCOL_VERSION,
};
use crate::recorder::PresenceKind;
use crate::registry::Shared;
use crate::Admission;
use scheduler::attendance::LeaveReason;
use sfu::{PeerId, PeerStats};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Commands queued to one room.
const QUEUE: usize = 1024;

/// What a receive slot of a hall shows.
#[derive(Debug, Clone)]
pub(crate) struct SlotState {
    pub info: sfu::SlotInfo,
    pub fill: crate::policy::Fill,
    pub max_layer: u8,
}

/// A hall in the room.
#[derive(Debug)]
pub(crate) struct Member {
    pub hall: HallInfo,
    pub session: SessionId,
    /// Its socket; `None` while in the grace period after the socket dropped.
    pub link: Option<SessionLink>,
    /// When the grace period ends, if the socket dropped.
    pub lost_until: Option<Instant>,
    /// Its current peer connection in the SFU.
    pub peer: Option<PeerId>,
    /// Whether `add_peer` has answered for `peer`.
    pub ready: bool,
    /// Candidates that arrived before the answer.
    pub early_candidates: Vec<Candidate>,
    /// Its published camera and microphone.
    pub video: Option<sfu::StreamId>,
    pub audio: Option<sfu::StreamId>,
    /// Its receive slots, from the answer.
    pub slots: Vec<SlotState>,
    pub stats: Option<PeerStats>,
}

impl Member {
    fn tell(&self, message: ServerMessage) {
        if let Some(link) = &self.link {
            link.send(message);
        }
    }

    fn participant(&self, host: i64) -> Participant {
        Participant {
            hall_id: self.hall.id,
            name: self.hall.name.clone(),
            host: self.hall.id == host,
        }
    }
}

/// The owner task's state.
pub(crate) struct Room {
    pub id: u64,
    pub meeting: MeetingInfo,
    pub shared: Arc<Shared>,
    /// To let spawned `add_peer` calls report back without keeping the room alive.
    pub me: mpsc::WeakSender<Command>,
    /// Present halls in join order.
    pub members: Vec<Member>,
    pub speaker: Option<i64>,
    pub empty_since: Option<Instant>,
    /// When connected halls are next written down as present.
    pub next_presence: Instant,
}

impl Room {
    /// Spawns the owner task of `meeting`.
    pub(crate) fn spawn(id: u64, meeting: MeetingInfo, shared: Arc<Shared>) -> RoomHandle {
        let (tx, rx) = mpsc::channel(QUEUE);
        let next_presence = Instant::now() + shared.config.presence_interval;
        let room = Room {
            id,
            meeting,
            shared,
            me: tx.downgrade(),
            members: Vec::new(),
            speaker: None,
            empty_since: Some(Instant::now()),
            next_presence,
        };
        tokio::spawn(room.run(rx));
        RoomHandle { id, tx }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        tracing::info!(meeting = self.meeting.id, "room opened");
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    self.expire(Instant::now()).await;
                    self.write_presence(Instant::now());
                    if self.empty_since.is_some_and(|t| t + self.shared.config.linger <= Instant::now()) {
                        break;
                    }
                }
            }
        }
        self.shared.forget_room(self.meeting.id, self.id);
        // Commands queued after the decision to end: joins see `Gone` and retry.
        rx.close();
        while rx.recv().await.is_some() {}
        tracing::info!(meeting = self.meeting.id, "room closed");
    }

    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + std::time::Duration::from_secs(3600);
        let linger = self.empty_since.map(|t| t + self.shared.config.linger);
        self.members
            .iter()
            .filter_map(|m| m.lost_until)
            .chain(linger)
            .chain((!self.members.is_empty()).then_some(self.next_presence))
            .min()
            .unwrap_or(far)
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Join {
                admission,
                resume,
                link,
                reply,
            } => {
                let session = self.join(admission, resume, link).await;
                let _ = reply.send(session);
            }
            Command::Offer { session, sdp } => self.offer(&session, sdp).await,
            Command::Answer { session } => {
                if let Some(m) = self.member_of(&session) {
                    m.tell(error(ErrorCode::OutOfOrder, "no server offer is pending"));
                }
            }
            Command::Candidate { session, candidate } => self.candidate(&session, candidate).await,
            Command::SetLayer {
                session,
                slot,
                layer,
            } => self.set_layer(&session, slot, layer).await,
            Command::Leave { session } => {
                // The session sends its own close frame.
                if let Some(i) = self.index_of(&session) {
                    self.remove(i, Reason::Left).await;
                }
            }
            Command::Lost { session } => {
                let grace = self.shared.config.grace;
                if let Some(m) = self.member_of(&session) {
                    tracing::info!(hall = m.hall.id, "socket lost; grace period starts");
                    m.link = None;
                    m.lost_until = Some(Instant::now() + grace);
                    let hall_id = m.hall.id;
                    self.shared
                        .record(self.meeting.id, PresenceKind::Lost { hall_id });
                }
            }
            Command::Sfu(event) => self.sfu_event(event).await,
            Command::PeerReady {
                hall_id,
                peer,
                result,
            } => self.peer_ready(hall_id, peer, result).await,
            Command::Participants(reply) => {
                let host = self.meeting.host_hall_id;
                let _ = reply.send(self.members.iter().map(|m| m.participant(host)).collect());
            }
            Command::Stats(reply) => {
                let stats = self
                    .members
                    .iter()
                    .filter_map(|m| {
                        m.stats.map(|stats| HallStats {
                            hall_id: m.hall.id,
                            name: m.hall.name.clone(),
                            stats,
                        })
                    })
                    .collect();
                let _ = reply.send(stats);
            }
        }
    }

    /// Adds the hall, or gives its existing place to the new socket.
    async fn join(
        &mut self,
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
    ) -> SessionId {
        let hall = admission.hall;
        let hall_id = hall.id;
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
                old.session = session.clone();
                old.link = Some(link);
                old.lost_until = None;
                self.drop_media(i).await;
                session
            }
            None => {
                tracing::info!(hall = hall.id, "hall joined");
                self.broadcast(ServerMessage::ParticipantJoined {
                    hall_id: hall.id,
                    name: hall.name.clone(),
                    reason: Reason::Joined,
                });
                self.members.push(Member {
                    hall,
                    session: fresh.clone(),
                    link: Some(link),
                    lost_until: None,
                    peer: None,
                    ready: false,
                    early_candidates: Vec::new(),
                    video: None,
                    audio: None,
                    slots: Vec::new(),
                    stats: None,
                });
                fresh
            }
        };
        self.shared
            .record(self.meeting.id, PresenceKind::Joined { hall_id });
        let host = self.meeting.host_hall_id;
        let participants = self.members.iter().map(|m| m.participant(host)).collect();
        if let Some(m) = self.members.iter().find(|m| m.session == session) {
            m.tell(ServerMessage::Welcome {
                v: PROTOCOL_VERSION,
                session_id: session.to_string(),
                hall: m.hall.clone(),
                meeting: self.meeting.clone(),
                participants,
                heartbeat_ms: u64::try_from(self.shared.config.heartbeat.as_millis())
                    .unwrap_or(u64::MAX),
            });
            if self.speaker.is_some() {
                m.tell(ServerMessage::ActiveSpeaker {
                    hall_id: self.speaker,
                });
            }
        }
        session
    }

    /// Removes member `i`: tells the others, then takes its media off their slots.
    async fn remove(&mut self, i: usize, reason: Reason) {
        let m = self.members.remove(i);
        tracing::info!(hall = m.hall.id, ?reason, "hall left");
        let leave = match reason {
            Reason::NetworkLost => LeaveReason::NetworkLost,
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
        if let Some(peer) = m.peer {
            if let Err(e) = self.shared.sfu.close_peer(peer).await {
                tracing::debug!(?peer, error = %e, "closing a peer that is already gone");
            }
        }
        if m.video.is_some() || m.audio.is_some() {
            self.refill_all().await;
        }
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Ends grace periods that are over.
    async fn expire(&mut self, now: Instant) {
        while let Some(i) = self
            .members
            .iter()
            .position(|m| m.lost_until.is_some_and(|t| t <= now))
        {
            self.remove(i, Reason::NetworkLost).await;
        }
    }

    /// Writes down the connected halls as present, every `presence_interval`.
    fn write_presence(&mut self, now: Instant) {
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

    pub(crate) fn index_of(&self, session: &str) -> Option<usize> {
        self.members.iter().position(|m| &*m.session == session)
    }

    /// The live member of `session`; `None` for a replaced or removed session.
    pub(crate) fn member_of(&mut self, session: &str) -> Option<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| &*m.session == session && m.link.is_some())
    }

    pub(crate) fn broadcast(&self, message: ServerMessage) {
        for m in &self.members {
            m.tell(message.clone());
        }
    }
}

/// An `error` message.
pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.into(),
    }
}
