//! The stream directory (docs/cluster.md, "Step 2b"): each slot change goes to its
//! viewer's media node, a stream shown on a node other than its origin watched there
//! first and unwatched when no slot there shows it. The home's own SFU is driven here and
//! awaited; a remote node's changes go into its queue (`queue`) and are recorded when it
//! answers.

use std::collections::{HashMap, HashSet};

use sfu::{SfuError, SlotChange, StreamId};

use super::nodes::{Placed, Watch};
use super::queue::{Job, Sent};
use super::Room;

/// A remote node's share of a refill: the changes' places, the changes, the watches
/// they need (recorded once queued).
type Batch = (Vec<usize>, Vec<Sent>, Vec<(Watch, u8)>);

/// What became of one slot change.
pub(super) enum Outcome {
    /// The home's SFU applied it (or it failed at once).
    Done(Result<(), SfuError>),
    /// In its remote node's queue: recorded when the node answers.
    Queued,
    /// Its node's queue was full: not sent, planned again at the node's next answer.
    Deferred,
}

impl Room {
    /// Applies `changes`, each on its viewer's media node; what became of each, in order.
    pub(super) async fn apply_placed(
        &mut self,
        changes: Vec<Placed>,
    ) -> Result<Vec<Outcome>, SfuError> {
        let Some(home) = self.shared.bridge().map(|b| b.node().to_owned()) else {
            let all = changes.into_iter().map(|p| p.change).collect();
            let results = self.shared.sfu.apply(all).await?;
            return Ok(results.into_iter().map(Outcome::Done).collect());
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        let (mut at, mut here) = (Vec::new(), Vec::new());
        let mut remote: HashMap<String, Batch> = HashMap::new();
        for (k, p) in changes.into_iter().enumerate() {
            outcomes.push(Outcome::Deferred);
            let m = &self.members[p.member];
            let (viewer, hall_id) = (m.node.clone(), m.hall.id);
            let origin = p
                .shown
                .and_then(|(h, _, _)| self.member_by_hall(h))
                .and_then(|m| m.node.clone());
            let crossing = p
                .shown
                .filter(|_| origin != viewer)
                .map(|(_, track, layer)| (track, if p.video { layer } else { 0 }));
            let origin_name = origin.clone().unwrap_or_else(|| home.clone());
            if crossing.is_some()
                && origin.is_some()
                && self
                    .shared
                    .bridge()
                    .is_some_and(|b| !b.is_alive(&origin_name))
            {
                // Its halls are failed at the next sweep: nothing waits on it.
                let e = format!("node {origin_name} does not beat");
                outcomes[k] = Outcome::Done(Err(SfuError::Webrtc(e)));
                continue;
            }
            let Some(node) = viewer else {
                let mut change = p.change;
                if let Some((track, top)) = crossing {
                    match self.watch_here(&origin, track, top).await {
                        Ok(local) => {
                            if let SlotChange::Show { ref mut track, .. } = change {
                                *track = local;
                            }
                        }
                        Err(e) => {
                            outcomes[k] = Outcome::Done(Err(SfuError::Webrtc(e)));
                            continue;
                        }
                    }
                }
                at.push(k);
                here.push(change);
                continue;
            };
            let batch = remote.entry(node.clone()).or_default();
            batch.0.push(k);
            if let Some((track, top)) = crossing {
                batch.2.push(((Some(node), origin.clone(), track), top));
            }
            batch.1.push(Sent {
                hall_id,
                slot: p.slot,
                want: p.want,
                watch: crossing.map(|(track, top)| (origin_name, track, top)),
                change: p.change,
            });
        }
        for (node, (at, sent, watches)) in remote {
            if self.enqueue(&node, Job::Apply(sent)).is_ok() {
                for k in at {
                    outcomes[k] = Outcome::Queued;
                }
                for (key, top) in watches {
                    let track = key.2;
                    let had = self.nodes.watched.entry(key).or_insert((track, top));
                    had.1 = had.1.max(top);
                }
            }
        }
        if !here.is_empty() {
            match self.shared.sfu.apply(here).await {
                Ok(results) => {
                    for (k, r) in at.into_iter().zip(results) {
                        outcomes[k] = Outcome::Done(r);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "slot changes not applied on this node's SFU");
                    for k in at {
                        outcomes[k] = Outcome::Done(Err(e.clone()));
                    }
                }
            }
        }
        Ok(outcomes)
    }

    /// The id on this node's SFU of `track` published on `origin`, watched here with its
    /// layers 0 to `top` at least (watched once, again only for a higher layer).
    async fn watch_here(
        &mut self,
        origin: &Option<String>,
        track: StreamId,
        top: u8,
    ) -> Result<StreamId, String> {
        let key = (None, origin.clone(), track);
        let had = self.nodes.watched.get(&key).copied();
        if let Some((local, _)) = had.filter(|&(_, watched)| watched >= top) {
            return Ok(local);
        }
        let Some(origin_name) = origin.clone() else {
            return Err("a stream of this node".into());
        };
        let local = self
            .media_of(None)
            .watch_tried(&origin_name, track, top)
            .await?;
        self.nodes.watched.insert(key, (local, top));
        Ok(local)
    }

    /// The id on this node's SFU of `track` that `hall` publishes (watched here if its
    /// media is on another node).
    pub(super) fn here(&self, hall: i64, track: StreamId) -> StreamId {
        let origin = self.member_by_hall(hall).and_then(|m| m.node.clone());
        match origin {
            None => track,
            Some(_) => {
                let key = (None, origin, track);
                self.nodes.watched.get(&key).map_or(track, |w| w.0)
            }
        }
    }

    /// Unwatches the streams no slot on their watching node shows (or is to show) any
    /// more: on this node's SFU at once, on a remote node through its queue.
    pub(super) fn unwatch_unused(&mut self) {
        if self.nodes.watched.is_empty() {
            return;
        }
        let node_of = |hall: i64| self.member_by_hall(hall).and_then(|m| m.node.clone());
        let shown: HashSet<Watch> = self
            .members
            .iter()
            .flat_map(|m| m.slots.iter().map(move |s| (m.node.clone(), s.planned())))
            .filter_map(|(viewer, fill)| fill.map(|p| (viewer, node_of(p.hall_id), p.track)))
            .collect();
        let unused: Vec<Watch> = self
            .nodes
            .watched
            .keys()
            .filter(|w| !shown.contains(*w))
            .cloned()
            .collect();
        let home = self.shared.bridge().map(|b| b.node().to_owned());
        for w in unused {
            let Some(watched) = self.nodes.watched.remove(&w) else {
                continue;
            };
            match (&w.0, w.1.clone().or_else(|| home.clone())) {
                (Some(node), Some(origin)) => {
                    if self.enqueue(node, Job::Unwatch(origin, w.2)).is_err() {
                        self.nodes.watched.insert(w, watched); // next time
                    }
                }
                _ => {
                    let media = self.media_of(None);
                    tokio::spawn(async move { media.unwatch(watched.0).await });
                }
            }
        }
    }
}
