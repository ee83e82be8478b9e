//! Gives the memory freed by a wave of closed meeting sockets back to the operating system.
//!
//! glibc keeps what a thread frees in that thread's arena for reuse and returns an arena's
//! pages only when its top end is free. After 5,000 sockets that never joined were all
//! closed, the server's RSS stayed at its peak (BENCHMARKS.md: 97 → 371 MiB, still 371 MiB
//! 10 s after the last close). `malloc_trim(0)` returns the free pages of every arena. It
//! walks the heaps under their locks, so it runs on a blocking thread, at most once a
//! [`TrimPolicy::period`], and only when at least [`TrimPolicy::closes`] sockets closed
//! since the last trim: a meeting's ordinary comings and goings never cause one.

use std::time::Duration;

use crate::sockets::SocketGate;

/// When to trim.
#[derive(Debug, Clone, Copy)]
pub struct TrimPolicy {
    /// How often the closes are looked at (and so the most often a trim runs).
    pub period: Duration,
    /// Sockets closed since the last trim that make the next one worth it.
    pub closes: u64,
}

impl Default for TrimPolicy {
    fn default() -> Self {
        TrimPolicy {
            period: Duration::from_secs(5),
            closes: 256,
        }
    }
}

/// Decides, once a period, whether enough sockets closed since the last trim.
#[derive(Debug)]
pub struct Trimmer {
    policy: TrimPolicy,
    /// Sockets closed in all when the last trim ran.
    trimmed_at: u64,
}

impl Trimmer {
    pub fn new(policy: TrimPolicy) -> Self {
        Trimmer {
            policy,
            trimmed_at: 0,
        }
    }

    /// Whether to trim now, given the sockets closed since start; if so, counts from here.
    pub fn due(&mut self, closed: u64) -> bool {
        if closed.saturating_sub(self.trimmed_at) < self.policy.closes {
            return false;
        }
        self.trimmed_at = closed;
        true
    }
}

/// Returns the allocator's free memory to the operating system (glibc's `malloc_trim`);
/// whether any was returned. Elsewhere (musl, macOS) it does nothing and says false.
pub fn release_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a byte count and works only on glibc's own heap
        // structures, under their locks; it never touches memory still allocated.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Watches `gate`'s closes and trims after each wave, until the gate is dropped (the
/// server stopped).
pub fn spawn(gate: &SocketGate, policy: TrimPolicy) -> tokio::task::JoinHandle<()> {
    let closes = gate.closes();
    tokio::spawn(async move {
        let mut trimmer = Trimmer::new(policy);
        let mut tick = tokio::time::interval(policy.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(closed) = closes.count() else { return };
            if trimmer.due(closed) {
                let released = tokio::task::spawn_blocking(release_freed_memory).await;
                tracing::debug!(closed, ?released, "freed memory given back after closes");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::SocketLimits;

    #[test]
    fn a_trim_comes_after_a_wave_of_closes_not_after_each() {
        let mut t = Trimmer::new(TrimPolicy {
            period: Duration::from_secs(5),
            closes: 100,
        });
        assert!(!t.due(0));
        assert!(!t.due(99));
        assert!(t.due(100));
        // Counted from the last trim.
        assert!(!t.due(150));
        assert!(t.due(5000));
        assert!(!t.due(5099));
    }

    #[tokio::test]
    async fn the_watcher_ends_with_the_gate() {
        let gate = SocketGate::new(SocketLimits {
            total: 10,
            per_address: 10,
        });
        let policy = TrimPolicy {
            period: Duration::from_millis(10),
            closes: 1,
        };
        let watcher = spawn(&gate, policy);
        drop(gate.admit(None).expect("room"));
        drop(gate);
        tokio::time::timeout(Duration::from_secs(30), watcher)
            .await
            .expect("the watcher ends once the gate is gone")
            .expect("it did not panic");
    }

    /// Small blocks freed below a live one stay resident until trimmed (glibc only).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_small_blocks_are_given_back() {
        fn rss_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        }
        // On a thread of its own, as a tokio worker's arena: 64 MiB in 2 KiB blocks, all
        // freed but the last (which keeps the arena's top end in use).
        let (last, freed) = std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..32 * 1024).map(|_| vec![1u8; 2048]).collect();
            let last = blocks.pop();
            drop(blocks);
            (last, rss_kib())
        })
        .join()
        .expect("the allocating thread ends");
        release_freed_memory();
        let after = rss_kib();
        drop(last);
        assert!(
            after + 32 * 1024 < freed,
            "RSS {freed} KiB with the blocks freed, {after} KiB after the trim"
        );
    }
}
