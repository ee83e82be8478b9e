//! A guest (khách mời) in the live room, over channels with virtual time: it shows on
//! the host's board as a guest, counted apart from the halls; it may raise its hand but
//! takes no part in the roll call or headcount; shut out (revoked), its socket closes.

mod common;

use common::{joined, Page, Tokens, GUEST};
use serde_json::json;
use signaling::protocol::{ErrorCode, Reason, ServerMessage};

#[tokio::test(start_paused = true)]
async fn a_guest_is_on_the_board_as_a_guest_and_counted_apart() {
    let signaling = common::start_quiet();
    let tokens = Tokens::default();
    let [mut host, _hall] = joined(&signaling, &tokens, ["tok-1", "tok-2"]).await;

    let mut guest = Page::open(&signaling, &tokens);
    let (_, present) = guest.join("tok-guest").await;
    assert!(present.contains(&GUEST), "{present:?}");
    let joined = host
        .expect("the guest's arrival", |m| match m {
            ServerMessage::ParticipantJoined { hall_id, guest, .. } if *hall_id == GUEST => {
                Some(*guest)
            }
            _ => None,
        })
        .await;
    assert!(joined, "announced as a guest");

    host.send(json!({"type": "readiness"}));
    let board = host
        .expect("the board", |m| match m {
            ServerMessage::Readiness(board) => Some(board.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        board.guests.iter().map(|g| g.hall_id).collect::<Vec<_>>(),
        [GUEST]
    );
    assert_eq!(board.guests[0].name, "Phóng viên Báo Phú Thọ");
    assert_eq!(board.guests_connected, 1);
    assert!(
        board.halls.iter().all(|h| h.hall_id != GUEST),
        "never among the halls: {board:?}"
    );
    // Hall 1 and hall 2 are present but not invited (no store here): two halls, no guest.
    assert_eq!(board.halls.len(), 2);

    // It may raise its hand; the roll call and the headcount are the halls'.
    guest.send(json!({"type": "raise_hand"}));
    let hands = host
        .expect("the raised hand", |m| match m {
            ServerMessage::MeetingState(s) if !s.hands.is_empty() => Some(s.hands.clone()),
            _ => None,
        })
        .await;
    assert_eq!(hands, [GUEST]);
    host.send(json!({"type": "start_roll_call"}));
    guest
        .expect("the roll call", |m| {
            matches!(m, ServerMessage::RollCall { .. }).then_some(())
        })
        .await;
    guest.send(json!({"type": "roll_call_answer", "status": "present"}));
    assert_eq!(guest.error().await, ErrorCode::Forbidden);
    guest.send(json!({"type": "headcount", "people": 3}));
    assert_eq!(guest.error().await, ErrorCode::Forbidden);
    host.send(json!({"type": "mark_roll_call", "hall_id": GUEST, "status": "absent"}));
    assert_eq!(host.error().await, ErrorCode::UnknownHall);
    guest.send(json!({"type": "set_phase", "phase": "started"}));
    assert_eq!(
        guest.error().await,
        ErrorCode::Forbidden,
        "no host controls"
    );

    // Revoked: out at once, with its own code.
    signaling.shut_out_guest(-GUEST).await;
    assert_eq!(guest.error().await, ErrorCode::GuestRevoked);
    assert_eq!(guest.close_frame().await, (1008, "guest_revoked".into()));
    let gone = host
        .expect("the guest's leaving", |m| match common::left(m) {
            Some((id, reason)) if id == GUEST => Some(reason),
            _ => None,
        })
        .await;
    assert_eq!(gone, Reason::Removed);
}
