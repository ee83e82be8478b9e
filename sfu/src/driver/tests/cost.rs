//! What the forwarding path costs, counted in instructions rather than timed: one
//! publisher, N viewers each showing its camera and microphone, and frames sent one by
//! one, in memory. Only the SFU's work on a publisher's datagram — decrypt, route,
//! forward to every slot, encrypt for every viewer — runs inside [`sfu_turn`], so
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*cost::sfu_turn*' \
//!     <the sfu lib test binary, built with --release> --ignored --exact \
//!     driver::tests::cost::forwarding_path_under_callgrind
//! ```
//!
//! counts the driver alone, the same on a loaded machine as on an idle one (BENCHMARKS.md
//! divides by the packets forwarded, which the test prints). Viewers: `SFU_COST_VIEWERS`
//! (default 50, at most 250). Ignored by default: it is a measurement; it checks only
//! that every viewer received every packet.
//!
//! `SFU_COST_WORKERS=2` spreads the viewers over two workers (the publisher and even
//! viewers on worker 0): worker 0's share runs in [`sfu_turn`], worker 1's (the relayed
//! packets to its viewers) in [`relay_turn`]; toggle both
//! (`--toggle-collect='*cost::sfu_turn*' --toggle-collect='*cost::relay_turn*'`) and
//! read each one's inclusive count (`callgrind_annotate --inclusive=yes`): the larger
//! is what one core must do per frame when each worker has its own.

use super::client::Hall;
use super::connect::addr;
use super::net::{Net, SFU};
use crate::config::SfuConfig;
use crate::driver::command::Command;
use crate::driver::machine::{Driver, Transmit};
use crate::event::{MediaKind, PeerId, SlotChange};
use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PUBLISHER: PeerId = PeerId(1);
/// Camera and microphone packets measured, each forwarded to every viewer.
const FRAMES: u32 = 200;

/// The SFU's side of one publisher datagram at a time: everything it does until every
/// viewer's datagram is out. Never inlined, so callgrind can count it alone.
#[inline(never)]
fn sfu_turn(
    sfu: &mut Driver,
    now: Instant,
    from: SocketAddr,
    datagrams: &mut Vec<BytesMut>,
    out: &mut Vec<Transmit>,
) {
    for d in datagrams.drain(..) {
        sfu.handle_datagram(now, from, d);
    }
    while let Some(t) = sfu.poll_transmit() {
        out.push(t);
    }
}

/// Worker 1's side: the relayed packets into its viewers' connections, out.
#[inline(never)]
fn relay_turn(
    worker: &mut Driver,
    now: Instant,
    relays: Vec<crate::driver::relay::Relay>,
    out: &mut Vec<Transmit>,
) {
    worker.handle_relays(now, relays);
    while let Some(t) = worker.poll_transmit() {
        out.push(t);
    }
}

#[test]
#[ignore = "a measurement to run under callgrind (see the module doc), not a check"]
fn forwarding_path_under_callgrind() {
    let viewers: u8 = std::env::var("SFU_COST_VIEWERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .min(250);
    let workers: usize = std::env::var("SFU_COST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .clamp(1, 2);
    let mut net = Net::workers(SfuConfig::default(), workers);
    net.join(PUBLISHER, Hall::new(net.now, addr(1), true, (0, 0)));
    let answers: Vec<_> = (0..viewers)
        .map(|i| {
            let peer = PeerId(2 + u64::from(i));
            let hall = Hall::new(net.now, addr(2 + i), false, (1, 1));
            (
                peer,
                usize::from(i) % workers,
                net.join_on(usize::from(i) % workers, peer, hall),
            )
        })
        .collect();
    net.connect_all();
    let (tracks, mut n) = net.publish(PUBLISHER);
    let track = |kind: MediaKind| tracks.iter().find(|t| t.0 == kind).map(|t| t.1);
    for w in 0..workers {
        let changes = answers
            .iter()
            .filter(|a| a.1 == w)
            .flat_map(|(peer, _, answer)| {
                answer.slots.iter().map(|slot| SlotChange::Show {
                    peer: *peer,
                    slot: slot.id,
                    track: track(slot.kind).expect("a track of the slot's kind"),
                    max_layer: 2,
                })
            })
            .collect();
        let results = net.ask_on(w, |reply| Command::Apply { changes, reply });
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    // Warm up: a keyframe starts every video slot.
    for i in 0..10 {
        let now = net.now;
        net.hall(PUBLISHER).send_media(now, n, i == 0);
        n += 1;
        net.advance(Duration::from_millis(20));
    }
    let forwarded = |net: &mut Net| -> u64 {
        let stats = (0..workers).map(|w| net.ask_on(w, |reply| Command::Stats { reply }));
        stats.map(|s| s.router.forwarded).sum()
    };
    let before = forwarded(&mut net);
    let (mut datagrams, mut out) = (Vec::new(), Vec::new());
    let from = addr(1);
    for _ in 0..FRAMES {
        let now = net.now;
        let publisher = net.hall(PUBLISHER);
        publisher.send_media(now, n, false);
        n += 1;
        while let Some(d) = publisher.pc.poll_write() {
            datagrams.push(d.message);
        }
        sfu_turn(&mut net.sfu, now, from, &mut datagrams, &mut out);
        while let Some((to, relays)) = net.sfu.poll_relay() {
            relay_turn(net.worker(to), now, relays, &mut out);
        }
        for t in out.drain(..) {
            let Some((_, hall)) = net.halls.iter_mut().find(|(_, h)| h.addr == t.to) else {
                continue;
            };
            let transport = TransportContext {
                local_addr: hall.addr,
                peer_addr: SFU,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            };
            let message = TaggedBytesMut {
                now,
                transport,
                message: t.contents,
            };
            let _ = hall.pc.handle_read(message);
        }
        net.advance(Duration::from_millis(20));
    }
    let forwarded = forwarded(&mut net) - before;
    for (peer, _, answer) in &answers {
        for slot in &answer.slots {
            let got = net.hall(*peer).received_on(slot.ssrc).len();
            assert!(got >= FRAMES as usize, "{peer:?} {:?}: {got}", slot.kind);
        }
    }
    println!(
        "sfu cost: {viewers} viewers on {workers} worker(s), {forwarded} packets forwarded \
         in the measured turns"
    );
}
