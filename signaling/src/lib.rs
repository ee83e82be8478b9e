//! Hoinghi signaling: the WebSocket protocol halls speak and the live meeting rooms behind it.
//!
//! - [`protocol`] — the versioned JSON messages and their parser (`docs/protocol.md`);
//! - [`session`] — one socket, generic over `Sink`/`Stream` so tests use channels;
//! - [`room`] — one owner task per live meeting: presence, replacement, grace periods,
//!   the chair (phases, floor with a speaking limit, mutes enforced in media, spotlight,
//!   removal, lock, hands), roll call, headcount and the readiness board, media via the
//!   [`sfu`]; [`policy`] decides which hall fills which receive slot (host, floor holder,
//!   the host's paged grid; audio only from unmuted halls);
//! - [`registry`] — the service: rooms by meeting and the SFU event dispatcher;
//! - [`home`] — with several nodes on one database, the home-node lease of each room
//!   this node opens (taken, renewed, given up; a join refused when another node is home);
//! - [`bridge`] — a hall whose meeting is homed on another node, bridged to that room
//!   over NATS (its socket here, its place in the room there);
//! - `drain` — a stopping cluster node hands its meetings and halls to living nodes;
//! - [`live_states`] — the writer of each room's live state (floor, hands, mutes…), which
//!   the meeting's next room takes up (drain, fail-over, restart);
//! - `failover` — the lease watcher: takes over the meetings of a dead home node and
//!   closes this node's rooms whose lease was taken over;
//! - [`ice`] — the STUN/TURN servers and time-limited TURN credentials pages get;
//! - [`admission`] — join tokens checked by the [`scheduler`] into an [`Admission`];
//! - [`load`] — halls present and the media port's figures, and the capacity guard;
//!   [`metrics`] — joins counted for `/metrics`;
//! - [`recording`] — a meeting's recording (WebM through GStreamer) as an SFU tap;
//! - [`recorder`] — presence, lifecycle, roll call, headcount and host controls written
//!   in order through the scheduler's store (attendance rows and the meeting's log).
//!
//! The web server's `/ws` route checks nothing itself: it adapts axum's socket and calls
//! [`serve`] with an [`Admit`] that asks the store.
//!
//! Tests: unit tests sit in the module (`mod tests { … }`) or, when long, beside it in
//! `foo/tests.rs`, declared `#[cfg(test)] mod tests;` in `foo.rs` (as in `sfu`); the
//! suites in `tests/` share their harness in `tests/common/` (pages over channels, the
//! token table, waits, media and the real store).

pub mod admission;
pub mod bridge;
pub mod config;
mod drain;
mod failover;
pub mod feeds;
pub mod home;
pub mod ice;
pub mod link;
pub mod live_states;
pub mod load;
pub mod metrics;
pub mod policy;
pub mod protocol;
pub mod ratelimit;
pub mod recorder;
pub mod recording;
pub mod registry;
pub mod room;
pub mod session;

pub use admission::{refusal, Admission, Admit, StoreAdmit};
pub use bridge::Bridge;
pub use feeds::{FeedAnswer, FeedOffer, FeedRefusal, FeedRole, ViewerInfo};
pub use home::HomeLeases;
pub use recorder::{
    NoRecorder, PresenceChange, PresenceKind, Recorder, RecordingEvent, StoreRecorder,
};
pub use registry::{Signaling, SignalingConfig};
pub use room::{HallStats, RecordingRefusal, RecordingStatus, RoomHandle};
pub use session::{serve, WsMessage};

pub use scheduler;
pub use sfu;
