//! Two nodes in memory, as streams and links come and go: a stream unpublished on its
//! origin darkens the watcher's slots (on every worker), a node that stops watching is
//! sent nothing more, a node unlinked (it died, or left) darkens what it sent.

use super::{cascade, check_slot, Cascade, PUBLISHER};
use crate::driver::command::Command;
use crate::driver::tests::net::{Net, SFU, SFU_B};
use crate::driver::tests::workers::{number, send, show, stats};
use crate::event::{MediaKind, SfuEvent};
use crate::{SfuError, StreamId};
use std::time::Duration;

/// The camera's id among `tracks`.
fn camera(tracks: &[(MediaKind, StreamId)]) -> StreamId {
    tracks
        .iter()
        .find(|t| t.0 == MediaKind::Video)
        .expect("a camera")
        .1
}

/// Node A stops exporting stream `origin` to B, and B drops its watch `local` of it.
fn stop_watching(net: &mut Net, origin: StreamId, local: StreamId) {
    let stopped = net.ask_on(0, |reply| Command::Export {
        stream: origin,
        to: SFU_B,
        layers: 0,
        reply,
    });
    assert_eq!(stopped, Ok(()));
    let dropped = net.ask_on(1, |reply| Command::UnwatchRemote {
        stream: local,
        reply,
    });
    assert_eq!(dropped, Ok(()));
}

#[test]
fn a_stream_unpublished_on_its_origin_darkens_the_other_nodes_slots() {
    let Cascade {
        mut net,
        viewers,
        tracks,
        watched,
    } = cascade(2, 2, (1, 1));
    send(&mut net, PUBLISHER, 100, 10);
    let closed = net.ask_on(0, |reply| Command::ClosePeer {
        peer: PUBLISHER,
        reply,
    });
    assert_eq!(closed, Ok(()));
    net.advance(Duration::from_millis(20));
    for d in [1, 2] {
        let b = stats(&mut net, d);
        assert_eq!((b.mirrors, b.streams), (0, 0), "B worker {d}: {b:?}");
    }
    let unpublished: Vec<StreamId> = net
        .events
        .iter()
        .filter_map(|e| match e {
            SfuEvent::TrackUnpublished { track, .. } => Some(*track),
            _ => None,
        })
        .collect();
    let mut origin: Vec<StreamId> = tracks.iter().map(|t| t.1).collect();
    origin.sort_unstable();
    let mut unpublished = unpublished;
    unpublished.sort_unstable();
    assert_eq!(
        unpublished, origin,
        "announced once per track, by its origin"
    );
    // Nothing more reaches B's viewers, and B's ids for the streams are gone.
    let (peer, d, answer) = &viewers[1];
    let received = net.hall(*peer).received.len();
    send(&mut net, PUBLISHER, 200, 5);
    assert_eq!(net.hall(*peer).received.len(), received);
    let again = show(&mut net, *d, (*peer, answer), &watched);
    for (slot, result) in answer.slots.iter().zip(again) {
        let track = watched.iter().find(|w| w.0 == slot.kind).expect("a kind").1;
        assert_eq!(result, Err(SfuError::UnknownTrack(track)));
    }
}

#[test]
fn a_node_that_stops_watching_is_no_longer_sent_anything() {
    let Cascade {
        mut net,
        viewers,
        tracks,
        watched,
    } = cascade(1, 1, (1, 1));
    send(&mut net, PUBLISHER, 100, 10);
    // The origin stops exporting the camera, the watcher drops it.
    let (origin, local) = (camera(&tracks), camera(&watched));
    stop_watching(&mut net, origin, local);
    let before = stats(&mut net, 0).nodes.packets_out;
    send(&mut net, PUBLISHER, 200, 10);
    let (a, b) = (stats(&mut net, 0), stats(&mut net, 1));
    assert_eq!(
        a.nodes.packets_out - before,
        10,
        "the microphone only: {a:?}"
    );
    assert_eq!((b.mirrors, b.nodes.dropped), (1, 0), "{b:?}");
    let (peer, _, answer) = &viewers[0];
    let video = answer.slots.iter().find(|s| s.kind == MediaKind::Video);
    let got = check_slot(&mut net, *peer, video.expect("a video slot").ssrc, 10);
    assert_eq!(got.last(), Some(&109), "the camera's slot went dark");
    let again = net.ask_on(1, |reply| Command::UnwatchRemote {
        stream: local,
        reply,
    });
    assert_eq!(again, Err(SfuError::UnknownTrack(local)));
}

