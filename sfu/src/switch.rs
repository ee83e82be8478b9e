//! Keyframe-gated switching of a subscription between feeds (layers or publisher tracks).
//!
//! A receiver cannot decode a new stream from a delta frame, so a switch to another
//! layer or hall waits for a keyframe of the target. Meanwhile the current feed keeps
//! flowing (no freeze), target packets are dropped, and the keyframe request is repeated
//! if it goes unanswered. The switch happens atomically on the keyframe packet.

use crate::StreamId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One forwardable stream: a layer of a publisher's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Feed {
    /// The publisher track.
    pub source: StreamId,
    /// The simulcast layer of it (0 for non-simulcast tracks and audio).
    pub layer: u8,
}

/// What the subscription is doing; each state says which packets pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerState {
    /// Nothing forwarded yet (or since a pause): all packets are dropped until a keyframe of `to`.
    Starting {
        /// The feed to start with.
        to: Feed,
        /// When the wait began.
        since: Instant,
    },
    /// Forwarding `feed`; everything else is dropped.
    Forwarding {
        /// The feed being forwarded.
        feed: Feed,
    },
    /// Still forwarding `from` while waiting for a keyframe of `to`.
    Switching {
        /// The feed still being forwarded.
        from: Feed,
        /// The feed to switch to on its next keyframe.
        to: Feed,
        /// When the wait began.
        since: Instant,
    },
}

impl LayerState {
    /// The feed now forwarded, or the one awaited if nothing is forwarded.
    pub fn current(&self) -> Feed {
        match *self {
            Self::Forwarding { feed } | Self::Switching { from: feed, .. } => feed,
            Self::Starting { to, .. } => to,
        }
    }
}

/// Something the owner of the switch must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEvent {
    /// Ask the publisher (through its [`KeyframeThrottle`](crate::KeyframeThrottle)) for a keyframe.
    RequestKeyframe(Feed),
    /// The switch happened on the packet just forwarded.
    Switched {
        /// The previous feed, `None` on a start.
        from: Option<Feed>,
        /// The feed now forwarded.
        to: Feed,
    },
}

/// What to do with one incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketAction {
    /// Forward it in the current stream.
    Forward,
    /// Forward it as the first packet of a new feed (re-anchor sequence numbers and timestamps).
    SwitchAndForward,
    /// Not for this subscriber now.
    Drop,
}

/// The switch state machine of one subscription.
#[derive(Debug, Clone)]
pub struct FeedSwitch {
    state: LayerState,
    /// How long to wait for a requested keyframe before asking again.
    retry: Duration,
    /// When a keyframe was last requested for the pending start or switch.
    last_request: Instant,
    events: VecDeque<LayerEvent>,
}

impl FeedSwitch {
    /// A switch waiting to start on `to`; asks for its keyframe.
    pub fn new(now: Instant, to: Feed, retry: Duration) -> Self {
        let mut s = Self {
            state: LayerState::Starting { to, since: now },
            retry,
            last_request: now,
            events: VecDeque::new(),
        };
        s.request(now, to);
        s
    }

    /// The current state.
    pub fn state(&self) -> LayerState {
        self.state
    }

    /// Classifies a packet of `feed`; performs a pending switch on the target's keyframe.
    pub fn handle_packet(&mut self, feed: Feed, keyframe: bool) -> PacketAction {
        let from = match self.state {
            LayerState::Forwarding { feed: f } | LayerState::Switching { from: f, .. }
                if f == feed =>
            {
                return PacketAction::Forward
            }
            LayerState::Switching { from, to, .. } if to == feed && keyframe => Some(from),
            LayerState::Starting { to, .. } if to == feed && keyframe => None,
            _ => return PacketAction::Drop,
        };
        self.state = LayerState::Forwarding { feed };
        self.events
            .push_back(LayerEvent::Switched { from, to: feed });
        PacketAction::SwitchAndForward
    }

    /// Heads for `want`: starts a switch (asking for a keyframe), retargets a pending one,
    /// or cancels it if `want` is what is being forwarded anyway.
    pub fn aim(&mut self, now: Instant, want: Feed) {
        match self.state {
            LayerState::Forwarding { feed } if feed != want => self.begin(now, Some(feed), want),
            LayerState::Switching { from, .. } if from == want => {
                self.state = LayerState::Forwarding { feed: from };
            }
            LayerState::Switching { from, to, .. } if to != want => {
                self.begin(now, Some(from), want)
            }
            LayerState::Starting { to, .. } if to != want => self.begin(now, None, want),
            _ => {}
        }
    }

