//! Rates, loss and jitter of an incoming RTP stream.
//!
//! Layer selection needs each simulcast layer's bitrate; the hall dashboard and the
//! congestion logic need loss and jitter. [`RateEstimator`] measures bits and packets
//! per second over a sliding window; [`LossTracker`] follows RFC 3550 (extended
//! sequence numbers, expected vs received, interarrival jitter).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Default window of [`RateEstimator`].
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(1);

/// Bitrate and packet rate over a sliding window.
#[derive(Debug, Clone)]
pub struct RateEstimator {
    /// Length of the window the rates are averaged over.
    window: Duration,
    /// (arrival, bytes) of the packets inside the window.
    samples: VecDeque<(Instant, usize)>,
    /// Sum of the bytes in `samples`.
    bytes: u64,
    /// First packet ever, so a young stream is not averaged over a full window.
    started: Option<Instant>,
}

impl RateEstimator {
    /// An estimator averaging over `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
            bytes: 0,
            started: None,
        }
    }

    /// Records a packet of `bytes` (whole RTP packet) arriving at `now`.
    pub fn record(&mut self, now: Instant, bytes: usize) {
        self.started.get_or_insert(now);
        self.samples.push_back((now, bytes));
        self.bytes += bytes as u64;
        self.expire(now);
    }

    /// Bits per second over the window ending at `now`.
    pub fn bitrate_bps(&mut self, now: Instant) -> u64 {
        self.expire(now);
        self.per_second(now, self.bytes as f64 * 8.0) as u64
    }

    /// Packets per second over the window ending at `now`.
    pub fn packet_rate(&mut self, now: Instant) -> f64 {
        self.expire(now);
        self.per_second(now, self.samples.len() as f64)
    }

    fn per_second(&self, now: Instant, amount: f64) -> f64 {
        let span = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let span = span.min(self.window).max(Duration::from_millis(100));
        amount / span.as_secs_f64()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, bytes)) = self.samples.front() {
            if now.saturating_duration_since(at) < self.window {
                break;
            }
            self.samples.pop_front();
            self.bytes -= bytes as u64;
        }
    }
}

impl Default for RateEstimator {
    fn default() -> Self {
        Self::new(DEFAULT_RATE_WINDOW)
    }
}

/// RFC 3550 reception statistics of one RTP stream (one SSRC).
#[derive(Debug, Clone)]
pub struct LossTracker {
    /// RTP clock rate, to express arrival times in timestamp units for the jitter.
    clock_rate: u32,
    /// Extended sequence numbers of the first and newest packets; `None` before the first.
    range: Option<(u64, u64)>,
    /// Packets received (duplicates included, as RFC 3550 counts them).
    received: u64,
    /// `expected` and `received` at the last report, for the per-interval loss fraction.
    prior: (u64, u64),
    /// Interarrival jitter estimate in timestamp units (RFC 3550 §6.4.1).
    jitter: f64,
    /// Relative transit time of the previous packet, in timestamp units.
    last_transit: Option<u32>,
    /// Reference instant for arrival times.
    epoch: Option<Instant>,
}

impl LossTracker {
    /// A tracker for a stream with the given RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            range: None,
            received: 0,
            prior: (0, 0),
            jitter: 0.0,
            last_transit: None,
            epoch: None,
        }
    }

    /// Records a packet with sequence number `seq` and timestamp `ts` arriving at `now`.
    pub fn handle_packet(&mut self, now: Instant, seq: u16, ts: u32) {
        self.received += 1;
        self.range = Some(match self.range {
            None => (u64::from(seq) + (1 << 16), u64::from(seq) + (1 << 16)),
            Some((first, highest)) => {
                let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
                (first, highest.max(highest.saturating_add_signed(delta)))
            }
        });
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.saturating_duration_since(epoch).as_micros()
            * u128::from(self.clock_rate)
            / 1_000_000;
        let transit = (arrival as u32).wrapping_sub(ts); // RTP time arithmetic is modulo 2^32
        if let Some(last) = self.last_transit {
            let d = f64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected so far (from the first to the newest sequence number).
    pub fn expected(&self) -> u64 {
        self.range.map_or(0, |(first, highest)| highest - first + 1)
    }

    /// Packets lost so far (negative if duplicates outnumber losses, as in RFC 3550).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Fraction of packets lost since the previous call (0.0..=1.0), as in a receiver report.
    pub fn take_loss_fraction(&mut self) -> f32 {
        let (expected, received) = (self.expected(), self.received);
        let interval_expected = expected.saturating_sub(self.prior.0);
        let interval_received = received.saturating_sub(self.prior.1);
        self.prior = (expected, received);
        if interval_expected == 0 || interval_received >= interval_expected {
            return 0.0;
        }
        (interval_expected - interval_received) as f32 / interval_expected as f32
    }

    /// Interarrival jitter as a duration.
    pub fn jitter(&self) -> Duration {
        if self.clock_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.jitter / f64::from(self.clock_rate))
    }
}

