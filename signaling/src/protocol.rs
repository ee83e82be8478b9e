//! The versioned JSON protocol a hall's page speaks over `/ws` (see `docs/protocol.md`).
//!
//! Every message is one WebSocket text frame holding a JSON object whose `"type"`
//! names it (serde internally tagged enums). [`parse_client`] is the only way input
//! becomes a [`ClientMessage`]: it checks the size first, then the JSON, the type and
//! the fields, and never panics; each failure is a [`ProtocolError`] with a stable
//! [`ErrorCode`] the page can switch on.
//!
//! Each wire message is defined once, by its enum variant: the `type`s accepted, the
//! names of `control.action` and of error codes are read from serde's derive
//! ([`names`]), and who may send a message over HTTP is a method on it.

mod client;
mod codes;
mod live;
mod names;
mod parse;
mod server;
mod types;

pub use client::ClientMessage;
pub use codes::ErrorCode;
pub use live::{
    Action, Actor, FloorInfo, HallReadiness, LinkState, MeetingState, Phase, Readiness,
    RecordingInfo, RollCallStatus, UnitReadiness,
};
pub use parse::{parse_client, to_text};
pub use server::ServerMessage;
pub use types::{
    Candidate, HallInfo, IceServer, IceTransportPolicy, Kind, MeetingInfo, Participant, Reason,
    Slot,
};

/// The protocol version this server speaks (`join.v`, `welcome.v`).
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame accepted, in bytes: the SFU's largest offer. Chromium writes
/// ~5 KiB per video m-line with every codec, ~2 KiB with the room page's codec list, so
/// the host's offer (26 video receive slots for its grid) is tens of KiB.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

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
mod tests;
