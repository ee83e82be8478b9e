//! The errors the SFU's async API returns to its caller (the signalling layer).

use crate::event::{PeerId, SlotId};
use crate::StreamId;

/// Why a command to the SFU failed. Each variant is a distinct answer for the hall's
/// client (bad offer, unknown peer) or for us (the media task stopped, `rtc` failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SfuError {
    /// The offer (or a candidate) could not be parsed or applied.
    #[error("invalid SDP: {0}")]
    InvalidSdp(String),
    /// The ICE candidate could not be parsed or applied.
    #[error("invalid ICE candidate: {0}")]
    InvalidCandidate(String),
    /// A peer with this id already exists.
    #[error("peer {0:?} already exists")]
    DuplicatePeer(PeerId),
    /// No such peer (never added, closed, or failed).
    #[error("no peer {0:?}")]
    UnknownPeer(PeerId),
    /// The peer has no such receive slot (its offer did not negotiate it).
    #[error("peer {0:?} has no slot {1:?}")]
    UnknownSlot(PeerId, SlotId),
    /// No such published track (never published, or its hall left).
    #[error("no published track {0:?}")]
    UnknownTrack(StreamId),
    /// The slot cannot carry the track: other kind, or its codec was not negotiated.
    #[error("slot {1:?} of peer {0:?} cannot carry track {2:?}: {3}")]
    Incompatible(PeerId, SlotId, StreamId, &'static str),
    /// No relay link with the node at this media address (`Sfu::link_node` first).
    #[error("no relay link with node {0}")]
    UnknownNode(std::net::SocketAddr),
    /// The WebRTC stack (`rtc`) failed on our side.
    #[error("webrtc: {0}")]
    Webrtc(String),
    /// The SFU's media task has stopped.
    #[error("the SFU has stopped")]
    Stopped,
}

impl SfuError {
    /// Wraps a WebRTC stack error that is our fault, not the client's.
    pub(crate) fn webrtc(e: impl std::fmt::Display) -> Self {
        Self::Webrtc(e.to_string())
    }
}
