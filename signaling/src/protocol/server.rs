//! What the server sends to a hall's page: one variant per `type`.

use super::{
    Action, Actor, Candidate, ErrorCode, HallInfo, IceServer, IceTransportPolicy, Kind,
    MeetingInfo, MeetingState, Participant, Readiness, Reason, RecordingInfo, Slot,
};
use serde::{Deserialize, Serialize};

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join succeeded: who the page is, the meeting, who is present.
    Welcome {
        /// [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
        v: u32,
        /// Names this session for `join.resume` after a dropped socket.
        session_id: String,
        /// The hall this page is.
        hall: HallInfo,
        /// The meeting joined.
        meeting: MeetingInfo,
        /// Every hall present, this one included, in join order.
        participants: Vec<Participant>,
        /// Send `ping` this often; the server closes after three silent intervals.
        heartbeat_ms: u64,
        /// The chaired meeting's state now (boxed: it is the largest part).
        state: Box<MeetingState>,
        /// The page's `RTCConfiguration.iceServers` for this connection: STUN/TURN URLs
        /// with TURN credentials made for this hall now (empty: none configured).
        #[serde(default)]
        ice_servers: Vec<IceServer>,
        /// The page's `RTCConfiguration.iceTransportPolicy` (`all` or `relay`).
        #[serde(default)]
        ice_transport_policy: IceTransportPolicy,
    },
    /// The SDP answer to the page's offer and its negotiated receive slots.
    Answer {
        /// The SDP text (it carries the server's candidates unless they are trickled).
        sdp: String,
        /// The receive slots, in m-line order.
        slots: Vec<Slot>,
    },
    /// A server ICE candidate trickled after the answer (empty: end of candidates).
    Candidate(Candidate),
    /// Which hall now fills one of the page's receive slots (`null`: none, dark).
    Subscription {
        /// The slot.
        slot: u16,
        /// The hall shown, or `null`.
        source_hall_id: Option<i64>,
        /// What the slot carries.
        kind: Kind,
    },
    /// A hall came into the meeting.
    ParticipantJoined {
        /// The hall.
        hall_id: i64,
        /// Its name, for the tile.
        name: String,
        /// Why ([`Reason::Joined`]).
        reason: Reason,
        /// Whether it is muted (halls other than the host join muted).
        #[serde(default)]
        muted: bool,
        /// A guest (khách mời), not a hall.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        guest: bool,
        /// A WHIP source (a national conference, a presentation PC), not a hall.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        source: bool,
    },
    /// A hall left the meeting.
    ParticipantLeft {
        /// The hall.
        hall_id: i64,
        /// Its name.
        name: String,
        /// Why: it left, or its connection was lost.
        reason: Reason,
    },
    /// The hall speaking now (`null`: nobody).
    ActiveSpeaker {
        /// The hall.
        hall_id: Option<i64>,
    },
    /// The chaired meeting's state changed (sent to every page).
    MeetingState(Box<MeetingState>),
    /// A host control or hall action happened: who did what to which hall, when.
    Control {
        /// What.
        action: Action,
        /// The hall it concerns, if any.
        hall_id: Option<i64>,
        /// Who.
        by: Actor,
        /// When, UTC Unix seconds.
        at: i64,
    },
    /// To one hall: its microphone must now be muted (or may be open). The page obeys;
    /// the server forwards a muted hall's audio to no one either way.
    Muted {
        /// Muted or not.
        muted: bool,
        /// Who decided.
        by: Actor,
    },
    /// Who has the floor now (`null`: nobody) and until when (UTC Unix seconds).
    Floor {
        /// The speaking hall.
        hall_id: Option<i64>,
        /// When its time runs out, if limited.
        until: Option<i64>,
    },
    /// A roll call began: answer with `roll_call_answer`.
    RollCall {
        /// The roll call.
        id: u64,
    },
    /// To the host: which page its monitoring grid shows, of how many.
    Grid {
        /// The page shown (0-based).
        page: u32,
        /// How many pages there are.
        pages: u32,
    },
    /// To one hall: how many of its camera's simulcast layers anyone watches, counted
    /// from the lowest (1 = only the smallest picture, 3 = all). The page pauses the
    /// encodings above, saving its uplink and CPU; the lowest layer always stays on, so
    /// the hall can appear in a grid or take the floor without waiting.
    SendLayers {
        /// Layers to send, `1..=3`.
        layers: u8,
    },
    /// Whether the meeting is being recorded now: to every page when a recording starts,
    /// stops or fails, and after `welcome` while one runs.
    Recording(RecordingInfo),
    /// To the host: the readiness board.
    Readiness(Box<Readiness>),
    /// The answer to `ping`.
    Pong {
        /// The `ping`'s `ts`.
        ts: f64,
    },
    /// Something went wrong; `code` is stable, `message` is for people.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// An explanation (English; the page translates by code).
        message: String,
    },
}
