//! Hoinghi signaling: the WebSocket protocol halls speak and the live meeting rooms behind it.
//!
//! - [`protocol`] — the versioned JSON messages and their parser (`docs/protocol.md`);
//! - [`session`] — one socket, generic over `Sink`/`Stream` so tests use channels;
//! - [`room`] — one owner task per live meeting: presence, replacement, grace periods,
//!   media via the [`sfu`]; [`policy`] decides which hall fills which receive slot;
//! - [`registry`] — the service: rooms by meeting and the SFU event dispatcher;
//! - [`admission`] — join tokens checked by the [`scheduler`] into an [`Admission`];
//! - [`recorder`] — presence changes written as attendance through the scheduler's store.
//!
//! The web server's `/ws` route checks nothing itself: it adapts axum's socket and calls
//! [`serve`] with an [`Admit`] that asks the store.

pub mod admission;
pub mod link;
pub mod policy;
pub mod protocol;
pub mod ratelimit;
pub mod recorder;
pub mod registry;
pub mod room;
pub mod session;

pub use admission::{refusal, Admission, Admit};
pub use recorder::{NoRecorder, PresenceChange, PresenceKind, Recorder, StoreRecorder};
pub use registry::{Signaling, SignalingConfig};
pub use room::{HallStats, RoomHandle};
pub use session::{serve, WsMessage};

pub use scheduler;
pub use sfu;
