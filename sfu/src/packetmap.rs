//! Sequence-number and timestamp rewriting for one outgoing stream across source switches.
//!
//! A subscriber's receive slot is one RTP stream to the browser, but what flows into it
//! changes: another simulcast layer, another hall. [`SeqMap`] keeps the outgoing
//! sequence numbers gap-free across such switches and across packets we decide not to
//! forward; [`TimestampMap`] keeps the outgoing timestamps moving forward with wall time.

use std::collections::VecDeque;
use std::time::Instant;

/// How far behind the newest packet (in packets) a late or duplicate packet is still mapped.
pub const REORDER_WINDOW: u64 = 1024;
/// Extended sequence numbers start here so late packets just below the first one stay positive.
const BASE: u64 = 1 << 20;

/// A run of input packets, from `start` up to the next segment, sharing one mapping.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// First extended input sequence number of the run.
    start: u64,
    /// Output = input + offset (wrapping); `None` if the run was skipped (not forwarded).
    offset: Option<u16>,
}

/// Rewrites input sequence numbers of the current source into one contiguous output sequence.
#[derive(Debug, Clone, Default)]
pub struct SeqMap {
    /// Newest extended input sequence number of the current source; `None` before its first packet.
    highest: Option<u64>,
    /// Inputs below this are too old (before the source started, or outside the window).
    floor: u64,
    /// Mapping history inside the window; never empty once anchored; the last is always `Some`.
    segments: VecDeque<Segment>,
    /// Output sequence number the first packet of the next source gets.
    next_out: Option<u16>,
}

impl SeqMap {
    /// A map whose first source keeps its own sequence numbers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new source: its first packet continues right after the last output.
    pub fn switch_source(&mut self) {
        if let Some(h) = self.highest {
            self.next_out = Some(Self::apply(h, self.current_offset()).wrapping_add(1));
        }
        self.highest = None;
        self.segments.clear();
    }

    /// Maps a packet we forward; `None` if it must not be forwarded (older than the
    /// source's first packet, outside the reorder window, or a copy of a skipped packet).
    pub fn map(&mut self, seq: u16) -> Option<u16> {
        let (ext, highest) = self.extend(seq);
        if ext > highest {
            self.advance(ext);
            return Some(Self::apply(ext, self.current_offset()));
        }
        if ext < self.floor {
            return None;
        }
        let segment = self.segments.iter().rev().find(|s| s.start <= ext)?;
        segment.offset.map(|offset| Self::apply(ext, offset))
    }

    /// Records that a packet will not be forwarded. If it is the newest packet, later
    /// output numbers shift down so the receiver sees no gap (and never NACKs it); returns
    /// whether that happened. An older packet's number stays a gap.
    pub fn skip(&mut self, seq: u16) -> bool {
        let (ext, highest) = self.extend(seq);
        if ext <= highest {
            return false;
        }
        let offset = self.current_offset();
        if self.segments.back().is_some_and(|s| s.start == ext) {
            self.segments.pop_back();
        }
        self.segments.push_back(Segment {
            start: ext,
            offset: None,
        });
        self.segments.push_back(Segment {
            start: ext + 1,
            offset: Some(offset.wrapping_sub(1)),
        });
        self.advance(ext);
        true
    }

    /// Extends `seq` relative to the newest packet, anchoring a new source on its first
    /// packet; returns the extended number and the newest one before this packet.
    fn extend(&mut self, seq: u16) -> (u64, u64) {
        match self.highest {
            Some(h) => {
                let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
                (h.saturating_add_signed(delta), h)
            }
            None => {
                let ext = BASE + u64::from(seq);
                let offset = self.next_out.map_or(0, |n| n.wrapping_sub(seq));
                self.segments.push_back(Segment {
                    start: ext,
                    offset: Some(offset),
                });
                self.highest = Some(ext - 1);
                self.floor = ext;
                (ext, ext - 1)
            }
        }
    }

    fn advance(&mut self, ext: u64) {
        self.highest = Some(ext);
        self.floor = self.floor.max(ext.saturating_sub(REORDER_WINDOW));
        while self.segments.len() > 1 && self.segments[1].start <= self.floor {
            self.segments.pop_front();
        }
    }

    fn current_offset(&self) -> u16 {
        // Invariant: once anchored the last segment is the mapping for new packets and is `Some`.
        self.segments.back().and_then(|s| s.offset).unwrap_or(0)
    }

    fn apply(ext: u64, offset: u16) -> u16 {
        (ext as u16).wrapping_add(offset)
    }
}

