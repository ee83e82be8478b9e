//! One meeting across two media workers, in memory: a publisher carried by worker 0
//! reaches viewers carried by worker 1 (each packet handed to worker 1 once, not once
//! per viewer there), their keyframe requests and slot changes cross back, and a hall
//! leaving on one worker is cleaned up on the other.

use super::client::{Hall, Received};
use super::connect::addr;
use super::net::Net;
use crate::config::SfuConfig;
use crate::driver::command::{Command, PortStats};
use crate::event::{MediaKind, PeerAnswer, PeerId, SfuEvent, SlotChange};
use crate::{SfuError, StreamId};
use std::time::Duration;

const PUBLISHER: PeerId = PeerId(1);
const NEAR: PeerId = PeerId(2);
const FAR_A: PeerId = PeerId(3);
const FAR_B: PeerId = PeerId(4);
const SECOND: PeerId = PeerId(5);

/// The running number a test payload ends with.
pub(super) fn number(r: &Received) -> u32 {
    let tail = r.payload.len().saturating_sub(4);
    let bytes: [u8; 4] = r.payload[tail..].try_into().expect("4 bytes");
    u32::from_be_bytes(bytes)
}

pub(super) fn stats(net: &mut Net, w: usize) -> PortStats {
    net.ask_on(w, |reply| Command::Stats { reply })
}

/// Shows the publisher's tracks (`tracks`, by kind) in every slot of `viewer`
/// (carried by worker `w`); the answers of the change batch.
pub(super) fn show(
    net: &mut Net,
    w: usize,
    viewer: (PeerId, &PeerAnswer),
    tracks: &[(MediaKind, StreamId)],
) -> Vec<Result<(), SfuError>> {
    let (peer, answer) = viewer;
    let changes = answer
        .slots
        .iter()
        .map(|slot| SlotChange::Show {
            peer,
            slot: slot.id,
            track: tracks.iter().find(|t| t.0 == slot.kind).expect("a kind").1,
            max_layer: 2,
        })
        .collect();
    net.ask_on(w, |reply| Command::Apply { changes, reply })
}

/// `peer` sends `count` frames numbered from `from`, the first a keyframe.
pub(super) fn send(net: &mut Net, peer: PeerId, from: u32, count: u32) {
    for i in 0..count {
        let now = net.now;
        net.hall(peer).send_media(now, from + i, i == 0);
        net.advance(Duration::from_millis(20));
    }
}

/// The numbers a viewer's slot `ssrc` received, checking its sequence is gap-free.
fn numbers(net: &mut Net, viewer: PeerId, ssrc: u32) -> Vec<u32> {
    let run = net.hall(viewer).received_on(ssrc);
    for pair in run.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1), "gap-free");
    }
    run.into_iter().map(number).collect()
}

/// A publisher and a near viewer on worker 0, two far viewers on worker 1, connected,
/// the publisher's tracks open: (net, tracks, answers of near, far A, far B).
fn meeting() -> (Net, Vec<(MediaKind, StreamId)>, [PeerAnswer; 3]) {
    let mut net = Net::workers(SfuConfig::default(), 2);
    let now = net.now;
    net.join_on(0, PUBLISHER, Hall::new(now, addr(1), true, (0, 0)));
    let near = net.join_on(0, NEAR, Hall::new(now, addr(2), false, (1, 1)));
    let far_a = net.join_on(1, FAR_A, Hall::new(now, addr(3), false, (1, 1)));
    let far_b = net.join_on(1, FAR_B, Hall::new(now, addr(4), false, (1, 1)));
    net.connect_all();
    let (tracks, _) = net.publish(PUBLISHER);
    (net, tracks, [near, far_a, far_b])
}

