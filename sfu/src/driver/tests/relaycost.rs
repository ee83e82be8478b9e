//! What the relay between nodes costs per packet, counted in instructions rather than
//! timed (as `cost.rs` counts the forwarding path): a publisher on node A, its camera
//! and microphone exported to node B, frames sent one by one, in memory. Three turns
//! are counted apart:
//!
//! - [`origin_alone`]: A receives the publisher's datagrams before B watches (what A
//!   does anyway: SRTP decrypt, `rtc`'s read pipeline, the route);
//! - [`origin_turn`]: the same once exported (the difference is the relay's send side:
//!   SRTP encrypt with the relay's context, the history);
//! - [`watcher_turn`]: B receives the relay datagrams (SRTP decrypt, gaps, the route,
//!   and the fan-out to `SFU_COST_VIEWERS` viewers, default 0: the relay's receive side
//!   alone).
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*relaycost::origin_alone*' --toggle-collect='*relaycost::origin_turn*' \
//!     --toggle-collect='*relaycost::watcher_turn*' \
//!     <the sfu lib test binary> --ignored --exact \
//!     driver::tests::relaycost::relay_path_under_callgrind
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | grep relaycost
//! ```
//!
//! and divide each by the packets the test prints. Ignored by default: a measurement.

use super::client::Hall;
use super::connect::addr;
use super::net::{Net, SFU, SFU_B};
use super::nodes::{link, relay};
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::driver::machine::{Driver, Transmit};
use crate::event::{PeerId, SlotChange};
use bytes::BytesMut;
use rtc::sansio::Protocol;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PUBLISHER: PeerId = PeerId(1);
/// Frames (a camera and a microphone packet each) measured per phase.
const FRAMES: u32 = 200;

/// One driver's side of some datagrams: everything until its datagrams are out.
fn turn(
    d: &mut Driver,
    now: Instant,
    from: SocketAddr,
    input: &mut Vec<BytesMut>,
) -> Vec<Transmit> {
    for datagram in input.drain(..) {
        d.handle_datagram(now, from, datagram);
    }
    std::iter::from_fn(|| d.poll_transmit()).collect()
}

#[inline(never)]
fn origin_alone(a: &mut Driver, now: Instant, input: &mut Vec<BytesMut>) -> Vec<Transmit> {
    turn(a, now, addr(1), input)
}

#[inline(never)]
fn origin_turn(a: &mut Driver, now: Instant, input: &mut Vec<BytesMut>) -> Vec<Transmit> {
    turn(a, now, addr(1), input)
}

#[inline(never)]
fn watcher_turn(b: &mut Driver, now: Instant, input: &mut Vec<BytesMut>) -> Vec<Transmit> {
    turn(b, now, SFU, input)
}

/// The publisher sends frame `n` (a keyframe if `keyframe`); A's turn (`exported`:
/// counted as `origin_turn`); what A sends to B goes through B's turn.
fn frame(net: &mut Net, n: u32, (keyframe, exported): (bool, bool)) {
    let now = net.now;
    let publisher = net.hall(PUBLISHER);
    publisher.send_media(now, n, keyframe);
    let mut input: Vec<BytesMut> =
        std::iter::from_fn(|| publisher.pc.poll_write().map(|d| d.message)).collect();
    let out = match exported {
        true => origin_turn(&mut net.sfu, now, &mut input),
        false => origin_alone(&mut net.sfu, now, &mut input),
    };
    let mut relayed: Vec<BytesMut> = Vec::new();
    let mut rest = Vec::new();
    for t in out {
        match t.to == SFU_B {
            true => relayed.push(t.contents),
            false => rest.push(t),
        }
    }
    assert!(rest.is_empty(), "A has no viewers");
    if !relayed.is_empty() {
        for t in watcher_turn(&mut net.others[0], now, &mut relayed) {
            net.deliver(SFU_B, t);
        }
    }
    net.advance(Duration::from_millis(20));
}

#[test]
#[ignore = "a measurement to run under callgrind (see the module doc), not a check"]
fn relay_path_under_callgrind() {
    let viewers: u8 = std::env::var("SFU_COST_VIEWERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(250);
    let mut net = Net::nodes(SfuConfig::default(), &[1, 1]);
    net.join_on(0, PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    let answers: Vec<_> = (0..viewers)
        .map(|i| {
            let peer = PeerId(2 + u64::from(i));
            let hall = Hall::new(net.now, addr(2 + i), false, (1, 1));
            (peer, net.join_on(1, peer, hall))
        })
        .collect();
    net.connect_all();
    let (tracks, _) = net.publish(PUBLISHER);
    for n in 0..FRAMES {
        frame(&mut net, n, (n == 0, false));
    }
    link(&mut net, (0, SFU), (1, SFU_B), 1);
    let watched: Vec<_> = tracks
        .iter()
        .map(|&track| (track.0, relay(&mut net, (0, SFU), (1, SFU_B), track, 1)))
        .collect();
    let changes = answers
        .iter()
        .flat_map(|(peer, answer)| {
            answer.slots.iter().map(|slot| SlotChange::Show {
                peer: *peer,
                slot: slot.id,
                track: watched.iter().find(|w| w.0 == slot.kind).expect("kind").1,
                max_layer: 2,
            })
        })
        .collect();
    let results = net.ask_on(1, |reply| Command::Apply { changes, reply });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The first frame after the watch is a keyframe: B's slots start on it.
    for n in 0..FRAMES {
        frame(&mut net, FRAMES + n, (n == 0, true));
    }
    let a = net.ask_on(0, |reply| Command::Stats { reply });
    let b = net.ask_on(1, |reply| Command::Stats { reply });
    assert_eq!(b.nodes.packets_in, a.nodes.packets_out, "{b:?}");
    for (peer, answer) in &answers {
        for slot in &answer.slots {
            let got = net.hall(*peer).received_on(slot.ssrc).len();
            assert!(
                got >= FRAMES as usize - 2,
                "{peer:?} {:?}: {got}",
                slot.kind
            );
        }
    }
    println!(
        "relay cost: {} publisher packets per phase, {} relayed, {} forwarded on B to \
         {viewers} viewers",
        2 * FRAMES,
        a.nodes.packets_out,
        b.router.forwarded
    );
}
