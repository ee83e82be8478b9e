//! Roll call over channels with virtual time: started by the host, answered by halls,
//! ended by the host or the secretariat; answers after the end are refused with a code,
//! marks are still taken, and the end reaches the recorder with who ended it.

mod common;

use common::{joined, Log, Page, Tokens};
use serde_json::json;
use signaling::protocol::{Action, Actor, ClientMessage, ErrorCode, RollCallStatus, ServerMessage};
use signaling::{PresenceKind, Signaling};
use std::sync::Arc;

const HOST: Actor = Actor::Hall { hall_id: 1 };

/// The host (hall 1) and halls 2 and 3, joined, over a recording service.
async fn meeting() -> (Signaling, Arc<Log>, [Page; 3]) {
    let log = Arc::new(Log::default());
    let signaling = common::start_quiet().record_with(log.clone());
    let pages = joined(&signaling, &Tokens::default(), ["tok-1", "tok-2", "tok-3"]).await;
    (signaling, log, pages)
}

#[tokio::test(start_paused = true)]
async fn the_host_ends_the_roll_call_and_later_answers_are_refused() {
    let (_signaling, log, [mut host, mut b, mut c]) = meeting().await;
    b.send(json!({"type": "roll_call_answer", "status": "present"}));
    assert_eq!(b.error().await, ErrorCode::OutOfOrder, "no roll call yet");
    b.send(json!({"type": "end_roll_call"}));
    assert_eq!(
        b.error().await,
        ErrorCode::Forbidden,
        "only the host ends it"
    );
    host.send(json!({"type": "end_roll_call"}));
    assert_eq!(host.error().await, ErrorCode::OutOfOrder, "none to end");

    host.send(json!({"type": "start_roll_call"}));
    let id = c
        .expect("roll_call", |m| match m {
            ServerMessage::RollCall { id } => Some(*id),
            _ => None,
        })
        .await;
    b.send(json!({"type": "roll_call_answer", "status": "present"}));
    assert_eq!(
        host.control_of(Action::RollCallAnswer).await,
        Actor::Hall { hall_id: 2 }
    );

    host.send(json!({"type": "end_roll_call"}));
    for page in [&mut host, &mut b, &mut c] {
        assert_eq!(page.control_of(Action::RollCallEnded).await, HOST);
        assert_eq!(
            page.state().await.roll_call,
            None,
            "no roll call in progress"
        );
    }
    c.send(json!({"type": "roll_call_answer", "status": "late"}));
    assert_eq!(c.error().await, ErrorCode::RollCallEnded);
    host.send(json!({"type": "end_roll_call"}));
    host.send(
        json!({"type": "mark_roll_call", "hall_id": 3, "status": "absent", "reason": "mất điện"}),
    );
    assert_eq!(
        host.control_of(Action::RollCallMark).await,
        HOST,
        "ending twice is no error; a mark is still taken"
    );

    let logged = log.kinds();
    let ended: Vec<_> = logged
        .iter()
        .filter(|k| matches!(k, PresenceKind::RollCallEnded { .. }))
        .collect();
    assert_eq!(
        ended,
        [&PresenceKind::RollCallEnded {
            roll_call: id,
            by: HOST
        }],
        "recorded once, with who"
    );
    let answered = |hall_id: i64| {
        logged.iter().find_map(|k| match k {
            PresenceKind::RollCallAnswered {
                roll_call,
                hall_id: h,
                status,
                by,
                ..
            } if *h == hall_id => Some((*roll_call, *status, *by)),
            _ => None,
        })
    };
    assert_eq!(
        answered(2),
        Some((id, RollCallStatus::Present, Actor::Hall { hall_id: 2 }))
    );
    assert_eq!(
        answered(3),
        Some((id, RollCallStatus::Absent, HOST)),
        "the refused answer was not recorded; the mark was"
    );
}

#[tokio::test(start_paused = true)]
async fn the_secretariat_ends_the_roll_call_over_http_and_a_new_one_takes_answers() {
    let (signaling, log, [mut host, mut b, _c]) = meeting().await;
    let meeting = common::meeting();
    let staff = Actor::Staff { account_id: 5 };
    signaling
        .act(&meeting, 5, ClientMessage::StartRollCall)
        .await
        .expect("started");
    assert_eq!(b.control_of(Action::RollCallStarted).await, staff);
    signaling
        .act(&meeting, 5, ClientMessage::EndRollCall)
        .await
        .expect("ended");
    assert_eq!(host.control_of(Action::RollCallEnded).await, staff);
    b.send(json!({"type": "roll_call_answer", "status": "present"}));
    assert_eq!(b.error().await, ErrorCode::RollCallEnded);

    signaling
        .act(&meeting, 5, ClientMessage::StartRollCall)
        .await
        .expect("a new one");
    assert!(b.state().await.roll_call.is_some());
    b.send(json!({"type": "roll_call_answer", "status": "present"}));
    assert_eq!(
        host.control_of(Action::RollCallAnswer).await,
        Actor::Hall { hall_id: 2 }
    );
    assert!(log
        .kinds()
        .iter()
        .any(|k| matches!(k, PresenceKind::RollCallEnded { by, .. } if *by == staff)));
}
