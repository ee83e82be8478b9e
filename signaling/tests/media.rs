//! Rooms with a real SFU over UDP on 127.0.0.1: halls negotiate through the protocol
//! (channels for the sockets, `sfu::testclient` for the media) and receive the host, the
//! floor holder, and no audio from a muted hall (packets counted, not just flags).
//! Bounded waits only; nothing asserts on speed.

mod common;

use common::{left, negotiate, publishing, wait_until, Page, Tokens, WAIT};
use serde_json::json;
use sfu::testclient::TestClient;
use signaling::protocol::{Actor, Kind, Reason, ServerMessage};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Reads `subscription` messages until every slot shows what `want` says (slot → hall).
async fn wait_slots(page: &mut Page, want: &BTreeMap<u16, Option<i64>>) {
    let mut shown: BTreeMap<u16, Option<i64>> = BTreeMap::new();
    while want
        .iter()
        .any(|(slot, hall)| shown.get(slot) != Some(hall))
    {
        let (slot, hall) = page
            .expect("subscription", |m| match m {
                ServerMessage::Subscription {
                    slot,
                    source_hall_id,
                    ..
                } => Some((*slot, *source_hall_id)),
                _ => None,
            })
            .await;
        shown.insert(slot, hall);
    }
}

/// Packets received per SSRC.
fn counts(client: &TestClient) -> BTreeMap<u32, usize> {
    client
        .received()
        .into_iter()
        .map(|(ssrc, p)| (ssrc, p.len()))
        .collect()
}

/// How many SSRCs keep arriving: after `settle` (packets in flight land), those whose
/// count grows over the next 700 ms.
async fn still_arriving(client: &TestClient, settle: Duration) -> usize {
    tokio::time::sleep(settle).await;
    let before = counts(client);
    tokio::time::sleep(Duration::from_millis(700)).await;
    counts(client)
        .iter()
        .filter(|(ssrc, n)| before.get(ssrc).is_none_or(|b| *n > b))
        .count()
}

/// How many SSRCs have brought at least 20 packets.
fn carrying(client: &TestClient) -> usize {
    client.received().values().filter(|p| p.len() >= 20).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_holder_reaches_a_hall_a_muted_hall_reaches_no_one_and_a_rejoin_replaces() {
    let signaling = common::start_quiet();
    let tokens = Tokens::default();

    // The host (hall 1) and a commune (hall 2) publish camera and microphone.
    let (mut host, _host_media, _host_sending) = publishing(&signaling, &tokens, "tok-1").await;
    let (mut commune, _commune_media, _commune_sending) =
        publishing(&signaling, &tokens, "tok-2").await;

    // A third hall watches with 2 video and 2 audio slots. Hall 2 has no floor and
    // joined muted: the viewer gets the host's video and audio only.
    let mut viewer = Page::open(&signaling, &tokens);
    let (_, present) = viewer.join("tok-3").await;
    assert_eq!(present, vec![1, 2, 3]);
    let viewer_media = TestClient::subscriber(2, 2).await.expect("subscriber");
    let slots = negotiate(&mut viewer, &viewer_media).await;
    let kinds: Vec<Kind> = slots.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Kind::Video, Kind::Video, Kind::Audio, Kind::Audio]);
    let ids: Vec<u16> = slots.iter().map(|s| s.id).collect();
    // (Dark slots that never showed anything get no `subscription`.)
    let host_only = BTreeMap::from([(ids[0], Some(1)), (ids[2], Some(1))]);
    wait_slots(&mut viewer, &host_only).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        counts(&viewer_media).values().filter(|&&n| n > 0).count(),
        2,
        "only the host's video and audio arrive"
    );

    // The host gives hall 2 the floor: slot 1 shows it and its microphone opens.
    host.send(json!({"type": "give_floor", "hall_id": 2}));
    let floor = BTreeMap::from([(ids[1], Some(2)), (ids[3], Some(2))]);
    wait_slots(&mut viewer, &floor).await;
    wait_until("all four slots carry media", || {
        carrying(&viewer_media) == 4
    })
    .await;

    // The host mutes hall 2: its page is told, and its audio stops reaching the viewer
    // although its page keeps sending; its video still arrives.
    host.send(json!({"type": "mute", "hall_id": 2, "muted": true}));
    let by = commune
        .expect("muted", |m| match m {
            ServerMessage::Muted { muted: true, by } => Some(*by),
            _ => None,
        })
        .await;
    assert_eq!(
        by,
        Actor::Hall { hall_id: 1 },
        "told it is muted, by the host"
    );
    wait_slots(&mut viewer, &BTreeMap::from([(ids[3], None)])).await;
    assert_eq!(
        still_arriving(&viewer_media, Duration::from_millis(300)).await,
        3,
        "the host's video and audio and hall 2's video arrive; hall 2's audio does not"
    );

    // Hall 2 leaves: the others are told, its slots go dark, the host's keep flowing.
    commune.send(json!({"type": "leave"}));
    assert_eq!(
        viewer.expect("participant_left", left).await,
        (2, Reason::Left)
    );
    assert_eq!(
        host.expect("participant_left", left).await,
        (2, Reason::Left)
    );
    let dark = BTreeMap::from([(ids[1], None)]);
    wait_slots(&mut viewer, &dark).await;
    assert_eq!(
        still_arriving(&viewer_media, Duration::from_millis(300)).await,
        2,
        "only the host's video and audio still arrive"
    );

    // The viewer's page reloads (same token, new socket, new connection): it replaces
    // itself, appears once, and receives the host again on its new connection.
    let mut reloaded = Page::open(&signaling, &tokens);
    let (_, present) = reloaded.join("tok-3").await;
    assert_eq!(present, vec![1, 3], "the hall appears once");
    assert_eq!(viewer.close_frame().await, (4001, "replaced".into()));
    let new_media = TestClient::subscriber(2, 2).await.expect("subscriber");
    let slots = negotiate(&mut reloaded, &new_media).await;
    let host_only = BTreeMap::from([(slots[0].id, Some(1)), (slots[2].id, Some(1))]);
    wait_slots(&mut reloaded, &host_only).await;
    wait_until("the reloaded page receives the host", || {
        carrying(&new_media) == 2
    })
    .await;
    assert_eq!(
        still_arriving(&viewer_media, Duration::ZERO).await,
        0,
        "the old connection is closed"
    );
    let room = signaling.room(common::meeting().id).expect("room");
    let present = room.participants().await.expect("live");
    assert_eq!(
        present.iter().map(|p| p.hall_id).collect::<Vec<_>>(),
        vec![1, 3]
    );
    // Statistics arrive per hall with a media connection.
    wait_until_stats(&room).await;
}

async fn wait_until_stats(room: &signaling::RoomHandle) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = room.stats().await.expect("live");
        if let Some(host) = stats
            .iter()
            .find(|s| s.hall_id == 1 && s.stats.bitrate_in_bps > 0)
        {
            println!("host stats: {:?}", host.stats);
            return;
        }
        assert!(Instant::now() < deadline, "no statistics for the host");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
