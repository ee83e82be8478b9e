//! The versioned JSON protocol a hall's page speaks over `/ws` (see `docs/protocol.md`).
//!
//! Every message is one WebSocket text frame holding a JSON object whose `"type"`
//! names it (serde internally tagged enums). [`parse_client`] is the only way input
//! becomes a [`ClientMessage`]: it checks the size first, then the JSON, the type and
//! the fields, and never panics; each failure is a [`ProtocolError`] with a stable
//! [`ErrorCode`] the page can switch on.

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks (`join.v`, `welcome.v`).
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame accepted, in bytes; an SDP offer with a dozen m-lines is ~15 KiB.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

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
    /// slots (`recvonly`). A new offer replaces the hall's media connection.
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// The answer to a server-initiated renegotiation (`offer` from the server).
    Answer {
        /// The SDP text.
        sdp: String,
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
    },
    /// A server-initiated renegotiation (not used by this version's server yet).
    Offer {
        /// The SDP text.
        sdp: String,
    },
    /// The SDP answer to the page's offer and its negotiated receive slots.
    Answer {
        /// The SDP text (it carries all of the server's candidates).
        sdp: String,
        /// The receive slots, in m-line order.
        slots: Vec<Slot>,
    },
    /// A server ICE candidate (the answer carries all of them in this version).
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

/// A hall as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallInfo {
    /// The hall's id.
    pub id: i64,
    /// Its name (e.g. "Điểm cầu UBND xã Tân Sơn").
    pub name: String,
}

/// The meeting as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingInfo {
    /// The meeting's id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// The presenting hall (điểm cầu chính).
    pub host_hall_id: i64,
    /// Its name.
    pub host_hall_name: String,
    /// Start, UTC Unix seconds.
    pub starts_at: i64,
    /// Planned end, UTC Unix seconds.
    pub ends_at: i64,
}

/// A hall present in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The hall.
    pub hall_id: i64,
    /// Its name.
    pub name: String,
    /// Whether it is the host hall.
    pub host: bool,
}

/// A receive slot negotiated by the page's offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The slot's id in `subscription` and `set_layer`.
    pub id: u16,
    /// Audio or video.
    pub kind: Kind,
    /// The SDP media id of its m-line (to find the transceiver in the page).
    pub mid: String,
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Microphone.
    Audio,
    /// Camera.
    Video,
}

impl From<sfu::MediaKind> for Kind {
    fn from(kind: sfu::MediaKind) -> Self {
        match kind {
            sfu::MediaKind::Audio => Kind::Audio,
            sfu::MediaKind::Video => Kind::Video,
        }
    }
}

/// Why a hall joined or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// It joined.
    Joined,
    /// It left (`leave`, or closed its page).
    Left,
    /// Its socket dropped and did not come back within the grace period.
    NetworkLost,
}

/// Stable error codes; the page switches on these, people read `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON (or not a text frame).
    InvalidJson,
    /// The JSON is not an object with the fields its `type` needs.
    InvalidMessage,
    /// The `type` is not one this server knows.
    UnknownType,
    /// `join.v` is not a version this server speaks; the socket is closed.
    UnsupportedVersion,
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// The SFU could not use the SDP.
    InvalidSdp,
    /// The SFU could not use the ICE candidate.
    InvalidCandidate,
    /// The message is not allowed now (e.g. `offer` before `join`).
    OutOfOrder,
    /// Too many messages; excess is dropped, a sustained flood closes the socket.
    RateLimited,
    /// The join token is unknown.
    JoinRefused,
    /// The meeting has ended.
    TokenExpired,
    /// The token belongs to another hall than the logged-in one.
    TokenForeignHall,
    /// The meeting does not open yet.
    TokenTooEarly,
    /// The meeting was cancelled.
    MeetingCancelled,
    /// The room no longer knows this session.
    NotJoined,
    /// The slot does not exist for this hall's connection.
    InvalidSlot,
    /// The same hall joined from another socket; this one is closed.
    Replaced,
    /// No message arrived for three heartbeat intervals; the socket is closed.
    HeartbeatTimeout,
    /// The media connection failed; send a new `offer` to reconnect.
    MediaFailed,
    /// Our fault; try again.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire (also the WebSocket close reason).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::InvalidCandidate => "invalid_candidate",
            ErrorCode::OutOfOrder => "out_of_order",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::JoinRefused => "join_refused",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenForeignHall => "token_foreign_hall",
            ErrorCode::TokenTooEarly => "token_too_early",
            ErrorCode::MeetingCancelled => "meeting_cancelled",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::InvalidSlot => "invalid_slot",
            ErrorCode::Replaced => "replaced",
            ErrorCode::HeartbeatTimeout => "heartbeat_timeout",
            ErrorCode::MediaFailed => "media_failed",
            ErrorCode::Internal => "internal",
        }
    }
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

/// The `type`s a page may send.
const CLIENT_TYPES: [&str; 7] = [
    "join",
    "offer",
    "answer",
    "candidate",
    "ping",
    "leave",
    "set_layer",
];

/// Turns one text frame into a message: size, then JSON, then `type`, then fields,
/// then the version of a `join`.
pub fn parse_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::new(
            ErrorCode::FrameTooLarge,
            format!(
                "frame of {} bytes; at most {MAX_FRAME_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidJson, e.to_string()))?;
    let kind = match value.get("type") {
        Some(serde_json::Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidMessage,
                "a message is a JSON object with a string \"type\"",
            ))
        }
    };
    if !CLIENT_TYPES.contains(&kind) {
        let shown: String = kind.chars().take(40).collect();
        return Err(ProtocolError::new(
            ErrorCode::UnknownType,
            format!("unknown message type {shown:?}"),
        ));
    }
    let message: ClientMessage = serde_json::from_value(value)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidMessage, e.to_string()))?;
    if let ClientMessage::Join { v, .. } = &message {
        if *v != PROTOCOL_VERSION {
            return Err(ProtocolError::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}"
                ),
            ));
        }
    }
    Ok(message)
}

/// Serialises a server message (a plain data enum: serialisation cannot fail).
pub fn to_text(message: &ServerMessage) -> String {
    serde_json::to_string(message).unwrap_or_else(|_| {
        // Only maps with non-string keys or failing `Serialize` impls fail; we have none.
        r#"{"type":"error","code":"internal","message":"serialisation failed"}"#.to_owned()
    })
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
