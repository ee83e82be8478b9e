//! Repairing losses between nodes: the origin keeps the last [`HISTORY`] packets of
//! each relayed layer ([`History`]) to answer a watcher's NACK; the watcher notes the
//! sequence numbers missing on each relay SSRC ([`Gaps`]) and says when to ask for
//! them. A loss between two nodes is repaired once for the whole watching node, not by
//! each of its halls; the late packet then goes through each slot's `SeqMap` into its
//! place (`packetmap.rs`).

use crate::forwarder::IncomingPacket;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Packets kept per relayed layer on the origin (~2 s of a 720p layer).
pub const HISTORY: usize = 512;
/// How long after a gap is seen it is first asked for (a packet merely reordered
/// arrives meanwhile).
const FIRST_ASK: Duration = Duration::from_millis(5);
/// How long between asks for the same packet (an RTT between nodes of one country).
const RETRY: Duration = Duration::from_millis(40);
/// Asks per packet before giving up.
const MAX_ASKS: u8 = 4;
/// A jump of more sequence numbers than this is a new start (the origin stopped and
/// started exporting the layer, or a long outage), not packets to ask for one by one:
/// the slots wait for the next keyframe.
const MAX_MISSING: u64 = 128;
/// Extended sequence numbers start here, so wrapping below the first stays positive.
const BASE: u64 = 1 << 20;

/// What was sent of one relayed layer, by sequence number.
pub struct History {
    packets: Vec<Option<IncomingPacket>>,
}

impl Default for History {
    fn default() -> Self {
        Self {
            packets: vec![None; HISTORY],
        }
    }
}

impl History {
    /// Keeps `packet` (a shared payload: no copy).
    pub fn keep(&mut self, packet: &IncomingPacket) {
        let i = usize::from(packet.header.sequence_number) % HISTORY;
        self.packets[i] = Some(packet.clone());
    }

    /// The packet with sequence number `seq`, if still kept.
    pub fn get(&self, seq: u16) -> Option<&IncomingPacket> {
        let kept = self.packets[usize::from(seq) % HISTORY].as_ref()?;
        (kept.header.sequence_number == seq).then_some(kept)
    }
}

/// One missing packet.
#[derive(Debug, Clone, Copy)]
struct Miss {
    asks: u8,
    due: Instant,
}

/// The sequence numbers missing on one relay SSRC.
#[derive(Default)]
pub struct Gaps {
    highest: Option<u64>,
    missing: BTreeMap<u64, Miss>,
}

impl Gaps {
    /// Packet `seq` arrived at `now`: true if it was missing (a repair).
    pub fn record(&mut self, now: Instant, seq: u16) -> bool {
        let Some(highest) = self.highest else {
            self.highest = Some(BASE + u64::from(seq));
            return false;
        };
        let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
        let ext = highest.saturating_add_signed(delta);
        if ext <= highest {
            return self.missing.remove(&ext).is_some();
        }
        if ext - highest > MAX_MISSING {
            self.missing.clear();
        } else {
            for m in highest + 1..ext {
                let due = now + FIRST_ASK;
                self.missing.insert(m, Miss { asks: 0, due });
            }
        }
        self.highest = Some(ext);
        let floor = ext.saturating_sub(HISTORY as u64);
        self.missing = self.missing.split_off(&floor);
        false
    }

    /// Adds to `out` the sequence numbers to ask for at `now`; forgets those asked
    /// [`MAX_ASKS`] times.
    pub fn due(&mut self, now: Instant, out: &mut Vec<u16>) {
        self.missing.retain(|&ext, miss| {
            if miss.due > now {
                return true;
            }
            if miss.asks >= MAX_ASKS {
                return false;
            }
            miss.asks += 1;
            miss.due = now + RETRY;
            out.push(ext as u16);
            true
        });
    }

    /// When a missing packet is next to be asked for.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.missing.values().map(|m| m.due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_asked_for_after_a_moment_then_again_until_repaired() {
        let t0 = Instant::now();
        let mut gaps = Gaps::default();
        assert!(!gaps.record(t0, 65534));
        assert!(!gaps.record(t0, 1)); // 65535 and 0 missing, across the wrap
        let mut out = Vec::new();
        gaps.due(t0, &mut out);
        assert!(out.is_empty(), "not at once: it may be reordered");
        gaps.due(t0 + FIRST_ASK, &mut out);
        assert_eq!(out, [65535, 0]);
        assert!(gaps.record(t0, 0), "a repair");
        assert!(!gaps.record(t0, 0), "a copy is no repair");
        out.clear();
        gaps.due(t0 + FIRST_ASK + RETRY, &mut out);
        assert_eq!(out, [65535], "asked again");
        for i in 2..=MAX_ASKS {
            out.clear();
            gaps.due(t0 + FIRST_ASK + RETRY * u32::from(i), &mut out);
        }
        out.clear();
        gaps.due(t0 + Duration::from_secs(1), &mut out);
        assert!(out.is_empty() && gaps.poll_timeout().is_none(), "given up");
    }

    #[test]
    fn a_long_jump_is_a_new_start_not_a_gap() {
        let t0 = Instant::now();
        let mut gaps = Gaps::default();
        gaps.record(t0, 10);
        gaps.record(t0, 12);
        gaps.record(t0, 10 + 2 + MAX_MISSING as u16 + 1);
        assert!(gaps.poll_timeout().is_none(), "nothing to ask for");
        gaps.record(t0, 10 + 2 + MAX_MISSING as u16 + 3);
        let mut out = Vec::new();
        gaps.due(t0 + FIRST_ASK, &mut out);
        assert_eq!(out, [10 + 2 + MAX_MISSING as u16 + 2]);
    }

    #[test]
    fn history_answers_only_what_it_still_holds() {
        let packet = |seq: u16| IncomingPacket {
            source: crate::StreamId(1),
            layer: 0,
            keyframe: false,
            header: crate::rtp::RtpHeader {
                marker: false,
                payload_type: 96,
                sequence_number: seq,
                timestamp: 0,
                ssrc: 7,
            },
            payload: Default::default(),
        };
        let mut h = History::default();
        for seq in 0..600u16 {
            h.keep(&packet(seq));
        }
        assert!(h.get(80).is_none(), "overwritten by 592");
        assert_eq!(h.get(599).map(|p| p.header.sequence_number), Some(599));
        assert_eq!(h.get(88).map(|p| p.header.sequence_number), Some(88));
    }
}
