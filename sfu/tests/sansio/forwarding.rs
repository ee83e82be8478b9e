//! One publisher and five subscribers through ONE port: each subscriber receives the
//! publisher's video and audio in order, with its slots' SSRCs; bad input gets errors.

use crate::helpers::{connect, wait_event, WAIT};
use sfu::testclient::{ReceivedPacket, TestClient};
use sfu::Sfu;
use sfu::{MediaKind, PeerAnswer, PeerId, SfuConfig, SfuEvent, SlotInfo, StreamId};
use std::time::{Duration, Instant};

const SUBSCRIBERS: u64 = 5;

/// One slot's packets: contiguous sequence numbers, the publisher's numbers increasing.
fn check_stream(what: &str, packets: &[ReceivedPacket], video: bool) -> u32 {
    assert!(
        packets.len() >= 10,
        "{what}: only {} packets",
        packets.len()
    );
    if video {
        assert!(packets[0].keyframe, "{what}: starts on a keyframe");
    }
    let mut lost = 0;
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(
            b.seq,
            a.seq.wrapping_add(1),
            "{what}: contiguous sequence numbers"
        );
        let (na, nb) = (a.number.expect("ours"), b.number.expect("ours"));
        assert!(nb > na, "{what}: in publisher order ({na} then {nb})");
        lost += nb - na - 1;
    }
    lost
}

fn slot(answer: &PeerAnswer, kind: MediaKind) -> SlotInfo {
    let found = answer.slots.iter().find(|s| s.kind == kind);
    found.expect("slot negotiated").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_port_carries_a_publisher_to_five_subscribers() {
    let (sfu, mut events) = Sfu::start(SfuConfig::default()).expect("binds");
    let publisher = TestClient::publisher().await.expect("publisher");
    connect(&sfu, PeerId(1), &publisher).await;
    let publishing = publisher.start_publishing().await.expect("publishing");
    let (mut video, mut audio): (Option<StreamId>, Option<StreamId>) = (None, None);
    while video.is_none() || audio.is_none() {
        let (kind, track) = wait_event(&mut events, |e| match e {
            SfuEvent::TrackPublished { kind, track, .. } => Some((*kind, *track)),
            _ => None,
        })
        .await;
        match kind {
            MediaKind::Video => video = Some(track),
            MediaKind::Audio => audio = Some(track),
        }
    }
    let (video, audio) = (video.expect("set above"), audio.expect("set above"));

    let mut subs = Vec::new();
    for i in 0..SUBSCRIBERS {
        let peer = PeerId(100 + i);
        let client = TestClient::subscriber(1, 1).await.expect("subscriber");
        let answer = connect(&sfu, peer, &client).await;
        let (v, a) = (
            slot(&answer, MediaKind::Video),
            slot(&answer, MediaKind::Audio),
        );
        sfu.subscribe(peer, v.id, video, 0)
            .await
            .expect("subscribe video");
        sfu.subscribe(peer, a.id, audio, 0)
            .await
            .expect("subscribe audio");
        subs.push((peer, client, v.ssrc, a.ssrc));
    }

    let deadline = Instant::now() + WAIT;
    let enough = |c: &TestClient, v, a| c.count(v) >= 60 && c.count(a) >= 40;
    while !subs.iter().all(|(_, c, v, a)| enough(c, *v, *a)) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for media at every subscriber"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publishing.stop().await;

    let stats = sfu.port_stats().await.expect("stats");
    assert_eq!(stats.connections, 1 + SUBSCRIBERS as usize);
    assert!(stats.router.forwarded > 0);
    for (peer, client, v, a) in &subs {
        let received = client.received();
        assert_eq!(
            received.len(),
            2,
            "{peer:?}: only its two slots' SSRCs arrive"
        );
        let lost_v = check_stream(&format!("{peer:?} video"), &received[v], true);
        let lost_a = check_stream(&format!("{peer:?} audio"), &received[a], false);
        assert_eq!(
            (lost_v, lost_a),
            (0, 0),
            "{peer:?}: nothing lost on loopback"
        );
        client.close().await;
    }
    publisher.close().await;
}

#[tokio::test]
async fn bad_offers_and_unknown_peers_get_errors() {
    let (sfu, _events) = Sfu::start(SfuConfig::default()).expect("binds");
    let err = sfu.add_peer(PeerId(1), "not sdp".into()).await.unwrap_err();
    assert!(matches!(err, sfu::SfuError::InvalidSdp(_)), "{err}");
    let err = sfu
        .subscribe(PeerId(9), sfu::SlotId(0), StreamId(1), 0)
        .await
        .unwrap_err();
    assert_eq!(err, sfu::SfuError::UnknownPeer(PeerId(9)));
    // Garbage at the port is dropped, not fatal.
    let probe = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("binds");
    for junk in [&[0x80u8, 0x60, 0, 1][..], &[0, 1, 0, 0], &[22; 40], &[]] {
        probe.send_to(junk, sfu.local_addr()).await.expect("sent");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = sfu.port_stats().await.expect("driver still answers");
    assert_eq!(stats.unrouted, 4);
}

/// A STUN Binding request with `username` and no MESSAGE-INTEGRITY.
fn unsigned_check(username: &str) -> Vec<u8> {
    let mut msg = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    msg.extend_from_slice(&[7; 12]);
    let len = u8::try_from(username.len()).expect("short");
    msg.extend_from_slice(&[0x00, 0x06, 0x00, len]);
    msg.extend_from_slice(username.as_bytes());
    msg.resize(msg.len().next_multiple_of(4), 0);
    let body = u16::try_from(msg.len() - 20).expect("short");
    msg[2..4].copy_from_slice(&body.to_be_bytes());
    msg
}

#[tokio::test]
async fn a_check_without_the_password_binds_no_address() {
    let (sfu, _events) = Sfu::start(SfuConfig::default()).expect("binds");
    let client = TestClient::subscriber(1, 1).await.expect("subscriber");
    let offer = client.offer().await.expect("offer");
    let answer = sfu.add_peer(PeerId(1), offer).await.expect("answers");
    let ufrag = answer
        .sdp
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .expect("the answer has a ufrag");
    // A spoofer knows the ufrag (it is in the answer) but not the password.
    let spoofer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let check = unsigned_check(&format!("{ufrag}:spoof"));
    spoofer
        .send_to(&check, sfu.local_addr())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let srtp = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    spoofer
        .send_to(&srtp, sfu.local_addr())
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = sfu.port_stats().await.expect("stats");
    assert_eq!(stats.addresses, 0, "the check bound no address");
    assert_eq!(stats.unrouted, 1, "media from it is dropped");
    client.close().await;
}
