//! The versioned JSON protocol a hall's page speaks over `/ws` (see `docs/protocol.md`).
//!
//! Every message is one WebSocket text frame holding a JSON object whose `"type"`
//! names it (serde internally tagged enums). [`parse_client`] is the only way input
//! becomes a [`ClientMessage`]: it checks the size first, then the JSON, the type and
//! the fields, and never panics; each failure is a [`ProtocolError`] with a stable
//! [`ErrorCode`] the page can switch on.

use serde::{Deserialize, Serialize};

mod codes;
mod live;
mod parse;
mod types;

pub use codes::ErrorCode;
pub use live::{
    Action, Actor, FloorInfo, HallReadiness, LinkState, MeetingState, Phase, Readiness,
    RollCallStatus, UnitReadiness,
};
pub use parse::{parse_client, to_text};
pub use types::{HallInfo, Kind, MeetingInfo, Participant, Reason, Slot};

/// The protocol version this server speaks (`join.v`, `welcome.v`).
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame accepted, in bytes: the SFU's largest offer. Chromium writes
/// ~5 KiB per video m-line with every codec, ~2 KiB with the room page's codec list, so
/// the host's offer (26 video receive slots for its grid) is tens of KiB.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// What a hall's page sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: the hall's join token; `resume` names the session the page
    /// had before its socket dropped.
    Join {
        /// Protocol version the page speaks; must be [`PROTOCOL_VERSION`].
        v: u32,
        /// The hall's join token for this meeting (from its invitation).
        token: String,
        /// The `session_id` of a previous `welcome`, when reconnecting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// The page's SDP offer: its camera and microphone (`sendonly`) and its receive
    /// slots (`recvonly`). A new offer replaces the hall's media connection, unless it
    /// says `renegotiate` and the hall's connection is up.
    Offer {
        /// The SDP text.
        sdp: String,
        /// Apply the offer to the hall's existing connection (its tracks or slots
        /// changed) instead of replacing it; without a connection, as if `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        renegotiate: bool,
    },
    /// A trickled ICE candidate (`RTCIceCandidate.toJSON()`).
    Candidate(Candidate),
    /// Keep-alive; the server answers `pong` with the same `ts`.
    Ping {
        /// Anything the page wants echoed (usually `performance.now()`).
        ts: f64,
    },
    /// The hall leaves the meeting; the server closes the socket.
    Leave,
    /// Caps the simulcast layer shown in one receive slot (a smaller tile).
    SetLayer {
        /// The slot (`answer.slots[].id`).
        slot: u16,
        /// Highest layer, 0 (lowest) to 2.
        layer: u8,
    },
    /// Host: moves the meeting to `test` (kiểm tra kết nối), `started` or `ended`.
    SetPhase {
        /// The new phase.
        phase: Phase,
    },
    /// Host: gives the floor to a present hall (lowering its hand, opening its
    /// microphone), optionally for a limited time.
    GiveFloor {
        /// The hall.
        hall_id: i64,
        /// Speaking time; the server takes the floor back when it runs out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaking_limit_secs: Option<u32>,
    },
    /// Host: takes the floor back.
    TakeFloor,
    /// Host: mutes or unmutes a hall. A hall may mute itself, and unmute itself only
    /// when allowed.
    Mute {
        /// The hall.
        hall_id: i64,
        /// Muted or not.
        muted: bool,
    },
    /// Host: lets a hall unmute itself (or not).
    AllowUnmute {
        /// The hall.
        hall_id: i64,
        /// Allowed or not.
        allowed: bool,
    },
    /// Host: mutes every hall but the host.
    MuteAll,
    /// Host: shows a hall to everyone (`null`: nobody).
    Spotlight {
        /// The hall, or `null`.
        #[serde(default)]
        hall_id: Option<i64>,
    },
    /// Host: removes a hall; it is refused until re-admitted.
    Remove {
        /// The hall.
        hall_id: i64,
    },
    /// Host: lets a removed hall join again.
    Readmit {
        /// The hall.
        hall_id: i64,
    },
    /// Host: refuses (or again accepts) new halls; present halls may still reconnect.
    Lock {
        /// Locked or not.
        locked: bool,
    },
    /// A hall asks for the floor.
    RaiseHand,
    /// A hall lowers its hand; the host may lower another's (`hall_id`).
    LowerHand {
        /// Another hall's hand (host only); absent: one's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hall_id: Option<i64>,
    },
    /// Host: which page of halls its monitoring grid shows (0-based).
    GridPage {
        /// The page.
        page: u32,
    },
    /// Host: starts a roll call (điểm danh); every page gets `roll_call`.
    StartRollCall,
    /// Host / secretariat: ends the roll call in progress (kết thúc điểm danh); later
    /// answers get `roll_call_ended`, halls that gave none count as absent in the report.
    EndRollCall,
    /// A hall answers the roll call in progress (`present` or `late`).
    RollCallAnswer {
        /// The answer.
        status: RollCallStatus,
    },
    /// Host / secretariat: marks a hall in the roll call in progress (or the last one,
    /// once ended: a reason learnt afterwards).
    MarkRollCall {
        /// The hall.
        hall_id: i64,
        /// Present, absent or late.
        status: RollCallStatus,
        /// Why (for absent or late).
        #[serde(default)]
        reason: String,
    },
    /// A hall reports how many people are in the room.
    Headcount {
        /// 0 to 10 000.
        people: u32,
    },
    /// Host: sends the readiness board now and whenever it changes from then on.
    Readiness,
}

/// An ICE candidate in the browser's own shape, both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The `candidate:…` line; empty marks the end of candidates.
    pub candidate: String,
    /// The m-line's media id.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The m-line's index.
    #[serde(default)]
    pub sdp_mline_index: Option<u16>,
    /// The ICE username fragment.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join succeeded: who the page is, the meeting, who is present.
    Welcome {
        /// [`PROTOCOL_VERSION`].
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
        ice_servers: Vec<crate::ice::IceServer>,
        /// The page's `RTCConfiguration.iceTransportPolicy` (`all` or `relay`).
        #[serde(default)]
        ice_transport_policy: crate::ice::IceTransportPolicy,
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

/// Input that is not a message this server accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ProtocolError {
    /// The stable code.
    pub code: ErrorCode,
    /// What exactly was wrong.
    pub message: String,
}

impl ProtocolError {
    /// An error with its code and explanation.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The `error` message that tells the page.
    pub fn to_message(&self) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            message: self.message.clone(),
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
