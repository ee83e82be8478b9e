//! The vocabulary of the owner task's channels: commands from the handle, control
//! messages from connections and slot tasks, media from the track readers, and the
//! codecs they name.

use crate::error::SfuError;
use crate::event::{MediaKind, PeerAnswer, PeerId, SlotId};
use crate::handle::IceCandidate;
use crate::linkquality::LinkReport;
use crate::negotiate::Negotiation;
use crate::renegotiate::Renegotiation;
use crate::StreamId;
use rtc::rtp;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{RTCIceCandidateInit, RTCPeerConnectionState};

/// A codec of a published track or a slot, as far as forwarding cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackCodec {
    /// Opus audio.
    Opus,
    /// VP8 video: keyframes recognised by [`crate::vp8`].
    Vp8,
    /// H.264 video (packetization mode 1): keyframes recognised by [`crate::h264`].
    H264,
    /// Anything else (RTX, FEC, …): never forwarded by itself.
    Other,
}

impl TrackCodec {
    /// The codec of a MIME type such as `video/VP8`.
    pub fn from_mime(mime: &str) -> Self {
        match mime.to_ascii_lowercase().as_str() {
            "audio/opus" => Self::Opus,
            "video/vp8" => Self::Vp8,
            "video/h264" => Self::H264,
            _ => Self::Other,
        }
    }

    /// Whether an RTP payload of this codec starts a keyframe, where a subscriber may
    /// start or switch to the stream. Every audio packet does; a malformed video payload
    /// does not (it is forwarded in order but never switched on).
    pub fn is_keyframe_start(self, payload: &[u8]) -> bool {
        match self {
            Self::Opus => true,
            Self::Vp8 => crate::vp8::is_keyframe_start(payload).unwrap_or(false),
            Self::H264 => crate::h264::is_keyframe_start(payload).unwrap_or(false),
            Self::Other => false,
        }
    }

    /// The RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            _ => 90_000,
        }
    }
}

/// A request from the [`Sfu`](crate::Sfu) handle, with the channel for its answer.
pub enum Command {
    AddPeer(PeerId, String, Reply<PeerAnswer>),
    /// A new offer for a ready peer's existing connection.
    Renegotiate(PeerId, String, Reply<PeerAnswer>),
    AddIceCandidate(PeerId, RTCIceCandidateInit, Reply<()>),
    Subscribe {
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        max_layer: u8,
        reply: Reply<()>,
    },
    Unsubscribe(PeerId, SlotId, Reply<()>),
    SetLayer(PeerId, SlotId, u8, Reply<()>),
    /// Many slot changes at once, each with its own result.
    Apply(
        Vec<crate::handle::SlotChange>,
        Reply<Vec<Result<(), SfuError>>>,
    ),
    RequestKeyframe(StreamId, u8, Reply<()>),
    ClosePeer(PeerId, Reply<()>),
}

/// Where a command's result goes.
pub type Reply<T> = oneshot::Sender<Result<T, SfuError>>;

/// Lifecycle messages from connections, negotiation tasks and slot tasks.
pub enum Control {
    /// A connection changed state.
    State(PeerId, RTCPeerConnectionState),
    /// A hall's offer was applied (or failed).
    Negotiated(
        PeerId,
        Box<Result<Negotiation, SfuError>>,
        Reply<PeerAnswer>,
    ),
    /// A renegotiation of a ready peer's connection was applied (or failed).
    Renegotiated(
        PeerId,
        Box<Result<Renegotiation, SfuError>>,
        Reply<PeerAnswer>,
    ),
    /// One of our ICE candidates for a peer (trickle); empty: gathering ended.
    LocalCandidate(PeerId, IceCandidate),
    /// A hall started publishing a track (its first packet arrived).
    TrackAdded {
        peer: PeerId,
        id: StreamId,
        kind: MediaKind,
        /// What its first packet's payload type says (`Other`: not known yet).
        codec: TrackCodec,
        rids: Vec<String>,
        remote: Arc<dyn TrackRemote>,
    },
    /// A hall asked for a keyframe on one of its slots (PLI or FIR).
    SlotKeyframeRequest(PeerId, SlotId),
    /// A hall reported on what we send it: report blocks (loss, round trip) and REMB.
    LinkReports(PeerId, Vec<LinkReport>),
}

/// Media from the track reader tasks, in order per track.
pub enum MediaIn {
    /// A layer of a track started (simulcast: once per RID).
    LayerOpen {
        track: StreamId,
        layer: u8,
        ssrc: u32,
        codec: TrackCodec,
    },
    /// An RTP packet of a layer.
    Packet {
        track: StreamId,
        layer: u8,
        at: Instant,
        packet: rtp::Packet,
    },
    /// The track ended.
    Ended { track: StreamId },
}

#[cfg(test)]
mod tests {
    use super::TrackCodec;

    #[test]
    fn keyframes_are_recognised_per_codec() {
        let vp8_key = [0x10, 0x00, 0x9D];
        let h264_idr_start = [0x7C, 0x85, 0xAB];
        assert_eq!(TrackCodec::from_mime("video/H264"), TrackCodec::H264);
        assert_eq!(TrackCodec::from_mime("video/vp8"), TrackCodec::Vp8);
        assert!(TrackCodec::Vp8.is_keyframe_start(&vp8_key));
        assert!(!TrackCodec::Vp8.is_keyframe_start(&h264_idr_start));
        assert!(TrackCodec::H264.is_keyframe_start(&h264_idr_start));
        assert!(!TrackCodec::H264.is_keyframe_start(&vp8_key)); // NAL type 16: not a picture start
        assert!(!TrackCodec::H264.is_keyframe_start(&[])); // malformed: never a switch point
        assert!(TrackCodec::Opus.is_keyframe_start(&[]));
        assert!(!TrackCodec::Other.is_keyframe_start(&vp8_key));
    }
}
