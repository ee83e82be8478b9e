//! Hoinghi signaling: the live meeting room and its WebSocket protocol (built out in the media-plane issue).

pub use scheduler;
pub use sfu;
