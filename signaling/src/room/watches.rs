//! What one remote media node's queue (`queue`) knows of the streams watched there: the
//! id and layers of each watch, what each slot there shows of them, and when a watch's
//! higher layers went unshown — after [`SHRINK_AFTER`] it is watched again with fewer
//! (so a node whose halls all take the low layer receives only that), not at every
//! refill.

use std::collections::HashMap;
use std::time::Duration;

use sfu::{PeerId, SlotId, StreamId};
use tokio::time::Instant;

/// How long a watched stream's higher layers go unshown before it is watched with fewer.
pub(super) const SHRINK_AFTER: Duration = Duration::from_secs(3);

/// A stream watched on the node: its origin node and its track there.
pub(super) type Key = (String, StreamId);

#[derive(Default)]
pub(super) struct Watches {
    /// The id on the node and the highest layer watched (layers 0 to it).
    watched: HashMap<Key, (StreamId, u8)>,
    /// What each slot on the node shows of a watched stream, at which layer.
    showing: HashMap<(PeerId, SlotId), (Key, u8)>,
    /// Watches whose higher layers no slot shows, since when.
    spare_since: HashMap<Key, Instant>,
}

impl Watches {
    /// The id of `key` on the node if it is watched with layers 0 to `top` at least.
    pub fn local(&self, key: &Key, top: u8) -> Option<StreamId> {
        self.watched
            .get(key)
            .filter(|&&(_, watched)| watched >= top)
            .map(|&(local, _)| local)
    }

    /// `key` is now watched as `local` with layers 0 to `top`.
    pub fn watched(&mut self, key: Key, local: StreamId, top: u8) {
        self.watched.insert(key, (local, top));
    }

    /// The slot shows `what` (a watched stream at a layer), or nothing watched.
    pub fn show(&mut self, peer: PeerId, slot: SlotId, what: Option<(Key, u8)>) {
        match what {
            Some(w) => self.showing.insert((peer, slot), w),
            None => self.showing.remove(&(peer, slot)),
        };
    }

    /// The peer is closed: its slots show nothing.
    pub fn closed(&mut self, peer: PeerId) {
        self.showing.retain(|(p, _), _| *p != peer);
    }

    /// No slot shows `key` any more: its id, to unwatch.
    pub fn unwatch(&mut self, key: &Key) -> Option<StreamId> {
        self.spare_since.remove(key);
        self.watched.remove(key).map(|(local, _)| local)
    }

    /// The highest layer any slot shows of `key`.
    fn used(&self, key: &Key) -> Option<u8> {
        self.showing
            .values()
            .filter(|(k, _)| k == key)
            .map(|&(_, l)| l)
            .max()
    }

    /// Notes, at `now`, which watches have higher layers than any slot shows.
    pub fn note(&mut self, now: Instant) {
        let spare: Vec<Key> = self
            .watched
            .iter()
            .filter(|(key, &(_, top))| self.used(key).is_some_and(|u| u < top))
            .map(|(key, _)| key.clone())
            .collect();
        self.spare_since.retain(|key, _| spare.contains(key));
        for key in spare {
            self.spare_since.entry(key).or_insert(now);
        }
    }

    /// When the next watch may shrink.
    pub fn next_shrink(&self) -> Option<Instant> {
        self.spare_since.values().min().map(|&t| t + SHRINK_AFTER)
    }

    /// The watches to watch again with fewer layers at `now`: each with its new top.
    pub fn due(&mut self, now: Instant) -> Vec<(Key, u8)> {
        let due: Vec<Key> = self
            .spare_since
            .iter()
            .filter(|(_, &t)| t + SHRINK_AFTER <= now)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .filter_map(|key| {
                self.spare_since.remove(&key);
                self.used(&key).map(|used| (key, used))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_shrinks_only_after_its_higher_layers_went_unshown_a_while() {
        let mut w = Watches::default();
        let key: Key = ("node-b".into(), StreamId(7));
        let (p, q) = (PeerId(1), PeerId(2));
        let t0 = Instant::now();
        // Two slots show the stream, one at the top layer: watched with layers 0–2.
        w.watched(key.clone(), StreamId(70), 2);
        w.show(p, SlotId(0), Some((key.clone(), 2)));
        w.show(q, SlotId(0), Some((key.clone(), 0)));
        w.note(t0);
        assert_eq!(w.next_shrink(), None, "layer 2 is shown");
        assert_eq!(w.local(&key, 2), Some(StreamId(70)));
        // The top-layer slot drops to layer 1: not at once…
        w.show(p, SlotId(0), Some((key.clone(), 1)));
        w.note(t0);
        assert!(w.due(t0 + SHRINK_AFTER / 2).is_empty(), "no churn at once");
        // …and a slot showing layer 2 again meanwhile cancels it.
        w.show(q, SlotId(0), Some((key.clone(), 2)));
        w.note(t0 + SHRINK_AFTER / 2);
        assert_eq!(w.next_shrink(), None);
        // Every slot on layer 0 (the other's peer closed): after SHRINK_AFTER, layers 0–0.
        w.closed(q);
        w.show(p, SlotId(0), Some((key.clone(), 0)));
        let t1 = t0 + SHRINK_AFTER;
        w.note(t1);
        assert_eq!(w.next_shrink(), Some(t1 + SHRINK_AFTER));
        assert!(w.due(t1 + SHRINK_AFTER / 2).is_empty());
        assert_eq!(w.due(t1 + SHRINK_AFTER), vec![(key.clone(), 0)]);
        w.watched(key.clone(), StreamId(70), 0);
        w.note(t1 + SHRINK_AFTER);
        assert_eq!(w.next_shrink(), None, "shrunk: nothing spare");
        // A higher layer is asked again: the watch is too small for it.
        assert_eq!(w.local(&key, 1), None);
        // Nothing shows it: unwatched.
        w.show(p, SlotId(0), None);
        assert_eq!(w.unwatch(&key), Some(StreamId(70)));
        assert_eq!(w.local(&key, 0), None);
    }
}
