//! The room's command set and the handle sessions and the registry hold to send them.

use crate::link::SessionLink;
use crate::protocol::{
    Candidate, ClientMessage, MeetingState, Participant, ProtocolError, Readiness,
};
use crate::Admission;
use sfu::{PeerAnswer, PeerId, PeerStats, SfuError, SfuEvent};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A session's id, as in `welcome.session_id`.
pub type SessionId = Arc<str>;

/// What a room is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// A hall joins (or rejoins) over a new socket; the reply is its session id.
    Join {
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
        reply: oneshot::Sender<Result<SessionId, ProtocolError>>,
    },
    /// A host control or hall action (`give_floor`, `mute`, `raise_hand`, …).
    Act {
        by: By,
        request: ClientMessage,
        /// Staff get their answer here; a page is told on its socket.
        reply: Option<oneshot::Sender<Result<(), ProtocolError>>>,
    },
    /// The invited halls, loaded from the store for the readiness board.
    Invited(Vec<scheduler::live::InvitedHall>),
    /// The readiness board now.
    Readiness(oneshot::Sender<Readiness>),
    /// The chaired meeting's state now.
    State(oneshot::Sender<MeetingState>),
    /// The page's SDP offer (`renegotiate`: on its existing connection).
    Offer {
        session: SessionId,
        sdp: String,
        renegotiate: bool,
    },
    /// A trickled ICE candidate.
    Candidate {
        session: SessionId,
        candidate: Candidate,
    },
    /// Caps the layer of one of the page's slots.
    SetLayer {
        session: SessionId,
        slot: u16,
        layer: u8,
    },
    /// The hall leaves.
    Leave { session: SessionId },
    /// The session's socket ended without `leave`.
    Lost { session: SessionId },
    /// An SFU event about one of this room's peers.
    Sfu(SfuEvent),
    /// An event of another media node (named) about one of this room's peers there.
    NodeSfu(String, SfuEvent),
    /// `add_peer` finished (on media node `node`; `None`: this node's).
    PeerReady {
        hall_id: i64,
        peer: PeerId,
        node: Option<String>,
        result: Result<PeerAnswer, SfuError>,
    },
    /// What a remote media node's queue did (`room::queue`).
    NodeDone(String, super::queue::Done),
    /// `renegotiate` finished.
    PeerRenegotiated {
        hall_id: i64,
        peer: PeerId,
        result: Result<PeerAnswer, SfuError>,
    },
    /// A WHIP source or WHEP viewer's offer; the reply is the SDP answer.
    FeedJoin {
        participant_id: i64,
        offer: crate::feeds::FeedOffer,
        reply: super::feeds::FeedReply,
    },
    /// A feed session ended (`DELETE`, its token revoked).
    FeedLeave { participant_id: i64 },
    /// Start recording the meeting (`room::recording`).
    StartRecording {
        spec: media_recorder::RecordingSpec,
        reply: oneshot::Sender<Result<(), super::recording::RecordingRefusal>>,
    },
    /// Stop recording; the file is finished in the background.
    StopRecording(oneshot::Sender<Result<(), super::recording::RecordingRefusal>>),
    /// What the recorder reported.
    Recording(media_recorder::Event),
    /// What the recording is doing.
    RecordingStatus(oneshot::Sender<super::recording::RecordingStatus>),
    /// Whether the meeting is being recorded, as pages are told.
    RecordingInfo(oneshot::Sender<crate::protocol::RecordingInfo>),
    /// The WHEP viewers now.
    Viewers(oneshot::Sender<Vec<crate::feeds::ViewerInfo>>),
    /// Who is present.
    Participants(oneshot::Sender<Vec<Participant>>),
    /// The latest media statistics per hall.
    Stats(oneshot::Sender<Vec<HallStats>>),
    /// An administrator disabled the hall (or its room account): out at once.
    ShutOut { hall_id: i64 },
    /// The server stops: every hall's presence ends (`server_restart`) and its page is
    /// told; the reply holds the links closed, to wait for their close frames.
    Stop(oneshot::Sender<Vec<SessionLink>>),
    /// Another node took the meeting's lease over (this node is fenced out): every
    /// page is told to come back (1012) with nothing recorded — the new home closed
    /// the intervals already, and records the halls' returns.
    Fence(oneshot::Sender<Vec<SessionLink>>),
    /// This node stops and another becomes the meeting's home: every hall leaves the
    /// room with nothing recorded (its interval stays open and goes on when it comes
    /// back through the new home within the grace period). The reply holds the meeting
    /// and the links, not yet closed: they are told where to go.
    HandOver(oneshot::Sender<(crate::protocol::MeetingInfo, Vec<SessionLink>)>),
}

