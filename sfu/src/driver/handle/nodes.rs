//! The relay between nodes on the async handle (docs/sfu-driver.md, "The relay
//! between nodes"): link with another node's media port, export a stream to it, watch
//! one of its streams. Everything about one linked node goes to the one worker carrying
//! that link (the front hands it the node's datagrams).

use super::Sfu;
use crate::driver::node::{NodeKeys, RemoteStream};
use crate::driver::Command;
use crate::{SfuError, StreamId, NUM_LAYERS};
use std::net::SocketAddr;

impl Sfu {
    /// Links this node with the node whose media port is `addr`, keyed with `keys`
    /// (the other node is linked with the same keys, `send` and `receive` swapped).
    /// Linking again rekeys: a new session.
    pub async fn link_node(&self, addr: SocketAddr, keys: NodeKeys) -> Result<(), SfuError> {
        let w = self.shared.link_worker(addr);
        self.call_on(w, |reply| Command::LinkNode { addr, keys, reply })
            .await?
    }

    /// Drops the link with the node at `addr` (it died, or leaves the cluster): the
    /// streams watched from it go dark here, nothing more is sent to it.
    pub async fn unlink_node(&self, addr: SocketAddr) -> Result<(), SfuError> {
        let w = self
            .shared
            .linked(addr)
            .ok_or(SfuError::UnknownNode(addr))?;
        self.call_on(w, |reply| Command::UnlinkNode { addr, reply })
            .await?
    }

    /// Sends `layers` of `track` (published here) to the linked node `to`: each
    /// packet once, whatever number of its halls show it. Calling again replaces the
    /// layers; none stops.
    pub async fn export(
        &self,
        track: StreamId,
        to: SocketAddr,
        layers: &[u8],
    ) -> Result<(), SfuError> {
        let w = self.shared.linked(to).ok_or(SfuError::UnknownNode(to))?;
        let layers = layers
            .iter()
            .filter(|&&l| usize::from(l) < NUM_LAYERS)
            .fold(0u8, |m, &l| m | (1 << l));
        self.call_on(w, |reply| Command::Export {
            stream: track,
            to,
            layers,
            reply,
        })
        .await?
    }

    /// What a watching node must be told of `track`, published here (its owner, kind
    /// and codec, with its id), for its [`watch_remote`](Self::watch_remote); `None` if
    /// it is not published. A stream watched from another node is described as this
    /// node's (it may be exported on, a cascade of more than one hop).
    pub fn describe(&self, track: StreamId) -> Option<RemoteStream> {
        let published = self.shared.stream(track)?;
        Some(RemoteStream {
            stream: track,
            owner: published.owner,
            kind: published.kind,
            codec: published.codec,
        })
    }

    /// Receives `remote`, published on the linked node `from` (which exports it here):
    /// its id on this node, to show in slots as any track. Its slots go dark when the
    /// origin says it is unpublished.
    pub async fn watch_remote(
        &self,
        from: SocketAddr,
        remote: RemoteStream,
    ) -> Result<StreamId, SfuError> {
        let w = self
            .shared
            .linked(from)
            .ok_or(SfuError::UnknownNode(from))?;
        self.call_on(w, |reply| Command::WatchRemote {
            from,
            remote,
            reply,
        })
        .await?
    }

    /// Stops receiving `track`, a stream watched from another node (its id here): its
    /// slots go dark. The origin goes on sending until told (`export` with no layers).
    pub async fn unwatch_remote(&self, track: StreamId) -> Result<(), SfuError> {
        let w = self.shared.stream(track).map_or(0, |p| p.worker);
        self.call_on(w, |reply| Command::UnwatchRemote {
            stream: track,
            reply,
        })
        .await?
    }
}
