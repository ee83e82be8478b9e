//! Keyframe-request (PLI) throttling for one publisher track.
//!
//! In a 220-hall meeting many subscribers of the same hall ask for a keyframe at once
//! (they joined, switched layer, or lost packets). Each keyframe costs the publisher's
//! weak uplink a burst, so at most one PLI per layer goes upstream per interval; requests
//! arriving inside the interval are merged into one sent when it expires.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Default minimum spacing of PLIs sent upstream for one layer.
pub const DEFAULT_THROTTLE: Duration = Duration::from_millis(500);

/// Per-key (usually per simulcast layer) request state.
#[derive(Debug, Clone)]
struct Entry<K> {
    /// Which stream of the track this entry throttles.
    key: K,
    /// When the last PLI for it went upstream.
    last_sent: Option<Instant>,
    /// A request arrived inside the interval and is still unanswered.
    pending: bool,
}

/// Merges keyframe requests for the streams (keyed by `K`, e.g. the layer) of one track.
#[derive(Debug, Clone)]
pub struct KeyframeThrottle<K> {
    /// Minimum spacing of PLIs for the same key.
    interval: Duration,
    /// State per key; a handful of layers, so a vector beats a map.
    entries: Vec<Entry<K>>,
    /// PLIs to send upstream now, in order.
    output: VecDeque<K>,
}

impl<K: Copy + Eq> KeyframeThrottle<K> {
    /// A throttle allowing one PLI per key per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            entries: Vec::new(),
            output: VecDeque::new(),
        }
    }

    /// A subscriber (or the SFU itself) wants a keyframe on `key`.
    pub fn handle_request(&mut self, now: Instant, key: K) {
        let interval = self.interval;
        let entry = self.entry(key);
        match entry.last_sent {
            Some(at) if now < at + interval => entry.pending = true,
            _ => {
                entry.last_sent = Some(now);
                entry.pending = false;
                self.output.push_back(key);
            }
        }
    }

    /// A keyframe arrived on `key`: it answers every pending request.
    pub fn handle_keyframe(&mut self, key: K) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.key == key) {
            e.pending = false;
        }
    }

    /// Sends the pending requests whose interval has expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        for e in &mut self.entries {
            if e.pending && e.last_sent.is_none_or(|at| now >= at + self.interval) {
                e.pending = false;
                e.last_sent = Some(now);
                self.output.push_back(e.key);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| e.pending)
            .filter_map(|e| e.last_sent.map(|at| at + self.interval))
            .min()
    }

    /// The next PLI to send upstream, for the stream `key`.
    pub fn poll_output(&mut self) -> Option<K> {
        self.output.pop_front()
    }

    fn entry(&mut self, key: K) -> &mut Entry<K> {
        let i = match self.entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    key,
                    last_sent: None,
                    pending: false,
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[i]
    }
}

impl<K: Copy + Eq> Default for KeyframeThrottle<K> {
    fn default() -> Self {
        Self::new(DEFAULT_THROTTLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut KeyframeThrottle<u8>) -> Vec<u8> {
        std::iter::from_fn(|| t.poll_output()).collect()
    }

    #[test]
    fn burst_of_requests_yields_one_pli_then_one_more_at_expiry() {
        let t0 = Instant::now();
        let mut t = KeyframeThrottle::default();
        for i in 0..20 {
            t.handle_request(t0 + Duration::from_millis(i * 5), 2u8);
        }
        assert_eq!(drain(&mut t), [2]);
        assert_eq!(t.poll_timeout(), Some(t0 + DEFAULT_THROTTLE));
        t.handle_timeout(t0 + Duration::from_millis(499));
        assert_eq!(drain(&mut t), []);
        t.handle_timeout(t0 + DEFAULT_THROTTLE);
        assert_eq!(drain(&mut t), [2]);
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn layers_are_throttled_independently() {
        let t0 = Instant::now();
        let mut t = KeyframeThrottle::new(Duration::from_millis(200));
        t.handle_request(t0, 0u8);
        t.handle_request(t0, 1);
        t.handle_request(t0, 0);
        assert_eq!(drain(&mut t), [0, 1]);
        t.handle_request(t0 + Duration::from_millis(250), 0);
        assert_eq!(drain(&mut t), [0], "interval over: sent at once");
    }

    #[test]
    fn an_arriving_keyframe_cancels_the_pending_request() {
        let t0 = Instant::now();
        let mut t = KeyframeThrottle::default();
        t.handle_request(t0, 1u8);
        t.handle_request(t0 + Duration::from_millis(10), 1);
        t.handle_keyframe(1);
        assert_eq!(t.poll_timeout(), None);
        t.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(drain(&mut t), [1]);
    }
}