#[test]
fn a_publisher_reaches_viewers_on_another_worker_once_per_worker() {
    let (mut net, tracks, [near, far_a, far_b]) = meeting();
    for (w, peer, answer) in [(0, NEAR, &near), (1, FAR_A, &far_a), (1, FAR_B, &far_b)] {
        let results = show(&mut net, w, (peer, answer), &tracks);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    let asked = net.hall(PUBLISHER).keyframe_requests.len();
    assert!(
        asked > 0,
        "the subscriptions ask the publisher for a keyframe"
    );
    assert_eq!(
        stats(&mut net, 1).mirrors,
        2,
        "worker 1 mirrors camera and mic"
    );
    let before = stats(&mut net, 0).router.relayed;
    send(&mut net, PUBLISHER, 100, 60);
    for (viewer, answer) in [(NEAR, &near), (FAR_A, &far_a), (FAR_B, &far_b)] {
        for slot in &answer.slots {
            let got = numbers(&mut net, viewer, slot.ssrc);
            assert!(got.len() >= 55, "{viewer:?} {:?}: {}", slot.kind, got.len());
            let want: Vec<u32> = (got[0]..got[0] + got.len() as u32).collect();
            assert_eq!(
                got, want,
                "{viewer:?} {:?}: every packet, in order",
                slot.kind
            );
        }
    }
    let (home, far) = (stats(&mut net, 0), stats(&mut net, 1));
    // 60 frames of camera and microphone: 120 packets, each handed to worker 1 once
    // although two viewers there show it.
    assert_eq!(home.router.relayed - before, 120, "{home:?}");
    assert!(far.router.forwarded >= 2 * 110, "{far:?}");
    assert_eq!(home.streams, 2);
}

#[test]
fn a_keyframe_request_on_another_worker_reaches_the_publisher_throttled() {
    let (mut net, tracks, [_, far_a, far_b]) = meeting();
    let throttle = SfuConfig::default().keyframe_throttle;
    let before = net.hall(PUBLISHER).keyframe_requests.len();
    assert!(show(&mut net, 1, (FAR_A, &far_a), &tracks)
        .iter()
        .all(Result::is_ok));
    net.advance(Duration::from_millis(5));
    let plis = net.hall(PUBLISHER).keyframe_requests.len();
    assert_eq!(
        plis,
        before + 1,
        "worker 1's first subscription asks at once"
    );
    // A second viewer there within the interval, and no keyframe coming: the slots
    // keep asking, but the publisher hears one PLI per throttle interval, not one per
    // viewer.
    assert!(show(&mut net, 1, (FAR_B, &far_b), &tracks)
        .iter()
        .all(Result::is_ok));
    net.advance(throttle * 3);
    let all = net.hall(PUBLISHER).keyframe_requests[before..].to_vec();
    assert!((3..=4).contains(&all.len()), "{all:?}");
    for pair in all.windows(2) {
        assert!(
            pair[1] - pair[0] >= throttle,
            "throttled: {:?}",
            pair[1] - pair[0]
        );
    }
    // The keyframe comes: both far viewers see it and the requests stop.
    send(&mut net, PUBLISHER, 100, 10);
    let asked = net.hall(PUBLISHER).keyframe_requests.len();
    net.advance(throttle * 3);
    assert_eq!(
        net.hall(PUBLISHER).keyframe_requests.len(),
        asked,
        "answered"
    );
    for (peer, answer) in [(FAR_A, &far_a), (FAR_B, &far_b)] {
        let video = answer.slots.iter().find(|s| s.kind == MediaKind::Video);
        let got = numbers(&mut net, peer, video.expect("a video slot").ssrc);
        assert_eq!(got.first(), Some(&100), "{peer:?} starts on the keyframe");
    }
}

#[test]
fn a_slot_on_another_worker_switches_publisher_and_keeps_its_numbering() {
    let (mut net, tracks, [_, far_a, _]) = meeting();
    let now = net.now;
    net.join_on(1, SECOND, Hall::new(now, addr(5), true, (0, 0)));
    net.connect_all();
    let second: Vec<(MediaKind, StreamId)> = {
        let mut n = 0;
        loop {
            let mine: Vec<_> = net
                .events
                .iter()
                .filter_map(|e| match e {
                    SfuEvent::TrackPublished {
                        peer, kind, track, ..
                    } if *peer == SECOND => Some((*kind, *track)),
                    _ => None,
                })
                .collect();
            if mine.len() == 2 {
                break mine;
            }
            assert!(n < 50, "the second publisher's tracks open");
            let now = net.now;
            net.hall(SECOND).send_media(now, n, false);
            n += 1;
            net.advance(Duration::from_millis(20));
        }
    };
    assert!(show(&mut net, 1, (FAR_A, &far_a), &tracks)
        .iter()
        .all(Result::is_ok));
    send(&mut net, PUBLISHER, 100, 30);
    // The second publisher (worker 1) takes the slot of the far viewer (worker 1) on
    // its keyframe: the change's keyframe request stays on worker 1.
    assert!(show(&mut net, 1, (FAR_A, &far_a), &second)
        .iter()
        .all(Result::is_ok));
    for i in 0..30 {
        let now = net.now;
        net.hall(SECOND).send_media(now, 5000 + i, i == 0);
        net.hall(PUBLISHER).send_media(now, 130 + i, false);
        net.advance(Duration::from_millis(20));
    }
    let video = far_a.slots.iter().find(|s| s.kind == MediaKind::Video);
    let got = numbers(&mut net, FAR_A, video.expect("a video slot").ssrc);
    let switch = got
        .iter()
        .position(|&n| n >= 5000)
        .expect("the second shows");
    assert!(got[..switch].iter().all(|&n| (100..160).contains(&n)));
    assert!(
        got[switch..].iter().all(|&n| n >= 5000),
        "no packet of the first after"
    );
    // Nobody on worker 1 shows the first publisher any more: worker 0 stops relaying.
    let far = stats(&mut net, 1);
    assert_eq!(far.mirrors, 0, "{far:?}");
    let before = stats(&mut net, 0).router.relayed;
    send(&mut net, PUBLISHER, 200, 10);
    assert_eq!(stats(&mut net, 0).router.relayed, before, "nothing relayed");
}

#[test]
fn a_hall_leaving_one_worker_is_cleaned_up_on_the_other() {
    let (mut net, tracks, [_, far_a, far_b]) = meeting();
    for (peer, answer) in [(FAR_A, &far_a), (FAR_B, &far_b)] {
        assert!(show(&mut net, 1, (peer, answer), &tracks)
            .iter()
            .all(Result::is_ok));
    }
    send(&mut net, PUBLISHER, 100, 10);
    // One far viewer leaves: the other still receives.
    assert_eq!(
        net.ask_on(1, |reply| Command::ClosePeer { peer: FAR_A, reply }),
        Ok(())
    );
    send(&mut net, PUBLISHER, 110, 10);
    assert_eq!(stats(&mut net, 1).mirrors, 2, "FAR_B still shows both");
    // The publisher leaves worker 0: worker 1's slots go dark, its mirrors go.
    assert_eq!(
        net.ask_on(0, |reply| Command::ClosePeer {
            peer: PUBLISHER,
            reply
        }),
        Ok(())
    );
    net.advance(Duration::from_millis(20));
    let unpublished = net
        .events
        .iter()
        .filter(|e| matches!(e, SfuEvent::TrackUnpublished { peer, .. } if *peer == PUBLISHER))
        .count();
    assert_eq!(unpublished, 2, "announced once per track, by its home");
    let far = stats(&mut net, 1);
    assert_eq!((far.mirrors, far.streams), (0, 0), "{far:?}");
    let track = tracks[0].1;
    let slot = far_b.slots[0].id;
    let again = SlotChange::Show {
        peer: FAR_B,
        slot,
        track,
        max_layer: 2,
    };
    let results = net.ask_on(1, |reply| Command::Apply {
        changes: vec![again],
        reply,
    });
    assert_eq!(results, [Err(SfuError::UnknownTrack(track))]);
}
