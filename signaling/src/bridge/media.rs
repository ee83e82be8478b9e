//! The cascade's relays set up over NATS (docs/cluster.md, "The cascade", step 2): a
//! node watches a stream published on another node's SFU. The watcher asks the origin
//! (request/reply on `hoinghi.media.<origin>.watch`) with its media address and its send
//! key; the origin links it if needed, exports the stream and answers with its own media
//! address, its send key and what the stream is; the watcher links the origin and shows
//! the stream under a local track id. Unwatch on `hoinghi.media.<origin>.unwatch`. A node
//! whose beats stop (or that restarted) is unlinked: what it sent goes dark.
//!
//! Keys: each node makes its own *send* key (SRTP master key and salt, from the OS
//! random source) for each other node, fresh whenever it links that node (never links
//! twice with one key: a relinked context would restart its SRTP indices); the other
//! node learns it in the request or answer and decrypts with it. Keys are never logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use sfu::{NodeKeys, Sfu, SfuError, StreamId};
use tokio::sync::Mutex;
use tokio::time::Instant;

pub(crate) mod cmd;
pub(crate) mod cmdwire;
pub(crate) mod evwire;
mod wire;

use super::beats::Beats;
use super::Bridge;
use wire::{
    unwatch_subject, watch_subject, UnwatchRequest, WatchReply, WatchRequest, WireKey, WireStream,
};

/// How long a watch or unwatch waits for the origin node.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a stream of another node could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The origin node did not answer (down, or NATS away).
    #[error("node {0} did not answer")]
    Unreachable(String),
    /// The origin node answered no (the stream is not published there, …).
    #[error("node {node} refused: {message}")]
    Refused { node: String, message: String },
    /// This node's SFU refused (e.g. the local track is not a watched stream).
    #[error(transparent)]
    Sfu(#[from] SfuError),
}

/// What this node knows of the relay with one other node.
struct Peer {
    /// Its media address (known once it asked or answered).
    addr: Option<SocketAddr>,
    /// Its run (known once it asked or answered).
    incarnation: Option<u64>,
    /// When the link was made (beats are counted from then).
    since: Instant,
    /// What this node encrypts with, made here.
    send: WireKey,
    /// What it encrypts with, told by it.
    receive: Option<WireKey>,
    /// Whether the SFU is linked with these keys.
    linked: bool,
}

impl Peer {
    fn fresh() -> Self {
        Peer {
            addr: None,
            incarnation: None,
            since: Instant::now(),
            send: WireKey::fresh(),
            receive: None,
            linked: false,
        }
    }
}

#[derive(Default)]
struct State {
    peers: HashMap<String, Peer>,
    /// Streams watched here: (origin node, its track) → the local track.
    watched: HashMap<(String, StreamId), StreamId>,
}

impl State {
    /// Forgets `node` (its link is gone): its watched streams went dark with it.
    async fn drop_peer(&mut self, sfu: &Sfu, node: &str) {
        if let Some(peer) = self.peers.remove(node) {
            if let (true, Some(addr)) = (peer.linked, peer.addr) {
                if let Err(e) = sfu.unlink_node(addr).await {
                    tracing::debug!(%node, error = %e, "a node's relay was not linked");
                }
            }
        }
        self.watched.retain(|(origin, _), _| origin != node);
    }

    /// Links `node` if its keys are both known and it is not linked yet.
    async fn link(&mut self, sfu: &Sfu, node: &str) -> Result<(), SfuError> {
        let Some(peer) = self.peers.get_mut(node) else {
            return Ok(());
        };
        if let (false, Some(addr), Some(receive)) = (peer.linked, peer.addr, &peer.receive) {
            let keys = NodeKeys {
                send: peer.send.srtp(),
                receive: receive.srtp(),
            };
            sfu.link_node(addr, keys).await?;
            peer.linked = true;
            peer.since = Instant::now();
            tracing::info!(%node, %addr, "media relay linked");
        }
        Ok(())
    }
}

/// This node's side of the cascade's relays.
pub(super) struct Media {
    sfu: Sfu,
    /// Where other nodes send this node's relayed media: the SFU's bound address.
    addr: SocketAddr,
    state: Mutex<State>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").field("addr", &self.addr).finish()
    }
}

impl Media {
    pub fn new(sfu: Sfu) -> Self {
        Media {
            addr: sfu.local_addr(),
            sfu,
            state: Mutex::default(),
        }
    }

    /// Unlinks the nodes gone silent or restarted.
    pub async fn sweep(&self, beats: &Beats, now: Instant) {
        let mut state = self.state.lock().await;
        let gone: Vec<String> = state
            .peers
            .iter()
            .filter(|(node, p)| {
                p.incarnation
                    .is_some_and(|run| !beats.alive(node, run, p.since, now))
            })
            .map(|(node, _)| node.clone())
            .collect();
        for node in gone {
            tracing::warn!(%node, "a node's beats stopped: its relay is unlinked");
            state.drop_peer(&self.sfu, &node).await;
        }
    }

