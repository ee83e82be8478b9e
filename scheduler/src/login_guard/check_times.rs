//! How long recent real password checks took, so that a login naming no account can wait
//! as long without running argon2: its answer then comes after a delay drawn from what
//! real logins cost lately (their wait for a thread included), and timing does not tell
//! an unknown name from a known one with a wrong password.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};

/// Real checks remembered (the oldest is forgotten first).
const KEPT: usize = 64;

/// Before any real check was timed, a delay is drawn from this range, in milliseconds
/// (an argon2 check at the default parameters takes ~50–300 ms on a small server).
const BEFORE_ANY_MS: std::ops::Range<u64> = 100..300;

/// The durations of the latest real password checks.
#[derive(Debug, Default)]
pub(crate) struct CheckTimes {
    recent: Mutex<VecDeque<Duration>>,
}

impl CheckTimes {
    /// Remembers how long a real check took, from asking for a thread to its answer.
    pub fn record(&self, took: Duration) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(took);
    }

    /// A delay for an answer that needs no check: one of the recent real checks' durations
    /// picked at random, or one from [`BEFORE_ANY_MS`] when none was timed yet.
    pub fn draw(&self) -> Duration {
        let pick = OsRng.next_u64();
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let len = recent.len() as u64;
        match recent.get((pick % len.max(1)) as usize) {
            Some(&took) => took,
            None => {
                let span = BEFORE_ANY_MS.end - BEFORE_ANY_MS.start;
                Duration::from_millis(BEFORE_ANY_MS.start + pick % span)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_drawn_from_the_latest_real_checks() {
        let times = CheckTimes::default();
        for _ in 0..50 {
            let d = times.draw().as_millis() as u64;
            assert!(BEFORE_ANY_MS.contains(&d), "{d} ms before any check");
        }
        // Older checks are forgotten once KEPT newer ones were timed.
        times.record(Duration::from_secs(60));
        let newer = [40, 90, 250].map(Duration::from_millis);
        for i in 0..KEPT {
            times.record(newer[i % newer.len()]);
        }
        let drawn: std::collections::BTreeSet<Duration> = (0..300).map(|_| times.draw()).collect();
        // 300 draws over three values equally kept: each is seen (a miss is ~1e-52).
        assert_eq!(drawn, newer.into_iter().collect());
    }
}
