//! What the two processes of the benchmark share: the line protocol between them, the
//! layout of the synthetic payloads, wall-clock stamps and readings of `/proc`.
//!
//! Lines go from the clients process to the SFU process on the child's stdout and back
//! on its stdin, one message per line, SDP escaped so it fits on one line:
//!
//! - clients → SFU: `OFFER <id> <sdp>` (id 0 is the publisher), `PUBLISHING`,
//!   `JOINED <key=value…>`, `REPORT <key=value…>`, `PAUSED`, `ERR <text>`;
//! - SFU → clients: `ANSWER <id> <add_peer start, ns since the epoch> <sdp>`,
//!   `FAIL <id> <text>`, `LAYERS`, `JOIN <count>`, `MARK`, `REPORT`, `QUIT`, and with
//!   `--drop-media` `PAUSE` (the publisher stops; `PAUSED` once in-flight packets had
//!   time to arrive) and `RESUME`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub use sfu::testclient::procstat::{clock_ticks, cpu_seconds, loadavg, rss_kib};

/// Stream index written into every payload: the three video layers, then audio.
pub const STREAM_AUDIO: u8 = 3;
/// The top video layer, the one subscribers receive.
pub const STREAM_TOP: u8 = 2;
/// Bytes of a payload the stamp needs (after the two codec bytes).
pub const STAMP_END: usize = 15;

/// Escapes `\`, CR and LF so an SDP fits on one line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`].
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Wall-clock nanoseconds since the Unix epoch; both processes read the same clock.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What the publisher writes into each payload after the two codec bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Which stream (0–2 video layers, [`STREAM_AUDIO`]).
    pub stream: u8,
    /// The publisher's running packet number on that stream.
    pub number: u32,
    /// When the publisher handed the packet to its connection.
    pub sent_ns: u64,
}

impl Stamp {
    /// Writes the stamp at bytes 2..15 of `payload` (which must be at least [`STAMP_END`] long).
    pub fn write(&self, payload: &mut [u8]) {
        if let Some(b) = payload.get_mut(2..STAMP_END) {
            b[..4].copy_from_slice(&self.number.to_be_bytes());
            b[4..12].copy_from_slice(&self.sent_ns.to_be_bytes());
            b[12] = self.stream;
        }
    }

    /// Reads a stamp back; `None` if the payload is too short.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let b = payload.get(2..STAMP_END)?;
        Some(Self {
            number: u32::from_be_bytes(b[..4].try_into().ok()?),
            sent_ns: u64::from_be_bytes(b[4..12].try_into().ok()?),
            stream: b[12],
        })
    }
}

/// Formats `key=value` pairs for a `JOINED` or `REPORT` line.
pub fn pairs(values: &[(&str, String)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses `key=value` pairs (numbers) of a `JOINED` or `REPORT` line.
pub fn parse_pairs(line: &str) -> BTreeMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

/// The `q`-th quantile (0..=1) of sorted values; 0 when empty.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let last = sorted.len() - 1;
    // Rounds to the nearest rank; `q` is within 0..=1, so the index is within bounds.
    let at = ((last as f64) * q).round() as usize;
    sorted[at.min(last)]
}