/// Rewrites RTP timestamps so the output keeps advancing with wall time across switches.
#[derive(Debug, Clone)]
pub struct TimestampMap {
    /// RTP clock rate of the stream (90 000 for video, 48 000 for Opus).
    clock_rate: u32,
    /// Output = input + offset (wrapping) for the current source.
    offset: u32,
    /// Whether `offset` is valid for the current source.
    anchored: bool,
    /// Newest output timestamp and when its first packet left, to place the next source.
    last: Option<(u32, Instant)>,
}

impl TimestampMap {
    /// A map for a stream with the given RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            offset: 0,
            anchored: false,
            last: None,
        }
    }

    /// Starts a new source: its first packet is placed after the last output timestamp by
    /// the wall time elapsed since then.
    pub fn switch_source(&mut self) {
        self.anchored = false;
    }

    /// Maps the timestamp of a packet forwarded at `now`.
    pub fn map(&mut self, now: Instant, ts: u32) -> u32 {
        if !self.anchored {
            self.offset = match self.last {
                None => 0,
                Some((last_ts, at)) => {
                    let ticks = now.saturating_duration_since(at).as_micros()
                        * u128::from(self.clock_rate)
                        / 1_000_000;
                    // Keep the jump well inside half the 32-bit space so it still reads as forward.
                    let gap = u32::try_from(ticks).unwrap_or(u32::MAX).clamp(1, 1 << 30);
                    last_ts.wrapping_add(gap).wrapping_sub(ts)
                }
            };
            self.anchored = true;
        }
        let out = ts.wrapping_add(self.offset);
        match self.last {
            Some((last_ts, _)) if out.wrapping_sub(last_ts) as i32 <= 0 => {}
            _ => self.last = Some((out, now)),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn in_order_with_wraparound_is_contiguous() {
        let mut m = SeqMap::new();
        let out: Vec<_> = (0..6).map(|i| m.map(65533u16.wrapping_add(i))).collect();
        assert_eq!(out, [65533, 65534, 65535, 0, 1, 2].map(Some));
    }

    #[test]
    fn reordered_and_duplicate_packets_map_consistently() {
        let mut m = SeqMap::new();
        assert_eq!(m.map(100), Some(100));
        assert_eq!(m.map(103), Some(103));
        assert_eq!(m.map(101), Some(101));
        assert_eq!(m.map(103), Some(103));
        assert_eq!(m.map(99), None, "older than the source's first packet");
        assert_eq!(m.map(102), Some(102));
    }

    #[test]
    fn skipping_the_newest_packet_closes_the_gap() {
        let mut m = SeqMap::new();
        assert_eq!(m.map(10), Some(10));
        assert!(m.skip(11));
        assert!(m.skip(12));
        assert_eq!(m.map(14), Some(12)); // 13 lost upstream: a real gap stays
        assert_eq!(
            m.map(13),
            Some(11),
            "a late packet after the skips still fits"
        );
        assert_eq!(
            m.map(11),
            None,
            "a copy of a skipped packet is not forwarded"
        );
        assert!(!m.skip(12), "an old packet cannot be skipped any more");
        assert_eq!(m.map(15), Some(13));
    }

    #[test]
    fn source_switch_continues_after_last_output() {
        let mut m = SeqMap::new();
        for s in 65530..=65535 {
            m.map(s);
        }
        m.switch_source();
        assert_eq!(m.map(500), Some(0));
        assert_eq!(m.map(501), Some(1));
        assert_eq!(m.map(499), None);
        m.switch_source();
        assert!(m.skip(7));
        assert_eq!(m.map(8), Some(2));
    }

    #[test]
    fn packets_outside_the_window_are_refused() {
        let mut m = SeqMap::new();
        for s in 0..3000u16 {
            m.map(s);
        }
        assert_eq!(m.map(3000 - 1500), None);
        assert_eq!(m.map(3000 - 500), Some(2500));
    }

    #[test]
    fn timestamps_continue_with_wall_time_across_a_switch() {
        let t0 = Instant::now();
        let mut m = TimestampMap::new(90_000);
        assert_eq!(m.map(t0, 1000), 1000);
        assert_eq!(m.map(t0 + Duration::from_millis(33), 4000), 4000);
        m.switch_source();
        // 100 ms after the last frame started: 9000 ticks later, whatever the new base.
        let now = t0 + Duration::from_millis(133);
        assert_eq!(m.map(now, 3_000_000_000), 13_000);
        assert_eq!(m.map(now, 3_000_003_000), 16_000);
        m.switch_source();
        assert_eq!(m.map(now, 5), 16_001, "at least one tick forward");
    }
}
