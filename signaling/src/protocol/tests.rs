//! Unit tests of the wire format: round trips of every message, and every kind of bad input.

use super::*;
use serde_json::json;

fn round_trip_client(message: ClientMessage) {
    let text = serde_json::to_string(&message).expect("serialises");
    assert_eq!(parse_client(&text), Ok(message), "{text}");
}

fn round_trip_server(message: ServerMessage) {
    let text = to_text(&message);
    let back: ServerMessage = serde_json::from_str(&text).expect("parses back");
    assert_eq!(back, message, "{text}");
}

fn candidate() -> Candidate {
    Candidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
        username_fragment: Some("abcd".into()),
    }
}

#[test]
fn every_client_message_round_trips() {
    for message in [
        ClientMessage::Join {
            v: 1,
            token: "ab".repeat(32),
            resume: None,
        },
        ClientMessage::Join {
            v: 1,
            token: "ab".repeat(32),
            resume: Some("s-1".into()),
        },
        ClientMessage::Offer {
            sdp: "v=0".into(),
            renegotiate: false,
        },
        ClientMessage::Offer {
            sdp: "v=0".into(),
            renegotiate: true,
        },
        ClientMessage::Candidate(candidate()),
        ClientMessage::Ping { ts: 1234.5 },
        ClientMessage::Leave,
        ClientMessage::SetLayer { slot: 3, layer: 1 },
        ClientMessage::SetPhase {
            phase: Phase::Started,
        },
        ClientMessage::GiveFloor {
            hall_id: 7,
            speaking_limit_secs: Some(180),
        },
        ClientMessage::TakeFloor,
        ClientMessage::Mute {
            hall_id: 7,
            muted: true,
        },
        ClientMessage::AllowUnmute {
            hall_id: 7,
            allowed: true,
        },
        ClientMessage::MuteAll,
        ClientMessage::Spotlight { hall_id: None },
        ClientMessage::Remove { hall_id: 7 },
        ClientMessage::Readmit { hall_id: 7 },
        ClientMessage::Lock { locked: true },
        ClientMessage::RaiseHand,
        ClientMessage::LowerHand { hall_id: Some(7) },
        ClientMessage::GridPage { page: 2 },
        ClientMessage::StartRollCall,
        ClientMessage::EndRollCall,
        ClientMessage::RollCallAnswer {
            status: RollCallStatus::Present,
        },
        ClientMessage::MarkRollCall {
            hall_id: 7,
            status: RollCallStatus::Absent,
            reason: "mất điện".into(),
        },
        ClientMessage::Headcount { people: 25 },
        ClientMessage::Readiness,
    ] {
        round_trip_client(message);
    }
}