/// Who sends an [`Command::Act`].
#[derive(Debug, Clone)]
pub(crate) enum By {
    /// A hall's page.
    Session(SessionId),
    /// A secretariat or administrator over HTTP (checked by the web server).
    Staff { account_id: i64 },
}

/// The latest statistics of one hall's media connection.
#[derive(Debug, Clone, PartialEq)]
pub struct HallStats {
    /// The hall.
    pub hall_id: i64,
    /// Its name.
    pub name: String,
    /// The SFU's figures for its peer connection.
    pub stats: PeerStats,
}

/// The room ended (it was empty for a while); ask the registry for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the meeting room has ended")]
pub struct Gone;

/// A handle to a live room. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    /// Tells this room apart from a later one of the same meeting.
    pub(crate) id: u64,
    pub(crate) tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    pub(crate) async fn send(&self, command: Command) -> Result<(), Gone> {
        self.tx.send(command).await.map_err(|_| Gone)
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Gone> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply)).await?;
        answer.await.map_err(|_| Gone)
    }

    /// Joins a hall (or refuses it); `Gone` if the room ended before it read the command.
    pub(crate) async fn join(
        &self,
        admission: Admission,
        resume: Option<String>,
        link: SessionLink,
    ) -> Result<Result<SessionId, ProtocolError>, Gone> {
        self.ask(|reply| Command::Join {
            admission,
            resume,
            link,
            reply,
        })
        .await
    }

    /// The halls present, in join order.
    pub async fn participants(&self) -> Result<Vec<Participant>, Gone> {
        self.ask(Command::Participants).await
    }

    /// A secretariat or administrator acts (the caller checked the account may).
    pub(crate) async fn act_as_staff(
        &self,
        account_id: i64,
        request: ClientMessage,
    ) -> Result<Result<(), ProtocolError>, Gone> {
        self.ask(|reply| Command::Act {
            by: By::Staff { account_id },
            request,
            reply: Some(reply),
        })
        .await
    }

    /// The readiness board: invited halls, who is connected, per district.
    pub async fn readiness(&self) -> Result<Readiness, Gone> {
        self.ask(Command::Readiness).await
    }

    /// The chaired meeting's state: phase, floor, hands, mutes.
    pub async fn state(&self) -> Result<MeetingState, Gone> {
        self.ask(Command::State).await
    }

    /// Ends every hall's presence for a server stop; the links it closed.
    pub(crate) async fn stop(&self) -> Result<Vec<SessionLink>, Gone> {
        self.ask(Command::Stop).await
    }

    /// Starts recording the meeting into `spec.path` (the caller checked who may).
    pub async fn start_recording(
        &self,
        spec: media_recorder::RecordingSpec,
    ) -> Result<Result<(), super::recording::RecordingRefusal>, Gone> {
        self.ask(|reply| Command::StartRecording { spec, reply })
            .await
    }

    /// Stops recording the meeting.
    pub async fn stop_recording(
        &self,
    ) -> Result<Result<(), super::recording::RecordingRefusal>, Gone> {
        self.ask(Command::StopRecording).await
    }

    /// What the meeting's recording is doing.
    pub async fn recording_status(&self) -> Result<super::recording::RecordingStatus, Gone> {
        self.ask(Command::RecordingStatus).await
    }

    /// Whether the meeting is being recorded, since when and by whom (as pages see it).
    pub async fn recording(&self) -> Result<crate::protocol::RecordingInfo, Gone> {
        self.ask(Command::RecordingInfo).await
    }

    /// Takes every hall out with nothing recorded (this node hands the meeting over):
    /// the meeting and the links, still open.
    pub(crate) async fn hand_over(
        &self,
    ) -> Result<(crate::protocol::MeetingInfo, Vec<SessionLink>), Gone> {
        self.ask(Command::HandOver).await
    }

    /// Sends every hall away with nothing recorded (fenced out); the links it closed.
    pub(crate) async fn fence(&self) -> Result<Vec<SessionLink>, Gone> {
        self.ask(Command::Fence).await
    }

    /// The latest statistics of every hall with a media connection.
    pub async fn stats(&self) -> Result<Vec<HallStats>, Gone> {
        self.ask(Command::Stats).await
    }
}
