//! The host's readiness board with a real SFU over UDP on 127.0.0.1: a hall that
//! receives the host's media reports on it, and the board shows that hall's round trip
//! (small on loopback, but there) and the loss it reports, with its link `media_ok`.

mod common;

use common::{negotiate, publishing, Page, Tokens, WAIT};
use serde_json::json;
use sfu::testclient::TestClient;
use signaling::protocol::{HallReadiness, LinkState, ServerMessage};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_a_receiving_halls_round_trip() {
    let signaling = common::start_quiet();
    let tokens = Tokens::default();

    // The host (hall 1) publishes; commune hall 3 receives it.
    let (mut host, _host_media, _sending) = publishing(&signaling, &tokens, "tok-1").await;
    let mut commune = Page::open(&signaling, &tokens);
    commune.join("tok-3").await;
    let commune_media = TestClient::subscriber(1, 1).await.expect("subscriber");
    negotiate(&mut commune, &commune_media).await;

    // The host watches the board until hall 3 shows a round trip.
    host.send(json!({"type": "readiness"}));
    let deadline = Instant::now() + WAIT;
    let hall: HallReadiness = loop {
        assert!(Instant::now() < deadline, "no round trip on the board");
        let board = host
            .expect("the board", |m| match m {
                ServerMessage::Readiness(board) => Some(board.clone()),
                _ => None,
            })
            .await;
        let hall = board.halls.iter().find(|h| h.hall_id == 3).cloned();
        if let Some(h) = hall.filter(|h| h.rtt_ms.is_some()) {
            break h;
        }
    };
    println!("hall 3 on the board: {hall:?}");
    let rtt = hall.rtt_ms.expect("a round trip");
    // Loopback: well under a millisecond to a few; it may round to 0.
    assert!(rtt < 50, "loopback, rounded: {rtt} ms");
    assert_eq!(hall.state, LinkState::MediaOk);
    assert_eq!(hall.loss_out, Some(0.0), "nothing lost on loopback");
}
