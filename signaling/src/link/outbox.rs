//! One socket's queue: messages that must each arrive, in order, and the latest state per key.
//!
//! Two kinds of message reach a page. Those that must each arrive (a hall's own
//! acknowledgements and answers, errors, joins and leaves, floor grants, phase changes,
//! close frames) wait in a FIFO and are never dropped or merged. State that changes often
//! (`meeting_state`, the readiness board, other halls' headcounts, roll-call answers and
//! hands) is kept as the latest frame per [`StateKey`]: a newer one replaces the older,
//! so what a page may owe is bounded by the number of keys, whatever a burst of other
//! halls does. The writer sends the FIFO first and the state a few times a second.

use super::{Frame, Outgoing};
use crate::protocol::Action;
use std::collections::{HashMap, VecDeque};

/// Must-arrive messages one page may owe before it counts as not reading at all. They
/// come from real events (a hall's own replies, joins and leaves, host controls), so a
/// page reading at all never gets near; it only bounds the memory of a dead one.
pub const MUST_ARRIVE_CAP: usize = 8192;

/// What a coalesced message is the latest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateKey {
    /// `meeting_state`.
    MeetingState,
    /// The readiness board.
    Readiness,
    /// Other halls' reports (headcounts, roll-call answers and marks, hands): the latest
    /// `control` of this action, whichever hall it is about. What the reports add up to
    /// is state too: `meeting_state.hands`, and the readiness board's answers and counts.
    Control(Action),
}

/// The queue itself (behind the link's lock).
#[derive(Debug, Default)]
pub struct Outbox {
    must: VecDeque<Outgoing>,
    /// The latest frame per key and when it was set (its place in the next flush).
    state: HashMap<StateKey, (u64, Frame)>,
    seq: u64,
    /// A close is queued: nothing more is taken.
    closing: bool,
}

/// What a push came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued (or dropped because the socket is closing anyway).
    Queued,
    /// The must-arrive queue overflowed: the outbox now holds only a `not_reading` close.
    Overflow,
}

impl Outbox {
    /// Queues a message that must arrive, after those queued before it.
    pub fn push(&mut self, out: Outgoing) -> Pushed {
        if self.closing {
            return Pushed::Queued;
        }
        if self.must.len() >= MUST_ARRIVE_CAP {
            self.must.clear();
            self.state.clear();
            self.must.push_back(Outgoing::not_reading());
            self.closing = true;
            return Pushed::Overflow;
        }
        self.closing = matches!(out, Outgoing::Close { .. });
        if self.closing {
            // Nothing after a close frame is sent; pending state is moot.
            self.state.clear();
        }
        self.must.push_back(out);
        Pushed::Queued
    }

    /// Sets the latest state of `key`, replacing any not yet sent. Returns whether it is
    /// the only state pending (the writer, if idle, needs waking only then: it sends all
    /// pending state at once).
    pub fn set(&mut self, key: StateKey, frame: Frame) -> bool {
        if self.closing {
            return false;
        }
        self.seq += 1;
        let first = self.state.is_empty();
        self.state.insert(key, (self.seq, frame));
        first
    }

    /// Whether must-arrive messages wait.
    pub fn has_must(&self) -> bool {
        !self.must.is_empty()
    }

    /// Whether coalesced state waits.
    pub fn has_state(&self) -> bool {
        !self.state.is_empty()
    }

    /// Every must-arrive message queued, in order.
    pub fn take_must(&mut self) -> Vec<Outgoing> {
        self.must.drain(..).collect()
    }

    /// The pending state, each key once, in the order of their latest change.
    pub fn take_state(&mut self) -> Vec<Frame> {
        let mut state: Vec<(u64, Frame)> = self.state.drain().map(|(_, v)| v).collect();
        state.sort_unstable_by_key(|(seq, _)| *seq);
        state.into_iter().map(|(_, frame)| frame).collect()
    }

    /// How many messages wait (must-arrive and state).
    pub fn len(&self) -> usize {
        self.must.len() + self.state.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerMessage;

    fn frame(ts: f64) -> Frame {
        Frame::of(&ServerMessage::Pong { ts })
    }

    fn texts(frames: Vec<Frame>) -> Vec<String> {
        frames.iter().map(|f| f.text().to_owned()).collect()
    }

    #[test]
    fn state_keeps_the_latest_per_key_in_the_order_of_their_latest_change() {
        let mut out = Outbox::default();
        assert!(
            out.set(StateKey::MeetingState, frame(1.0)),
            "the first wakes"
        );
        assert!(!out.set(StateKey::Control(Action::RaiseHand), frame(2.0)));
        assert!(!out.set(StateKey::MeetingState, frame(3.0)));
        assert!(!out.set(StateKey::Control(Action::LowerHand), frame(4.0)));
        assert_eq!(out.len(), 3);
        assert_eq!(
            texts(out.take_state()),
            texts(vec![frame(2.0), frame(3.0), frame(4.0)])
        );
        assert!(!out.has_state());
        assert!(
            out.set(StateKey::Readiness, frame(5.0)),
            "taken: the next wakes again"
        );
    }

    #[test]
    fn must_arrive_messages_are_kept_in_order_and_never_merged() {
        let mut out = Outbox::default();
        for i in 0..100 {
            assert_eq!(
                out.push(Outgoing::Frame(frame(f64::from(i)))),
                Pushed::Queued
            );
        }
        let got: Vec<Outgoing> = out.take_must();
        let want: Vec<Outgoing> = (0..100)
            .map(|i| Outgoing::Frame(frame(f64::from(i))))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn nothing_is_taken_after_a_close_and_pending_state_is_dropped() {
        let mut out = Outbox::default();
        out.set(StateKey::Readiness, frame(1.0));
        out.push(Outgoing::Close {
            code: 4004,
            reason: "meeting_ended".into(),
        });
        out.push(Outgoing::Frame(frame(2.0)));
        out.set(StateKey::MeetingState, frame(3.0));
        assert!(!out.has_state());
        assert_eq!(out.take_must().len(), 1, "only the close");
    }

    #[test]
    fn a_dead_page_owing_too_many_must_arrive_messages_gets_only_a_not_reading_close() {
        let mut out = Outbox::default();
        for i in 0..MUST_ARRIVE_CAP {
            out.push(Outgoing::Frame(frame(i as f64)));
        }
        out.set(StateKey::MeetingState, frame(0.5));
        assert_eq!(out.push(Outgoing::Frame(frame(-1.0))), Pushed::Overflow);
        assert_eq!(out.take_must(), vec![Outgoing::not_reading()]);
        assert!(!out.has_state());
    }
}
