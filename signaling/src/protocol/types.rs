//! The plain data inside messages: halls, the meeting, participants, slots, reasons, ICE
//! candidates and the ICE servers a page is told to use.

use serde::{Deserialize, Serialize};

/// A hall as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallInfo {
    /// The hall's id.
    pub id: i64,
    /// Its name (e.g. "Điểm cầu UBND xã Tân Sơn").
    pub name: String,
}

/// The meeting as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingInfo {
    /// The meeting's id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// The presenting hall (điểm cầu chính).
    pub host_hall_id: i64,
    /// Its name.
    pub host_hall_name: String,
    /// Start, UTC Unix seconds.
    pub starts_at: i64,
    /// Planned end, UTC Unix seconds.
    pub ends_at: i64,
    /// Its kind (`routine`, `sudden`, `national_relay`, `test`): some kinds are recorded
    /// from their start by default (`SignalingConfig::record_kinds`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

impl From<scheduler::Meeting> for MeetingInfo {
    fn from(m: scheduler::Meeting) -> Self {
        MeetingInfo {
            id: m.id,
            title: m.title,
            host_hall_id: m.host_hall_id,
            host_hall_name: m.host_hall_name,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            kind: m.kind.as_str().to_owned(),
        }
    }
}

/// A hall present in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The hall.
    pub hall_id: i64,
    /// Its name.
    pub name: String,
    /// Whether it is the host hall.
    pub host: bool,
    /// A guest (khách mời), not a hall: its `hall_id` is its negative participant id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    /// A WHIP source (a national conference, a presentation PC), not a hall.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub source: bool,
}

/// A receive slot negotiated by the page's offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The slot's id in `subscription` and `set_layer`.
    pub id: u16,
    /// Audio or video.
    pub kind: Kind,
    /// The SDP media id of its m-line (to find the transceiver in the page).
    pub mid: String,
}

impl From<&sfu::SlotInfo> for Slot {
    fn from(s: &sfu::SlotInfo) -> Self {
        Slot {
            id: s.id.0,
            kind: s.kind.into(),
            mid: s.mid.clone(),
        }
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Microphone.
    Audio,
    /// Camera.
    Video,
}

impl From<sfu::MediaKind> for Kind {
    fn from(kind: sfu::MediaKind) -> Self {
        match kind {
            sfu::MediaKind::Audio => Kind::Audio,
            sfu::MediaKind::Video => Kind::Video,
        }
    }
}

/// Why a hall joined or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// It joined.
    Joined,
    /// It left (`leave`, or closed its page).
    Left,
    /// Its socket dropped and did not come back within the grace period.
    NetworkLost,
    /// The host removed it.
    Removed,
    /// The meeting ended.
    MeetingEnded,
}

/// An ICE candidate in the browser's own shape, both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The `candidate:…` line; empty marks the end of candidates.
    pub candidate: String,
    /// The m-line's media id.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The m-line's index.
    #[serde(default)]
    pub sdp_mline_index: Option<u16>,
    /// The ICE username fragment.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

impl From<sfu::IceCandidate> for Candidate {
    fn from(c: sfu::IceCandidate) -> Self {
        Candidate {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
        }
    }
}

impl From<Candidate> for sfu::IceCandidate {
    fn from(c: Candidate) -> Self {
        sfu::IceCandidate {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
        }
    }
}

/// One entry of the page's `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:…`, `turn:…?transport=tcp`, `turns:…` URLs sharing these credentials.
    pub urls: Vec<String>,
    /// TURN user name: `<unix expiry>:<hall id>` (absent for STUN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password: base64(HMAC-SHA1(secret, username)) (absent for STUN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Which candidates a page may use (`RTCConfiguration.iceTransportPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Any candidate: direct UDP to the SFU first, the TURN relay when that fails.
    #[default]
    All,
    /// Only the TURN relay (an operator forcing every hall through the TURN server).
    Relay,
}