    /// Starts over on `to` (after a pause): nothing passes until its keyframe.
    pub fn restart(&mut self, now: Instant, to: Feed) {
        self.begin(now, None, to);
    }

    /// Re-asks for a keyframe that has not come within the retry interval.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| now >= at) {
            if let LayerState::Starting { to, .. } | LayerState::Switching { to, .. } = self.state {
                self.request(now, to);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            LayerState::Forwarding { .. } => None,
            _ => Some(self.last_request + self.retry),
        }
    }

    /// The next event to act on.
    pub fn poll_output(&mut self) -> Option<LayerEvent> {
        self.events.pop_front()
    }

    fn begin(&mut self, now: Instant, from: Option<Feed>, to: Feed) {
        self.state = match from {
            Some(from) => LayerState::Switching {
                from,
                to,
                since: now,
            },
            None => LayerState::Starting { to, since: now },
        };
        self.request(now, to);
    }

    fn request(&mut self, now: Instant, feed: Feed) {
        self.last_request = now;
        self.events.push_back(LayerEvent::RequestKeyframe(feed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_secs(1);

    fn feed(source: u64, layer: u8) -> Feed {
        Feed {
            source: StreamId(source),
            layer,
        }
    }

    fn forwarding(t0: Instant, f: Feed) -> FeedSwitch {
        let mut s = FeedSwitch::new(t0, f, RETRY);
        assert_eq!(s.handle_packet(f, true), PacketAction::SwitchAndForward);
        while s.poll_output().is_some() {}
        s
    }

    #[test]
    fn starts_only_on_a_keyframe_of_the_target() {
        let t0 = Instant::now();
        let mut s = FeedSwitch::new(t0, feed(1, 1), RETRY);
        assert_eq!(
            s.poll_output(),
            Some(LayerEvent::RequestKeyframe(feed(1, 1)))
        );
        assert_eq!(s.handle_packet(feed(1, 1), false), PacketAction::Drop);
        assert_eq!(s.handle_packet(feed(1, 0), true), PacketAction::Drop);
        assert_eq!(
            s.handle_packet(feed(1, 1), true),
            PacketAction::SwitchAndForward
        );
        assert_eq!(
            s.poll_output(),
            Some(LayerEvent::Switched {
                from: None,
                to: feed(1, 1)
            })
        );
        assert_eq!(s.state(), LayerState::Forwarding { feed: feed(1, 1) });
    }

    #[test]
    fn switch_keeps_the_old_feed_until_the_targets_keyframe() {
        let t0 = Instant::now();
        let mut s = forwarding(t0, feed(1, 2));
        s.aim(t0, feed(2, 1)); // another hall
        assert_eq!(
            s.poll_output(),
            Some(LayerEvent::RequestKeyframe(feed(2, 1)))
        );
        assert_eq!(
            s.state(),
            LayerState::Switching {
                from: feed(1, 2),
                to: feed(2, 1),
                since: t0
            }
        );
        assert_eq!(s.handle_packet(feed(1, 2), false), PacketAction::Forward);
        assert_eq!(s.handle_packet(feed(2, 1), false), PacketAction::Drop);
        assert_eq!(
            s.handle_packet(feed(2, 1), true),
            PacketAction::SwitchAndForward
        );
        assert_eq!(s.handle_packet(feed(1, 2), true), PacketAction::Drop);
    }

    #[test]
    fn aiming_back_at_the_current_feed_cancels_the_switch() {
        let t0 = Instant::now();
        let mut s = forwarding(t0, feed(1, 2));
        s.aim(t0, feed(1, 0));
        s.aim(t0, feed(1, 2));
        assert_eq!(s.state(), LayerState::Forwarding { feed: feed(1, 2) });
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn unanswered_keyframe_requests_are_repeated() {
        let t0 = Instant::now();
        let mut s = FeedSwitch::new(t0, feed(1, 0), RETRY);
        assert!(s.poll_output().is_some());
        s.handle_timeout(t0 + RETRY - Duration::from_millis(1));
        assert_eq!(s.poll_output(), None);
        assert_eq!(s.poll_timeout(), Some(t0 + RETRY));
        s.handle_timeout(t0 + RETRY);
        assert_eq!(
            s.poll_output(),
            Some(LayerEvent::RequestKeyframe(feed(1, 0)))
        );
    }
}
