//! Flood protection for one socket: a token bucket over explicit time, and a verdict per message.

use std::time::Duration;
use tokio::time::Instant;

/// How many messages a socket may send, and when a flood ends it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Messages that may arrive at once (a page trickles a burst of ICE candidates).
    pub burst: u32,
    /// Messages per second refilled.
    pub per_second: u32,
    /// Messages dropped in a row (without one allowed in between) that close the socket.
    pub close_after_dropped: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: 60,
            per_second: 20,
            close_after_dropped: 200,
        }
    }
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Allow,
    /// Drop it and tell the page `rate_limited` (the first drop of a flood).
    DropAndWarn,
    /// Drop it silently (the page was already told).
    Drop,
    /// The flood goes on: close the socket.
    Close,
}

/// A token bucket plus a count of consecutive drops.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    dropped_in_row: u32,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
            dropped_in_row: 0,
        }
    }

    /// Judges a message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed: Duration = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * f64::from(self.limit.per_second))
            .min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.dropped_in_row = 0;
            return Verdict::Allow;
        }
        self.dropped_in_row = self.dropped_in_row.saturating_add(1);
        if self.dropped_in_row >= self.limit.close_after_dropped {
            Verdict::Close
        } else if self.dropped_in_row == 1 {
            Verdict::DropAndWarn
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        burst: 5,
        per_second: 10,
        close_after_dropped: 4,
    };

    #[test]
    fn a_burst_passes_then_excess_is_dropped_and_warned_once() {
        let t0 = Instant::now();
        let mut b = Bucket::new(LIMIT, t0);
        for _ in 0..5 {
            assert_eq!(b.check(t0), Verdict::Allow);
        }
        assert_eq!(b.check(t0), Verdict::DropAndWarn);
        assert_eq!(b.check(t0), Verdict::Drop);
        // 100 ms refill one token: the page recovers and a new flood is warned again.
        assert_eq!(b.check(t0 + Duration::from_millis(100)), Verdict::Allow);
        assert_eq!(
            b.check(t0 + Duration::from_millis(100)),
            Verdict::DropAndWarn
        );
    }

    #[test]
    fn a_sustained_flood_closes() {
        let t0 = Instant::now();
        let mut b = Bucket::new(LIMIT, t0);
        let verdicts: Vec<_> = (0..9).map(|_| b.check(t0)).collect();
        assert_eq!(verdicts[5], Verdict::DropAndWarn);
        assert_eq!(verdicts[8], Verdict::Close);
    }

    #[test]
    fn a_steady_page_is_never_limited() {
        let t0 = Instant::now();
        let mut b = Bucket::new(LIMIT, t0);
        for i in 0..1000u64 {
            // 10 messages a second, the refill rate.
            let now = t0 + Duration::from_millis(100 * i);
            assert_eq!(b.check(now), Verdict::Allow, "message {i}");
        }
    }
}
