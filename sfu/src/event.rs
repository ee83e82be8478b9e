//! What the SFU tells its owner: identifiers, negotiated slots, events and statistics.

use crate::StreamId;
use std::time::Duration;

/// One hall's peer connection, named by the caller (the signalling layer assigns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// A receive slot of a peer: the index in [`PeerAnswer::slots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u16);

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Microphone: Opus.
    Audio,
    /// Camera: VP8 (H.264 negotiated too).
    Video,
}

/// A pre-negotiated stream from the SFU to a peer; it keeps its SSRC and m-line while
/// the hall it shows changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// The slot's id in this peer's commands.
    pub id: SlotId,
    /// What it carries.
    pub kind: MediaKind,
    /// The SDP media id of its m-line, for the client to attach it to a video element.
    pub mid: String,
    /// Its SSRC, fixed for the connection's life.
    pub ssrc: u32,
}

/// The result of adding a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAnswer {
    /// The SDP answer (with all host candidates; no trickle needed).
    pub sdp: String,
    /// The receive slots the offer negotiated, in m-line order; the offer's
    /// `recvonly` m-lines beyond the configured slot counts are rejected.
    pub slots: Vec<SlotInfo>,
}

/// Why a peer went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The hall closed its connection.
    Closed,
    /// Connectivity was lost; ICE may still recover it (then `PeerConnected` again).
    ConnectionLost,
    /// The SFU's owner asked (`close_peer`).
    ClosedByServer,
}

/// Per-peer statistics over the last interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    /// The peer.
    pub peer: PeerId,
    /// Bits per second received from the hall (all its layers).
    pub bitrate_in_bps: u64,
    /// Bits per second sent to the hall (all its slots).
    pub bitrate_out_bps: u64,
    /// Highest loss fraction among its incoming streams since the last report.
    pub loss_in: f32,
    /// Highest interarrival jitter among its incoming streams.
    pub jitter_in: Duration,
    /// Packets sent to the hall since it joined.
    pub packets_out: u64,
    /// Packets for the hall dropped because its queue was full, since it joined.
    pub dropped_out: u64,
}

/// Something the signalling layer may act on or record.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SfuEvent {
    /// ICE and DTLS are up; media can flow.
    PeerConnected(PeerId),
    /// The peer is gone (or, for `ConnectionLost`, interrupted).
    PeerDisconnected(PeerId, DisconnectReason),
    /// The connection failed for good; the peer was removed.
    PeerFailed(PeerId),
    /// A hall started publishing a track.
    TrackPublished {
        /// The publishing hall.
        peer: PeerId,
        /// The id to subscribe to.
        track: StreamId,
        /// Audio or video.
        kind: MediaKind,
        /// Its simulcast RIDs from low to high quality (empty: one layer).
        rids: Vec<String>,
    },
    /// A track is no longer published (its hall left); slots showing it went dark.
    TrackUnpublished {
        /// The hall that published it.
        peer: PeerId,
        /// The track.
        track: StreamId,
    },
    /// The loudest hall changed (`None`: nobody speaks).
    ActiveSpeakerChanged {
        /// The speaking hall.
        peer: Option<PeerId>,
        /// Its audio track.
        track: Option<StreamId>,
    },
    /// Statistics of one peer.
    Stats(PeerStats),
}
