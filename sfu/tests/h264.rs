//! H.264 over real UDP on 127.0.0.1: a camera publishing H.264 reaches the slots that
//! negotiated it, every packet in order from a keyframe, with the slot's payload type;
//! a slot that negotiated VP8 and H.264 switches between a VP8 and an H.264 hall on
//! each one's keyframe, its numbering continuous; a slot without H.264 refuses an H.264
//! hall and goes dark.

mod common;

use common::{connect, wait_event, wait_until};
use sfu::testclient::h264::{H264Publishing, H264_PAYLOAD_TYPE};
use sfu::testclient::{PacketObserver, Publishing, TestClient};
use sfu::{MediaKind, PeerId, Sfu, SfuConfig, SfuError, SfuEvent, StreamId};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The payload types the test client's slots offer (the SFU's own media engine): the
/// SFU must rewrite the H.264 camera's [`H264_PAYLOAD_TYPE`] to these.
const SLOT_VP8_PT: u8 = 96;
const SLOT_H264_PT: u8 = 102;

/// A packet as a viewer received it, classified by its payload type.
#[derive(Debug, Clone)]
struct Seen {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    pt: u8,
    number: Option<u32>,
    /// Starts a keyframe of the codec its payload type says.
    keyframe: bool,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn log_of(log: &Log) -> Vec<Seen> {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// An observer recording every packet a viewer receives into `log`.
fn recorder(log: &Log) -> PacketObserver {
    let log = Arc::clone(log);
    Arc::new(move |p| {
        let payload = &p.payload;
        let pt = p.header.payload_type;
        let keyframe = match pt {
            SLOT_H264_PT => sfu::h264::is_keyframe_start(payload).unwrap_or(false),
            _ => sfu::vp8::is_keyframe_start(payload).unwrap_or(false),
        };
        let number = sfu::testclient::payload_number(payload);
        let seen = Seen {
            ssrc: p.header.ssrc,
            seq: p.header.sequence_number,
            timestamp: p.header.timestamp,
            pt,
            number,
            keyframe,
        };
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
    })
}

/// The video track `peer` publishes.
async fn video_of(events: &mut mpsc::Receiver<SfuEvent>, peer: PeerId) -> StreamId {
    wait_event(events, |e| match e {
        SfuEvent::TrackPublished {
            peer: p,
            kind: MediaKind::Video,
            track,
            ..
        } if *p == peer => Some(*track),
        _ => None,
    })
    .await
}

async fn h264_camera(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
    peer: PeerId,
) -> (TestClient, H264Publishing, StreamId) {
    let client = TestClient::h264_publisher().await.expect("H.264 camera");
    connect(sfu, peer, &client).await;
    let publishing = client.start_h264().await.expect("publishing");
    let video = video_of(events, peer).await;
    (client, publishing, video)
}

async fn vp8_camera(
    sfu: &Sfu,
    events: &mut mpsc::Receiver<SfuEvent>,
    peer: PeerId,
) -> (TestClient, Publishing, StreamId) {
    let client = TestClient::publisher().await.expect("VP8 camera");
    connect(sfu, peer, &client).await;
    let publishing = client.start_publishing().await.expect("publishing");
    let video = video_of(events, peer).await;
    (client, publishing, video)
}

/// Waits until `log` holds `n` packets more than `before`.
async fn packets(what: &str, log: &Log, before: usize, n: usize) -> Vec<Seen> {
    wait_until(what, || log_of(log).len() >= before + n).await;
    log_of(log)
}

/// Packets from `from` on: the first starts a keyframe, all carry `pt` and follow one
/// another in sequence number and in the publisher's numbering.
fn check_run(what: &str, seen: &[Seen], from: usize, pt: u8) {
    let run = &seen[from..];
    assert!(
        run[0].keyframe,
        "{what}: starts on a keyframe: {:?}",
        run[0]
    );
    if let Some(last) = from.checked_sub(1).and_then(|i| seen.get(i)) {
        assert_eq!(
            run[0].seq,
            last.seq.wrapping_add(1),
            "{what}: seq continues"
        );
        let step = run[0].timestamp.wrapping_sub(last.timestamp) as i32;
        assert!(step > 0, "{what}: timestamps move forward ({step})");
    }
    for pair in run.windows(2) {
        assert_eq!(pair[1].pt, pt, "{what}: payload type");
        assert_eq!(pair[1].ssrc, run[0].ssrc, "{what}: one SSRC");
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "{what}: contiguous"
        );
        let next = pair[0].number.map(|n| n + 1);
        assert_eq!(pair[1].number, next, "{what}: every packet, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_camera_reaches_h264_slots_from_a_keyframe_with_their_payload_type() {
    let config = SfuConfig {
        video_slots: 1,
        audio_slots: 0,
        ..SfuConfig::default()
    };
    let (sfu, mut events) = Sfu::start(config).expect("valid config");
    let (camera, publishing, video) = h264_camera(&sfu, &mut events, PeerId(1)).await;
    let mut viewers = Vec::new();
    for peer in [PeerId(100), PeerId(101)] {
        let log = Log::default();
        let viewer = TestClient::subscriber_observed(1, 0, recorder(&log))
            .await
            .expect("viewer");
        let slot = connect(&sfu, peer, &viewer).await.slots[0].clone();
        sfu.subscribe(peer, slot.id, video, 0)
            .await
            .expect("H.264 slot");
        viewers.push((viewer, log, slot));
    }
    for (_, log, slot) in &viewers {
        let seen = packets("60 packets of H.264", log, 0, 60).await;
        assert_eq!(seen[0].ssrc, slot.ssrc, "the slot's own SSRC");
        assert_eq!(
            seen[0].pt, SLOT_H264_PT,
            "rewritten from {H264_PAYLOAD_TYPE}"
        );
        check_run("H.264 slot", &seen, 0, SLOT_H264_PT);
    }
    // The first IDR went out before anyone watched: the slots asked for another.
    assert!(
        !camera.plis().is_empty(),
        "a keyframe request reached the camera"
    );
    let sent = Arc::clone(&publishing.sent);
    publishing.stop().await;
    let sent = sent.packets.load(std::sync::atomic::Ordering::Relaxed);
    let last = u32::try_from(sent - 1).ok();
    for (_, log, _) in &viewers {
        // Waits on the last packet itself, not on a pause in arrivals (a loaded machine
        // may pause longer than any fixed quiet time while packets are on their way).
        wait_until("the last packet arrives", || {
            log_of(log).iter().any(|s| s.number == last)
        })
        .await;
        let seen = log_of(log);
        check_run("H.264 slot, to the end", &seen, 0, SLOT_H264_PT);
        assert_eq!(seen.last().and_then(|s| s.number), last, "nothing after it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_with_both_codecs_switches_between_vp8_and_h264_halls_on_keyframes() {
    let config = SfuConfig {
        video_slots: 1,
        audio_slots: 1,
        ..SfuConfig::default()
    };
    let (sfu, mut events) = Sfu::start(config).expect("valid config");
    let (_vp8, _vp8_publishing, vp8) = vp8_camera(&sfu, &mut events, PeerId(1)).await;
    let (_h264, _h264_publishing, h264) = h264_camera(&sfu, &mut events, PeerId(2)).await;
    let log = Log::default();
    let viewer = TestClient::subscriber_observed(1, 0, recorder(&log))
        .await
        .expect("viewer");
    let slot = connect(&sfu, PeerId(100), &viewer).await.slots[0].clone();

    sfu.subscribe(PeerId(100), slot.id, vp8, 2)
        .await
        .expect("VP8");
    let seen = packets("VP8 flowing", &log, 0, 30).await;
    check_run("VP8 hall", &seen, 0, SLOT_VP8_PT);

    let mut before = quiet_after(&sfu, &log, slot.id, h264).await;
    let seen = packets("H.264 after the switch", &log, before, 30).await;
    check_run("switched to H.264", &seen, before, SLOT_H264_PT);
    assert_eq!(seen[before].ssrc, slot.ssrc, "same slot SSRC");

    before = quiet_after(&sfu, &log, slot.id, vp8).await;
    let seen = packets("VP8 again", &log, before, 30).await;
    check_run("switched back to VP8", &seen, before, SLOT_VP8_PT);
}

/// Points the viewer's slot at `track`; returns how many packets it had received
/// before the first packet of `track` (the old feed stops at once: another codec means
/// another forwarder, which continues the slot's numbering).
async fn quiet_after(sfu: &Sfu, log: &Log, slot: sfu::SlotId, track: StreamId) -> usize {
    let old_pt = log_of(log).last().map(|s| s.pt);
    sfu.subscribe(PeerId(100), slot, track, 2)
        .await
        .expect("switch");
    wait_until("a packet of the new codec", || {
        log_of(log).iter().rev().any(|s| Some(s.pt) != old_pt)
    })
    .await;
    let seen = log_of(log);
    let first_new = seen
        .iter()
        .rposition(|s| Some(s.pt) == old_pt)
        .map_or(0, |i| i + 1);
    assert!(
        seen[first_new..].iter().all(|s| Some(s.pt) != old_pt),
        "no packet of the old feed after the new one started"
    );
    first_new
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_without_h264_refuses_an_h264_hall_and_goes_dark() {
    let config = SfuConfig {
        video_slots: 1,
        audio_slots: 1,
        ..SfuConfig::default()
    };
    let (sfu, mut events) = Sfu::start(config).expect("valid config");
    let (_vp8, _vp8_publishing, vp8) = vp8_camera(&sfu, &mut events, PeerId(1)).await;
    let (_h264, _h264_publishing, h264) = h264_camera(&sfu, &mut events, PeerId(2)).await;
    let log = Log::default();
    let viewer = TestClient::subscriber_without_h264(1, 0, Some(recorder(&log)))
        .await
        .expect("viewer");
    let slot = connect(&sfu, PeerId(100), &viewer).await.slots[0].clone();
    sfu.subscribe(PeerId(100), slot.id, vp8, 2)
        .await
        .expect("VP8");
    packets("VP8 flowing", &log, 0, 30).await;

    let refused = sfu.subscribe(PeerId(100), slot.id, h264, 2).await;
    assert!(
        matches!(refused, Err(SfuError::Incompatible(_, _, t, _)) if t == h264),
        "{refused:?}"
    );
    // The slot went dark in the turn that refused: the SFU's count of packets handed
    // to subscribers (this viewer is the only one) stops there, however slowly the
    // viewer reads what was already sent.
    let stats = || async { sfu.port_stats().await.expect("stats").router.forwarded };
    let dark = stats().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(stats().await, dark, "the slot stays dark");
    let seen = log_of(&log);
    assert!(
        seen.len() as u64 <= dark,
        "nothing beyond what was forwarded"
    );
    assert!(seen.iter().all(|s| s.pt == SLOT_VP8_PT));
}
