//! The signaling service's settings: timings and limits of sessions and rooms.

use crate::load::Capacity;
use crate::ratelimit::RateLimit;
use std::path::PathBuf;
use std::time::Duration;

/// Timings and limits of sessions and rooms.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalingConfig {
    /// How often pages ping; a socket silent for three intervals is closed.
    pub heartbeat: Duration,
    /// How long a hall whose socket dropped stays present before `network_lost`.
    pub grace: Duration,
    /// How long an empty room lives on before its task ends.
    pub linger: Duration,
    /// Flood protection per socket.
    pub rate: RateLimit,
    /// How long a page may leave a frame unread (a write not going through) before its
    /// socket is cut with 1008 `not_reading`. Only time counts: what a page owes is
    /// bounded by coalescing, so a burst other halls made never cuts it.
    pub write_timeout: Duration,
    /// How often a page is sent the state that changes often (`meeting_state`, the
    /// readiness board, other halls' headcounts, answers and hands), coalesced to the
    /// latest per key; the first change after a quiet spell goes at once.
    pub state_interval: Duration,
    /// How often connected halls are written down as still present (the time an
    /// interval is closed at if the server dies).
    pub presence_interval: Duration,
    /// How often the readiness board is pushed to a host watching it (when changed).
    pub readiness_interval: Duration,
    /// Whether halls other than the host join muted (a 200-hall meeting: yes).
    pub halls_join_muted: bool,
    /// The STUN/TURN servers (with fresh credentials) and the ICE policy told to each
    /// page in `welcome`; by default none (host candidates only).
    pub ice: crate::ice::IceConfig,
    /// How long a socket may stay open without sending `join`.
    pub join_timeout: Duration,
    /// The most halls and forwarded packets this node takes on.
    pub capacity: Capacity,
    /// Where meeting recordings go (`<dir>/<meeting id>/<meeting id>-<UTC time>.webm`);
    /// `None`: this server records nothing (`start_recording` is refused
    /// `recording_unavailable`).
    pub recordings_dir: Option<PathBuf>,
    /// Meeting kinds (`routine`, `sudden`, `national_relay`, `test`) recorded from their
    /// start by default (needs `recordings_dir`); by default none.
    pub record_kinds: Vec<String>,
    /// Which node carries the media of the halls under which units (`[cluster]
    /// media_regions`, by node id: unit ids); empty: a hall's media goes to the node its
    /// socket came through, else to the home node (`room::nodes`).
    pub media_regions: std::collections::BTreeMap<String, Vec<i64>>,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            linger: Duration::from_secs(60),
            rate: RateLimit::default(),
            write_timeout: Duration::from_secs(10),
            state_interval: Duration::from_millis(250),
            presence_interval: Duration::from_secs(15),
            readiness_interval: Duration::from_secs(2),
            halls_join_muted: true,
            ice: crate::ice::IceConfig::default(),
            join_timeout: Duration::from_secs(10),
            capacity: Capacity::default(),
            recordings_dir: None,
            record_kinds: Vec::new(),
            media_regions: Default::default(),
        }
    }
}
