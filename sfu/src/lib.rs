//! Hoinghi media plane: the sans-IO core of selective forwarding of halls' WebRTC media.
//!
//! Nothing here touches a socket, a thread or a clock. Each piece is a plain struct that
//! the network driver at the edge (the `webrtc` crate, tokio) feeds and drains:
//!
//! - `handle_…(now, input)` — an RTP packet, an audio level, a keyframe request, a
//!   bandwidth or loss report — with the wall time `now: Instant` at which it arrived;
//! - `handle_timeout(now)` — time passed; call it when `poll_timeout()` says so;
//! - `poll_output()` — drain what to do until it returns `None`: packets to send,
//!   PLIs to send upstream, speaker changes to announce.
//!
//! Tests drive the same calls with simulated packets and an `Instant` moved forward by
//! hand, so every behaviour (switching on keyframes, PLI throttling, sequence
//! continuity) is checked without a network.
//!
//! The pieces, after Galène's small files and LiveKit's forwarder split:
//! [`rtp`], [`hdrext`] and [`vp8`] read packets; [`packetmap`] rewrites sequence
//! numbers and timestamps; [`keyframe`] throttles PLIs per publisher track; [`layer`]
//! selects the simulcast layer and [`switch`] switches layers and sources on keyframes;
//! [`speaker`] finds the active speaker; [`estimator`] measures rates, loss and jitter;
//! [`forwarder`] ties the media path together for one subscriber slot.
//!
//! A typical wiring: per publisher track, one [`StreamEstimator`] per layer and one
//! [`KeyframeThrottle`] keyed by layer; per subscriber slot, one [`Forwarder`]; per
//! meeting, one [`SpeakerDetector`]. A slot's [`ForwarderOutput::RequestKeyframe`]
//! goes into the publisher's throttle, whose `poll_output` yields the PLIs to send.

pub mod estimator;
pub mod forwarder;
pub mod hdrext;
pub mod keyframe;
pub mod layer;
pub mod packetmap;
pub mod rtp;
pub mod speaker;
pub mod switch;
pub mod vp8;

pub use estimator::{LossTracker, RateEstimator, StreamEstimator, StreamStats};
pub use forwarder::{Forwarder, ForwarderConfig, ForwarderOutput, ForwarderState, IncomingPacket};
pub use hdrext::{AudioLevel, ExtensionForm, Extensions};
pub use keyframe::{KeyframeThrottle, DEFAULT_THROTTLE};
pub use layer::{LayerConfig, LayerSelector, MAX_LAYER, NUM_LAYERS};
pub use packetmap::{SeqMap, TimestampMap};
pub use rtp::{rewrite_header, RtpError, RtpHeader, RtpPacket};
pub use speaker::{SpeakerChange, SpeakerConfig, SpeakerDetector};
pub use switch::{Feed, FeedSwitch, LayerEvent, LayerState, PacketAction};
pub use vp8::{is_keyframe_start, Vp8Descriptor, Vp8Error};

/// Identifies a publisher's track (a hall's camera or microphone) within an SFU node.
///
/// The session layer assigns these; the media core only compares them. A simulcast
/// track has one id; its layers are told apart by layer number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);
