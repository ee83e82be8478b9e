//! What the SFU and its owner tell each other: identifiers, negotiated slots, candidates,
//! slot changes, events and statistics.

use crate::StreamId;
use std::time::Duration;

/// One hall's peer connection, named by the caller (the signalling layer assigns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// A receive slot of a peer: the index in [`PeerAnswer::slots`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u16);

/// Halls that hear each other (a meeting's): the SFU finds one active speaker per
/// group. A peer is in the default group (0) until
/// [`Sfu::set_speaker_group`](crate::Sfu::set_speaker_group) places it, so an owner
/// that never groups its peers gets one speaker for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpeakerGroup(pub u64);

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
    /// The SDP answer (with all host candidates, unless they are trickled).
    pub sdp: String,
    /// The receive slots the offer negotiated, in m-line order; the offer's
    /// `recvonly` m-lines beyond the configured slot counts are rejected.
    pub slots: Vec<SlotInfo>,
}

/// A remote ICE candidate as a browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceCandidate {
    /// The `candidate:…` attribute.
    pub candidate: String,
    /// The m-line's media id.
    pub sdp_mid: Option<String>,
    /// The m-line's index.
    pub sdp_mline_index: Option<u16>,
    /// The ICE username fragment.
    pub username_fragment: Option<String>,
}

impl From<IceCandidate> for rtc::peer_connection::transport::RTCIceCandidateInit {
    fn from(c: IceCandidate) -> Self {
        Self {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
            ..Default::default()
        }
    }
}

/// One change of a receive slot, for [`Sfu::apply`](crate::Sfu::apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotChange {
    /// Shows `track` in the slot, up to `max_layer` (as [`Sfu::subscribe`](crate::Sfu::subscribe)).
    Show {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
        /// The track shown.
        track: StreamId,
        /// The highest simulcast layer.
        max_layer: u8,
    },
    /// Changes the highest layer of what the slot shows (as [`Sfu::set_layer`](crate::Sfu::set_layer)).
    Layer {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
        /// The highest simulcast layer.
        max_layer: u8,
    },
    /// Empties the slot (as [`Sfu::unsubscribe`](crate::Sfu::unsubscribe)).
    Clear {
        /// The viewing peer.
        peer: PeerId,
        /// Its slot.
        slot: SlotId,
    },
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
///
/// `#[non_exhaustive]`: new measurements are added over time; outside this crate build
/// one with [`PeerStats::new`] and set the fields.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
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
    /// Smoothed round trip to the hall, from its receiver reports on our sender reports
    /// (`None` until it reported one, or when it stopped reporting).
    pub rtt: Option<Duration>,
    /// Highest fraction lost (0–1) the hall reports lately for what we send it, over
    /// its slots.
    pub loss_out: f32,
    /// The hall's own estimate of what it can receive (its latest REMB), bits per
    /// second; `None` if it sends none (it did not negotiate `goog-remb`).
    pub bandwidth_out_bps: Option<u64>,
}

impl PeerStats {
    /// Statistics of `peer` with nothing measured yet.
    pub fn new(peer: PeerId) -> Self {
        Self {
            peer,
            bitrate_in_bps: 0,
            bitrate_out_bps: 0,
            loss_in: 0.0,
            jitter_in: Duration::ZERO,
            packets_out: 0,
            rtt: None,
            loss_out: 0.0,
            bandwidth_out_bps: None,
        }
    }
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
    /// The loudest hall of a speaker group changed (`None`: nobody in it speaks).
    ActiveSpeakerChanged {
        /// The group (meeting) whose speaker it is.
        group: SpeakerGroup,
        /// The speaking hall.
        peer: Option<PeerId>,
        /// Its audio track.
        track: Option<StreamId>,
    },
    /// Statistics of one peer.
    Stats(PeerStats),
    /// One of our ICE candidates for a peer's connection, gathered after the answer
    /// (only with [`SfuConfig::trickle_candidates`](crate::SfuConfig::trickle_candidates));
    /// an empty `candidate` string marks the end of gathering. It may arrive before
    /// [`Sfu::add_peer`](crate::Sfu::add_peer) returns: hold it until the answer is sent.
    LocalCandidate {
        /// The hall whose connection it belongs to.
        peer: PeerId,
        /// The candidate, as the hall's `addIceCandidate` takes it.
        candidate: IceCandidate,
    },
}
