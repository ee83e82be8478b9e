//! The wire names read from serde: each list is the enum's own (every name deserialises
//! to the variant whose name it is and serialises back), and each is documented.

use super::super::*;
use serde_json::json;

const DOC: &str = include_str!("../../../../docs/protocol.md");

/// `docs/protocol.md` from `start` up to the first line that `ends` (or the end).
fn documented(start: &str, ends: &str) -> &'static str {
    let at = DOC.find(start).expect("the passage exists");
    DOC[at..].split(ends).next().unwrap_or_default()
}

#[test]
fn every_client_type_is_the_enums_parses_and_is_documented() {
    let types = ClientMessage::types();
    assert_eq!(types.first(), Some(&"join"));
    assert!(types.contains(&"end_roll_call") && types.contains(&"readiness"));
    let page = documented("## Messages from the page", "\n## ");
    for name in types {
        // Known: a bare object of the type is judged by its fields, never unknown.
        let bare = json!({ "type": name }).to_string();
        assert_ne!(
            parse_client(&bare).map_err(|e| e.code),
            Err(ErrorCode::UnknownType),
            "{name}"
        );
        let example = format!(r#"{{"type": "{name}""#);
        assert!(page.contains(&example), "docs/protocol.md has no {name}");
    }
}

#[test]
fn every_action_name_is_serdes_and_is_documented() {
    let documented = documented("`control.action` is", "\n\n");
    for &name in super::plain::<Action>() {
        let action: Action = serde_json::from_value(json!(name)).expect("a known action");
        assert_eq!(action.as_str(), name);
        assert_eq!(
            serde_json::to_value(action).expect("serialises"),
            json!(name)
        );
        let listed = format!("`{name}`");
        assert!(
            documented.contains(&listed),
            "docs/protocol.md lacks {listed}"
        );
    }
    assert_eq!(Action::Headcount.as_str(), "headcount");
    assert_eq!(Action::RollCallEnded.as_str(), "roll_call_ended");
}

#[test]
fn the_floor_actions_are_the_names_the_meeting_record_reads() {
    // The store derives the floor timeline of the meeting record from these log rows.
    use scheduler::floor::{FLOOR_EXPIRED, GIVE_FLOOR, TAKE_FLOOR};
    assert_eq!(
        [
            Action::GiveFloor.as_str(),
            Action::TakeFloor.as_str(),
            Action::FloorExpired.as_str()
        ],
        [GIVE_FLOOR, TAKE_FLOOR, FLOOR_EXPIRED]
    );
}

#[test]
fn every_error_code_name_is_serdes_and_is_documented() {
    let names = super::plain::<ErrorCode>();
    assert_eq!(names.first(), Some(&"invalid_json"));
    for &name in names {
        let code: ErrorCode = serde_json::from_value(json!(name)).expect("a known code");
        assert_eq!(code.as_str(), name);
        assert_eq!(serde_json::to_value(code).expect("serialises"), json!(name));
        let row = format!("| `{name}` |");
        assert!(
            DOC.contains(&row),
            "docs/protocol.md's error table lacks {row}"
        );
    }
}
