//! What a hall's page sends: one variant per `type`, the list of those types and who may
//! send each. A new message is a variant here (its `type` follows from its name), an arm
//! in [`ClientMessage::staff_may_send`], and its handler in the room.

use super::names;
use super::{Candidate, Phase, RollCallStatus};
use serde::{Deserialize, Serialize};

/// What a hall's page sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: the hall's join token; `resume` names the session the page
    /// had before its socket dropped.
    Join {
        /// Protocol version the page speaks; must be [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
        v: u32,
        /// The hall's join token for this meeting (from its invitation).
        token: String,
        /// The `session_id` of a previous `welcome`, when reconnecting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// The page's SDP offer: its camera and microphone (`sendonly`) and its receive
    /// slots (`recvonly`). A new offer replaces the hall's media connection, unless it
    /// says `renegotiate` and the hall's connection is up.
    Offer {
        /// The SDP text.
        sdp: String,
        /// Apply the offer to the hall's existing connection (its tracks or slots
        /// changed) instead of replacing it; without a connection, as if `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        renegotiate: bool,
    },
    /// A trickled ICE candidate (`RTCIceCandidate.toJSON()`).
    Candidate(Candidate),
    /// Keep-alive; the server answers `pong` with the same `ts`.
    Ping {
        /// Anything the page wants echoed (usually `performance.now()`).
        ts: f64,
    },
    /// The hall leaves the meeting; the server closes the socket.
    Leave,
    /// Caps the simulcast layer shown in one receive slot (a smaller tile).
    SetLayer {
        /// The slot (`answer.slots[].id`).
        slot: u16,
        /// Highest layer, 0 (lowest) to 2.
        layer: u8,
    },
    /// Host: moves the meeting to `test` (kiểm tra kết nối), `started` or `ended`.
    SetPhase {
        /// The new phase.
        phase: Phase,
    },
    /// Host: gives the floor to a present hall (lowering its hand, opening its
    /// microphone), optionally for a limited time.
    GiveFloor {
        /// The hall.
        hall_id: i64,
        /// Speaking time; the server takes the floor back when it runs out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaking_limit_secs: Option<u32>,
    },
    /// Host: takes the floor back.
    TakeFloor,
    /// Host: mutes or unmutes a hall. A hall may mute itself, and unmute itself only
    /// when allowed.
    Mute {
        /// The hall.
        hall_id: i64,
        /// Muted or not.
        muted: bool,
    },
    /// Host: lets a hall unmute itself (or not).
    AllowUnmute {
        /// The hall.
        hall_id: i64,
        /// Allowed or not.
        allowed: bool,
    },
    /// Host: mutes every hall but the host.
    MuteAll,
    /// Host: shows a hall to everyone (`null`: nobody).
    Spotlight {
        /// The hall, or `null`.
        #[serde(default)]
        hall_id: Option<i64>,
    },
    /// Host: removes a hall; it is refused until re-admitted.
    Remove {
        /// The hall.
        hall_id: i64,
    },
    /// Host: lets a removed hall join again.
    Readmit {
        /// The hall.
        hall_id: i64,
    },
    /// Host: refuses (or again accepts) new halls; present halls may still reconnect.
    Lock {
        /// Locked or not.
        locked: bool,
    },
    /// A hall asks for the floor.
    RaiseHand,
    /// A hall lowers its hand; the host may lower another's (`hall_id`).
    LowerHand {
        /// Another hall's hand (host only); absent: one's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hall_id: Option<i64>,
    },
    /// Host: which page of halls its monitoring grid shows (0-based).
    GridPage {
        /// The page.
        page: u32,
    },
    /// Host: starts a roll call (điểm danh); every page gets `roll_call`.
    StartRollCall,
    /// Host / secretariat: ends the roll call in progress (kết thúc điểm danh); later
    /// answers get `roll_call_ended`, halls that gave none count as absent in the report.
    EndRollCall,
    /// A hall answers the roll call in progress (`present` or `late`).
    RollCallAnswer {
        /// The answer.
        status: RollCallStatus,
    },
    /// Host / secretariat: marks a hall in the roll call in progress (or the last one,
    /// once ended: a reason learnt afterwards).
    MarkRollCall {
        /// The hall.
        hall_id: i64,
        /// Present, absent or late.
        status: RollCallStatus,
        /// Why (for absent or late).
        #[serde(default)]
        reason: String,
    },
    /// A hall reports how many people are in the room.
    Headcount {
        /// 0 to 10 000.
        people: u32,
    },
    /// Host: sends the readiness board now and whenever it changes from then on.
    Readiness,
    /// Host / secretariat: starts recording the meeting (ghi hình); every page gets
    /// `recording`. Refused `already_recording`, `recording_unavailable` (no recordings
    /// directory on this server) or `recording_failed`.
    StartRecording,
    /// Host / secretariat: stops the recording; its file is finished. Refused
    /// `not_recording`.
    StopRecording,
}

impl ClientMessage {
    /// Every `type` a page may send, in declaration order: serde's names for the variants.
    pub fn types() -> &'static [&'static str] {
        names::tagged::<ClientMessage>("type")
    }

    /// Whether a secretariat or administrator may send this over HTTP
    /// (`POST /api/v1/meetings/{id}/live`, acting as the host hall): the host controls
    /// that act on the meeting. The rest belong to a hall's own page: its connection, its
    /// own hand, answer and headcount, and the host page's own views (grid, board). No
    /// catch-all arm: a new message does not build until it says which it is.
    pub fn staff_may_send(&self) -> bool {
        match self {
            Self::SetPhase { .. }
            | Self::GiveFloor { .. }
            | Self::TakeFloor
            | Self::Mute { .. }
            | Self::AllowUnmute { .. }
            | Self::MuteAll
            | Self::Spotlight { .. }
            | Self::Remove { .. }
            | Self::Readmit { .. }
            | Self::Lock { .. }
            | Self::StartRollCall
            | Self::EndRollCall
            | Self::MarkRollCall { .. }
            | Self::StartRecording
            | Self::StopRecording => true,
            // Staff have no hand of their own: only another hall's.
            Self::LowerHand { hall_id } => hall_id.is_some(),
            Self::Join { .. }
            | Self::Offer { .. }
            | Self::Candidate(_)
            | Self::Ping { .. }
            | Self::Leave
            | Self::SetLayer { .. }
            | Self::RaiseHand
            | Self::GridPage { .. }
            | Self::RollCallAnswer { .. }
            | Self::Headcount { .. }
            | Self::Readiness => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_client;

    #[test]
    fn staff_send_host_controls_over_http_and_not_a_halls_own_messages() {
        let staff = |text: &str| parse_client(text).expect(text).staff_may_send();
        assert!(staff(r#"{"type":"set_phase","phase":"started"}"#));
        assert!(staff(r#"{"type":"end_roll_call"}"#));
        assert!(staff(r#"{"type":"start_recording"}"#));
        assert!(staff(r#"{"type":"stop_recording"}"#));
        assert!(staff(r#"{"type":"lower_hand","hall_id":7}"#));
        assert!(!staff(r#"{"type":"lower_hand"}"#), "staff have no hand");
        assert!(!staff(r#"{"type":"raise_hand"}"#));
        assert!(!staff(r#"{"type":"roll_call_answer","status":"present"}"#));
        assert!(!staff(r#"{"type":"join","v":1,"token":"t"}"#));
        assert!(
            !staff(r#"{"type":"readiness"}"#),
            "the board is the host page's view"
        );
    }
}
