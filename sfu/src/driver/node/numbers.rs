//! The relay's own sequence numbers per relay SSRC: every packet a node seals for
//! another under one key gets a fresh SRTP index, however the publisher's numbers ran
//! while the layer was not exported.
//!
//! The relay SSRC names (stream, layer), so it stays the same when an export stops and
//! starts again (the floor leaves a hall, and comes back minutes later). Meanwhile the
//! publisher sent on: its sequence numbers may have wrapped and lie "behind" the last
//! ones relayed. Sealed as they are, the origin's SRTP context would reuse indices it
//! already used under the same key (an AES-GCM nonce twice: RFC 7714 forbids it) and
//! the watcher would drop the packets as replays until the numbers caught up — for
//! minutes. So the origin renumbers: a layer's packets keep their spacing (losses and
//! reordering show as they are, for NACKs) while the publisher's numbers move on
//! normally, and a jump either way becomes a step of [`RESTART_STEP`] forward — more
//! than the watcher's gap limit, so it reads as a new start, not as packets to ask for.

/// How far ahead of the last relayed number a restart goes (> the watcher's
/// `MAX_MISSING` of 128, < 2^15 so the SRTP rollover count follows).
const RESTART_STEP: u16 = 1_000;
/// A publisher's step forward within this is its own (losses on its way here).
const AHEAD: i16 = 1_024;
/// A step back within this is a late or repeated packet…
const BEHIND: i16 = -512;
/// …if its RTP timestamp is not later than this past the last one (~1.5 s at 90 kHz,
/// 2.7 s at 48 kHz): a number behind with a much later time is the publisher's numbers
/// having wrapped while the layer was not exported.
const LATE_TICKS: i32 = 1 << 17;

/// The relay's numbering of one relay SSRC on one link (kept for the link's life).
#[derive(Default)]
pub struct Numbers {
    /// The newest publisher packet relayed (number, timestamp) and its relay number.
    last: Option<(u16, u32, u16)>,
}

impl Numbers {
    /// The relay's number for the publisher's packet `seq` of RTP time `timestamp`.
    pub fn relay(&mut self, seq: u16, timestamp: u32) -> u16 {
        let Some((from, time, to)) = self.last else {
            self.last = Some((seq, timestamp, seq));
            return seq;
        };
        let step = seq.wrapping_sub(from) as i16;
        let late =
            (BEHIND..=0).contains(&step) && (timestamp.wrapping_sub(time) as i32) <= LATE_TICKS;
        if late {
            return to.wrapping_add_signed(step);
        }
        let out = if (1..=AHEAD).contains(&step) {
            to.wrapping_add_signed(step)
        } else {
            to.wrapping_add(RESTART_STEP)
        };
        self.last = Some((seq, timestamp, out));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Numbers;

    #[test]
    fn a_layer_keeps_its_spacing_while_the_publisher_moves_on_normally() {
        let mut n = Numbers::default();
        let got: Vec<u16> = [65_534, 65_535, 0, 2, 1, 3, 3]
            .map(|s| n.relay(s, u32::from(s.wrapping_add(2)) * 3_000))
            .to_vec();
        assert_eq!(
            got,
            [65_534, 65_535, 0, 2, 1, 3, 3],
            "wrap, loss, reordering, a packet twice: kept"
        );
    }

    #[test]
    fn numbers_behind_the_last_relayed_become_a_step_forward() {
        let mut n = Numbers::default();
        let time = |k: u32| k * 3_000;
        for s in 10_000..10_100 {
            n.relay(s, time(u32::from(s)));
        }
        // Export stopped; the publisher sent 40,002 more and wrapped: behind 10,099.
        let resumed = 10_099u16.wrapping_add(40_002);
        let first = n.relay(resumed, time(10_099 + 40_002));
        assert_eq!(first, 10_099 + 1_000);
        assert_eq!(n.relay(resumed.wrapping_add(1), time(50_102)), first + 1);
        // A big jump forward too.
        let far = n.relay(resumed.wrapping_add(20_000), time(70_101));
        assert_eq!(far, first + 1 + 1_000);
    }

    #[test]
    fn every_number_sealed_is_new_however_long_the_pauses() {
        let mut n = Numbers::default();
        // Runs of 200 packets after pauses of every length: the publisher resumes at
        // numbers behind, equal to or far ahead of earlier runs'.
        let mut sent: u32 = 1_000;
        let mut last: Option<i64> = None;
        for pause in [0u32, 5, 300, 20_000, 33_000, 65_000, 65_535, 65_536, 7] {
            sent += pause;
            for _ in 0..200 {
                sent += 1;
                let out = n.relay(sent as u16, sent.wrapping_mul(3_000));
                // The SRTP index as the sealing context extends it (steps < 2^15).
                let ext = match last {
                    None => i64::from(out),
                    Some(l) => l + i64::from(out.wrapping_sub(l as u16) as i16),
                };
                assert!(last.is_none_or(|l| ext > l), "index {ext} after {last:?}");
                last = Some(ext);
            }
        }
    }
}
