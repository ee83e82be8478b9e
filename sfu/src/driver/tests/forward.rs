//! Forwarding between two halls, in memory: a viewer's slots show a publisher's camera
//! and microphone from a keyframe on, on the slots' SSRCs, gap-free and in order; the
//! caller's keyframe requests reach the publisher throttled; a packet lost on the way to
//! a viewer is sent again, once, when the viewer asks (NACK), and counted.

use super::client::{Hall, Received};
use super::connect::addr;
use super::net::Net;
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::event::{MediaKind, PeerId, SfuEvent, SlotChange};
use crate::StreamId;
use std::time::Duration;

const PUBLISHER: PeerId = PeerId(1);
const VIEWER: PeerId = PeerId(2);

/// The running number a test payload ends with.
fn number(r: &Received) -> u32 {
    let tail = r.payload.len().saturating_sub(4);
    let bytes: [u8; 4] = r.payload[tail..].try_into().expect("4 bytes");
    u32::from_be_bytes(bytes)
}

/// Checks one slot's packets: one payload type, consecutive sequence numbers, the
/// publisher's packets in their order.
fn check_run(what: &str, run: &[&Received]) {
    assert!(run.len() >= 40, "{what}: {} packets", run.len());
    for pair in run.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1), "{what}: gap-free");
        assert_eq!(number(pair[1]), number(pair[0]) + 1, "{what}: in order");
        assert_eq!(
            pair[1].payload_type, pair[0].payload_type,
            "{what}: one codec"
        );
    }
}

