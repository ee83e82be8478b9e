//! A log line at most once per interval, carrying how many like it were held back.
//!
//! A burst can make the same thing happen to hundreds of sockets at once; one WARN line
//! per interval with a count says as much as hundreds of identical lines.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lets one line through per interval.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    /// When a line was last let through, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    /// A throttle letting one line through every `every`.
    pub const fn new(every: Duration) -> Self {
        Throttle {
            every,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(held back since the last line)` if a line may be logged now; else counts it.
    pub fn allow(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held) = &mut *state;
        if last.is_some_and(|t| now.saturating_duration_since(t) < self.every) {
            *held += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_then_the_count_of_those_held_back() {
        let throttle = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(throttle.allow(t0), Some(0));
        for i in 0..500 {
            assert_eq!(throttle.allow(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(throttle.allow(t0 + Duration::from_secs(10)), Some(500));
        assert_eq!(throttle.allow(t0 + Duration::from_secs(11)), None);
    }
}
