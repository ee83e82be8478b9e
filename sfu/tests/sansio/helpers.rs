//! Helpers of the sans-IO driver's tests: bounded waits and connecting a test client
//! to the muxed port.

use sfu::sansio::SansioSfu;
use sfu::testclient::TestClient;
use sfu::{PeerAnswer, PeerId, SfuEvent};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The longest any one wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Waits for the first event `want` accepts, skipping others; panics after `WAIT`.
pub async fn wait_event<T>(
    events: &mut mpsc::Receiver<SfuEvent>,
    mut want: impl FnMut(&SfuEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("timed out waiting for an SFU event")
            .expect("SFU stopped");
        if let Some(t) = want(&event) {
            return t;
        }
    }
}

/// Waits until `done` holds, polling; panics with `what` after `WAIT`.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Offers, answers and waits until the client's connection is up.
pub async fn connect(sfu: &SansioSfu, peer: PeerId, client: &TestClient) -> PeerAnswer {
    let offer = client.offer().await.expect("offer");
    let answer = sfu.add_peer(peer, offer).await.expect("SFU answers");
    let port = format!(" {} typ host", sfu.local_addr().port());
    assert!(
        answer.sdp.contains(&port),
        "the answer's only candidate is the muxed port"
    );
    client
        .accept(answer.sdp.clone())
        .await
        .expect("answer applies");
    assert!(client.wait_connected(WAIT).await, "{peer:?} connects");
    answer
}
