//! Helpers shared by the SFU's real-UDP tests: bounded waits, connecting a test client,
//! and a simulcast camera with its viewers ([`simulcast`]).

// Each test binary uses its share of these.
#![allow(dead_code)]

pub mod simulcast;

use sfu::testclient::TestClient;
use sfu::{PeerAnswer, PeerId, Sfu, SfuEvent};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The longest any one wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Waits for the first event matching `want`, skipping others; panics after `WAIT`.
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

/// Adds `client` to the SFU as `peer` and waits until its connection is up; the
/// answer's candidates are the media port.
pub async fn connect(sfu: &Sfu, peer: PeerId, client: &TestClient) -> PeerAnswer {
    let offer = client.offer().await.expect("offer");
    let answer = sfu.add_peer(peer, offer).await.expect("SFU answers");
    let port = format!(" {} typ host", sfu.local_addr().port());
    assert!(
        answer
            .sdp
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .all(|l| l.contains(&port)),
        "the answer's only candidate is the media port"
    );
    client
        .accept(answer.sdp.clone())
        .await
        .expect("answer applies");
    assert!(client.wait_connected(WAIT).await, "{peer:?} connects");
    answer
}
