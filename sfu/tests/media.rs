//! The SFU over real UDP on 127.0.0.1: a Rust publisher and Rust subscribers (the
//! `webrtc` crate) and the SFU's one media port (the `rtc` core) in between — fan-out
//! in order, keyframe requests merged upstream, a publisher that leaves. Bounded waits
//! only; no assertion on speed. (Bad offers and commands are tested in memory,
//! `src/driver/tests/`.)

mod common;

use common::{connect, wait_event, wait_until};
use sfu::testclient::{ReceivedPacket, TestClient, AUDIO_SSRC, VIDEO_SSRC};
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuError, SfuEvent, SlotId, SlotInfo, StreamId};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const PUBLISHER: PeerId = PeerId(1);

fn config() -> SfuConfig {
    SfuConfig {
        video_slots: 2,
        audio_slots: 2,
        ..SfuConfig::default()
    }
}

/// A started SFU with a connected, publishing hall.
struct Meeting {
    sfu: Sfu,
    events: mpsc::Receiver<SfuEvent>,
    publisher: TestClient,
    publishing: sfu::testclient::Publishing,
    video: StreamId,
    audio: StreamId,
}

async fn meeting() -> Meeting {
    let (sfu, mut events) = Sfu::start(config()).expect("valid config");
    let publisher = TestClient::publisher().await.expect("publisher");
    let answer = connect(&sfu, PUBLISHER, &publisher).await;
    assert!(answer.slots.is_empty(), "a send-only hall gets no slots");
    let publishing = publisher.start_publishing().await.expect("publishing");
    let (mut video, mut audio) = (None, None);
    while video.is_none() || audio.is_none() {
        let (kind, track) = wait_event(&mut events, |e| match e {
            SfuEvent::TrackPublished {
                peer, kind, track, ..
            } if *peer == PUBLISHER => Some((*kind, *track)),
            _ => None,
        })
        .await;
        match kind {
            MediaKind::Video => video = Some(track),
            MediaKind::Audio => audio = Some(track),
        }
    }
    Meeting {
        sfu,
        events,
        publisher,
        publishing,
        // Both set by the loop above.
        video: video.expect("video published"),
        audio: audio.expect("audio published"),
    }
}

/// A connected subscriber (2 video + 2 audio slots) showing the publisher in slot 0
/// (video) and its first audio slot.
async fn subscriber(m: &Meeting, peer: PeerId) -> (TestClient, SlotInfo, SlotInfo) {
    let client = TestClient::subscriber(2, 2).await.expect("subscriber");
    let answer = connect(&m.sfu, peer, &client).await;
    assert_eq!(answer.slots.len(), 4, "all offered slots negotiated");
    let video = answer.slots[0].clone();
    let audio = answer.slots[2].clone();
    assert_eq!(
        (video.kind, audio.kind),
        (MediaKind::Video, MediaKind::Audio)
    );
    m.sfu
        .subscribe(peer, video.id, m.video, 2)
        .await
        .expect("subscribe video");
    m.sfu
        .subscribe(peer, audio.id, m.audio, 0)
        .await
        .expect("subscribe audio");
    (client, video, audio)
}

/// Checks one slot's packets: one SSRC (the slot's), contiguous sequence numbers, and
/// the publisher's packet numbers consecutive (nothing lost or reordered end to end).
/// Returns (packets, lost).
fn check_stream(what: &str, packets: &[ReceivedPacket], video: bool) -> (usize, u32) {
    assert!(!packets.is_empty(), "{what}: nothing received");
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
        assert_eq!(a.payload_type, b.payload_type, "{what}: one payload type");
        let (na, nb) = (
            a.number.expect("our payload"),
            b.number.expect("our payload"),
        );
        assert!(nb > na, "{what}: in publisher order");
        lost += nb - na - 1;
    }
    (packets.len(), lost)
}

