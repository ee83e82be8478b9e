//! Stable error codes: the page switches on these, people read the message.

use serde::{Deserialize, Serialize};

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
    /// The frame is larger than [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
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
    /// The guest's invitation was revoked; its link no longer works.
    GuestRevoked,
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
    /// Only the host hall (or its secretariat) may do this.
    Forbidden,
    /// The hall named is not in the meeting.
    UnknownHall,
    /// The meeting is locked: no new hall may join (present halls may reconnect).
    MeetingLocked,
    /// The host removed this hall; it may join again only when re-admitted.
    Removed,
    /// The meeting has ended; the socket is closed.
    MeetingEnded,
    /// The roll call was ended: answers are no longer taken (the host or the secretariat
    /// may still mark a hall).
    RollCallEnded,
    /// Our fault; try again.
    Internal,
    /// No `join` arrived within the join timeout after the socket opened; it is closed.
    JoinTimeout,
    /// This server carries as many halls (or forwards as many packets) as it can; the
    /// page tries again later rather than degrade every meeting.
    Capacity,
    /// Another node of the cluster is the meeting's home (holds its lease) and this node
    /// cannot bridge to it yet; the message names that node. The page tries again later.
    HomeElsewhere,
    /// `start_recording` while the meeting is already being recorded.
    AlreadyRecording,
    /// `stop_recording` while the meeting is not being recorded.
    NotRecording,
    /// This server records nothing (no recordings directory is set).
    RecordingUnavailable,
    /// The recording could not start (its directory or file could not be made), or it
    /// ended on an error (a full disk, a write error); the meeting goes on.
    RecordingFailed,
}

impl ErrorCode {
    /// The code as it appears on the wire (also the WebSocket close reason): serde's own
    /// name for it.
    pub fn as_str(self) -> &'static str {
        // A fieldless enum without explicit discriminants: `self as usize` is the index of
        // its declaration, which is the index of its name (the unit tests check each).
        super::names::plain::<ErrorCode>()[self as usize]
    }
}