    /// The origin's side of a watch.
    async fn watched_from(&self, incarnation: u64, request: WatchRequest) -> WatchReply {
        let refused = |message: String| WatchReply::Refused { message };
        let mut state = self.state.lock().await;
        let node = request.node.as_str();
        let stale = state.peers.get(node).is_some_and(|p| {
            p.incarnation.is_some_and(|run| run != request.incarnation)
                || p.receive.as_ref().is_some_and(|k| *k != request.key)
                || p.addr.is_some_and(|a| a != request.media)
        });
        if stale {
            state.drop_peer(&self.sfu, node).await;
        }
        let peer = state
            .peers
            .entry(node.to_owned())
            .or_insert_with(Peer::fresh);
        peer.incarnation = Some(request.incarnation);
        peer.addr = Some(request.media);
        peer.receive = Some(request.key);
        let send = peer.send.clone();
        if let Err(e) = state.link(&self.sfu, node).await {
            return refused(format!("link: {e}"));
        }
        let track = StreamId(request.track);
        let Some(remote) = self.sfu.describe(track) else {
            return refused(format!("stream {} is not published here", track.0));
        };
        if let Err(e) = self.sfu.export(track, request.media, &request.layers).await {
            return refused(format!("export: {e}"));
        }
        WatchReply::Watching {
            incarnation,
            media: self.addr,
            key: send,
            stream: WireStream::of(&remote),
        }
    }

