//! What the handle asks of the driver, with the channel each answer goes back on, and the
//! port's counters.

use super::router::RouterStats;
use crate::event::{IceCandidate, PeerAnswer, PeerId, SlotChange, SlotId, SpeakerGroup};
use crate::{SfuError, StreamId};
use tokio::sync::oneshot;

/// A request to the driver; each carries its reply channel.
pub enum Command {
    /// Answer a hall's offer on the media port.
    AddPeer {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// Apply a connected hall's new offer to its connection.
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// A remote candidate the hall trickled.
    AddIceCandidate {
        peer: PeerId,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Ask a publisher for a keyframe of one layer of its stream (throttled).
    RequestKeyframe {
        track: StreamId,
        layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Show a published stream in a receive slot (from its next keyframe).
    Subscribe {
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        /// The highest simulcast layer the slot may carry.
        max_layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Empty a receive slot.
    Unsubscribe {
        peer: PeerId,
        slot: SlotId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Change the highest layer a slot may carry (same source, no keyframe restart).
    SetLayer {
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Several slot changes at once, each with its result, in order.
    Apply {
        changes: Vec<SlotChange>,
        reply: oneshot::Sender<Vec<Result<(), SfuError>>>,
    },
    /// Put a hall in the speaker group (meeting) whose active speaker it may become.
    SetSpeakerGroup {
        peer: PeerId,
        group: SpeakerGroup,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Close a hall's connection: its tracks are unpublished, `PeerDisconnected` follows.
    ClosePeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Read the counters.
    Stats { reply: oneshot::Sender<PortStats> },
}

/// Counters of the media port since start.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortStats {
    /// Connections on the port.
    pub connections: usize,
    /// Remote addresses bound to connections.
    pub addresses: usize,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams dropped because no connection claimed them.
    pub unrouted: u64,
    /// Datagrams dropped on the way out (send queue full, or refused by the kernel).
    pub send_dropped: u64,
    /// Events dropped because the caller's event queue was full.
    pub events_dropped: u64,
    /// The media path's counters.
    pub router: RouterStats,
    /// Time the IO loop spent working (not waiting) since start: its busy ratio is the
    /// growth of this over wall-clock time.
    pub busy: std::time::Duration,
}
