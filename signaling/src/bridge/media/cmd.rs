//! The remote SFU handle (docs/cluster.md, "Step 2b"): a home room drives the peers of
//! halls it placed on another node's SFU through that node's `hoinghi.media.<node>.cmd`
//! (request/reply), and the node publishes those peers' events back on
//! `hoinghi.media.<home>.ev`.
//!
//! Ids never collide: the home names a peer by its own id (its rooms' counter), the media
//! node adds it under a fresh id of its own and translates both ways; a home room's
//! speaker group likewise gets a group of the media node's own. Each media node finds the
//! loudest of the room's halls it carries; the home room merges (`room::nodes`).
//!
//! A media node that stops hearing a home's beats (3 s, or a new run) closes the peers it
//! holds for it; a home that stops hearing a media node's beats fails the peers it placed
//! there, as if each had failed (the halls offer again and are placed anew).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use sfu::{PeerId, SfuError, SfuEvent, SpeakerGroup, StreamId};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cmdwire::{answer_of, cmd_subject, Cmd, CmdReply, CmdRequest, WireChange, WireError};
use super::evwire::{ev_subject, EvMessage, WireEvent};
use crate::bridge::beats::{Beats, SILENCE};
use crate::bridge::Bridge;
use crate::registry::Signaling;
use crate::room::Command;

/// How long a command waits for the media node.
const CMD_TIMEOUT: Duration = Duration::from_secs(5);

/// A peer this node holds for a home room elsewhere.
struct Held {
    home: String,
    home_peer: u64,
    run: u64,
    since: Instant,
}

#[derive(Default)]
struct State {
    /// (home, its peer id) → this node's.
    local: HashMap<(String, u64), PeerId>,
    held: HashMap<PeerId, Held>,
    /// (home, its group) → this node's, and back.
    groups: HashMap<(String, u64), SpeakerGroup>,
    group_home: HashMap<SpeakerGroup, (String, u64)>,
    /// Peers this node placed on other nodes (as home): its id → (node, since).
    placed: HashMap<u64, (String, Instant)>,
}

/// Both sides of the remote SFU handle on one node.
pub(crate) struct Remote {
    state: Mutex<State>,
    sfu: sfu::Sfu,
    /// Into this node's dispatcher: events of peers placed on other nodes.
    events: mpsc::Sender<(String, SfuEvent)>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").finish_non_exhaustive()
    }
}