#[test]
fn every_server_message_round_trips() {
    let hall = HallInfo {
        id: 7,
        name: "Điểm cầu UBND xã Tân Sơn".into(),
    };
    let meeting = MeetingInfo {
        id: 3,
        title: "Giao ban tuần".into(),
        host_hall_id: 1,
        host_hall_name: "Hội trường UBND tỉnh Phú Thọ".into(),
        starts_at: 1_800_000_000,
        ends_at: 1_800_003_600,
        kind: "routine".into(),
    };
    for message in [
        ServerMessage::Welcome {
            v: PROTOCOL_VERSION,
            session_id: "s-1".into(),
            hall,
            meeting,
            participants: vec![Participant {
                hall_id: 1,
                name: "Hội trường".into(),
                host: true,
                guest: false,
                source: false,
            }],
            heartbeat_ms: 10_000,
            state: Box::default(),
            ice_servers: vec![IceServer {
                urls: vec!["turn:turn.example.vn:3478?transport=tcp".into()],
                username: Some("1800043200:7".into()),
                credential: Some("c2VjcmV0".into()),
            }],
            ice_transport_policy: IceTransportPolicy::Relay,
        },
        ServerMessage::Answer {
            sdp: "v=0".into(),
            slots: vec![Slot {
                id: 0,
                kind: Kind::Video,
                mid: "2".into(),
            }],
        },
        ServerMessage::Candidate(candidate()),
        ServerMessage::Subscription {
            slot: 0,
            source_hall_id: None,
            kind: Kind::Audio,
        },
        ServerMessage::ParticipantJoined {
            hall_id: 2,
            name: "x".into(),
            reason: Reason::Joined,
            muted: true,
            guest: false,
            source: false,
        },
        ServerMessage::ParticipantJoined {
            hall_id: -3,
            name: "Phóng viên Báo Phú Thọ".into(),
            reason: Reason::Joined,
            muted: true,
            guest: true,
            source: false,
        },
        ServerMessage::ParticipantJoined {
            hall_id: 1_099_511_627_779,
            name: "Truyền hình hội nghị toàn quốc".into(),
            reason: Reason::Joined,
            muted: false,
            guest: false,
            source: true,
        },
        ServerMessage::ParticipantLeft {
            hall_id: 2,
            name: "x".into(),
            reason: Reason::NetworkLost,
        },
        ServerMessage::ActiveSpeaker { hall_id: Some(2) },
        ServerMessage::MeetingState(Box::new(MeetingState {
            phase: Phase::Started,
            floor: Some(FloorInfo {
                hall_id: 7,
                until: Some(1_800_000_180),
            }),
            spotlight: Some(3),
            locked: true,
            hands: vec![9, 4],
            muted: vec![4, 9],
            may_unmute: vec![3],
            removed: vec![5],
            roll_call: Some(1),
        })),
        ServerMessage::Control {
            action: Action::GiveFloor,
            hall_id: Some(7),
            by: Actor::Hall { hall_id: 1 },
            at: 1_800_000_000,
        },
        ServerMessage::Muted {
            muted: true,
            by: Actor::Staff { account_id: 3 },
        },
        ServerMessage::Floor {
            hall_id: None,
            until: None,
        },
        ServerMessage::RollCall { id: 4 },
        ServerMessage::Grid { page: 1, pages: 9 },
        ServerMessage::SendLayers { layers: 2 },
        ServerMessage::Readiness(Box::new(Readiness {
            invited: 2,
            connected: 1,
            per_district: vec![UnitReadiness {
                unit: "Huyện Tân Sơn".into(),
                invited: 2,
                connected: 1,
            }],
            halls: vec![HallReadiness {
                hall_id: 7,
                name: "x".into(),
                state: LinkState::Poor,
                loss: Some(0.25),
                loss_out: Some(0.01),
                rtt_ms: Some(320),
                jitter_ms: Some(80),
                roll_call: Some(RollCallStatus::Late),
                people: Some(12),
            }],
            guests: vec![HallReadiness {
                hall_id: -3,
                name: "Phóng viên Báo Phú Thọ".into(),
                state: LinkState::MediaOk,
                loss: None,
                loss_out: None,
                rtt_ms: Some(20),
                jitter_ms: None,
                roll_call: None,
                people: None,
            }],
            guests_connected: 1,
            sources: Vec::new(),
        })),
        ServerMessage::Pong { ts: 1.0 },
        ServerMessage::Error {
            code: ErrorCode::OutOfOrder,
            message: "join first".into(),
        },
    ] {
        round_trip_server(message);
    }
}

