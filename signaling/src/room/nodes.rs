//! Halls' media on several nodes (docs/cluster.md, "Step 2b"): where the room places a
//! hall's peer, the [`MediaNode`] it drives it through (this node's SFU, or another
//! node's over NATS), the stream directory (a track shown on a node other than its
//! origin is watched there first, and unwatched when no slot there shows it), and the
//! meeting's active speaker merged from each media node's loudest.
//!
//! A member's `node` is `None` on this node (the home): without a bridge every hall is,
//! and nothing here costs anything.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sfu::{IceCandidate, PeerAnswer, PeerId, SfuError, SlotChange, SpeakerGroup, StreamId};

use super::Room;
use crate::bridge::media::cmdwire::{peer_answer, Cmd, CmdReply, WireCandidate, WireChange};
use crate::bridge::Bridge;

/// How often, and how far apart, a watch is tried (a node just started may not answer).
const WATCH_TRIES: u32 = 3;
const WATCH_RETRY: Duration = Duration::from_millis(300);

/// The SFU a hall's peer lives on.
#[derive(Clone)]
pub(crate) enum MediaNode {
    /// This node's (the bridge, if any, watches other nodes' streams for it).
    Local(sfu::Sfu, Option<Arc<Bridge>>),
    /// Another node's, through this node's bridge.
    Remote(Arc<Bridge>, String),
}

fn unexpected() -> SfuError {
    SfuError::Webrtc("an unexpected answer from a media node".into())
}

