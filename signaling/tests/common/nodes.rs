//! Nodes of a cluster in one test process (`placement`, `slownode`): each with its own
//! SFU on 127.0.0.1, recorder, leases, bridge and NATS connection, over one store; and
//! what their halls' pages negotiate and are shown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler::testing::{demo_db, province_meeting_now, test_backend, TestDb};
use scheduler::{Level, Meeting, Store};
use serde_json::json;
use sfu::testclient::TestClient;
use sfu::SfuConfig;
use signaling::protocol::{ServerMessage, Slot};
use signaling::{Bridge, HomeLeases, Signaling, SignalingConfig, StoreRecorder};

use super::{quiet, Page};

pub const NATS: &str = "nats://127.0.0.1:4222";

/// A demo database with a province and district meeting titled `title` starting now,
/// and its first `n` invited halls besides the host.
pub async fn meeting_with_halls(title: &str, n: usize) -> (TestDb, Meeting, Vec<i64>) {
    let db = demo_db(test_backend()).await.expect("demo database");
    let (m, halls) = meeting_on(&db.store, title, n).await;
    (db, m, halls)
}

/// A province and district meeting titled `title` starting now on `store`, and its
/// first `n` invited halls besides the host.
pub async fn meeting_on(store: &Store, title: &str, n: usize) -> (Meeting, Vec<i64>) {
    let levels = [Level::Province, Level::District];
    let m = province_meeting_now(store, title, &levels)
        .await
        .expect("scheduled");
    let halls: Vec<i64> = store
        .invited_halls(m.id)
        .await
        .expect("invited")
        .into_iter()
        .map(|h| h.hall_id)
        .filter(|&h| h != m.host_hall_id)
        .take(n)
        .collect();
    assert_eq!(halls.len(), n, "{n} halls besides the host");
    (m, halls)
}

/// One node: its own SFU, recorder, leases, bridge and NATS connection, over `store`.
pub async fn node(store: &Store, name: &str) -> Signaling {
    node_with(store, name, BTreeMap::new()).await
}

/// A node whose rooms place halls' media by `media_regions`.
pub async fn node_with(
    store: &Store,
    name: &str,
    media_regions: BTreeMap<String, Vec<i64>>,
) -> Signaling {
    node_over(store, name, media_regions).await.0
}

/// A node and its NATS connection (drained: the node goes silent).
pub async fn node_over(
    store: &Store,
    name: &str,
    media_regions: BTreeMap<String, Vec<i64>>,
) -> (Signaling, async_nats::Client) {
    let config = SignalingConfig {
        grace: Duration::from_secs(1),
        media_regions,
        ..quiet()
    };
    node_of(store, name, config).await
}

/// A node with `config`, and its NATS connection.
pub async fn node_of(
    store: &Store,
    name: &str,
    config: SignalingConfig,
) -> (Signaling, async_nats::Client) {
    node_at(store, name, config, NATS).await
}

/// A node with `config` whose NATS connection goes to `nats` (a [`super::slowlink`]).
pub async fn node_at(
    store: &Store,
    name: &str,
    config: SignalingConfig,
    nats: &str,
) -> (Signaling, async_nats::Client) {
    let store = store.clone().with_node(name);
    let signaling = Signaling::start(SfuConfig::default(), config)
        .expect("valid config")
        .record_with(StoreRecorder::spawn(store.clone(), 10))
        .with_roster(store.clone())
        .with_home(HomeLeases::start(store.clone(), Duration::from_secs(15)));
    let nats = signaling::bridge::connect(nats, name).await.expect("NATS");
    let bridge: Arc<Bridge> = Bridge::start(&signaling, nats.clone(), store)
        .await
        .expect("subscribed");
    (signaling.with_bridge(bridge), nats)
}

/// The ports of the candidates in an SDP answer (each once).
pub fn candidate_ports(sdp: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Offers `client`'s media through `page`; the answer's SDP and slots, once connected.
pub async fn negotiate(page: &mut Page, client: &TestClient) -> (String, Vec<Slot>) {
    let offer = client.offer().await.expect("offer");
    let asked = std::time::Instant::now();
    page.send(json!({"type": "offer", "sdp": offer}));
    let (sdp, slots) = page
        .expect("answer", |m| match m {
            ServerMessage::Answer { sdp, slots } => Some((sdp.clone(), slots.clone())),
            _ => None,
        })
        .await;
    println!("answered in {:?}", asked.elapsed());
    client
        .accept(sdp.clone())
        .await
        .expect("the answer applies");
    assert!(client.wait_connected(super::WAIT).await, "media connects");
    (sdp, slots)
}

/// Slots shown per hall, until `n` slots show `hall`.
pub async fn shown(page: &mut Page, hall: i64, n: usize) {
    let mut shown = std::collections::BTreeMap::new();
    while shown.values().filter(|h| **h == Some(hall)).count() < n {
        let (slot, source) = page
            .expect("subscription", |m| match m {
                ServerMessage::Subscription {
                    slot,
                    source_hall_id,
                    ..
                } => Some((*slot, *source_hall_id)),
                _ => None,
            })
            .await;
        shown.insert(slot, source);
    }
}
