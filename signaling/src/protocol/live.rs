//! The chaired meeting's shared state as pages see it: phase, floor, hands, mutes, who
//! acted, and the readiness board of the host and the secretariat.

use serde::{Deserialize, Serialize};

pub use scheduler::attendance::RollCallStatus;

/// Where the meeting is in its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Halls connect early and are counted; the host has not started.
    #[default]
    Waiting,
    /// Kiểm tra kết nối: the connection test before the start.
    Test,
    /// The meeting is held.
    Started,
    /// Over: halls are closed and no one may join again.
    Ended,
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A hall's page (the host hall for host controls).
    Hall {
        /// The hall.
        hall_id: i64,
    },
    /// A secretariat or administrator over the HTTP API.
    Staff {
        /// The account.
        account_id: i64,
    },
    /// The server itself (a speaking time ran out).
    Server,
}

impl Actor {
    /// The staff account, for the store's `account_id`.
    pub fn account_id(self) -> Option<i64> {
        match self {
            Actor::Staff { account_id } => Some(account_id),
            _ => None,
        }
    }

    /// "by hall 12", "by account 3", "by server": the log's detail.
    pub fn describe(self) -> String {
        match self {
            Actor::Hall { hall_id } => format!("by hall {hall_id}"),
            Actor::Staff { account_id } => format!("by account {account_id}"),
            Actor::Server => "by server".to_owned(),
        }
    }
}

/// A host control or hall action, as announced in `control` and logged. Its names come
/// from serde (see [`Action::as_str`]): variants keep their declaration order as
/// discriminants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The connection test began.
    TestStarted,
    /// The meeting started.
    MeetingStarted,
    /// The meeting ended.
    MeetingEnded,
    /// A hall got the floor.
    GiveFloor,
    /// The floor was taken back.
    TakeFloor,
    /// The speaking time ran out; the server took the floor back.
    FloorExpired,
    /// A hall was muted.
    Mute,
    /// A hall was unmuted.
    Unmute,
    /// A hall may unmute itself.
    AllowUnmute,
    /// A hall may no longer unmute itself.
    DisallowUnmute,
    /// Every hall but the host was muted.
    MuteAll,
    /// A hall is shown to everyone (or none: `hall_id` null).
    Spotlight,
    /// A hall was removed.
    Remove,
    /// A removed hall may join again.
    Readmit,
    /// New halls are refused.
    Lock,
    /// New halls may join again.
    Unlock,
    /// A hall raised its hand.
    RaiseHand,
    /// A hand was lowered.
    LowerHand,
    /// A roll call began.
    RollCallStarted,
    /// The roll call was ended.
    RollCallEnded,
    /// A hall answered the roll call.
    RollCallAnswer,
    /// The secretariat marked a hall.
    RollCallMark,
    /// A hall reported how many people are in the room.
    Headcount,
}

impl Action {
    /// The name on the wire and in the log's `kind`: serde's own name for it.
    pub fn as_str(self) -> &'static str {
        // A fieldless enum without explicit discriminants: `self as usize` is the index of
        // its declaration, which is the index of its name (the unit tests check each).
        super::names::plain::<Action>()[self as usize]
    }
}

/// Whether the meeting is being recorded (ghi hình): the `recording` message, and the
/// live state staff read over HTTP. Every hall page shows it: halls know they are
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordingInfo {
    /// Recording now.
    pub on: bool,
    /// When the recording started (UTC Unix seconds), while on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Who started it (while on) or stopped it (off); `server` for a meeting kind
    /// recorded by default, a failure, or the room closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Actor>,
    /// Why it stopped on its own: `recording_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<super::ErrorCode>,
    /// The recorder's own reason (`recording_write_failed`, …), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Who holds the floor, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorInfo {
    /// The speaking hall.
    pub hall_id: i64,
    /// When its speaking time ends (UTC Unix seconds), if limited.
    pub until: Option<i64>,
}

/// The chaired meeting's state, on `welcome` and after every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MeetingState {
    /// Where the meeting is.
    pub phase: Phase,
    /// Who speaks.
    pub floor: Option<FloorInfo>,
    /// The hall shown to everyone beside the floor holder.
    pub spotlight: Option<i64>,
    /// Whether new halls are refused.
    pub locked: bool,
    /// Raised hands, first raised first.
    pub hands: Vec<i64>,
    /// Muted halls (their audio reaches no one).
    pub muted: Vec<i64>,
    /// Halls allowed to unmute themselves.
    pub may_unmute: Vec<i64>,
    /// Removed halls (refused until re-admitted).
    pub removed: Vec<i64>,
    /// The roll call in progress, if any.
    pub roll_call: Option<u64>,
}

/// How a hall's connection looks on the readiness board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Invited, not in the meeting (or its socket dropped).
    NotConnected,
    /// Its page is in; media not (yet) flowing.
    Connected,
    /// Media flows without notable loss.
    MediaOk,
    /// Media flows with loss (either way), delay or jitter a meeting notices.
    Poor,
}

/// One hall on the readiness board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallReadiness {
    /// The hall.
    pub hall_id: i64,
    /// Its name.
    pub name: String,
    /// Its connection.
    pub state: LinkState,
    /// Loss of its incoming media (0–1), from the SFU's latest statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f32>,
    /// Loss of what the SFU sends it (0–1), as the hall itself reports (the worst of
    /// its receive slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_out: Option<f32>,
    /// Round trip between the SFU and the hall in milliseconds (smoothed, from its
    /// receiver reports); absent until it has reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u64>,
    /// Jitter of its incoming media in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    /// Its answer (or mark) in the roll call in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roll_call: Option<RollCallStatus>,
    /// The people it last reported in the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub people: Option<u32>,
}

/// One unit's line on the board (a district, with its communes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitReadiness {
    /// The unit's name.
    pub unit: String,
    /// Halls invited under it.
    pub invited: usize,
    /// Of them, connected now.
    pub connected: usize,
}

/// The readiness board: x of y invited halls connected, per district, per hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Readiness {
    /// Halls invited.
    pub invited: usize,
    /// Invited halls connected now.
    pub connected: usize,
    /// Per district (or unit), in unit order.
    pub per_district: Vec<UnitReadiness>,
    /// Every invited hall (and any present hall not invited), in unit order.
    pub halls: Vec<HallReadiness>,
    /// Guests (khách mời) present now, in join order: never counted as halls. Their
    /// `hall_id` is their negative participant id.
    #[serde(default)]
    pub guests: Vec<HallReadiness>,
    /// Of them, connected now (not within a grace period after a drop).
    #[serde(default)]
    pub guests_connected: usize,
    /// WHIP sources present now (a national conference, a presentation PC): never
    /// counted as halls. Their `hall_id` is their participant id (`docs/protocol.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<HallReadiness>,
}