impl MediaNode {
    /// Adds `peer` in speaker group `group`.
    pub async fn add_peer(
        &self,
        peer: PeerId,
        offer: String,
        group: SpeakerGroup,
    ) -> Result<PeerAnswer, SfuError> {
        match self {
            MediaNode::Local(sfu, _) => {
                let answer = sfu.add_peer(peer, offer).await?;
                sfu.set_speaker_group(peer, group).await.map(|()| answer)
            }
            MediaNode::Remote(bridge, node) => {
                let cmd = Cmd::AddPeer {
                    peer: peer.0,
                    group: group.0,
                    offer,
                };
                match bridge.media_cmd(node, cmd).await? {
                    CmdReply::Answer { sdp, slots } => Ok(peer_answer(sdp, slots)),
                    _ => Err(unexpected()),
                }
            }
        }
    }

    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        match self {
            MediaNode::Local(sfu, _) => sfu.renegotiate(peer, offer).await,
            MediaNode::Remote(bridge, node) => {
                let cmd = Cmd::Renegotiate {
                    peer: peer.0,
                    offer,
                };
                match bridge.media_cmd(node, cmd).await? {
                    CmdReply::Answer { sdp, slots } => Ok(peer_answer(sdp, slots)),
                    _ => Err(unexpected()),
                }
            }
        }
    }

    pub async fn add_ice_candidate(&self, peer: PeerId, c: IceCandidate) -> Result<(), SfuError> {
        match self {
            MediaNode::Local(sfu, _) => sfu.add_ice_candidate(peer, c).await,
            MediaNode::Remote(bridge, node) => {
                let candidate = WireCandidate::of(&c);
                let cmd = Cmd::Candidate {
                    peer: peer.0,
                    candidate,
                };
                bridge.media_cmd(node, cmd).await.map(|_| ())
            }
        }
    }

    pub async fn apply(
        &self,
        changes: Vec<SlotChange>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        match self {
            MediaNode::Local(sfu, _) => sfu.apply(changes).await,
            MediaNode::Remote(bridge, node) => {
                let changes = changes.iter().map(WireChange::of).collect();
                match bridge.media_cmd(node, Cmd::Apply { changes }).await? {
                    CmdReply::Applied(results) => Ok(results
                        .into_iter()
                        .map(|r| r.map_err(|e| e.sfu()))
                        .collect()),
                    _ => Err(unexpected()),
                }
            }
        }
    }

    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        match self {
            MediaNode::Local(sfu, _) => sfu.close_peer(peer).await,
            MediaNode::Remote(bridge, node) => {
                let cmd = Cmd::Close { peer: peer.0 };
                bridge.media_cmd(node, cmd).await.map(|_| ())
            }
        }
    }

    /// Watches `track` of node `origin` on this media node: its id here.
    async fn watch(
        &self,
        origin: &str,
        track: StreamId,
        layers: &[u8],
    ) -> Result<StreamId, String> {
        match self {
            MediaNode::Local(_, Some(bridge)) => bridge
                .watch_stream(origin, track, layers)
                .await
                .map_err(|e| e.to_string()),
            MediaNode::Local(_, None) => Err("no bridge".into()),
            MediaNode::Remote(bridge, node) => {
                let cmd = Cmd::Watch {
                    origin: origin.to_owned(),
                    track: track.0,
                    layers: layers.to_vec(),
                };
                match bridge.media_cmd(node, cmd).await {
                    Ok(CmdReply::Watched { local }) => Ok(StreamId(local)),
                    Ok(_) => Err(unexpected().to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }

    /// Stops watching `local` on this media node.
    async fn unwatch(&self, local: StreamId) {
        let done = match self {
            MediaNode::Local(_, Some(bridge)) => bridge
                .unwatch_stream(local)
                .await
                .map_err(|e| e.to_string()),
            MediaNode::Local(_, None) => Ok(()),
            MediaNode::Remote(bridge, node) => bridge
                .media_cmd(node, Cmd::Unwatch { local: local.0 })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = done {
            tracing::debug!(error = %e, "a watched stream was not unwatched");
        }
    }
}

/// What placing one hall's peer needs, taken out of the room (its look-ups wait).
pub(super) struct Chooser {
    hall: i64,
    via: Option<String>,
    regions: Option<(
        scheduler::Store,
        std::collections::BTreeMap<String, Vec<i64>>,
    )>,
    sfu: sfu::Sfu,
    bridge: Option<Arc<Bridge>>,
}

impl Chooser {
    /// The hall's media node: the node `media_regions` names for its unit or the nearest
    /// ancestor listed, else the node its socket came through, else this node — only a
    /// node that beats (`None`: this node; always without a bridge, and for feeds).
    pub async fn choose(&self) -> Option<String> {
        let bridge = self.bridge.as_ref()?;
        let usable = |n: &str| n != bridge.node() && bridge.is_alive(n);
        if let Some((store, regions)) = &self.regions {
            if let Some(node) = region_of(store, self.hall, regions).await {
                if node == bridge.node() {
                    return None;
                }
                if usable(&node) {
                    return Some(node);
                }
            }
        }
        self.via.clone().filter(|v| usable(v))
    }

    /// The SFU of `node`.
    pub fn media(&self, node: Option<&str>) -> MediaNode {
        media_node(&self.sfu, self.bridge.as_ref(), node)
    }
}

/// The node `regions` lists for `hall`'s unit or its nearest listed ancestor.
async fn region_of(
    store: &scheduler::Store,
    hall: i64,
    regions: &std::collections::BTreeMap<String, Vec<i64>>,
) -> Option<String> {
    if hall <= 0 {
        return None; // a guest or a feed: no unit
    }
    let unit = store.hall(hall).await.ok()?.unit_id;
    let chain = store.unit_ancestry(unit).await.ok()?;
    chain.iter().rev().find_map(|u| {
        regions
            .iter()
            .find(|(_, units)| units.contains(&u.id))
            .map(|(node, _)| node.clone())
    })
}

/// The SFU of media node `node` (`None`: this node's).
fn media_node(sfu: &sfu::Sfu, bridge: Option<&Arc<Bridge>>, node: Option<&str>) -> MediaNode {
    match (node, bridge) {
        (Some(node), Some(bridge)) => MediaNode::Remote(Arc::clone(bridge), node.to_owned()),
        (_, bridge) => MediaNode::Local(sfu.clone(), bridge.cloned()),
    }
}

/// Where a stream is shown from: (viewer's media node, origin node, origin's track).
type Watch = (Option<String>, Option<String>, StreamId);

/// The room's view of its media nodes.
#[derive(Default)]
pub(crate) struct Nodes {
    /// Streams watched on a node other than their origin → their id there, and the
    /// highest layer watched (layers 0 to it: a slot's link quality picks among them).
    watched: HashMap<Watch, (StreamId, u8)>,
    /// Each media node's loudest hall, the latest report first.
    loudest: Vec<(Option<String>, PeerId)>,
}

impl Nodes {
    /// Media node `node` reports `peer` as its loudest (`None`: nobody speaks there):
    /// the meeting's speaker is the latest node's loudest still speaking.
    pub fn speaker(&mut self, node: Option<String>, peer: Option<PeerId>) -> Option<PeerId> {
        self.loudest.retain(|(n, _)| *n != node);
        if let Some(p) = peer {
            self.loudest.insert(0, (node, p));
        }
        self.loudest.first().map(|&(_, p)| p)
    }
}

/// One slot change with what the directory needs: the viewer, the shown hall, its kind.
pub(super) struct Placed {
    pub member: usize,
    /// What the slot is to show: the hall, its track (on its origin) and the layer.
    pub shown: Option<(i64, StreamId, u8)>,
    pub video: bool,
    pub change: SlotChange,
}

impl Room {
    /// The SFU of media node `node` (`None`: this node's).
    pub(crate) fn media_of(&self, node: Option<&str>) -> MediaNode {
        media_node(&self.shared.sfu, self.shared.bridge(), node)
    }

    /// Closes `peer` on media node `node`.
    pub(super) async fn close_on(&self, node: Option<&str>, peer: PeerId) {
        if let Err(e) = self.media_of(node).close_peer(peer).await {
            tracing::debug!(?peer, error = %e, "closing a peer that is already gone");
        }
    }

    /// How member `i`'s new peer is placed ([`Chooser::choose`]).
    pub(super) fn chooser(&self, i: usize) -> Chooser {
        let m = &self.members[i];
        let bridge = self.shared.bridge().filter(|_| m.feed.is_none()).cloned();
        let regions = &self.shared.config.media_regions;
        let store = self.shared.roster.get().filter(|_| !regions.is_empty());
        Chooser {
            hall: m.hall.id,
            via: m.link.as_ref().and_then(|l| l.via()).map(str::to_owned),
            regions: store.map(|s| (s.clone(), regions.clone())),
            sfu: self.shared.sfu.clone(),
            bridge,
        }
    }

    /// Applies `changes`, each on its viewer's media node; a stream shown on a node
    /// other than its origin is watched there first. Results in order.
    pub(super) async fn apply_placed(
        &mut self,
        changes: Vec<Placed>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        if self.shared.bridge().is_none() {
            let all = changes.into_iter().map(|p| p.change).collect();
            return self.shared.sfu.apply(all).await;
        }
        let mut results: Vec<Option<Result<(), SfuError>>> = Vec::new();
        let mut by_node: HashMap<Option<String>, (Vec<usize>, Vec<SlotChange>)> = HashMap::new();
        for (k, p) in changes.into_iter().enumerate() {
            results.push(None);
            let viewer = self.members[p.member].node.clone();
            let mut change = p.change;
            let origin = p
                .shown
                .and_then(|(h, _, _)| self.member_by_hall(h))
                .and_then(|m| m.node.clone());
            if let (Some((_, shown, layer)), true) = (p.shown, origin != viewer) {
                let top = if p.video { layer } else { 0 };
                match self.watch_on(&viewer, &origin, shown, top).await {
                    Ok(local) => {
                        if let SlotChange::Show { ref mut track, .. } = change {
                            *track = local;
                        }
                    }
                    Err(e) => {
                        results[k] = Some(Err(SfuError::Webrtc(e)));
                        continue;
                    }
                }
            }
            let group = by_node.entry(viewer).or_default();
            group.0.push(k);
            group.1.push(change);
        }
        // Each node's batch at once: a floor change costs one round trip, not one per node.
        let batches = by_node.into_iter().map(|(node, (at, changes))| {
            let media = self.media_of(node.as_deref());
            async move { (node, at, media.apply(changes).await) }
        });
        for (node, at, done) in futures::future::join_all(batches).await {
            match done {
                Ok(rs) => {
                    for (k, r) in at.into_iter().zip(rs) {
                        results[k] = Some(r);
                    }
                }
                Err(e) => {
                    tracing::warn!(?node, error = %e, "slot changes not applied on a media node");
                    for k in at {
                        results[k] = Some(Err(e.clone()));
                    }
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(SfuError::Stopped)))
            .collect())
    }

    /// The id on `viewer` of `track` published on `origin`, watched there with its
    /// layers 0 to `top` at least (watched once, again only for a higher layer).
    async fn watch_on(
        &mut self,
        viewer: &Option<String>,
        origin: &Option<String>,
        track: StreamId,
        top: u8,
    ) -> Result<StreamId, String> {
        let key = (viewer.clone(), origin.clone(), track);
        let had = self.nodes.watched.get(&key).copied();
        if let Some((local, _)) = had.filter(|&(_, watched)| watched >= top) {
            return Ok(local);
        }
        let layers: Vec<u8> = (0..=top).collect();
        let Some(home) = self.shared.bridge().map(|b| b.node().to_owned()) else {
            return Err("no bridge".into());
        };
        let origin_name = origin.clone().unwrap_or(home);
        if self
            .shared
            .bridge()
            .is_some_and(|b| origin.is_some() && !b.is_alive(&origin_name))
        {
            // Its halls are failed at the next sweep: nothing waits on it.
            return Err(format!("node {origin_name} does not beat"));
        }
        let media = self.media_of(viewer.as_deref());
        let mut last = String::new();
        for attempt in 0..WATCH_TRIES {
            if attempt > 0 {
                tokio::time::sleep(WATCH_RETRY).await;
            }
            match media.watch(&origin_name, track, &layers).await {
                Ok(local) => {
                    self.nodes.watched.insert(key, (local, top));
                    return Ok(local);
                }
                Err(e) => last = e,
            }
        }
        tracing::warn!(?viewer, origin = %origin_name, error = %last, "a stream was not watched");
        Err(last)
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

    /// Unwatches the streams no slot on their watching node shows any more.
    pub(super) fn unwatch_unused(&mut self) {
        if self.nodes.watched.is_empty() {
            return;
        }
        let node_of = |hall: i64| self.member_by_hall(hall).and_then(|m| m.node.clone());
        let shown: HashSet<Watch> = self
            .members
            .iter()
            .flat_map(|m| m.slots.iter().map(move |s| (m.node.clone(), s.fill)))
            .filter_map(|(viewer, fill)| fill.map(|p| (viewer, node_of(p.hall_id), p.track)))
            .collect();
        let unused: Vec<Watch> = self
            .nodes
            .watched
            .keys()
            .filter(|w| !shown.contains(*w))
            .cloned()
            .collect();
        for w in unused {
            if let Some((local, _)) = self.nodes.watched.remove(&w) {
                let media = self.media_of(w.0.as_deref());
                tokio::spawn(async move { media.unwatch(local).await });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speaker_is_the_latest_loudest_still_speaking() {
        let mut nodes = Nodes::default();
        let (a, b) = (None, Some("node-b".to_owned()));
        assert_eq!(nodes.speaker(a.clone(), Some(PeerId(1))), Some(PeerId(1)));
        // b's loudest starts: the latest report wins.
        assert_eq!(nodes.speaker(b.clone(), Some(PeerId(7))), Some(PeerId(7)));
        // a's loudest changes: now a's.
        assert_eq!(nodes.speaker(a.clone(), Some(PeerId(2))), Some(PeerId(2)));
        // Nobody speaks on a any more: b's, still speaking, is the speaker again.
        assert_eq!(nodes.speaker(a.clone(), None), Some(PeerId(7)));
        assert_eq!(nodes.speaker(b, None), None);
    }
}
