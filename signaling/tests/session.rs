//! Sessions over channels with virtual time: order, bad input, refusals, heartbeat,
//! flood, replacement, leave and the grace period — what each page sees.

mod common;

use common::{left, Page, Tokens};
use serde_json::json;
use sfu::SfuConfig;
use signaling::protocol::{ErrorCode, Reason, ServerMessage};
use signaling::ratelimit::RateLimit;
use signaling::{Signaling, SignalingConfig};
use std::time::Duration;

fn config() -> SignalingConfig {
    SignalingConfig {
        heartbeat: Duration::from_secs(10),
        grace: Duration::from_secs(10),
        linger: Duration::from_secs(5),
        rate: RateLimit {
            burst: 10,
            per_second: 5,
            close_after_dropped: 50,
        },
        write_timeout: Duration::from_secs(10),
        presence_interval: Duration::from_secs(15),
        ..SignalingConfig::default()
    }
}

fn start() -> (Signaling, Tokens) {
    let signaling = Signaling::start(SfuConfig::default(), config()).expect("valid config");
    (signaling, Tokens::default())
}

#[tokio::test(start_paused = true)]
async fn messages_before_join_are_out_of_order_and_the_socket_stays_open() {
    let (signaling, tokens) = start();
    let mut page = Page::open(&signaling, &tokens);
    page.send(json!({"type": "offer", "sdp": "v=0"}));
    assert_eq!(page.error().await, ErrorCode::OutOfOrder);
    page.send(json!({"type": "leave"}));
    assert_eq!(page.error().await, ErrorCode::OutOfOrder);
    page.ping(1.0).await;
    let (_, present) = page.join("tok-2").await;
    assert_eq!(present, vec![2]);
    page.send_join("tok-2");
    assert_eq!(page.error().await, ErrorCode::OutOfOrder, "already joined");
    page.send(json!({"type": "answer", "sdp": "v=0"}));
    assert_eq!(
        page.error().await,
        ErrorCode::UnknownType,
        "the server never offers"
    );
    page.send(
        json!({"type": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}),
    );
    assert_eq!(page.error().await, ErrorCode::OutOfOrder, "no offer yet");
    page.ping(2.0).await;
}

