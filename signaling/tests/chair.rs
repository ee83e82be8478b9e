//! Host controls over channels with virtual time: what each page sees when the host
//! gives the floor, mutes, locks, removes, and when a speaking time runs out; and what
//! is handed to the recorder.

mod common;

use common::{joined, Log, Page, Tokens};
use serde_json::json;
use signaling::protocol::{Action, Actor, ErrorCode, Phase, Reason, ServerMessage};
use signaling::{PresenceKind, Signaling};
use std::sync::Arc;
use std::time::Duration;

fn start() -> (Signaling, Tokens, Arc<Log>) {
    let log = Arc::new(Log::default());
    let signaling = common::start_quiet().record_with(log.clone());
    (signaling, Tokens::default(), log)
}

async fn floor(page: &mut Page) -> (Option<i64>, Option<i64>) {
    page.expect("floor", |m| match m {
        ServerMessage::Floor { hall_id, until } => Some((*hall_id, *until)),
        _ => None,
    })
    .await
}

async fn muted(page: &mut Page) -> (bool, Actor) {
    page.expect("muted", |m| match m {
        ServerMessage::Muted { muted, by } => Some((*muted, *by)),
        _ => None,
    })
    .await
}

const HOST: Actor = Actor::Hall { hall_id: 1 };
/// The host (hall 1) and halls 2 and 3.
const HALLS: [&str; 3] = ["tok-1", "tok-2", "tok-3"];

#[tokio::test(start_paused = true)]
async fn only_the_host_gives_the_floor_and_every_page_sees_who_speaks() {
    let (signaling, tokens, log) = start();
    let [mut host, mut b, mut c] = joined(&signaling, &tokens, HALLS).await;
    c.send(json!({"type": "give_floor", "hall_id": 3}));
    assert_eq!(c.error().await, ErrorCode::Forbidden);
    c.send(json!({"type": "lock", "locked": true}));
    assert_eq!(c.error().await, ErrorCode::Forbidden);
    host.send(json!({"type": "give_floor", "hall_id": 9}));
    assert_eq!(host.error().await, ErrorCode::UnknownHall);

    host.send(json!({"type": "give_floor", "hall_id": 2}));
    assert_eq!(
        muted(&mut b).await,
        (false, HOST),
        "its microphone opens first"
    );
    for page in [&mut host, &mut b, &mut c] {
        assert_eq!(floor(page).await, (Some(2), None));
        assert_eq!(page.control().await, (Action::GiveFloor, Some(2), HOST));
        let s = page.state().await;
        assert_eq!(s.floor.map(|f| f.hall_id), Some(2));
        assert_eq!(
            s.muted,
            vec![3],
            "hall 2's microphone opened, hall 3's still muted"
        );
    }
    host.send(json!({"type": "take_floor"}));
    assert_eq!(floor(&mut c).await, (None, None));
    assert_eq!(
        muted(&mut b).await,
        (true, HOST),
        "muted again after speaking"
    );
    host.ping(1.0).await;
    let logged = log.kinds();
    assert!(logged.contains(&PresenceKind::Control {
        action: Action::GiveFloor,
        hall_id: Some(2),
        by: HOST,
    }));
    assert!(logged.contains(&PresenceKind::Control {
        action: Action::TakeFloor,
        hall_id: Some(2),
        by: HOST,
    }));
}

