//! The checks of what a secretariat types when scheduling or editing a meeting: title,
//! description, times.

use crate::time::{self, Timestamp};
use crate::{Error, Result};

/// Longest meeting accepted.
const MAX_DURATION_SECS: i64 = 24 * 3600;
/// How far ahead a meeting may be scheduled.
const MAX_AHEAD_SECS: i64 = 3 * 366 * 24 * 3600;

/// Checks a title: 1 to 300 characters, on one line (no control characters, which
/// would break calendar feeds and exports).
pub fn parse_title(title: &str) -> Result<String> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 300 {
        return Err(Error::invalid("title", "must be 1 to 300 characters"));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid(
            "title",
            "must not contain control characters (line breaks, tabs)",
        ));
    }
    Ok(t.to_string())
}

pub(super) fn check_times(starts_at: Timestamp, ends_at: Timestamp) -> Result<()> {
    if ends_at <= starts_at {
        return Err(Error::invalid("ends_at", "must be after the start"));
    }
    if ends_at - starts_at > MAX_DURATION_SECS {
        return Err(Error::invalid(
            "ends_at",
            "a meeting lasts at most 24 hours",
        ));
    }
    Ok(())
}

/// Checks a start: not before `earliest`, not more than [`MAX_AHEAD_SECS`] ahead.
pub(super) fn check_start(starts_at: Timestamp, earliest: Timestamp) -> Result<()> {
    if starts_at < earliest {
        return Err(Error::invalid("starts_at", "is in the past"));
    }
    if starts_at > time::now() + MAX_AHEAD_SECS {
        return Err(Error::invalid(
            "starts_at",
            "is more than three years ahead",
        ));
    }
    Ok(())
}

pub(super) fn check_description(d: &str) -> Result<String> {
    if d.chars().count() > 5000 {
        return Err(Error::invalid("description", "at most 5000 characters"));
    }
    if d.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(d.trim().replace("\r\n", "\n").replace('\r', "\n"))
}
