//! Recurring meetings: a documented subset of RFC 5545 RRULE, expanded in Việt Nam time.
//!
//! Accepted (anything else is refused with a message naming the part):
//! - `FREQ=WEEKLY` or `FREQ=MONTHLY` (required)
//! - `INTERVAL=n` (1–52)
//! - `BYDAY=MO,WE` for weekly; for monthly an ordinal day such as `1MO` (first Monday) or `-1FR` (last Friday)
//! - `BYMONTHDAY=n` (1–31) for monthly
//! - exactly one of `COUNT=n` (1–366) or `UNTIL=YYYYMMDD` / `UNTIL=YYYYMMDDTHHMMSSZ`
//!
//! A series is bounded (at most 366 meetings, within two years of its first) and each
//! occurrence becomes a meeting of its own, so invitations, conflicts and attendance
//! work per occurrence. Example, the Monday briefing for a quarter:
//! `FREQ=WEEKLY;BYDAY=MO;COUNT=13`.

use chrono::TimeZone;

use crate::time::{to_local, Timestamp, LOCAL_TZ};
use crate::{Error, Result};

/// Most meetings a series may create.
pub const MAX_OCCURRENCES: usize = 366;
const MAX_SPAN_SECS: i64 = 2 * 366 * 24 * 3600;

fn bad(message: impl Into<String>) -> Error {
    Error::invalid("recurrence", message)
}

/// Checks that `rule` stays inside the subset, returning it normalised (upper case, no `RRULE:`).
pub fn parse_rule(rule: &str) -> Result<String> {
    let upper = rule.trim().to_ascii_uppercase();
    let rule = upper.trim_start_matches("RRULE:");
    let mut parts = Vec::new();
    let mut freq = None;
    let mut bounded = 0;
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("'{part}' is not KEY=VALUE")))?;
        match key {
            "FREQ" => {
                if !matches!(value, "WEEKLY" | "MONTHLY") {
                    return Err(bad("FREQ must be WEEKLY or MONTHLY"));
                }
                freq = Some(value.to_string());
            }
            "INTERVAL" => match value.parse::<u32>() {
                Ok(1..=52) => {}
                _ => return Err(bad("INTERVAL must be 1 to 52")),
            },
            "COUNT" => {
                bounded += 1;
                match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_OCCURRENCES).contains(&n) => {}
                    _ => return Err(bad(format!("COUNT must be 1 to {MAX_OCCURRENCES}"))),
                }
            }
            "UNTIL" => {
                bounded += 1;
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                let ok = match value.len() {
                    8 => digits(value),
                    16 if value.is_ascii() => {
                        digits(&value[..8])
                            && &value[8..9] == "T"
                            && digits(&value[9..15])
                            && value.ends_with('Z')
                    }
                    _ => false,
                };
                if !ok {
                    return Err(bad("UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSSZ"));
                }
                if value.len() == 8 {
                    // A date means the end of that day in Việt Nam; RRULE wants it in UTC.
                    let day = chrono::NaiveDate::parse_from_str(value, "%Y%m%d")
                        .map_err(|_| bad("UNTIL is not a date"))?;
                    let end =
                        crate::time::from_local(day.and_hms_opt(23, 59, 59).unwrap_or_default());
                    parts.push(format!(
                        "UNTIL={}",
                        crate::time::to_utc(end).format("%Y%m%dT%H%M%SZ")
                    ));
                    continue;
                }
            }
            "BYDAY" => {
                for day in value.split(',') {
                    let name = day.trim_start_matches(['+', '-', '1', '2', '3', '4', '5']);
                    if !["MO", "TU", "WE", "TH", "FR", "SA", "SU"].contains(&name) {
                        return Err(bad(format!("BYDAY '{day}' is not a weekday")));
                    }
                }
            }
            "BYMONTHDAY" => {
                for d in value.split(',') {
                    match d.parse::<u32>() {
                        Ok(1..=31) => {}
                        _ => return Err(bad("BYMONTHDAY must be 1 to 31")),
                    }
                }
            }
            other => return Err(bad(format!("{other} is not supported (see docs/api.md)"))),
        }
        parts.push(part.to_string());
    }
    if freq.is_none() {
        return Err(bad("FREQ is required"));
    }
    if bounded != 1 {
        return Err(bad("exactly one of COUNT or UNTIL is required"));
    }
    Ok(parts.join(";"))
}

/// The start instants of a series whose first meeting starts at `first`.
pub fn expand(rule: &str, first: Timestamp) -> Result<Vec<Timestamp>> {
    let rule = parse_rule(rule)?;
    let local = to_local(first).naive_local();
    let tz = rrule::Tz::Tz(LOCAL_TZ);
    let dtstart = tz
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| bad("the start time does not exist in Việt Nam time"))?;
    let parsed: rrule::RRule<rrule::Unvalidated> = rule
        .parse()
        .map_err(|e: rrule::RRuleError| bad(e.to_string()))?;
    let set = parsed.build(dtstart).map_err(|e| bad(e.to_string()))?;
    let result = set.all(MAX_OCCURRENCES as u16 + 1);
    if result.dates.len() > MAX_OCCURRENCES {
        return Err(bad(format!(
            "the series would have more than {MAX_OCCURRENCES} meetings"
        )));
    }
    let starts: Vec<Timestamp> = result.dates.iter().map(|d| d.timestamp()).collect();
    if starts.is_empty() {
        return Err(bad("the rule gives no meeting"));
    }
    if starts.last().copied().unwrap_or(first) - first > MAX_SPAN_SECS {
        return Err(bad("a series may span at most two years"));
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{display_local, parse_instant};

    #[test]
    fn monday_briefing_for_a_quarter() {
        let first = parse_instant("2026-11-30T08:00").unwrap();
        let starts = expand("FREQ=WEEKLY;BYDAY=MO;COUNT=13", first).unwrap();
        assert_eq!(starts.len(), 13);
        assert_eq!(display_local(starts[0]), "08:00 30/11/2026");
        assert_eq!(display_local(starts[1]), "08:00 07/12/2026");
        assert_eq!(display_local(starts[12]), "08:00 22/02/2027");
    }

    #[test]
    fn first_monday_monthly_until() {
        let first = parse_instant("2026-12-07T14:00").unwrap();
        let starts = expand("FREQ=MONTHLY;BYDAY=1MO;UNTIL=20270331", first).unwrap();
        let shown: Vec<String> = starts.iter().map(|&s| display_local(s)).collect();
        assert_eq!(
            shown,
            [
                "14:00 07/12/2026",
                "14:00 04/01/2027",
                "14:00 01/02/2027",
                "14:00 01/03/2027"
            ]
        );
    }

    #[test]
    fn outside_the_subset_is_refused() {
        assert!(parse_rule("FREQ=DAILY;COUNT=3").is_err());
        assert!(parse_rule("FREQ=WEEKLY").is_err(), "unbounded");
        assert!(parse_rule("FREQ=WEEKLY;COUNT=3;UNTIL=20270101").is_err());
        assert!(parse_rule("FREQ=WEEKLY;COUNT=400").is_err());
        assert!(parse_rule("FREQ=WEEKLY;BYHOUR=8;COUNT=2").is_err());
        assert!(parse_rule("FREQ=WEEKLY;BYDAY=XX;COUNT=2").is_err());
        assert_eq!(
            parse_rule("rrule:freq=weekly;count=2").unwrap(),
            "FREQ=WEEKLY;COUNT=2"
        );
    }
}