/// The statistics of one incoming stream, as shown on the dashboard and used by layer choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamStats {
    /// Bits per second over the rate window.
    pub bitrate_bps: u64,
    /// Packets per second over the rate window.
    pub packet_rate: f64,
    /// Loss fraction since the previous snapshot.
    pub loss_fraction: f32,
    /// Packets lost since the stream began.
    pub cumulative_lost: i64,
    /// RFC 3550 interarrival jitter.
    pub jitter: Duration,
}

/// Rate estimator and loss tracker of one incoming stream together.
#[derive(Debug, Clone)]
pub struct StreamEstimator {
    /// Bit and packet rates.
    pub rate: RateEstimator,
    /// Loss and jitter.
    pub loss: LossTracker,
}

impl StreamEstimator {
    /// An estimator for a stream with the given RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            rate: RateEstimator::default(),
            loss: LossTracker::new(clock_rate),
        }
    }

    /// Records a packet of `bytes` with `seq` and `ts` arriving at `now`.
    pub fn handle_packet(&mut self, now: Instant, seq: u16, ts: u32, bytes: usize) {
        self.rate.record(now, bytes);
        self.loss.handle_packet(now, seq, ts);
    }

    /// A snapshot of the statistics; starts a new loss interval.
    pub fn stats(&mut self, now: Instant) -> StreamStats {
        StreamStats {
            bitrate_bps: self.rate.bitrate_bps(now),
            packet_rate: self.rate.packet_rate(now),
            loss_fraction: self.loss.take_loss_fraction(),
            cumulative_lost: self.loss.cumulative_lost(),
            jitter: self.loss.jitter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn bitrate_over_the_window() {
        let t0 = Instant::now();
        let mut r = RateEstimator::default();
        for i in 0..100u32 {
            r.record(t0 + MS * (i * 20), 1250); // 50 packets/s of 10 000 bits = 500 kbit/s
        }
        let now = t0 + MS * 1990;
        assert_eq!(r.bitrate_bps(now), 500_000);
        assert!((r.packet_rate(now) - 50.0).abs() < 1e-9);
        assert_eq!(r.bitrate_bps(now + MS * 1000), 0, "stream stopped");
    }

    #[test]
    fn loss_counts_across_wraparound_and_reordering() {
        let t0 = Instant::now();
        let mut l = LossTracker::new(90_000);
        let seqs = [65530u16, 65531, 65533, 65532, 65535, 0, 1, 3];
        for (i, s) in seqs.into_iter().enumerate() {
            l.handle_packet(t0 + MS * (i as u32 * 10), s, 0);
        }
        assert_eq!(l.expected(), 10); // 65530 ..= 3
        assert_eq!(l.cumulative_lost(), 2); // 65534 and 2
        assert!((l.take_loss_fraction() - 0.2).abs() < 1e-6);
        l.handle_packet(t0, 4, 0);
        assert_eq!(
            l.take_loss_fraction(),
            0.0,
            "nothing lost in the new interval"
        );
    }

    #[test]
    fn jitter_is_zero_for_paced_packets_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut l = LossTracker::new(90_000);
        for i in 0..50u32 {
            l.handle_packet(t0 + MS * (i * 20), i as u16, 1_000_000 + i * 1800);
        }
        assert_eq!(l.jitter(), Duration::ZERO);
        for i in 50..200u32 {
            let wobble = if i % 2 == 0 { 10 } else { 0 };
            l.handle_packet(t0 + MS * (i * 20 + wobble), i as u16, 1_000_000 + i * 1800);
        }
        // Transit alternates by 10 ms, so the estimate converges to 10 ms.
        let j = l.jitter().as_secs_f64();
        assert!((j - 0.010).abs() < 0.0005, "jitter {j}");
    }

    #[test]
    fn snapshot_combines_both() {
        let t0 = Instant::now();
        let mut e = StreamEstimator::new(48_000);
        for i in 0..50u16 {
            if i != 10 {
                e.handle_packet(t0 + MS * (u32::from(i) * 20), i, u32::from(i) * 960, 100);
            }
        }
        let s = e.stats(t0 + MS * 1000);
        assert_eq!(s.cumulative_lost, 1);
        assert!((s.loss_fraction - 0.02).abs() < 1e-6);
        assert!(s.bitrate_bps > 0 && s.packet_rate > 0.0);
    }
}