impl Remote {
    pub fn new(sfu: sfu::Sfu, events: mpsc::Sender<(String, SfuEvent)>) -> Self {
        Remote {
            state: Mutex::default(),
            sfu,
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn local(&self, home: &str, peer: u64) -> Option<PeerId> {
        self.lock().local.get(&(home.to_owned(), peer)).copied()
    }

    fn forget(&self, local: PeerId) {
        let mut s = self.lock();
        if let Some(h) = s.held.remove(&local) {
            s.local.remove(&(h.home, h.home_peer));
        }
    }

    /// The peers held for homes gone silent or restarted (to close), and the peers
    /// placed on media nodes gone silent (to fail).
    fn gone(&self, beats: &Beats, now: Instant) -> (Vec<PeerId>, Vec<(String, u64)>) {
        let mut s = self.lock();
        let orphans: Vec<PeerId> = s
            .held
            .iter()
            .filter(|(_, h)| !beats.alive(&h.home, h.run, h.since, now))
            .map(|(&p, _)| p)
            .collect();
        for p in &orphans {
            if let Some(h) = s.held.remove(p) {
                s.local.remove(&(h.home, h.home_peer));
            }
        }
        let alive = beats.alive_nodes(now);
        let lost: Vec<(String, u64)> = s
            .placed
            .iter()
            .filter(|(_, (node, since))| {
                now.saturating_duration_since(*since) >= SILENCE && !alive.contains(node)
            })
            .map(|(&p, (node, _))| (node.clone(), p))
            .collect();
        for (_, p) in &lost {
            s.placed.remove(p);
        }
        (orphans, lost)
    }
}

impl Bridge {
    /// Sends `cmd` to media node `node` for a room here; its answer.
    pub(crate) async fn media_cmd(&self, node: &str, cmd: Cmd) -> Result<CmdReply, SfuError> {
        match &cmd {
            Cmd::AddPeer { peer, .. } => {
                let placed = (node.to_owned(), Instant::now());
                self.held.lock().placed.insert(*peer, placed);
            }
            Cmd::Close { peer } => {
                self.held.lock().placed.remove(peer);
            }
            _ => {}
        }
        let request = CmdRequest {
            home: self.node.clone(),
            run: self.incarnation,
            cmd,
        };
        let unreachable = || SfuError::Webrtc(format!("media node {node} did not answer"));
        if !self.is_alive(node) {
            // Silent: its peers are failed at the next sweep, nothing waits on it.
            return Err(unreachable());
        }
        let payload = serde_json::to_vec(&request).map_err(|_| unreachable())?;
        let asked = tokio::time::timeout(
            CMD_TIMEOUT,
            self.nats.request(cmd_subject(node), payload.into()),
        )
        .await;
        let Ok(Ok(msg)) = asked else {
            return Err(unreachable());
        };
        match serde_json::from_slice::<CmdReply>(&msg.payload) {
            Ok(CmdReply::Failed(e)) => Err(e.sfu()),
            Ok(reply) => Ok(reply),
            Err(_) => Err(unreachable()),
        }
    }

    /// Whether `node` beat lately (a hall's media may be placed there).
    pub(crate) fn is_alive(&self, node: &str) -> bool {
        self.beats
            .alive_nodes(Instant::now())
            .iter()
            .any(|n| n == node)
    }

    /// Closes the peers held for silent homes; fails the peers placed on silent nodes.
    pub(crate) async fn sweep_remote(&self, now: Instant) {
        let (orphans, lost) = self.held.gone(&self.beats, now);
        for peer in orphans {
            tracing::warn!(
                ?peer,
                "a home node's beats stopped: its hall's peer is closed"
            );
            let _ = self.held.sfu.close_peer(peer).await;
        }
        for (node, peer) in lost {
            tracing::warn!(%node, peer, "a media node's beats stopped: its hall's peer failed");
            let failed = SfuEvent::PeerFailed(PeerId(peer));
            let _ = self.held.events.send((node, failed)).await;
        }
    }
}

/// Answers home rooms' commands for peers on this node; publishes their events.
pub(crate) async fn serve(
    bridge: Arc<Bridge>,
    signaling: Signaling,
    mut cmds: async_nats::Subscriber,
    mut evs: async_nats::Subscriber,
) {
    // The dispatcher hands this node's SFU events of held peers here, as to a room.
    let (forward, mut forwarded) = mpsc::channel::<Command>(1024);
    let weak = forward.downgrade();
    loop {
        tokio::select! {
            Some(msg) = cmds.next() => {
                let Some(reply_to) = msg.reply else { continue };
                let Ok(request) = serde_json::from_slice::<CmdRequest>(&msg.payload) else {
                    continue;
                };
                let slow = matches!(
                    request.cmd,
                    Cmd::AddPeer { .. } | Cmd::Renegotiate { .. } | Cmd::Watch { .. } | Cmd::Unwatch { .. }
                );
                let (bridge, signaling, weak) = (Arc::clone(&bridge), signaling.clone(), weak.clone());
                let task = async move {
                    let reply = answer(&bridge, &signaling, weak, request).await;
                    if let Ok(payload) = serde_json::to_vec(&reply) {
                        let _ = bridge.nats.publish(reply_to, payload.into()).await;
                    }
                };
                // Offers and watches take a while: each in its own task; the rest in order.
                if slow {
                    tokio::spawn(task);
                } else {
                    task.await;
                }
            }
            Some(Command::Sfu(event)) = forwarded.recv() => publish(&bridge, event).await,
            Some(msg) = evs.next() => {
                match serde_json::from_slice::<EvMessage>(&msg.payload) {
                    Ok(ev) => {
                        let event = ev.event.event();
                        let _ = bridge.held.events.send((ev.node, event)).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "a media event this node cannot read"),
                }
            }
            else => return,
        }
    }
}

/// One held peer's event to its home.
async fn publish(bridge: &Bridge, event: SfuEvent) {
    let (home, wire) = {
        let s = bridge.held.lock();
        let about = |p: PeerId| s.held.get(&p).map(|h| (h.home.clone(), h.home_peer));
        let home = match &event {
            SfuEvent::ActiveSpeakerChanged { group, .. } => {
                s.group_home.get(group).map(|(h, _)| h.clone())
            }
            SfuEvent::Stats(st) => about(st.peer).map(|a| a.0),
            SfuEvent::PeerConnected(p)
            | SfuEvent::PeerDisconnected(p, _)
            | SfuEvent::PeerFailed(p)
            | SfuEvent::TrackPublished { peer: p, .. }
            | SfuEvent::TrackUnpublished { peer: p, .. }
            | SfuEvent::LocalCandidate { peer: p, .. } => about(*p).map(|a| a.0),
            _ => None,
        };
        let Some(home) = home else { return };
        let wire = WireEvent::of(
            &event,
            |p| about(p).map(|a| a.1),
            |g| s.group_home.get(&g).map(|a| a.1),
        );
        (home, wire)
    };
    if let SfuEvent::PeerFailed(p) | SfuEvent::PeerDisconnected(p, sfu::DisconnectReason::Closed) =
        event
    {
        bridge.held.forget(p);
    }
    let Some(event) = wire else { return };
    let message = EvMessage {
        node: bridge.node.clone(),
        event,
    };
    if let Ok(payload) = serde_json::to_vec(&message) {
        if let Err(e) = bridge.nats.publish(ev_subject(&home), payload.into()).await {
            tracing::debug!(error = %e, "a media event was not sent");
        }
    }
}

/// Carries out one home room's command on this node's SFU.
async fn answer(
    bridge: &Bridge,
    signaling: &Signaling,
    forward: mpsc::WeakSender<Command>,
    request: CmdRequest,
) -> CmdReply {
    let sfu = signaling.sfu();
    let home = request.home;
    let failed = |e: SfuError| CmdReply::Failed(WireError::of(&e));
    let unknown = |peer: u64| failed(SfuError::UnknownPeer(PeerId(peer)));
    match request.cmd {
        Cmd::AddPeer { peer, group, offer } => {
            let group = {
                let mut s = bridge.held.lock();
                let key = (home.clone(), group);
                match s.groups.get(&key) {
                    Some(&g) => g,
                    None => {
                        let g = signaling.shared().new_group();
                        s.groups.insert(key.clone(), g);
                        s.group_home.insert(g, key);
                        g
                    }
                }
            };
            let local = signaling.shared().new_peer(forward, group);
            {
                let mut s = bridge.held.lock();
                s.local.insert((home.clone(), peer), local);
                let held = Held {
                    home,
                    home_peer: peer,
                    run: request.run,
                    since: Instant::now(),
                };
                s.held.insert(local, held);
            }
            let added = match sfu.add_peer(local, offer).await {
                Ok(answer) => sfu.set_speaker_group(local, group).await.map(|()| answer),
                Err(e) => Err(e),
            };
            // Closed by the home while being added: closed now, not left behind.
            let closed = !bridge.held.lock().held.contains_key(&local);
            if closed && added.is_ok() {
                let _ = sfu.close_peer(local).await;
            }
            match added {
                Ok(a) => answer_of(&a),
                Err(e) => {
                    bridge.held.forget(local);
                    failed(e)
                }
            }
        }
        Cmd::Renegotiate { peer, offer } => match bridge.held.local(&home, peer) {
            Some(local) => match sfu.renegotiate(local, offer).await {
                Ok(a) => answer_of(&a),
                Err(e) => failed(e),
            },
            None => unknown(peer),
        },
        Cmd::Candidate { peer, candidate } => match bridge.held.local(&home, peer) {
            Some(local) => match sfu.add_ice_candidate(local, candidate.ice()).await {
                Ok(()) => CmdReply::Done,
                Err(e) => failed(e),
            },
            None => unknown(peer),
        },
        Cmd::Apply { changes } => apply(bridge, sfu, &home, changes).await,
        Cmd::Close { peer } => {
            if let Some(local) = bridge.held.local(&home, peer) {
                bridge.held.forget(local);
                let _ = sfu.close_peer(local).await;
            }
            CmdReply::Done
        }
        Cmd::Watch {
            origin,
            track,
            layers,
        } => match bridge.watch_stream(&origin, StreamId(track), &layers).await {
            Ok(local) => CmdReply::Watched { local: local.0 },
            Err(e) => failed(SfuError::Webrtc(e.to_string())),
        },
        Cmd::Unwatch { local } => match bridge.unwatch_stream(StreamId(local)).await {
            Ok(()) => CmdReply::Done,
            Err(e) => failed(SfuError::Webrtc(e.to_string())),
        },
    }
}

/// Slot changes for peers held here, as one batch.
async fn apply(bridge: &Bridge, sfu: &sfu::Sfu, home: &str, changes: Vec<WireChange>) -> CmdReply {
    let mapped: Vec<Option<sfu::SlotChange>> = changes
        .iter()
        .map(|c| c.change(|p| bridge.held.local(home, p)))
        .collect();
    let known: Vec<sfu::SlotChange> = mapped.iter().flatten().copied().collect();
    let mut results = match sfu.apply(known).await {
        Ok(r) => r.into_iter(),
        Err(e) => return CmdReply::Failed(WireError::of(&e)),
    };
    let out = mapped
        .iter()
        .map(|m| match m {
            Some(_) => results
                .next()
                .unwrap_or(Err(SfuError::Stopped))
                .map_err(|e| WireError::of(&e)),
            None => Err(WireError::of(&SfuError::Webrtc("unknown peer".into()))),
        })
        .collect();
    CmdReply::Applied(out)
}
