//! Hoinghi media plane: selective forwarding of halls' WebRTC media.
//!
//! The modules at the root of the crate are the sans-IO forwarding core (besides
//! [`driver`], `config` and, with the `test-client` feature, a WebRTC client for tests):
//! nothing there touches a socket, a thread or a clock. Each piece is a plain struct
//! fed and drained by the driver:
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
//! [`rtp`], [`hdrext`], [`vp8`] and [`h264`] read packets; [`packetmap`] rewrites sequence
//! numbers and timestamps; [`keyframe`] throttles PLIs per publisher track; [`layer`]
//! selects the simulcast layer and [`switch`] switches layers and sources on keyframes;
//! [`speaker`] finds the active speaker; [`estimator`] measures rates, loss and jitter;
//! [`forwarder`] ties the media path together for one subscriber slot; [`rtt`] and
//! [`linkquality`] read a subscriber's reports (loss, round trip, REMB) on the link to it.
//!
//! A typical wiring: per publisher track, one [`StreamEstimator`] per layer and one
//! [`KeyframeThrottle`] keyed by layer; per subscriber slot, one [`Forwarder`]; per
//! meeting (a [`SpeakerGroup`]), one [`SpeakerDetector`]. A slot's
//! [`ForwarderOutput::RequestKeyframe`] goes into the publisher's throttle, whose
//! `poll_output` yields the PLIs to send.
//!
//! # The driver
//!
//! Around this core sits the driver ([`driver`], `docs/sfu-driver.md`), the crate's one
//! network edge: a state machine of the same shape over every hall's connection (ICE,
//! DTLS, SRTP, interceptors: the sans-IO `rtc` core) and the forwarding state, and a
//! small IO loop that owns ONE UDP port for every hall's media. [`Sfu::start`] binds the
//! port and spawns that loop; it takes commands ([`Sfu::add_peer`], [`Sfu::subscribe`],
//! …) over a channel, and what happens comes back as [`SfuEvent`]s. `config` holds the
//! settings.
//!
//! **One connection per hall, fixed receive slots.** A hall publishes and subscribes
//! over a single peer connection (one ICE/DTLS handshake, one port, one congestion
//! context per hall — with 220 halls a second connection each would double the
//! connections and handshakes). Its offer carries its own tracks (`sendonly`) and
//! a fixed number of `recvonly` m-lines; the SFU answers each with a `sendonly` slot
//! with an SSRC of its own, chosen once. Which hall a slot shows
//! is then only forwarding state: the core [`Forwarder`] of the slot rewrites SSRC,
//! payload type, sequence numbers and timestamps, and switches on a keyframe, so the
//! floor passing from hall to hall never renegotiates — renegotiating 220 connections
//! at every change of speaker would be slow and fragile on weak commune links. The cost
//! is an upper bound on what a hall can show at once (the slot counts in
//! [`SfuConfig`]), which the meeting's layout has anyway.

pub mod estimator;
pub mod forwarder;
pub mod h264;
pub mod hdrext;
pub mod keyframe;
pub mod layer;
pub mod linkquality;
pub mod packetmap;
pub mod rtp;
pub mod rtt;
pub mod speaker;
pub mod switch;
pub mod vp8;

pub mod config;
pub mod driver;
mod error;
mod event;
#[cfg(feature = "test-client")]
pub mod testclient;

pub use config::{Codecs, ConfigError, SfuConfig, WorkerAssignment};
pub use driver::handle::Sfu;
pub use driver::{NodeFigures, NodeKeys, RemoteStream, SrtpKey, TrackCodec};
pub use driver::{RtpTap, MAX_TAP_AUDIO_SLOTS, TAP_AUDIO_PAYLOAD_TYPE, TAP_VIDEO_PAYLOAD_TYPE};
pub use error::SfuError;
pub use event::{
    DisconnectReason, IceCandidate, MediaKind, PeerAnswer, PeerId, PeerStats, SfuEvent, SlotChange,
    SlotId, SlotInfo, SpeakerGroup,
};

pub use estimator::{LossTracker, RateEstimator, StreamEstimator, StreamStats};
pub use forwarder::{
    Forwarder, ForwarderConfig, ForwarderOutput, ForwarderState, IncomingPacket, OutgoingPacket,
};
pub use hdrext::{AudioLevel, ExtensionForm, Extensions};
pub use keyframe::{KeyframeThrottle, DEFAULT_THROTTLE};
pub use layer::{LayerConfig, LayerSelector, MAX_LAYER, NUM_LAYERS};
pub use linkquality::{LinkQuality, LinkReport};
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
