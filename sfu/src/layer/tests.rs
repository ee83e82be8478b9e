//! Tests of the layer selector: bandwidth, loss, role and source changes, dead layers.

use super::*;

const HALL: StreamId = StreamId(7);
const KBPS: u64 = 1000;
const RATES: [Option<u64>; NUM_LAYERS] = [Some(150 * KBPS), Some(500 * KBPS), Some(1500 * KBPS)];

fn feed(layer: u8) -> Feed {
    Feed {
        source: HALL,
        layer,
    }
}

/// A selector forwarding layer 2 of `HALL`.
fn started(t0: Instant) -> LayerSelector {
    let mut s = LayerSelector::new(t0, HALL, 2, LayerConfig::default());
    s.set_layer_bitrates(t0, RATES);
    assert_eq!(
        s.handle_packet(feed(2), true),
        PacketAction::SwitchAndForward
    );
    while s.poll_output().is_some() {}
    s
}

#[test]
fn bandwidth_caps_the_layer_but_never_below_the_lowest() {
    let t0 = Instant::now();
    let mut s = started(t0);
    s.set_bandwidth(t0, Some(600 * KBPS));
    assert_eq!(s.poll_output(), Some(LayerEvent::RequestKeyframe(feed(1))));
    assert_eq!(
        s.state(),
        LayerState::Switching {
            from: feed(2),
            to: feed(1),
            since: t0
        }
    );
    s.set_bandwidth(t0, Some(10 * KBPS));
    assert_eq!(
        s.target(),
        Some(0),
        "too little even for layer 0: still send it"
    );
    s.set_layer_bitrates(t0, [Some(150 * KBPS), None, None]);
    s.set_bandwidth(t0, None);
    assert_eq!(s.target(), Some(0), "only layer 0 arrives");
}

#[test]
fn loss_steps_down_at_once_and_up_only_after_the_hold() {
    let t0 = Instant::now();
    let mut s = started(t0);
    s.set_loss(t0, 0.15);
    assert_eq!(s.target(), Some(1));
    let hold = LayerConfig::default().step_up_hold;
    s.set_loss(t0 + Duration::from_secs(1), 0.05); // in between: hold resets
    s.set_loss(t0 + Duration::from_secs(2), 0.01);
    s.set_loss(t0 + Duration::from_secs(3), 0.01);
    assert_eq!(s.target(), Some(1));
    s.set_loss(t0 + Duration::from_secs(2) + hold, 0.0);
    assert_eq!(s.target(), Some(2));
    assert_eq!(
        s.state(),
        LayerState::Forwarding { feed: feed(2) },
        "never left layer 2"
    );
}

#[test]
fn role_change_and_source_change_retarget() {
    let t0 = Instant::now();
    let mut s = started(t0);
    s.set_max_layer(t0, 0);
    assert_eq!(s.poll_output(), Some(LayerEvent::RequestKeyframe(feed(0))));
    let other = StreamId(9);
    s.set_source(t0, other, RATES);
    let to = Feed {
        source: other,
        layer: 0,
    };
    assert_eq!(s.poll_output(), Some(LayerEvent::RequestKeyframe(to)));
    assert_eq!(
        s.state(),
        LayerState::Switching {
            from: feed(2),
            to,
            since: t0
        }
    );
}

#[test]
fn restart_waits_for_a_keyframe_again() {
    let t0 = Instant::now();
    let mut s = started(t0);
    s.restart(t0);
    assert_eq!(s.handle_packet(feed(2), false), PacketAction::Drop);
    assert_eq!(
        s.handle_packet(feed(2), true),
        PacketAction::SwitchAndForward
    );
}

#[test]
fn a_stopped_layer_is_left_for_the_best_arriving_one_and_taken_back_after_the_hold() {
    let t0 = Instant::now();
    let mut s = started(t0);
    let hold = LayerConfig::default().step_up_hold;
    // Layer 2 stops (the browser dropped it under CPU load).
    let t1 = t0 + Duration::from_secs(3);
    s.set_layer_bitrates(t1, [RATES[0], RATES[1], None]);
    assert_eq!(s.poll_output(), Some(LayerEvent::RequestKeyframe(feed(1))));
    let switching = LayerState::Switching {
        from: feed(2),
        to: feed(1),
        since: t1,
    };
    assert_eq!(s.state(), switching);
    assert_eq!(s.handle_packet(feed(1), false), PacketAction::Drop);
    assert_eq!(
        s.handle_packet(feed(1), true),
        PacketAction::SwitchAndForward
    );
    while s.poll_output().is_some() {}
    // Layer 2 comes back: held, so a flapping layer is not chased.
    let t2 = t1 + Duration::from_secs(1);
    s.set_layer_bitrates(t2, RATES);
    assert_eq!(s.target(), Some(1));
    assert_eq!(s.poll_output(), None);
    assert_eq!(s.poll_timeout(), Some(t2 + hold));
    s.handle_timeout(t2 + hold - Duration::from_millis(1));
    assert_eq!(s.poll_output(), None);
    s.handle_timeout(t2 + hold);
    assert_eq!(s.target(), Some(2));
    assert_eq!(s.poll_output(), Some(LayerEvent::RequestKeyframe(feed(2))));
    assert_eq!(
        s.poll_timeout(),
        Some(t2 + hold + LayerConfig::default().keyframe_retry)
    );
}

#[test]
fn a_layer_stopping_again_during_its_hold_is_not_chosen() {
    let t0 = Instant::now();
    let mut s = started(t0);
    let hold = LayerConfig::default().step_up_hold;
    s.set_layer_bitrates(t0, [RATES[0], RATES[1], None]);
    s.set_layer_bitrates(t0 + Duration::from_secs(1), RATES);
    s.set_layer_bitrates(t0 + Duration::from_secs(2), [RATES[0], RATES[1], None]);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + LayerConfig::default().keyframe_retry)
    );
    s.handle_timeout(t0 + Duration::from_secs(1) + hold);
    assert_eq!(s.target(), Some(1));
}

#[test]
fn layers_arriving_late_at_the_start_are_not_held_and_a_held_one_beats_none() {
    let t0 = Instant::now();
    let mut s = LayerSelector::new(t0, HALL, 2, LayerConfig::default());
    s.set_layer_bitrates(t0, [RATES[0], None, None]);
    assert_eq!(s.target(), Some(0));
    s.set_layer_bitrates(t0 + Duration::from_millis(300), RATES);
    assert_eq!(s.target(), Some(2), "first arrival: no hold");
    let t1 = t0 + Duration::from_secs(5);
    s.set_layer_bitrates(t1, [None; NUM_LAYERS]);
    assert_eq!(s.target(), None);
    s.set_layer_bitrates(t1 + Duration::from_secs(1), [None, RATES[1], None]);
    assert_eq!(s.target(), Some(1), "held, but the only one arriving");
}
