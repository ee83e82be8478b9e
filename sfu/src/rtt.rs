//! Round-trip time from RTCP receiver reports: NTP "compact" time, RTT from LSR/DLSR,
//! and a smoothed estimate.
//!
//! A hall's receiver report block about one of our slots carries `LSR` (the middle 32
//! bits of the NTP time of the last sender report we sent on that slot) and `DLSR` (how
//! long the hall held it before reporting, in 1/65536 s). With the NTP time at which the
//! report arrived, RFC 3550 §6.4.1 gives the round trip: `now − LSR − DLSR`, modulo
//! 2^32. Our sender reports come from `rtc`'s default sender-report interceptor, which
//! stamps them with wall-clock time (`rtc`'s `SystemInstant::ntp`), so `now` is the wall
//! clock too ([`ntp_compact`] of `SystemTime::now()`).

use std::time::Duration;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 0x83AA_7E80;
/// One second in compact NTP units (16.16 fixed point).
const COMPACT_SECOND: i64 = 1 << 16;
/// A round trip longer than this is taken for a bogus report (a stale or foreign LSR).
pub const MAX_RTT: Duration = Duration::from_secs(60);
/// How far below zero a round trip may come out and still count as zero: both ends of
/// the subtraction are rounded to 1/65536 s, and clocks are read at slightly different
/// points on loopback.
const NEGATIVE_SLACK: i64 = COMPACT_SECOND / 100;

/// The middle 32 bits of the 64-bit NTP time of `since_unix_epoch` (16 bits of seconds,
/// 16 bits of fraction), as RTCP's LSR field carries it.
pub fn ntp_compact(since_unix_epoch: Duration) -> u32 {
    let secs = since_unix_epoch
        .as_secs()
        .wrapping_add(NTP_UNIX_OFFSET_SECS);
    let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    // Truncations intended: keep the low 16 bits of seconds and the high 16 of fraction.
    (((secs & 0xFFFF) << 16) | (frac >> 16)) as u32
}

/// A duration in compact NTP units (1/65536 s), as RTCP's DLSR field carries it;
/// saturates at the field's range (about 18 hours).
pub fn to_compact(d: Duration) -> u32 {
    let units = d.as_nanos() * (1 << 16) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The round trip a report block gives: `now − lsr − dlsr` (modulo 2^32, all in compact
/// NTP units). `None` when the hall has received no sender report yet (`lsr == 0`) or
/// the result is not a plausible round trip (clearly negative, or over [`MAX_RTT`]).
pub fn rtt_from_report(now: u32, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    // Interpreted as signed: a report a little "from the future" is rounding.
    let units = i64::from(now.wrapping_sub(lsr).wrapping_sub(dlsr) as i32);
    if units < -NEGATIVE_SLACK {
        return None;
    }
    let units = u64::try_from(units.max(0)).unwrap_or(0);
    let rtt = Duration::from_nanos(units * 1_000_000_000 / (1 << 16));
    (rtt <= MAX_RTT).then_some(rtt)
}

/// A smoothed round trip, as TCP smooths it (RFC 6298: `srtt ← 7/8 srtt + 1/8 sample`),
/// so one delayed report does not make a hall look poor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothedRtt {
    /// The estimate; `None` before the first sample.
    srtt: Option<Duration>,
}

impl SmoothedRtt {
    /// Takes one sample in.
    pub fn update(&mut self, sample: Duration) {
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(s) => (s * 7 + sample) / 8,
        });
    }

    /// The estimate, `None` before the first sample.
    pub fn get(&self) -> Option<Duration> {
        self.srtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn compact_ntp_of_known_times() {
        // The Unix epoch is NTP second 0x83AA7E80: its low 16 bits are 0x7E80.
        assert_eq!(ntp_compact(Duration::ZERO), 0x7E80_0000);
        // Half a second is 0x8000 in the fraction.
        assert_eq!(ntp_compact(Duration::from_millis(500)), 0x7E80_8000);
        assert_eq!(ntp_compact(Duration::from_secs(1)), 0x7E81_0000);
        // It agrees with the middle bits of the full NTP time `rtc` stamps reports with.
        let t = Duration::new(1_767_225_600, 123_456_789);
        let full = ((t.as_secs() + NTP_UNIX_OFFSET_SECS) << 32)
            | ((u64::from(t.subsec_nanos()) << 32) / 1_000_000_000);
        assert_eq!(ntp_compact(t), (full >> 16) as u32);
    }

    #[test]
    fn rtt_is_now_minus_lsr_minus_dlsr() {
        let sent = Duration::new(1_767_225_600, 0);
        let lsr = ntp_compact(sent);
        let held = to_compact(MS * 200);
        let arrived = ntp_compact(sent + MS * 242);
        let rtt = rtt_from_report(arrived, lsr, held).expect("a round trip");
        assert!(
            rtt.abs_diff(MS * 42) < Duration::from_micros(100),
            "{rtt:?}"
        );
    }

    #[test]
    fn rtt_across_the_wraparound_of_compact_time() {
        // The compact clock wraps every 65 536 s; LSR just before, now just after.
        let lsr = 0xFFFF_F000;
        let dlsr = 0x0000_0800; // ~31 ms
        let now = 0x0000_1000; // 0x2000 units after LSR: ~125 ms
        let rtt = rtt_from_report(now, lsr, dlsr).expect("a round trip");
        assert!(rtt.abs_diff(MS * 94) < MS, "{rtt:?}");
    }

    #[test]
    fn no_rtt_without_a_sender_report_or_from_nonsense() {
        assert_eq!(rtt_from_report(0x1234_5678, 0, 0), None, "LSR 0: no SR yet");
        // DLSR longer than the time since the SR: clearly negative.
        assert_eq!(rtt_from_report(0x0001_0000, 0x0000_8000, 0x0001_0000), None);
        // Rounding a hair below zero counts as zero.
        assert_eq!(
            rtt_from_report(0x0001_0000, 0x0000_8000, 0x0000_8001),
            Some(Duration::ZERO)
        );
        // An LSR from minutes ago (a foreign or stale report).
        assert_eq!(rtt_from_report(0x0100_0000, 0x0000_8000, 0), None);
        // Garbage never panics.
        for (a, b, c) in [(u32::MAX, 1, u32::MAX), (1, u32::MAX, 0), (0, 1, 1)] {
            let _ = rtt_from_report(a, b, c);
        }
    }

    #[test]
    fn dlsr_units() {
        assert_eq!(to_compact(Duration::from_secs(1)), 65_536);
        assert_eq!(to_compact(Duration::from_secs(1 << 20)), u32::MAX);
    }

    #[test]
    fn smoothing_follows_slowly() {
        let mut s = SmoothedRtt::default();
        assert_eq!(s.get(), None);
        s.update(MS * 40);
        assert_eq!(s.get(), Some(MS * 40), "the first sample is taken as it is");
        s.update(MS * 120);
        assert_eq!(
            s.get(),
            Some(MS * 50),
            "one late report moves it by an eighth"
        );
        for _ in 0..60 {
            s.update(MS * 120);
        }
        let settled = s.get().expect("estimate");
        assert!(settled.abs_diff(MS * 120) < MS, "{settled:?}");
    }
}
