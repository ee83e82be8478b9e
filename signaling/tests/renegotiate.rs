//! `offer` with `renegotiate: true` over a real SFU on 127.0.0.1: the host adds a
//! shared screen and a viewer adds a receive slot on their existing connections — no
//! one appears to leave and media keeps flowing — and the SFU's trickled candidates
//! reaching a page as `candidate` messages after the answer.

mod common;

use common::{negotiate, publishing, wait_until, Page, Tokens, WAIT};
use serde_json::json;
use sfu::testclient::TestClient;
use sfu::{IceCandidate, SfuConfig};
use signaling::protocol::{ServerMessage, Slot};
use signaling::Signaling;

fn signaling(sfu: SfuConfig) -> Signaling {
    Signaling::start(sfu, common::quiet()).expect("valid config")
}

/// Packets received so far, all SSRCs together.
fn total(client: &TestClient) -> usize {
    client.received().values().map(Vec::len).sum()
}

/// Sends a renegotiating offer from `client` and applies the answer; its slots.
async fn renegotiate(page: &mut Page, client: &TestClient) -> Vec<Slot> {
    let offer = client.reoffer().await.expect("re-offer");
    page.send(json!({"type": "offer", "sdp": offer, "renegotiate": true}));
    let (sdp, slots) = page
        .expect("answer", |m| match m {
            ServerMessage::Answer { sdp, slots } => Some((sdp.clone(), slots.clone())),
            ServerMessage::Error { code, message } => panic!("{code:?}: {message}"),
            _ => None,
        })
        .await;
    client.accept(sdp).await.expect("the answer applies");
    slots
}

/// Fails if anything the page got says someone left or a slot went dark.
fn assert_nobody_left(messages: &[ServerMessage]) {
    for m in messages {
        match m {
            ServerMessage::ParticipantLeft { .. } | ServerMessage::Error { .. } => {
                panic!("unexpected {m:?}")
            }
            ServerMessage::Subscription {
                source_hall_id: None,
                ..
            } => panic!("a slot went dark: {m:?}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renegotiating_hall_never_appears_to_leave() {
    let signaling = signaling(SfuConfig::default());
    let tokens = Tokens::default();
    let (mut host, mut host_media, _sending) = publishing(&signaling, &tokens, "tok-1").await;

    let mut viewer = Page::open(&signaling, &tokens);
    viewer.join("tok-2").await;
    let viewer_media = TestClient::subscriber(1, 1).await.expect("subscriber");
    let slots = negotiate(&mut viewer, &viewer_media).await;
    assert_eq!(slots.len(), 2);
    wait_until("the host reaches the viewer", || total(&viewer_media) > 50).await;

    // The host shares its screen on the same connection.
    host_media
        .add_screen_track(0x0033_3333)
        .await
        .expect("screen");
    let host_slots = renegotiate(&mut host, &host_media).await;
    assert!(host_slots.is_empty());
    let _screen = host_media
        .start_video_track(2)
        .await
        .expect("screen sending");
    let before = total(&viewer_media);
    wait_until("media keeps reaching the viewer", || {
        total(&viewer_media) > before + 100
    })
    .await;

    // The viewer asks for one more video slot on the same connection.
    viewer_media.add_slots(1, 0).await.expect("slot");
    let more = renegotiate(&mut viewer, &viewer_media).await;
    assert_eq!(more.len(), 3, "old slots kept, one added");
    assert_eq!(more[..2], slots[..], "old slots unchanged");
    let before = total(&viewer_media);
    wait_until("media still flows", || total(&viewer_media) > before + 100).await;

    // Neither page saw anyone leave or a slot go dark.
    let mut seen = Vec::new();
    for page in [&mut host, &mut viewer] {
        page.send(json!({"type": "ping", "ts": 1.0}));
        loop {
            match page.next().await.expect("socket open") {
                ServerMessage::Pong { .. } => break,
                m => seen.push(m),
            }
        }
    }
    assert_nobody_left(&seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_candidates_are_trickled_after_the_answer() {
    let sfu = SfuConfig {
        trickle_candidates: true,
        ..SfuConfig::default()
    };
    let signaling = signaling(sfu);
    let tokens = Tokens::default();
    let mut page = Page::open(&signaling, &tokens);
    page.join("tok-1").await;
    let client = TestClient::subscriber(1, 1).await.expect("subscriber");
    let offer = client.offer().await.expect("offer");
    page.send(json!({"type": "offer", "sdp": offer}));
    let mut answered = false;
    let mut candidates = 0;
    loop {
        match page.next().await.expect("socket open") {
            ServerMessage::Answer { sdp, .. } => {
                client.accept(sdp).await.expect("the answer applies");
                answered = true;
            }
            ServerMessage::Candidate(c) => {
                assert!(answered, "a candidate before the answer");
                if c.candidate.is_empty() {
                    break; // end of candidates
                }
                candidates += 1;
                let c = IceCandidate::from(c);
                client.add_remote_candidate(c).await.expect("applies");
            }
            ServerMessage::Error { code, message } => panic!("{code:?}: {message}"),
            _ => {}
        }
    }
    assert!(candidates > 0, "at least one candidate trickled");
    assert!(client.wait_connected(WAIT).await, "media connects");
}
