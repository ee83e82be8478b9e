//! Helpers of the sans-IO driver's tests: bounded waits and connecting a test client
//! to the muxed port.

use sfu::testclient::TestClient;
use sfu::Sfu;
use sfu::{PeerAnswer, PeerId};

pub use crate::common::{wait_event, wait_until, WAIT};

/// Offers, answers and waits until the client's connection is up.
pub async fn connect(sfu: &Sfu, peer: PeerId, client: &TestClient) -> PeerAnswer {
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
