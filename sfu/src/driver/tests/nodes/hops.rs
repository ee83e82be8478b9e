//! Three nodes in memory: a stream relayed over two hops (A → B → C, a province node
//! feeding a pool of commune nodes), keyframe requests and repairs hop by hop.

use super::{check_slot, link, relay, PUBLISHER};
use crate::config::SfuConfig;
use crate::driver::tests::client::Hall;
use crate::driver::tests::connect::addr;
use crate::driver::tests::net::{Fault, Net, SFU, SFU_B, SFU_C};
use crate::driver::tests::workers::{send, show, stats};
use crate::event::{MediaKind, PeerId};
use std::time::Duration;

#[test]
fn a_stream_crosses_two_hops_with_keyframe_requests_and_repairs_hop_by_hop() {
    // A → B → C: B watches A's camera and exports it on to C (a province node
    // feeding a commune pool); C's viewer asks through B, and a packet lost between B
    // and C is repaired by B, not A.
    let mut net = Net::nodes(SfuConfig::default(), &[1, 1, 1]);
    let now = net.now;
    net.join_on(0, PUBLISHER, Hall::new(now, addr(1), true, (0, 0)));
    let viewer = PeerId(10);
    let answer = net.join_on(2, viewer, Hall::new(now, addr(10), false, (1, 0)));
    net.connect_all();
    let (tracks, _) = net.publish(PUBLISHER);
    let camera = *tracks
        .iter()
        .find(|t| t.0 == MediaKind::Video)
        .expect("a camera");
    let (a, b, c) = ((0, SFU), (1, SFU_B), (2, SFU_C));
    link(&mut net, a, b, 1);
    link(&mut net, b, c, 3);
    let on_b = relay(&mut net, a, b, camera, 0b111);
    let on_c = relay(&mut net, b, c, (MediaKind::Video, on_b), 0b111);
    let shown = show(&mut net, 2, (viewer, &answer), &[(MediaKind::Video, on_c)]);
    assert!(shown.iter().all(Result::is_ok), "{shown:?}");
    // The camera goes on without a keyframe: C's slot asks, through B, of A's
    // publisher.
    for n in 0..10 {
        let now = net.now;
        net.hall(PUBLISHER).send_media(now, n, false);
        net.advance(Duration::from_millis(20));
    }
    assert!(
        !net.hall(PUBLISHER).keyframe_requests.is_empty(),
        "C's request reached A's publisher through B"
    );
    let (sb, sc) = (stats(&mut net, 1), stats(&mut net, 2));
    assert!(
        sc.nodes.plis_sent >= 1 && sb.nodes.plis_received >= 1,
        "{sb:?} {sc:?}"
    );
    assert!(sb.nodes.plis_sent >= 1, "B passes it on: {sb:?}");
    send(&mut net, PUBLISHER, 100, 20);
    // The next relay datagram from B to C is lost.
    net.relay_fault = Some(Fault::Lose);
    net.relay_fault_to = Some(SFU_C);
    send(&mut net, PUBLISHER, 120, 40);
    assert_eq!(net.relay_fault, None, "a packet was lost");
    let got = check_slot(&mut net, viewer, answer.slots[0].ssrc, 55);
    assert!(got.contains(&120) && got.last() == Some(&159), "{got:?}");
    let (sa, sb, sc) = (stats(&mut net, 0), stats(&mut net, 1), stats(&mut net, 2));
    assert_eq!(sc.nodes.repaired, 1, "{sc:?}");
    assert_eq!(sb.nodes.retransmitted, 1, "B repairs C: {sb:?}");
    assert_eq!(sa.nodes.retransmitted, 0, "A is not asked: {sa:?}");
}
