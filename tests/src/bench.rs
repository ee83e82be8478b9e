//! What the benchmarks' simulated halls share: flags, waiting for a message kind on a
//! meeting socket, and reading an SDP answer.

use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::Socket;

/// The value after flag `name` in `args`, else `default`.
pub fn flag<T: FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads `ws` until a message of `kind` (within `wait`); what came before and `keep`
/// accepts goes into `early`. An `error` message or a closed socket is an error.
pub async fn expect(
    ws: &mut Socket,
    kind: &str,
    wait: Duration,
    keep: impl Fn(&Value) -> bool,
    early: &mut Vec<Value>,
) -> Result<Value, String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return Err(format!("no {kind} within {wait:?}")),
            Ok(None) => return Err(format!("socket closed before {kind}")),
            Ok(Some(Err(e))) => return Err(format!("socket: {e}")),
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(_))) => continue,
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if v["type"] == kind {
            return Ok(v);
        }
        if v["type"] == "error" {
            return Err(format!("waiting for {kind}: {v}"));
        }
        if keep(&v) {
            early.push(v);
        }
    }
}

/// The `a=ssrc` of the answer's m-section with `a=mid:<mid>`.
pub fn ssrc_of_mid(sdp: &str, mid: &str) -> Option<u32> {
    let want = format!("a=mid:{mid}");
    sdp.split("\nm=")
        .find(|section| section.lines().any(|l| l.trim_end() == want))?
        .lines()
        .find_map(|l| l.strip_prefix("a=ssrc:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The ports of the answer's `a=candidate` lines (foundation, component, transport,
/// priority, address, port, …), each once.
pub fn candidate_ports(sdp: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}
