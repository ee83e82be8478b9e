//! Only the simulcast layers someone watches are sent: a hall shown nowhere large is told
//! to send its smallest layer alone, the floor holder all three — over a real SFU on
//! 127.0.0.1, the halls' cameras obeying as the room page does. Bounded waits only.

mod common;

use common::{negotiate, Page, Tokens, WAIT};
use serde_json::json;
use sfu::testclient::{HallMedia, HallShape, TestClient, LAYER_NUMBERS};
use signaling::protocol::ServerMessage;
use signaling::Signaling;
use std::time::{Duration, Instant};

/// A hall with camera, microphone and 2 + 2 receive slots, joined and sending.
async fn hall(
    signaling: &Signaling,
    tokens: &Tokens,
    token: &str,
) -> (Page, TestClient, HallMedia) {
    let mut page = Page::open(signaling, tokens);
    page.join(token).await;
    let client = TestClient::hall(2, 2, None).await.expect("a hall client");
    negotiate(&mut page, &client).await;
    let media = client
        .start_hall(HallShape::default())
        .await
        .expect("sending");
    (page, client, media)
}

/// The next `send_layers`, obeyed.
async fn obey(page: &mut Page, media: &HallMedia) -> u8 {
    let layers = page
        .expect("send_layers", |m| match m {
            ServerMessage::SendLayers { layers } => Some(*layers),
            _ => None,
        })
        .await;
    media.send_layers(layers);
    layers
}

/// The simulcast layers (from the payload numbers) of packets `client` received after
/// `skip` packets on its fullest video SSRC other than `except`.
fn layers_seen(client: &TestClient, except: Option<u32>, skip: usize) -> Vec<u32> {
    let received = client.received();
    let mut streams: Vec<_> = received
        .iter()
        .filter(|(ssrc, p)| Some(**ssrc) != except && p.iter().any(|p| p.payload_type == 96))
        .collect();
    streams.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
    let mut layers: Vec<u32> = streams
        .first()
        .map(|(_, p)| {
            p.iter()
                .skip(skip)
                .filter_map(|p| p.number)
                .map(|n| n / LAYER_NUMBERS)
                .collect()
        })
        .unwrap_or_default();
    layers.dedup();
    layers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_watched_layers_are_sent_and_the_floor_holder_sends_all() {
    let signaling = common::start_quiet();
    let tokens = Tokens::default();

    // The host (hall 1) is watched large by everyone: all three layers.
    let (mut host, _host_client, host_media) = hall(&signaling, &tokens, "tok-1").await;
    // A commune (hall 2) and a viewer (hall 3): nobody shows them large.
    let (mut commune, _commune_client, commune_media) = hall(&signaling, &tokens, "tok-2").await;
    assert_eq!(
        obey(&mut commune, &commune_media).await,
        1,
        "hall 2: small layer only"
    );
    let (mut viewer, viewer_client, viewer_media) = hall(&signaling, &tokens, "tok-3").await;
    assert_eq!(
        obey(&mut viewer, &viewer_media).await,
        1,
        "hall 3: small layer only"
    );
    let mut host_layers = obey(&mut host, &host_media).await;
    if host_layers != 3 {
        // Told 1 before anyone watched it, then 3.
        host_layers = obey(&mut host, &host_media).await;
    }
    assert_eq!(host_layers, 3, "the host is watched large");

    // The floor to hall 2: it is told to send all layers, and the viewer's floor slot
    // soon carries hall 2's top layer (it started on the small one, the only one sent).
    host.send(json!({"type": "give_floor", "hall_id": 2}));
    assert_eq!(
        obey(&mut commune, &commune_media).await,
        3,
        "the floor holder sends all"
    );
    let host_ssrc = {
        let received = viewer_client.received();
        let first = received
            .iter()
            .filter(|(_, p)| p.iter().any(|p| p.payload_type == 96));
        first.max_by_key(|(_, p)| p.len()).map(|(s, _)| *s)
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = layers_seen(&viewer_client, host_ssrc, 0);
        if seen.last() == Some(&2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hall 2's top layer never reached the viewer: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The floor taken back: hall 2 goes back to its small layer alone.
    host.send(json!({"type": "take_floor"}));
    assert_eq!(
        obey(&mut commune, &commune_media).await,
        1,
        "back to the small layer"
    );
    drop(viewer);
}
