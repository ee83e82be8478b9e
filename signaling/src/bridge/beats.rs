//! Nodes' beats: each node says it is alive once a second on `hoinghi.alive.<node>`, its
//! incarnation (a number drawn at start) and its cluster's identity (drawn once in the
//! shared database) as payload, `"<incarnation> <cluster>"`. A beat of another cluster on
//! the same NATS server is not heard. A bridge ends its links with a node that has been
//! silent for three beats, or that was found restarted (a new incarnation): the other end
//! of those links is gone.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How often a node beats.
pub(crate) const BEAT: Duration = Duration::from_secs(1);
/// How long a node may be silent before its links count as lost.
pub(crate) const SILENCE: Duration = Duration::from_secs(3);

/// A beat's payload: this node's run in this cluster.
pub(crate) fn payload(incarnation: u64, cluster: &str) -> String {
    format!("{incarnation} {cluster}")
}

/// The run a beat's payload names, if the beat is of `cluster` (a node of an earlier
/// version beats its run alone: heard, so a rolling upgrade keeps its nodes together; a
/// node that could not read its cluster's identity, `""`, hears every beat).
pub(crate) fn run_of(payload: &[u8], cluster: &str) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    let (run, of) = match text.split_once(' ') {
        Some((run, of)) => (run, Some(of)),
        None => (text, None),
    };
    if !cluster.is_empty() && of.is_some_and(|of| of != cluster) {
        return None;
    }
    run.parse().ok()
}

/// The last beat heard from each node.
#[derive(Debug, Default)]
pub(crate) struct Beats {
    seen: Mutex<HashMap<String, (u64, Instant)>>,
}

impl Beats {
    /// `node`, in its run `incarnation`, beat at `at`.
    pub fn heard(&self, node: &str, incarnation: u64, at: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.insert(node.to_owned(), (incarnation, at));
    }

    /// Whether a link made at `since` with `node` in its run `incarnation` still has a
    /// live other end at `now`: the node beat within [`SILENCE`] (counted from `since`
    /// when it has not beaten since) and has not restarted since.
    pub fn alive(&self, node: &str, incarnation: u64, since: Instant, now: Instant) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let last = match seen.get(node) {
            Some(&(run, at)) if at > since && run != incarnation => return false,
            Some(&(_, at)) => at.max(since),
            None => since,
        };
        now.saturating_duration_since(last) < SILENCE
    }

    /// The nodes that beat within [`SILENCE`] before `now`, in id order.
    pub fn alive_nodes(&self, now: Instant) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut nodes: Vec<String> = seen
            .iter()
            .filter(|(_, &(_, at))| now.saturating_duration_since(at) < SILENCE)
            .map(|(node, _)| node.clone())
            .collect();
        nodes.sort_unstable();
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_of_another_cluster_is_not_heard() {
        let ours = payload(7, "c0ffee");
        assert_eq!(run_of(ours.as_bytes(), "c0ffee"), Some(7));
        assert_eq!(
            run_of(ours.as_bytes(), "beef"),
            None,
            "another cluster's node"
        );
        assert_eq!(
            run_of(b"7", "c0ffee"),
            Some(7),
            "a node of an earlier version"
        );
        assert_eq!(run_of(b"x c0ffee", "c0ffee"), None);
        assert_eq!(run_of(&[0xff, 0x20], "c0ffee"), None);
        assert_eq!(
            run_of(ours.as_bytes(), ""),
            Some(7),
            "no identity: every beat"
        );
    }

    #[test]
    fn a_silent_or_restarted_node_is_gone() {
        let beats = Beats::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Never heard: the link's own age counts.
        assert!(beats.alive("node-b", 7, t0, t0 + s(2)));
        assert!(!beats.alive("node-b", 7, t0, t0 + s(3)));
        beats.heard("node-b", 7, t0 + s(2));
        assert!(beats.alive("node-b", 7, t0, t0 + s(4)));
        assert!(!beats.alive("node-b", 7, t0, t0 + s(5)));
        // A new run of node b: links made with the old one are gone at once…
        beats.heard("node-b", 8, t0 + s(5));
        assert!(!beats.alive("node-b", 7, t0, t0 + s(5)));
        // …while a link made with the new one lives.
        assert!(beats.alive("node-b", 8, t0 + s(5), t0 + s(6)));
        // A beat of the old run heard before a link was made does not end it.
        beats.heard("node-c", 1, t0);
        assert!(beats.alive("node-c", 2, t0 + s(1), t0 + s(2)));
        // Who is alive: b beat at 5 s, c at 0 s.
        assert_eq!(beats.alive_nodes(t0 + s(2)), ["node-b", "node-c"]);
        assert_eq!(beats.alive_nodes(t0 + s(6)), ["node-b"]);
    }
}