#[tokio::test(start_paused = true)]
async fn hands_queue_in_order_and_the_floor_lowers_a_hand() {
    let (signaling, tokens, _) = start();
    let [mut host, mut b, mut c] = joined(&signaling, &tokens, HALLS).await;
    let mut d = Page::open(&signaling, &tokens);
    d.join("tok-4").await;
    c.send(json!({"type": "raise_hand"}));
    d.send(json!({"type": "raise_hand"}));
    b.send(json!({"type": "raise_hand"}));
    b.send(json!({"type": "raise_hand"})); // twice: still once in the queue
    b.ping(1.0).await;
    let mut hands = Vec::new();
    while hands != vec![3, 4, 2] {
        hands = host.state().await.hands;
    }
    host.send(json!({"type": "give_floor", "hall_id": 4}));
    assert_eq!(host.state().await.hands, vec![3, 2]);
    c.send(json!({"type": "lower_hand"}));
    assert_eq!(host.state().await.hands, vec![2]);
    c.send(json!({"type": "lower_hand", "hall_id": 2}));
    assert_eq!(
        c.error().await,
        ErrorCode::Forbidden,
        "only the host lowers another's"
    );
    host.send(json!({"type": "lower_hand", "hall_id": 2}));
    assert_eq!(host.state().await.hands, Vec::<i64>::new());
    host.send(json!({"type": "raise_hand"}));
    assert_eq!(host.error().await, ErrorCode::Forbidden);
}

#[tokio::test(start_paused = true)]
async fn a_speaking_limit_runs_out_and_the_server_takes_the_floor_back() {
    let (signaling, tokens, log) = start();
    let [mut host, mut b, mut c] = joined(&signaling, &tokens, HALLS).await;
    host.send(json!({"type": "give_floor", "hall_id": 2, "speaking_limit_secs": 120}));
    let (holder, until) = floor(&mut c).await;
    assert_eq!(holder, Some(2));
    let until = until.expect("a limited floor says until when");
    assert_eq!(muted(&mut b).await, (false, HOST));
    tokio::time::advance(Duration::from_secs(119)).await;
    host.ping(1.0).await;
    c.ping(1.0).await;
    assert!(c.quiet(), "still speaking before the limit");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(floor(&mut c).await, (None, None));
    let taken = (Action::FloorExpired, Some(2), Actor::Server);
    assert_eq!(host.control().await, taken);
    assert_eq!(muted(&mut b).await, (true, Actor::Server));
    assert!(
        until >= scheduler::time::now() - 5,
        "until is a real UTC time"
    );
    host.ping(2.0).await;
    assert!(log.kinds().contains(&PresenceKind::Control {
        action: Action::FloorExpired,
        hall_id: Some(2),
        by: Actor::Server,
    }));
}

