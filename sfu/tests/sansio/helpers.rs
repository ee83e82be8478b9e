//! Helpers of the muxed-port driver's tests: bounded waits and connecting a test client
//! to the one media port.

use sfu::testclient::TestClient;
use sfu::Sfu;
use sfu::{PeerAnswer, PeerId};

pub use crate::common::{wait_event, wait_until, WAIT};

/// Connects as `common::connect` does, and checks the answer's only candidate is the
/// media port.
pub async fn connect(sfu: &Sfu, peer: PeerId, client: &TestClient) -> PeerAnswer {
    let answer = crate::common::connect(sfu, peer, client).await;
    let port = format!(" {} typ host", sfu.local_addr().port());
    assert!(
        answer.sdp.contains(&port),
        "the answer's only candidate is the muxed port"
    );
    answer
}
