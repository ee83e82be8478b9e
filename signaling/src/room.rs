//! One owner task per live meeting: who is present, their sockets and media, the chair's
//! state (phase, floor, hands, mutes, roll call), driven by commands.
//!
//! The room is spawned by the [`registry`](crate::registry) on a meeting's first join (or
//! a secretariat's first action) and owns everything about it: no locks, no shared state.
//! Sessions send it commands ([`Command`]); the dispatcher routes it the SFU's events
//! about its peers. A hall is present at most once: a second join of the same hall (a
//! resume, a new tab, a kiosk restart) replaces the first session. A socket that drops
//! keeps its hall present for the grace period; then the hall is removed as
//! `network_lost`. Presence lives in [`presence`], host controls in [`chair`], roll call,
//! headcount and the readiness board in [`rollcall`], media in [`media`], a hall's own
//! state in [`member`]; which hall fills which slot in [`policy`](crate::policy).

mod chair;
mod demand;
mod directory;
mod feeds;
mod floor;
mod handle;
mod lifecycle;
mod live;
mod media;
mod member;
mod nodes;
mod presence;
mod queue;
mod recording;
mod refill;
mod renegotiate;
mod rollcall;
mod watches;

pub(crate) use handle::{By, Command};
pub use handle::{Gone, HallStats, RoomHandle, SessionId};
pub(crate) use member::{Member, SlotState};
pub use recording::{RecordingRefusal, RecordingStatus};

use crate::link::{Frame, StateKey};
use crate::protocol::{Actor, ErrorCode, MeetingInfo, Readiness, ServerMessage};
use crate::recorder::PresenceKind;
use crate::registry::Shared;
use chair::Chair;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Commands queued to one room.
const QUEUE: usize = 1024;
/// How many recent speakers the audio policy remembers.
const SPEAKERS: usize = 8;

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
    /// Halls that spoke, most recent first (the audio policy's order).
    pub speakers: Vec<i64>,
    pub empty_since: Option<Instant>,
    /// When connected halls are next written down as present.
    pub next_presence: Instant,
    /// Phase, floor, spotlight, lock, hands, mutes, removals, roll call.
    pub chair: Chair,
    /// Halls that joined at least once (a first join may start muted).
    pub seen: HashSet<i64>,
    /// The invited halls, once loaded from the store.
    pub invited: Option<Vec<scheduler::live::InvitedHall>>,
    /// Sessions (the host's) that asked for the readiness board.
    pub readiness_watchers: Vec<SessionId>,
    /// The board last pushed, and when it may next be pushed.
    pub readiness_sent: Option<Readiness>,
    pub next_readiness: Instant,
    /// The `send_layers` last told to each publishing hall.
    pub layers_told: std::collections::HashMap<i64, u8>,
    /// The meeting's recording, if one was started here.
    pub recording: recording::RoomRecording,
    /// The live state written for the next room of the meeting (`live`).
    pub live: live::LiveKeeping,
    /// Its halls' media nodes: watched streams, each node's loudest.
    pub nodes: nodes::Nodes,
}