#[test]
fn a_node_unlinked_from_another_darkens_what_it_sent_and_is_sent_nothing() {
    let Cascade {
        mut net,
        viewers,
        watched,
        ..
    } = cascade(2, 2, (1, 1));
    send(&mut net, PUBLISHER, 100, 10);
    // B learns (from the cluster) that A is gone; A that B is.
    let gone = net.ask_on(1, |reply| Command::UnlinkNode { addr: SFU, reply });
    assert_eq!(gone, Ok(()));
    let gone = net.ask_on(0, |reply| Command::UnlinkNode { addr: SFU_B, reply });
    assert_eq!(gone, Ok(()));
    for d in [1, 2] {
        let b = stats(&mut net, d);
        assert_eq!(b.mirrors, 0, "B worker {d}: {b:?}");
    }
    let before = stats(&mut net, 0).nodes.packets_out;
    let received: Vec<usize> = viewers
        .iter()
        .map(|(p, _, _)| net.hall(*p).received.len())
        .collect();
    send(&mut net, PUBLISHER, 200, 10);
    assert_eq!(stats(&mut net, 0).nodes.packets_out, before, "nothing sent");
    for ((peer, d, answer), n) in viewers.iter().zip(received) {
        assert_eq!(net.hall(*peer).received.len(), n, "{peer:?}: dark");
        let again = show(&mut net, *d, (*peer, answer), &watched);
        assert!(again
            .iter()
            .all(|r| matches!(r, Err(SfuError::UnknownTrack(_)))));
    }
    let twice = net.ask_on(1, |reply| Command::UnlinkNode { addr: SFU, reply });
    assert_eq!(twice, Err(SfuError::UnknownNode(SFU)));
}

/// A camera watched, unwatched while its publisher sent on for ~40,000 packets, then
/// watched again (the floor comes back to a hall after some minutes): the watcher's
/// viewer gets the camera again at once. Its sequence numbers then lie "behind" those
/// the relay sent before; on the same relay SSRC and key the origin would reuse SRTP
/// indices (a GCM nonce used twice) and the watcher drop the packets as replays.
#[test]
fn a_camera_watched_again_after_a_long_pause_reaches_the_watcher_at_once() {
    let Cascade {
        mut net,
        viewers,
        tracks,
        watched,
    } = cascade(1, 1, (1, 1));
    send(&mut net, PUBLISHER, 100, 10);
    let origin = camera(&tracks);
    stop_watching(&mut net, origin, camera(&watched));
    // The publisher goes on (nobody watches): 2 × 20,001 camera packets.
    for n in 0..2 {
        net.hall(PUBLISHER).skip_camera(20_000);
        send(&mut net, PUBLISHER, 1_000 + n, 1);
    }
    let again = super::relay(
        &mut net,
        (0, SFU),
        (1, SFU_B),
        (MediaKind::Video, origin),
        0b111,
    );
    let (peer, d, answer) = &viewers[0];
    let video = answer
        .slots
        .iter()
        .find(|s| s.kind == MediaKind::Video)
        .expect("a video slot");
    let before = net.hall(*peer).received_on(video.ssrc).len();
    let changes = vec![crate::event::SlotChange::Show {
        peer: *peer,
        slot: video.id,
        track: again,
        max_layer: 2,
    }];
    let shown = net.ask_on(*d, |reply| Command::Apply { changes, reply });
    assert_eq!(shown, vec![Ok(())]);
    send(&mut net, PUBLISHER, 2_000, 20);
    let got: Vec<u32> = net
        .hall(*peer)
        .received_on(video.ssrc)
        .into_iter()
        .skip(before)
        .map(number)
        .collect();
    let b = stats(&mut net, 1);
    assert!(
        got.len() >= 18 && got.iter().all(|n| (2_000..2_020).contains(n)),
        "the camera again on B: {got:?}; B's relay: {:?}",
        b.nodes
    );
}
