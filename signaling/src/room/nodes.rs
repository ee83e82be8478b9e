//! Halls' media on several nodes (docs/cluster.md, "Step 2b"): where the room places a
//! hall's peer, the [`MediaNode`] it drives it through (this node's SFU, or another
//! node's over NATS), the stream directory (a track shown on a node other than its
//! origin is watched there first, and unwatched when no slot there shows it), and the
//! meeting's active speaker merged from each media node's loudest.
//!
//! A member's `node` is `None` on this node (the home): without a bridge every hall is,
//! and nothing here costs anything.

use std::collections::HashMap;
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

    /// [`watch`](Self::watch) with layers 0 to `top`, tried [`WATCH_TRIES`] times.
    pub(super) async fn watch_tried(
        &self,
        origin: &str,
        track: StreamId,
        top: u8,
    ) -> Result<StreamId, String> {
        let layers: Vec<u8> = (0..=top).collect();
        let mut last = String::new();
        for attempt in 0..WATCH_TRIES {
            if attempt > 0 {
                tokio::time::sleep(WATCH_RETRY).await;
            }
            match self.watch(origin, track, &layers).await {
                Ok(local) => return Ok(local),
                Err(e) => last = e,
            }
        }
        tracing::warn!(origin, error = %last, "a stream was not watched");
        Err(last)
    }

    /// Stops watching `local` on this media node.
    pub(super) async fn unwatch(&self, local: StreamId) {
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
pub(super) type Watch = (Option<String>, Option<String>, StreamId);

/// The room's view of its media nodes.
#[derive(Default)]
pub(crate) struct Nodes {
    /// Streams watched on a node other than their origin → their id there, and the
    /// highest layer watched (layers 0 to it: a slot's link quality picks among them).
    /// On a remote node its own queue's task keeps the ids (`queue`): here the track.
    pub watched: HashMap<Watch, (StreamId, u8)>,
    /// Each media node's loudest hall, the latest report first.
    loudest: Vec<(Option<String>, PeerId)>,
    /// Each remote media node's queue (`queue`).
    pub queues: HashMap<String, super::queue::NodeQueue>,
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
    pub slot: sfu::SlotId,
    /// The slot's fill once the change took.
    pub want: crate::policy::Fill,
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

    /// Closes `peer` on media node `node` (a remote node's after what its queue holds).
    pub(super) async fn close_on(&mut self, node: Option<&str>, peer: PeerId) {
        if let Some(node) = node {
            self.close_remote(node, peer);
            return;
        }
        if let Err(e) = self.media_of(None).close_peer(peer).await {
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
