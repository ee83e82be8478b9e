//! Time helpers: UTC storage as Unix seconds, display in Asia/Ho_Chi_Minh.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone every time is shown in (Việt Nam, UTC+7, no DST).
pub const LOCAL_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// A stored instant: Unix seconds, UTC.
pub type Timestamp = i64;

/// Now as stored.
pub fn now() -> Timestamp {
    Utc::now().timestamp()
}

/// A stored instant as a UTC date-time (out-of-range values clamp to the epoch).
pub fn to_utc(ts: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// A stored instant in Việt Nam time.
pub fn to_local(ts: Timestamp) -> DateTime<Tz> {
    to_utc(ts).with_timezone(&LOCAL_TZ)
}

/// The local (Việt Nam) calendar date of an instant: the date a unit tree is resolved on.
pub fn local_date(ts: Timestamp) -> NaiveDate {
    to_local(ts).date_naive()
}

/// A local wall-clock time in Việt Nam as a stored instant.
pub fn from_local(naive: NaiveDateTime) -> Timestamp {
    // Asia/Ho_Chi_Minh has had no DST since 1975, so the mapping is unique.
    LOCAL_TZ
        .from_local_datetime(&naive)
        .earliest()
        .map(|d| d.timestamp())
        .unwrap_or_else(|| naive.and_utc().timestamp() - 7 * 3600)
}

/// The years anything is scheduled or reported in: input outside them is refused at the
/// edge (a year such as -262143 overflows date arithmetic; 9999 is a typing mistake).
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Parses an instant given either with an offset (RFC 3339) or as a local
/// Việt Nam wall-clock time without offset (`2026-11-30T08:00`), in [`YEARS`].
pub fn parse_instant(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return YEARS.contains(&d.year()).then(|| d.timestamp());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return YEARS.contains(&n.year()).then(|| from_local(n));
        }
    }
    None
}

/// Parses a calendar date `YYYY-MM-DD` in [`YEARS`].
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| YEARS.contains(&d.year()))
}

/// RFC 3339 in UTC, as the API returns instants.
pub fn rfc3339_utc(ts: Timestamp) -> String {
    to_utc(ts).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 with the +07:00 offset, for people.
pub fn rfc3339_local(ts: Timestamp) -> String {
    to_local(ts).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A short local display form: `08:00 30/11/2026`.
pub fn display_local(ts: Timestamp) -> String {
    to_local(ts).format("%H:%M %d/%m/%Y").to_string()
}

/// The local display form to the second: `08:00:05 30/11/2026`.
pub fn display_local_secs(ts: Timestamp) -> String {
    to_local(ts).format("%H:%M:%S %d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_input_is_vietnam_time() {
        let ts = parse_instant("2026-11-30T08:00").unwrap();
        assert_eq!(rfc3339_utc(ts), "2026-11-30T01:00:00Z");
        assert_eq!(rfc3339_local(ts), "2026-11-30T08:00:00+07:00");
        assert_eq!(parse_instant("2026-11-30T01:00:00Z"), Some(ts));
        assert_eq!(display_local(ts), "08:00 30/11/2026");
        assert_eq!(parse_instant("next monday"), None);
        assert_eq!(parse_instant("-262143-03-01T08:00"), None);
        assert_eq!(parse_instant("9999-12-31T08:00:00Z"), None);
        assert_eq!(parse_date("+262142-01-01"), None);
        assert!(parse_date("2026-03-01").is_some());
    }
}