    /// The origin's side of an unwatch: stops exporting.
    async fn unwatched_from(&self, request: UnwatchRequest) -> Result<(), String> {
        let state = self.state.lock().await;
        let Some(addr) = state.peers.get(&request.node).and_then(|p| p.addr) else {
            return Ok(());
        };
        drop(state);
        match self.sfu.export(StreamId(request.track), addr, &[]).await {
            Ok(()) | Err(SfuError::UnknownTrack(_) | SfuError::UnknownNode(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Answers other nodes' watches and unwatches of this node's streams.
pub(super) async fn take_watches(
    bridge: std::sync::Arc<Bridge>,
    mut watches: async_nats::Subscriber,
    mut unwatches: async_nats::Subscriber,
) {
    loop {
        let (msg, watch) = tokio::select! {
            Some(m) = watches.next() => (m, true),
            Some(m) = unwatches.next() => (m, false),
            else => return,
        };
        let Some(reply_to) = msg.reply else {
            continue;
        };
        let payload = if watch {
            let reply = match serde_json::from_slice::<WatchRequest>(&msg.payload) {
                Ok(r) => bridge.media.watched_from(bridge.incarnation, r).await,
                Err(e) => WatchReply::Refused {
                    message: format!("a watch this node cannot read: {e}"),
                },
            };
            serde_json::to_vec(&reply)
        } else {
            let done = match serde_json::from_slice::<UnwatchRequest>(&msg.payload) {
                Ok(r) => bridge.media.unwatched_from(r).await,
                Err(e) => Err(format!("an unwatch this node cannot read: {e}")),
            };
            serde_json::to_vec(&done)
        };
        let Ok(payload) = payload else { continue };
        if let Err(e) = bridge.nats.publish(reply_to, payload.into()).await {
            tracing::warn!(error = %e, "a media relay answer was not sent");
        }
    }
}

impl Bridge {
    /// Where other nodes send this node's relayed media (the SFU's bound address).
    pub fn media_addr(&self) -> SocketAddr {
        self.media.addr
    }

    /// Receives `track`, published on node `node`'s SFU, at `layers` (simulcast layers,
    /// 0–2; audio: `[0]`): the origin exports it here, once per packet whatever number of
    /// slots show it. The answer is its id on this node's SFU, for slots as any track
    /// (the same id again if it is watched already; the layers are replaced). It goes
    /// dark if the origin unpublishes it or stops beating.
    pub async fn watch_stream(
        &self,
        node: &str,
        track: StreamId,
        layers: &[u8],
    ) -> Result<StreamId, MediaError> {
        // A second try if the origin restarted or relinked meanwhile (keys changed).
        for _ in 0..2 {
            if let Some(local) = self.try_watch(node, track, layers).await? {
                return Ok(local);
            }
        }
        Err(MediaError::Refused {
            node: node.to_owned(),
            message: "its relay keys kept changing".into(),
        })
    }

    /// One watch request; `None`: the keys did not match (the link was reset).
    async fn try_watch(
        &self,
        node: &str,
        track: StreamId,
        layers: &[u8],
    ) -> Result<Option<StreamId>, MediaError> {
        let media = &self.media;
        let key = {
            let mut state = media.state.lock().await;
            let peer = state
                .peers
                .entry(node.to_owned())
                .or_insert_with(Peer::fresh);
            peer.send.clone()
        };
        let request = WatchRequest {
            node: self.node.clone(),
            incarnation: self.incarnation,
            media: media.addr,
            key: key.clone(),
            track: track.0,
            layers: layers.to_vec(),
        };
        let unreachable = || MediaError::Unreachable(node.to_owned());
        let payload = serde_json::to_vec(&request).map_err(|_| unreachable())?;
        let asked = tokio::time::timeout(
            MEDIA_TIMEOUT,
            self.nats.request(watch_subject(node), payload.into()),
        )
        .await;
        let Ok(Ok(msg)) = asked else {
            return Err(unreachable());
        };
        let (incarnation, addr, their, stream) =
            match serde_json::from_slice::<WatchReply>(&msg.payload) {
                Ok(WatchReply::Watching {
                    incarnation,
                    media,
                    key,
                    stream,
                }) => (incarnation, media, key, stream),
                Ok(WatchReply::Refused { message }) => {
                    return Err(MediaError::Refused {
                        node: node.to_owned(),
                        message,
                    })
                }
                Err(_) => return Err(unreachable()),
            };
        let mut state = media.state.lock().await;
        let consistent = state.peers.get(node).is_some_and(|p| {
            p.send == key
                && p.incarnation.is_none_or(|run| run == incarnation)
                && p.addr.is_none_or(|a| a == addr)
                && (!p.linked || p.receive.as_ref() == Some(&their))
        });
        if !consistent {
            state.drop_peer(&media.sfu, node).await;
            return Ok(None);
        }
        if let Some(peer) = state.peers.get_mut(node) {
            peer.incarnation = Some(incarnation);
            peer.addr = Some(addr);
            peer.receive = Some(their);
        }
        state.link(&media.sfu, node).await?;
        let remote = stream.remote();
        let origin = remote.stream;
        if let Some(&local) = state.watched.get(&(node.to_owned(), origin)) {
            return Ok(Some(local));
        }
        let local = media.sfu.watch_remote(addr, remote).await?;
        state.watched.insert((node.to_owned(), origin), local);
        Ok(Some(local))
    }

    /// Stops receiving `local`, a stream this node watches (the id
    /// [`watch_stream`](Self::watch_stream) answered): its slots go dark and its origin
    /// stops sending it here.
    pub async fn unwatch_stream(&self, local: StreamId) -> Result<(), MediaError> {
        let media = &self.media;
        let mut state = media.state.lock().await;
        let Some((node, origin)) = state
            .watched
            .iter()
            .find(|(_, &l)| l == local)
            .map(|(k, _)| k.clone())
        else {
            return Err(SfuError::UnknownTrack(local).into());
        };
        state.watched.remove(&(node.clone(), origin));
        media.sfu.unwatch_remote(local).await?;
        drop(state);
        let request = UnwatchRequest {
            node: self.node.clone(),
            track: origin.0,
        };
        let unreachable = || MediaError::Unreachable(node.clone());
        let payload = serde_json::to_vec(&request).map_err(|_| unreachable())?;
        let asked = tokio::time::timeout(
            MEDIA_TIMEOUT,
            self.nats.request(unwatch_subject(&node), payload.into()),
        )
        .await;
        let Ok(Ok(msg)) = asked else {
            return Err(unreachable());
        };
        match serde_json::from_slice::<Result<(), String>>(&msg.payload) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(MediaError::Refused { node, message }),
            Err(_) => Err(unreachable()),
        }
    }

    /// The streams this node watches from other nodes: (origin node, its track, local
    /// track).
    pub async fn watched_streams(&self) -> Vec<(String, StreamId, StreamId)> {
        let state = self.media.state.lock().await;
        state
            .watched
            .iter()
            .map(|((node, origin), &local)| (node.clone(), *origin, local))
            .collect()
    }
}

/// Subscribes `node` to home rooms' commands and to its rooms' media events.
pub(super) async fn subscribe_cmds(
    nats: &async_nats::Client,
    node: &str,
) -> Result<(async_nats::Subscriber, async_nats::Subscriber), async_nats::SubscribeError> {
    Ok((
        nats.subscribe(cmdwire::cmd_subject(node)).await?,
        nats.subscribe(evwire::ev_subject(node)).await?,
    ))
}

/// Subscribes `bridge`'s node to its watch and unwatch subjects.
pub(super) async fn subscribe(
    nats: &async_nats::Client,
    node: &str,
) -> Result<(async_nats::Subscriber, async_nats::Subscriber), async_nats::SubscribeError> {
    Ok((
        nats.subscribe(watch_subject(node)).await?,
        nats.subscribe(unwatch_subject(node)).await?,
    ))
}