#[test]
fn a_viewer_sees_and_hears_a_publisher_through_its_slots() {
    let mut net = Net::new(SfuConfig::default());
    net.join(PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    let answer = net.join(VIEWER, Hall::new(net.now, addr(2), false, (1, 1)));
    net.connect_all();
    let mut n = 0;
    let tracks = |net: &Net| -> Vec<(MediaKind, StreamId)> {
        let published = net.events.iter().filter_map(|e| match e {
            SfuEvent::TrackPublished { kind, track, .. } => Some((*kind, *track)),
            _ => None,
        });
        published.collect()
    };
    while tracks(&net).len() < 2 {
        assert!(n < 50, "the publisher's tracks open");
        send(&mut net, &mut n, false);
    }
    let changes = answer
        .slots
        .iter()
        .map(|slot| {
            let (_, track) = tracks(&net)
                .into_iter()
                .find(|(kind, _)| *kind == slot.kind)
                .expect("a track of the slot's kind");
            SlotChange::Show {
                peer: VIEWER,
                slot: slot.id,
                track,
                max_layer: 2,
            }
        })
        .collect();
    let results = net.ask(|reply| Command::Apply { changes, reply });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let asked = net.hall(PUBLISHER).keyframe_requests.len();
    assert!(
        asked > 0,
        "the new subscription asks the publisher for a keyframe"
    );
    for i in 0..60 {
        send(&mut net, &mut n, i == 0);
    }
    let viewer = net.hall(VIEWER);
    for slot in &answer.slots {
        let run = viewer.received_on(slot.ssrc);
        check_run(&format!("{:?} slot", slot.kind), &run);
        if slot.kind == MediaKind::Video {
            assert_eq!(run[0].payload[1] & 0x01, 0, "video starts on a keyframe");
        }
    }
    let stray = viewer
        .received
        .iter()
        .filter(|r| !answer.slots.iter().any(|s| s.ssrc == r.ssrc));
    assert_eq!(stray.count(), 0, "only the slots' SSRCs reach the viewer");
    let stats = net.ask(|reply| Command::Stats { reply });
    assert!(stats.router.forwarded >= 80, "{stats:?}");
}

#[test]
fn the_callers_keyframe_requests_reach_the_publisher_once_per_throttle_interval() {
    let config = SfuConfig::default();
    let throttle = config.keyframe_throttle;
    let mut net = Net::new(config);
    net.join(PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    net.connect_all();
    let (tracks, _) = net.publish(PUBLISHER);
    let track = |kind| tracks.iter().find(|t| t.0 == kind).map(|t| t.1);
    let (video, audio) = (track(MediaKind::Video), track(MediaKind::Audio));
    let (video, audio) = (video.expect("video"), audio.expect("audio"));
    let request = |net: &mut Net, track| {
        net.ask(|reply| Command::RequestKeyframe {
            track,
            layer: 0,
            reply,
        })
    };
    let unknown = StreamId(999);
    assert_eq!(
        request(&mut net, unknown),
        Err(crate::SfuError::UnknownTrack(unknown))
    );
    let before = net.hall(PUBLISHER).keyframe_requests.len();
    let start = net.now;
    for _ in 0..10 {
        request(&mut net, video).expect("a known track");
        net.advance(throttle / 10);
    }
    net.advance(throttle * 2);
    let plis = net.hall(PUBLISHER).keyframe_requests[before..].to_vec();
    // The first at once, the nine others merged into one a throttle interval later.
    assert_eq!(plis.len(), 2, "{plis:?}");
    assert!(
        plis[0] - start < throttle / 10,
        "the first is not held back"
    );
    assert!(
        plis[1] - plis[0] >= throttle,
        "{:?} apart",
        plis[1] - plis[0]
    );
    // Audio has no keyframes: accepted, nothing sent.
    request(&mut net, audio).expect("a known track");
    net.advance(throttle * 2);
    assert_eq!(net.hall(PUBLISHER).keyframe_requests.len(), before + 2);
}

/// A publisher whose camera a viewer's one video slot shows (20 packets in, from a
/// keyframe): the network, the slot's SSRC and the running number of the next packet.
fn camera_shown() -> (Net, u32, u32) {
    let mut net = Net::new(SfuConfig::default());
    net.join(PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    let answer = net.join(VIEWER, Hall::new(net.now, addr(2), false, (1, 0)));
    net.connect_all();
    let (tracks, mut n) = net.publish(PUBLISHER);
    let video = tracks
        .iter()
        .find(|t| t.0 == MediaKind::Video)
        .expect("video");
    let slot = &answer.slots[0];
    let changes = vec![SlotChange::Show {
        peer: VIEWER,
        slot: slot.id,
        track: video.1,
        max_layer: 2,
    }];
    let results = net.ask(|reply| Command::Apply { changes, reply });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for i in 0..20 {
        send(&mut net, &mut n, i == 0);
    }
    let before = net.hall(VIEWER).received_on(slot.ssrc).len();
    assert!(before >= 19, "the viewer receives the camera: {before}");
    (net, slot.ssrc, n)
}

/// The publisher sends packet `n` (and the next number is taken); 20 ms pass.
fn send(net: &mut Net, n: &mut u32, keyframe: bool) {
    let now = net.now;
    net.hall(PUBLISHER).send_media(now, *n, keyframe);
    *n += 1;
    net.advance(Duration::from_millis(20));
}

/// The viewer's packets on `ssrc`, by running number: gap-free (each once) and in order.
fn check_repaired(net: &mut Net, ssrc: u32) {
    let mut run = net.hall(VIEWER).received.clone();
    run.retain(|r| r.ssrc == ssrc);
    run.sort_by_key(number);
    let run: Vec<&Received> = run.iter().collect();
    check_run("video slot", &run);
}

fn nacks(net: &mut Net) -> crate::driver::NackFigures {
    net.ask(|reply| Command::Stats { reply }).nacks
}

#[test]
fn a_packet_lost_on_the_way_to_a_viewer_is_sent_again_on_its_nack() {
    let (mut net, ssrc, mut n) = camera_shown();
    let before = net.hall(VIEWER).received_on(ssrc).len();
    net.lose_to = Some(addr(2));
    send(&mut net, &mut n, false);
    net.lose_to = None;
    let lost = net.hall(VIEWER).received_on(ssrc).len();
    assert_eq!(lost, before, "the packet did not arrive");
    assert_eq!(nacks(&mut net).received, 0, "nothing asked for yet");
    for _ in 0..40 {
        send(&mut net, &mut n, false);
    }
    // Gap-free once the retransmission is in (and in only once); the payloads in order.
    check_repaired(&mut net, ssrc);
    let figures = nacks(&mut net);
    assert_eq!(figures.received, 1, "one NACK from the viewer: {figures:?}");
    assert_eq!(figures.retransmitted, 1, "{figures:?}");
    assert_eq!(
        figures.sent, 0,
        "nothing lost on the way from the publisher"
    );
}

#[test]
fn a_packet_lost_on_the_way_from_a_publisher_is_asked_for_and_forwarded_late() {
    let (mut net, ssrc, mut n) = camera_shown();
    let before = net.hall(VIEWER).received_on(ssrc).len();
    net.lose_from = Some(addr(1));
    send(&mut net, &mut n, false);
    net.lose_from = None;
    assert_eq!(net.hall(VIEWER).received_on(ssrc).len(), before);
    for _ in 0..40 {
        send(&mut net, &mut n, false);
    }
    check_repaired(&mut net, ssrc);
    let figures = nacks(&mut net);
    assert_eq!(figures.sent, 1, "one NACK to the publisher: {figures:?}");
    assert_eq!(figures.received, 0, "none from the viewer: {figures:?}");
    assert_eq!(figures.retransmitted, 0, "{figures:?}");
}