#[tokio::test(start_paused = true)]
async fn a_hall_unmutes_itself_only_when_allowed() {
    let (signaling, tokens, _) = start();
    let [mut host, mut b, _c] = joined(&signaling, &tokens, HALLS).await;
    b.send(json!({"type": "mute", "hall_id": 2, "muted": false}));
    assert_eq!(b.error().await, ErrorCode::Forbidden);
    b.send(json!({"type": "mute", "hall_id": 3, "muted": true}));
    assert_eq!(b.error().await, ErrorCode::Forbidden, "not another hall");
    host.send(json!({"type": "allow_unmute", "hall_id": 2, "allowed": true}));
    assert_eq!(host.state().await.may_unmute, vec![2]);
    b.send(json!({"type": "mute", "hall_id": 2, "muted": false}));
    assert_eq!(muted(&mut b).await, (false, Actor::Hall { hall_id: 2 }));
    assert_eq!(
        host.control().await,
        (Action::Unmute, Some(2), Actor::Hall { hall_id: 2 })
    );
    host.send(json!({"type": "mute_all"}));
    assert_eq!(muted(&mut b).await, (true, HOST));
    assert_eq!(host.control().await, (Action::MuteAll, None, HOST));
    let s = host.state().await;
    assert_eq!(s.muted, vec![2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_locked_meeting_refuses_new_halls_but_lets_present_ones_reconnect() {
    let (signaling, tokens, _) = start();
    let [mut host, _b, c] = joined(&signaling, &tokens, HALLS).await;
    host.send(json!({"type": "lock", "locked": true}));
    assert!(host.state().await.locked);
    let mut newcomer = Page::open(&signaling, &tokens);
    newcomer.send_join("tok-4");
    assert_eq!(newcomer.error().await, ErrorCode::MeetingLocked);
    assert_eq!(
        newcomer.close_frame().await,
        (1008, "meeting_locked".into())
    );
    // Hall 3's socket drops; it comes back within the grace period.
    c.vanish().await;
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut back = Page::open(&signaling, &tokens);
    let (_, present) = back.join("tok-3").await;
    assert_eq!(present, vec![1, 2, 3]);
    host.send(json!({"type": "lock", "locked": false}));
    let mut later = Page::open(&signaling, &tokens);
    later.join("tok-4").await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_hall_is_closed_recorded_and_refused_until_readmitted() {
    let (signaling, tokens, log) = start();
    let [mut host, mut b, mut c] = joined(&signaling, &tokens, HALLS).await;
    c.send(json!({"type": "remove", "hall_id": 2}));
    assert_eq!(c.error().await, ErrorCode::Forbidden);
    host.send(json!({"type": "remove", "hall_id": 1}));
    assert_eq!(host.error().await, ErrorCode::Forbidden, "the host stays");
    host.send(json!({"type": "remove", "hall_id": 3}));
    assert_eq!(c.error().await, ErrorCode::Removed);
    assert_eq!(c.close_frame().await, (4003, "removed".into()));
    let left = b
        .expect("participant_left", |m| match m {
            ServerMessage::ParticipantLeft {
                hall_id, reason, ..
            } => Some((*hall_id, *reason)),
            _ => None,
        })
        .await;
    assert_eq!(left, (3, Reason::Removed));
    assert_eq!(host.state().await.removed, vec![3]);
    let mut again = Page::open(&signaling, &tokens);
    again.send_join("tok-3");
    assert_eq!(again.error().await, ErrorCode::Removed);
    assert_eq!(again.close_frame().await, (1008, "removed".into()));
    host.send(json!({"type": "readmit", "hall_id": 3}));
    assert_eq!(host.control().await, (Action::Readmit, Some(3), HOST));
    let mut readmitted = Page::open(&signaling, &tokens);
    readmitted.join("tok-3").await;
    assert!(log.kinds().contains(&PresenceKind::Left {
        hall_id: 3,
        reason: scheduler::attendance::LeaveReason::Removed,
    }));
}

#[tokio::test(start_paused = true)]
async fn the_host_runs_the_phases_and_ending_closes_every_hall() {
    let (signaling, tokens, log) = start();
    let [mut host, mut b, mut c] = joined(&signaling, &tokens, HALLS).await;
    b.send(json!({"type": "set_phase", "phase": "started"}));
    assert_eq!(b.error().await, ErrorCode::Forbidden);
    host.send(json!({"type": "set_phase", "phase": "test"}));
    assert_eq!(c.state().await.phase, Phase::Test);
    host.send(json!({"type": "set_phase", "phase": "started"}));
    assert_eq!(c.state().await.phase, Phase::Started);
    host.send(json!({"type": "set_phase", "phase": "test"}));
    assert_eq!(host.error().await, ErrorCode::OutOfOrder, "no going back");
    host.send(json!({"type": "set_phase", "phase": "ended"}));
    for page in [&mut host, &mut b, &mut c] {
        assert_eq!(page.error().await, ErrorCode::MeetingEnded);
        assert_eq!(page.close_frame().await, (4004, "meeting_ended".into()));
    }
    let mut late = Page::open(&signaling, &tokens);
    late.send_join("tok-2");
    assert_eq!(late.error().await, ErrorCode::MeetingEnded);
    let logged = log.kinds();
    let started = logged
        .iter()
        .position(|k| *k == PresenceKind::MeetingStarted { by: HOST });
    let ended = logged
        .iter()
        .position(|k| *k == PresenceKind::MeetingEnded { by: HOST });
    assert!(started.is_some() && started < ended, "{logged:?}");
}