#[test]
fn the_wire_shape_is_the_documented_one() {
    let text = to_text(&ServerMessage::Subscription {
        slot: 1,
        source_hall_id: Some(9),
        kind: Kind::Video,
    });
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        value,
        json!({"type": "subscription", "slot": 1, "source_hall_id": 9, "kind": "video"})
    );
    let join = parse_client(r#"{"type":"join","v":1,"token":"t"}"#);
    assert_eq!(
        join,
        Ok(ClientMessage::Join {
            v: 1,
            token: "t".into(),
            resume: None
        })
    );
    // Fields a newer page adds are ignored, not refused.
    assert_eq!(
        parse_client(r#"{"type":"leave","why":"closing"}"#),
        Ok(ClientMessage::Leave)
    );
}

#[test]
fn error_codes_on_the_wire_match_as_str() {
    use ErrorCode::*;
    for code in [
        InvalidJson,
        InvalidMessage,
        UnknownType,
        UnsupportedVersion,
        FrameTooLarge,
        InvalidSdp,
        InvalidCandidate,
        OutOfOrder,
        RateLimited,
        JoinRefused,
        TokenExpired,
        TokenForeignHall,
        TokenTooEarly,
        MeetingCancelled,
        GuestRevoked,
        NotJoined,
        InvalidSlot,
        Replaced,
        HeartbeatTimeout,
        MediaFailed,
        Forbidden,
        UnknownHall,
        MeetingLocked,
        Removed,
        MeetingEnded,
        RollCallEnded,
        Internal,
        JoinTimeout,
        Capacity,
    ] {
        assert_eq!(
            serde_json::to_value(code).expect("serialises"),
            json!(code.as_str())
        );
        let row = format!("| `{}` |", code.as_str());
        assert!(
            include_str!("../../../docs/protocol.md").contains(&row),
            "docs/protocol.md's error table lacks {row}"
        );
    }
}

fn code_of(text: &str) -> ErrorCode {
    parse_client(text).expect_err(text).code
}

#[test]
fn bad_input_gets_the_right_code() {
    assert_eq!(code_of("{"), ErrorCode::InvalidJson);
    assert_eq!(code_of(""), ErrorCode::InvalidJson);
    assert_eq!(code_of("\u{0}\u{1}"), ErrorCode::InvalidJson);
    assert_eq!(code_of("[]"), ErrorCode::InvalidMessage);
    assert_eq!(code_of("42"), ErrorCode::InvalidMessage);
    assert_eq!(code_of(r#"{"sdp":"v=0"}"#), ErrorCode::InvalidMessage);
    assert_eq!(code_of(r#"{"type":5}"#), ErrorCode::InvalidMessage);
    assert_eq!(code_of(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
    assert_eq!(code_of(r#"{"type":"welcome"}"#), ErrorCode::UnknownType);
    assert_eq!(code_of(r#"{"type":"offer"}"#), ErrorCode::InvalidMessage);
    assert_eq!(
        code_of(r#"{"type":"join","v":1}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code_of(r#"{"type":"set_layer","slot":-1,"layer":0}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code_of(r#"{"type":"ping","ts":"now"}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code_of(r#"{"type":"join","v":2,"token":"t"}"#),
        ErrorCode::UnsupportedVersion
    );
    assert_eq!(
        code_of(r#"{"type":"join","v":0,"token":"t"}"#),
        ErrorCode::UnsupportedVersion
    );
}

#[test]
fn oversized_frames_are_refused_before_parsing() {
    let sdp = "a".repeat(MAX_FRAME_BYTES);
    let offer = ClientMessage::Offer {
        sdp,
        renegotiate: false,
    };
    let text = serde_json::to_string(&offer)
        .expect("a message serialises")
        .replace("\"type\":\"offer\"", "");
    assert_eq!(code_of(&text), ErrorCode::FrameTooLarge);
    // Not even valid JSON: the size is what is reported.
    assert_eq!(
        code_of(&"{".repeat(MAX_FRAME_BYTES + 1)),
        ErrorCode::FrameTooLarge
    );
    let fits = serde_json::to_string(&ClientMessage::Offer {
        sdp: "a".repeat(MAX_FRAME_BYTES - 100),
        renegotiate: false,
    })
    .expect("serialises");
    assert!(parse_client(&fits).is_ok());
}

#[test]
fn deep_nesting_and_odd_bytes_never_panic() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(code_of(&deep), ErrorCode::InvalidJson);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let sample = r#"{"type":"candidate","candidate":"c","sdp_mid":"0","sdp_mline_index":0}"#;
    for _ in 0..2000 {
        let mut bytes = sample.as_bytes().to_vec();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % bytes.len();
            bytes[at] = (seed >> 32) as u8;
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_client(&text);
    }
}

/// The JSON lines of the fenced blocks of `docs/protocol.md` under `heading`.
fn documented(heading: &str) -> Vec<String> {
    let doc = include_str!("../../../docs/protocol.md");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .expect("the section exists");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if inside && line.starts_with('{') {
            lines.push(line.replace('…', ""));
        }
    }
    lines
}

#[test]
fn every_documented_page_message_parses() {
    let lines = documented("Messages from the page");
    assert!(lines.len() >= 25, "{} examples", lines.len());
    for line in lines {
        let parsed = parse_client(&line);
        assert!(parsed.is_ok(), "{line}: {parsed:?}");
    }
}

#[test]
fn every_documented_server_message_parses() {
    let lines = documented("Messages from the server");
    assert!(lines.len() >= 17, "{} examples", lines.len());
    for line in lines {
        let parsed = serde_json::from_str::<ServerMessage>(&line);
        assert!(parsed.is_ok(), "{line}: {parsed:?}");
    }
}

#[test]
fn an_offer_renegotiates_only_when_it_says_so() {
    let old = parse_client(r#"{"type":"offer","sdp":"v=0"}"#).expect("an old page's offer");
    assert!(matches!(
        old,
        ClientMessage::Offer {
            renegotiate: false,
            ..
        }
    ));
    let new = parse_client(r#"{"type":"offer","sdp":"v=0","renegotiate":true}"#);
    assert!(matches!(
        new,
        Ok(ClientMessage::Offer {
            renegotiate: true,
            ..
        })
    ));
    let bad = r#"{"type":"offer","sdp":"v=0","renegotiate":"yes"}"#;
    assert_eq!(code_of(bad), ErrorCode::InvalidMessage);
}