#[tokio::test(start_paused = true)]
async fn bad_frames_get_coded_errors_without_closing() {
    let (signaling, tokens) = start();
    let mut page = Page::open(&signaling, &tokens);
    page.send_text("{not json");
    assert_eq!(page.error().await, ErrorCode::InvalidJson);
    page.send_binary();
    assert_eq!(page.error().await, ErrorCode::InvalidJson);
    page.send(json!({"type": "teleport"}));
    assert_eq!(page.error().await, ErrorCode::UnknownType);
    page.send(json!({"type": "join", "v": 1}));
    assert_eq!(page.error().await, ErrorCode::InvalidMessage);
    page.send_text(&format!(
        r#"{{"type":"offer","sdp":"{}"}}"#,
        "a".repeat(signaling::protocol::MAX_FRAME_BYTES + 1)
    ));
    assert_eq!(page.error().await, ErrorCode::FrameTooLarge);
    page.join("tok-2").await;
    page.send(json!({"type": "offer", "sdp": "this is not SDP"}));
    assert_eq!(page.error().await, ErrorCode::InvalidSdp);
    page.send(json!({"type": "set_layer", "slot": 0, "layer": 1}));
    assert_eq!(page.error().await, ErrorCode::InvalidSlot);
    page.ping(3.0).await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_version_or_refused_token_closes_with_its_code() {
    let (signaling, tokens) = start();
    let mut page = Page::open(&signaling, &tokens);
    page.send(json!({"type": "join", "v": 2, "token": "tok-2"}));
    assert_eq!(page.error().await, ErrorCode::UnsupportedVersion);
    assert_eq!(
        page.close_frame().await,
        (1008, "unsupported_version".into())
    );

    for (token, code) in [
        ("nope", ErrorCode::JoinRefused),
        ("tok-expired", ErrorCode::TokenExpired),
    ] {
        let mut page = Page::open(&signaling, &tokens);
        page.send_join(token);
        assert_eq!(page.error().await, code);
        assert_eq!(page.close_frame().await, (1008, code.as_str().into()));
    }
    assert_eq!(signaling.room_count(), 0, "a refused join opens no room");
}

#[tokio::test(start_paused = true)]
async fn pings_keep_a_socket_open_and_silence_closes_it_then_the_grace_period_ends() {
    let (signaling, tokens) = start();
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-2").await;
    // 50 s of pings every 10 s: the hall stays.
    for i in 0..5 {
        tokio::time::advance(Duration::from_secs(10)).await;
        host.ping(f64::from(i)).await;
        if i < 2 {
            hall.ping(f64::from(i)).await;
        }
    }
    // The hall stopped pinging after 20 s: closed 30 s later, at 50 s.
    assert_eq!(hall.error().await, ErrorCode::HeartbeatTimeout);
    assert_eq!(hall.close_frame().await, (4002, "heartbeat_timeout".into()));
    // Still present during the grace period; gone after it, as lost.
    tokio::time::advance(Duration::from_secs(5)).await;
    host.ping(10.0).await;
    let room = signaling.room(common::meeting().id).expect("room");
    assert_eq!(room.participants().await.expect("live").len(), 2);
    tokio::time::advance(Duration::from_secs(6)).await;
    let gone = host.expect("participant_left", left).await;
    assert_eq!(gone, (2, Reason::NetworkLost));
    assert_eq!(room.participants().await.expect("live").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_limited_then_closed() {
    let (signaling, tokens) = start();
    let mut page = Page::open(&signaling, &tokens);
    page.join("tok-2").await; // one of the burst of 10
    for i in 0..12 {
        page.send(json!({"type": "ping", "ts": i}));
    }
    let mut pongs = 0;
    loop {
        match page.next().await {
            Some(ServerMessage::Pong { .. }) => pongs += 1,
            Some(ServerMessage::Error { code, .. }) => {
                assert_eq!(code, ErrorCode::RateLimited);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pongs, 9, "the burst passes, the excess is dropped");
    // A second later the page may talk again.
    tokio::time::advance(Duration::from_secs(1)).await;
    page.ping(100.0).await;
    // A sustained flood closes the socket.
    for i in 0..200 {
        page.send(json!({"type": "ping", "ts": i}));
    }
    assert_eq!(page.close_frame().await, (1008, "rate_limited".into()));
}

#[tokio::test(start_paused = true)]
async fn a_hall_joining_again_replaces_its_old_socket_and_appears_once() {
    let (signaling, tokens) = start();
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut first = Page::open(&signaling, &tokens);
    let (old_session, _) = first.join("tok-2").await;
    host.expect("participant_joined", |m| {
        matches!(m, ServerMessage::ParticipantJoined { hall_id: 2, .. }).then_some(())
    })
    .await;

    let mut second = Page::open(&signaling, &tokens);
    second.send(json!({"type": "join", "v": 1, "token": "tok-2", "resume": old_session}));
    let (new_session, present) = second
        .expect("welcome", |m| match m {
            ServerMessage::Welcome {
                session_id,
                participants,
                ..
            } => Some((
                session_id.clone(),
                participants.iter().map(|p| p.hall_id).collect::<Vec<_>>(),
            )),
            _ => None,
        })
        .await;
    assert_eq!(present, vec![1, 2], "the hall appears once");
    assert_ne!(new_session, old_session, "each socket has its own session");
    assert_eq!(first.error().await, ErrorCode::Replaced);
    assert_eq!(first.close_frame().await, (4001, "replaced".into()));
    // The host saw no one leave or join: the hall never left.
    host.ping(1.0).await;
    assert!(host.quiet());
    // Its old socket ending later does not start a grace period for the new one.
    tokio::time::advance(Duration::from_secs(25)).await;
    host.ping(2.0).await;
    second.ping(2.0).await;
    let room = signaling.room(common::meeting().id).expect("room");
    assert_eq!(room.participants().await.expect("live").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn leaving_closes_normally_and_the_others_see_it_and_the_empty_room_ends() {
    let (signaling, tokens) = start();
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut hall = Page::open(&signaling, &tokens);
    hall.join("tok-3").await;
    hall.send(json!({"type": "leave"}));
    assert_eq!(hall.close_frame().await, (1000, "left".into()));
    assert_eq!(
        host.expect("participant_left", left).await,
        (3, Reason::Left)
    );
    host.send(json!({"type": "leave"}));
    assert_eq!(host.close_frame().await, (1000, "left".into()));
    assert_eq!(signaling.room_count(), 1, "an empty room lingers");
    tokio::time::advance(Duration::from_secs(6)).await;
    for _ in 0..100 {
        if signaling.room_count() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(signaling.room_count(), 0, "the empty room ended");
    let mut again = Page::open(&signaling, &tokens);
    let (_, present) = again.join("tok-1").await;
    assert_eq!(present, vec![1], "a new room starts empty");
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_drops_and_comes_back_within_grace_is_not_announced() {
    let (signaling, tokens) = start();
    let mut host = Page::open(&signaling, &tokens);
    host.join("tok-1").await;
    let mut hall = Page::open(&signaling, &tokens);
    let (session, _) = hall.join("tok-2").await;
    hall.vanish().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    let mut back = Page::open(&signaling, &tokens);
    back.send(json!({"type": "join", "v": 1, "token": "tok-2", "resume": session}));
    back.expect("welcome", |m| {
        matches!(m, ServerMessage::Welcome { .. }).then_some(())
    })
    .await;
    tokio::time::advance(Duration::from_secs(20)).await;
    back.ping(1.0).await;
    host.ping(1.0).await;
    let unexpected = host.quiet();
    assert!(unexpected, "the host saw nothing of the short drop");
}