impl Room {
    /// Spawns the owner task of `meeting`.
    pub(crate) fn spawn(id: u64, meeting: MeetingInfo, shared: Arc<Shared>) -> RoomHandle {
        let (tx, rx) = mpsc::channel(QUEUE);
        let now = Instant::now();
        if let Some(store) = shared.roster.get().cloned() {
            let (me, meeting_id) = (tx.downgrade(), meeting.id);
            tokio::spawn(async move {
                match store.invited_halls(meeting_id).await {
                    Ok(halls) => {
                        if let Some(room) = me.upgrade() {
                            let _ = room.send(Command::Invited(halls)).await;
                        }
                    }
                    Err(e) => tracing::error!(error = ?e, "invited halls not loaded"),
                }
            });
        }
        let room = Room {
            id,
            meeting,
            me: tx.downgrade(),
            members: Vec::new(),
            speaker: None,
            speakers: Vec::new(),
            empty_since: Some(now),
            next_presence: now + shared.config.presence_interval,
            chair: Chair::default(),
            seen: HashSet::new(),
            invited: None,
            readiness_watchers: Vec::new(),
            readiness_sent: None,
            next_readiness: now,
            layers_told: std::collections::HashMap::new(),
            recording: recording::RoomRecording::default(),
            live: live::LiveKeeping::default(),
            nodes: nodes::Nodes::default(),
            shared,
        };
        tokio::spawn(room.run(rx));
        RoomHandle { id, tx }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        tracing::info!(meeting = self.meeting.id, "room opened");
        self.settle_tenure().await;
        self.restore_phase().await;
        self.take_up().await;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => {
                        let chair = may_change_chair(&command);
                        self.handle(command).await;
                        if chair {
                            self.keep_live_state();
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    self.expire(now).await;
                    self.expire_floor(now).await;
                    self.expire_absent(now).await;
                    self.keep_live_state();
                    self.write_presence(now);
                    self.push_readiness(now);
                    if self.empty_since.is_some_and(|t| t + self.shared.config.linger <= now) {
                        break;
                    }
                }
            }
        }
        // The last hall left long enough ago: a running recording is finished (the
        // live state written keeps it: a room opened again for the meeting records again).
        self.live.frozen = true;
        let _ = self.stop_recording(Actor::Server).await;
        self.shared.forget_room(self.meeting.id, self.id);
        // Commands queued after the decision to end: joins see `Gone` and retry.
        rx.close();
        while rx.recv().await.is_some() {}
        tracing::info!(meeting = self.meeting.id, "room closed");
    }

    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + std::time::Duration::from_secs(3600);
        let linger = self.empty_since.map(|t| t + self.shared.config.linger);
        let floor = self.chair.floor.as_ref().and_then(|f| f.deadline);
        let absent = self.live.absent_until;
        let readiness = (!self.readiness_watchers.is_empty()).then_some(self.next_readiness);
        self.members
            .iter()
            .filter_map(|m| m.lost_until)
            .chain(linger)
            .chain(floor)
            .chain(absent)
            .chain(readiness)
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
                let joined = if self.shared.is_stopping() {
                    Err(crate::protocol::ProtocolError::new(
                        ErrorCode::Internal,
                        "the server is restarting",
                    ))
                } else {
                    self.join(admission, resume, link).await
                };
                let _ = reply.send(joined);
            }
            Command::Stop(reply) => {
                self.live.frozen = true;
                let closed = self.stop_for_restart(true).await;
                let _ = reply.send(closed);
            }
            Command::HandOver(reply) => {
                self.live.frozen = true;
                let links = self.hand_over().await;
                let _ = reply.send((self.meeting.clone(), links));
            }
            Command::Fence(reply) => {
                self.live.frozen = true;
                let closed = self.stop_for_restart(false).await;
                let _ = reply.send(closed);
            }
            Command::Offer {
                session,
                sdp,
                renegotiate,
            } => match renegotiate {
                true => self.renegotiate(&session, sdp).await,
                false => self.offer(&session, sdp).await,
            },
            Command::Candidate { session, candidate } => self.candidate(&session, candidate).await,
            Command::SetLayer {
                session,
                slot,
                layer,
            } => self.set_layer(&session, slot, layer).await,
            Command::Leave { session } => {
                // The session sends its own close frame.
                if let Some(i) = self.index_of(&session) {
                    self.remove(i, crate::protocol::Reason::Left).await;
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
            Command::Act { by, request, reply } => self.act(by, request, reply).await,
            Command::Sfu(event) => self.sfu_event(None, event).await,
            Command::NodeSfu(node, event) => self.sfu_event(Some(node), event).await,
            Command::PeerReady {
                hall_id,
                peer,
                node,
                result,
            } => self.peer_ready(hall_id, peer, node, result).await,
            Command::NodeDone(node, done) => self.node_done(node, done).await,
            Command::PeerRenegotiated {
                hall_id,
                peer,
                result,
            } => self.peer_renegotiated(hall_id, peer, result).await,
            Command::Invited(halls) => self.invited = Some(halls),
            Command::ShutOut { hall_id } => self.shut_out(hall_id).await,
            Command::Readiness(reply) => {
                let _ = reply.send(self.readiness());
            }
            Command::State(reply) => {
                let _ = reply.send(self.chair.state());
            }
            Command::Participants(reply) => {
                let host = self.meeting.host_hall_id;
                let present = self.members.iter().filter(|m| !m.is_viewer());
                let _ = reply.send(present.map(|m| m.participant(host)).collect());
            }
            Command::FeedJoin {
                participant_id,
                offer,
                reply,
            } => self.feed_join(participant_id, offer, reply).await,
            Command::FeedLeave { participant_id } => self.feed_leave(participant_id).await,
            Command::StartRecording { spec, reply } => {
                let _ = reply.send(self.start_recording(spec, Actor::Server).await);
            }
            Command::StopRecording(reply) => {
                let _ = reply.send(self.stop_recording(Actor::Server).await);
            }
            Command::RecordingInfo(reply) => {
                let _ = reply.send(self.recording_info());
            }
            Command::Recording(event) => self.recording_event(event).await,
            Command::RecordingStatus(reply) => {
                let _ = reply.send(self.recording.status.clone());
            }
            Command::Viewers(reply) => {
                let _ = reply.send(self.viewers());
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

    /// Remembers who spoke last, for the audio policy.
    pub(crate) fn spoke(&mut self, hall_id: i64) {
        self.speakers.retain(|&h| h != hall_id);
        self.speakers.insert(0, hall_id);
        self.speakers.truncate(SPEAKERS);
    }

    pub(crate) fn index_of(&self, session: &str) -> Option<usize> {
        self.members.iter().position(|m| &*m.session == session)
    }

    /// The index of `session`'s member while its socket is up (not in its grace period).
    pub(crate) fn linked_index(&self, session: &str) -> Option<usize> {
        self.index_of(session)
            .filter(|&i| self.members[i].link.is_some())
    }

    /// The live member of `session`; `None` for a replaced or removed session.
    pub(crate) fn member_of(&mut self, session: &str) -> Option<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| &*m.session == session && m.link.is_some())
    }

    /// The present member of a hall.
    pub(crate) fn member_by_hall(&self, hall_id: i64) -> Option<&Member> {
        self.members.iter().find(|m| m.hall.id == hall_id)
    }

    /// Sends every page a message that must arrive (serialised once).
    pub(crate) fn broadcast(&self, message: ServerMessage) {
        self.chapter_for(&message);
        let frame = Frame::of(&message);
        for link in self.members.iter().filter_map(|m| m.link.as_ref()) {
            link.send_frame(frame.clone());
        }
    }

    /// Sends every page the latest state of `key` (coalesced: a page that has not read
    /// the previous one yet gets only this).
    pub(crate) fn broadcast_state(&self, key: StateKey, message: ServerMessage) {
        let frame = Frame::of(&message);
        for link in self.members.iter().filter_map(|m| m.link.as_ref()) {
            link.set_state(key, frame.clone());
        }
    }

    /// Sends every page the chair's state now (coalesced).
    pub(crate) fn broadcast_meeting_state(&self) {
        let state = ServerMessage::MeetingState(Box::new(self.chair.state()));
        self.broadcast_state(StateKey::MeetingState, state);
    }
}

/// Whether `command` may change what the room writes as its live state (media and
/// questions do not).
fn may_change_chair(command: &Command) -> bool {
    !matches!(
        command,
        Command::Offer { .. }
            | Command::Candidate { .. }
            | Command::SetLayer { .. }
            | Command::Sfu(_)
            | Command::NodeSfu(..)
            | Command::PeerReady { .. }
            | Command::NodeDone(..)
            | Command::PeerRenegotiated { .. }
            | Command::Invited(_)
            | Command::Readiness(_)
            | Command::State(_)
            | Command::Participants(_)
            | Command::Stats(_)
            | Command::Viewers(_)
            | Command::RecordingInfo(_)
            | Command::RecordingStatus(_)
    )
}

/// An `error` message.
pub(crate) fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: message.into(),
    }
}