/// One publisher and `subscribers` viewers; with `lossless`, nothing may be lost end to
/// end (on loopback, with few enough subscribers for a loaded 2-core machine).
async fn fan_out(subscribers: u64, lossless: bool) {
    let mut m = meeting().await;
    let mut subs = Vec::new();
    for i in 0..subscribers {
        let peer = PeerId(100 + i);
        subs.push((peer, subscriber(&m, peer).await));
    }
    for (peer, (client, video, audio)) in &subs {
        wait_until(
            &format!("{peer:?} receives 60 video and 50 audio packets"),
            || client.count(video.ssrc) >= 60 && client.count(audio.ssrc) >= 50,
        )
        .await;
    }
    let incoming = wait_event(&mut m.events, |e| match e {
        SfuEvent::Stats(s) if s.peer == PUBLISHER && s.bitrate_in_bps > 0 => Some(*s),
        _ => None,
    })
    .await;
    println!("publisher stats: {incoming:?}");
    let sent = std::sync::Arc::clone(&m.publishing.sent);
    m.publishing.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await; // in-flight packets land
    let port = m.sfu.port_stats().await.expect("stats");
    assert_eq!(port.connections, 1 + subscribers as usize);
    assert!(port.router.forwarded > 0);
    let (mut total, mut total_lost) = (0, 0);
    for (peer, (client, video, audio)) in &subs {
        let received = client.received();
        assert_eq!(
            received.len(),
            2,
            "{peer:?}: only its two slots' SSRCs arrive"
        );
        let (v, v_lost) = check_stream(&format!("{peer:?} video"), &received[&video.ssrc], true);
        let (a, a_lost) = check_stream(&format!("{peer:?} audio"), &received[&audio.ssrc], false);
        assert_ne!(video.ssrc, VIDEO_SSRC, "rewritten to the slot's SSRC");
        assert_ne!(audio.ssrc, AUDIO_SSRC, "rewritten to the slot's SSRC");
        if lossless {
            assert_eq!(
                (v_lost, a_lost),
                (0, 0),
                "{peer:?}: nothing lost on loopback"
            );
        }
        total += v + a;
        total_lost += v_lost + a_lost;
    }
    // The newest statistics of the first subscriber, once it has been sent media.
    let stats = wait_event(&mut m.events, |e| match e {
        SfuEvent::Stats(s)
            if s.peer == PeerId(100) && s.packets_out as usize >= total / 2 / subs.len() =>
        {
            Some(*s)
        }
        _ => None,
    })
    .await;
    println!(
        "{subscribers} subscribers: {total} packets received, {total_lost} lost; \
         sent video {} audio {}; stats of first subscriber {stats:?}",
        sent.video.load(Relaxed),
        sent.audio.load(Relaxed),
    );
    assert!(stats.packets_out > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publisher_three_subscribers_receive_everything_in_order() {
    fan_out(3, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_publisher_twenty_subscribers() {
    fan_out(20, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_keyframe_requests_are_throttled_upstream() {
    let m = meeting().await;
    let (client, video, _) = subscriber(&m, PeerId(100)).await;
    wait_until("video flows", || client.count(video.ssrc) >= 10).await;
    let before = m.publisher.plis().len();
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(2) {
        client.send_pli(video.ssrc).await.expect("PLI written");
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await; // the last merged PLI
    let plis = m.publisher.plis();
    let relayed = &plis[before..];
    println!(
        "{sent} PLIs from the subscriber, {} reached the publisher",
        relayed.len()
    );
    assert!(
        !relayed.is_empty(),
        "the subscriber's PLI reaches the publisher"
    );
    assert!(relayed.len() < sent / 4, "merged, not relayed one by one");
    let interval = config().keyframe_throttle;
    for pair in plis.windows(2) {
        let gap = pair[1] - pair[0];
        // Network jitter on loopback can bring two PLIs a little closer than sent.
        assert!(
            gap >= interval * 8 / 10,
            "PLIs {gap:?} apart, throttle {interval:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_publisher_disconnects_it_and_silences_its_slots() {
    let mut m = meeting().await;
    let (client, video, audio) = subscriber(&m, PeerId(100)).await;
    wait_until("media flows", || client.count(video.ssrc) >= 10).await;
    m.publisher.close().await;
    let closed_at = Instant::now();
    let reason = wait_event(&mut m.events, |e| match e {
        SfuEvent::PeerDisconnected(PUBLISHER, reason) => Some(*reason),
        _ => None,
    })
    .await;
    println!(
        "publisher disconnected ({reason:?}) {:?} after closing",
        closed_at.elapsed()
    );
    let counts = (client.count(video.ssrc), client.count(audio.ssrc));
    println!("subscriber had received {counts:?} (video, audio) packets");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        counts,
        (client.count(video.ssrc), client.count(audio.ssrc)),
        "silent"
    );
    // A lost connection may come back (ICE); the server ends it for good.
    assert_eq!(m.sfu.close_peer(PUBLISHER).await, Ok(()));
    let mut unpublished = Vec::new();
    while unpublished.len() < 2 {
        let track = wait_event(&mut m.events, |e| match e {
            SfuEvent::TrackUnpublished { peer, track } if *peer == PUBLISHER => Some(*track),
            _ => None,
        })
        .await;
        unpublished.push(track);
    }
    unpublished.sort();
    let mut published = vec![m.video, m.audio];
    published.sort();
    assert_eq!(unpublished, published);
    let err = m.sfu.subscribe(PeerId(100), SlotId(0), m.video, 0).await;
    assert_eq!(
        err,
        Err(SfuError::UnknownTrack(m.video)),
        "its tracks are unpublished"
    );
    assert_eq!(
        m.sfu.close_peer(PUBLISHER).await,
        Err(SfuError::UnknownPeer(PUBLISHER)),
        "it is gone"
    );
    let port = m.sfu.port_stats().await.expect("stats");
    assert_eq!(port.connections, 1, "only the subscriber is left");
}
