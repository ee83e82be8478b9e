//! The owner task: one task per SFU instance owns every peer's forwarding state.
//!
//! As in str0m's `chat.rs`, nothing here is shared behind a lock. Three channels come
//! in: commands from the [`Sfu`](crate::Sfu) handle, control messages from the
//! connections' event handlers and slot tasks (unbounded: rare and small), and media
//! from the track reader tasks (bounded: a reader waits rather than the owner growing a
//! backlog). The loop polls them `biased`, control first, so a track is always known
//! before its first packet, and timers before media, so keyframe retries and
//! statistics are never starved by a busy meeting.
//!
//! Slow work never runs here: negotiating an offer (binding a socket, waiting for ICE
//! gathering) runs in a task of its own that reports back with [`Control::Negotiated`];
//! sending to a subscriber is a `try_send` into the slot's queue; a PLI upstream is a
//! spawned `write_rtcp`. The media path itself is in [`routing`](crate::routing).

mod messages;

pub use messages::{Command, Control, MediaIn, Reply, TrackCodec};

use crate::config::SfuConfig;
use crate::error::SfuError;
use crate::event::{DisconnectReason, PeerAnswer, PeerId, SfuEvent};
use crate::linkquality::LinkQuality;
use crate::negotiate::{self, Negotiation};
use crate::peer::{OfferedTracks, PortCursor};
use crate::routing::{Published, Slot};
use crate::{RateEstimator, SpeakerConfig, SpeakerDetector, StreamId};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// Where a peer's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Its offer is being applied; no connection yet.
    Negotiating,
    /// Answered; ICE and DTLS are not up yet.
    Connecting,
    /// Media flows.
    Connected,
    /// Connectivity lost; ICE may recover.
    Interrupted,
}

/// One hall as the owner task knows it.
pub struct Peer {
    pub phase: Phase,
    /// `None` while negotiating.
    pub pc: Option<Arc<dyn PeerConnection>>,
    pub slots: Vec<Slot>,
    /// Tracks it publishes.
    pub tracks: Vec<StreamId>,
    /// The negotiated id of the audio-level header extension, if any.
    pub audio_level_id: Option<u8>,
    /// Bytes sent to it, for its statistics.
    pub out_rate: RateEstimator,
    pub packets_out: u64,
    pub dropped_out: u64,
    /// Loss, round trip and bandwidth of the link to it, from its own reports.
    pub link: LinkQuality,
    /// The tracks its latest offer announced (shared with its connection's handler).
    pub offered: OfferedTracks,
    /// A new offer is being applied to its connection ([`crate::renegotiate`]).
    pub renegotiating: bool,
}

/// The state the owner task owns.
pub struct Engine {
    pub config: Arc<SfuConfig>,
    pub peers: HashMap<PeerId, Peer>,
    pub tracks: HashMap<StreamId, Published>,
    pub speaker: SpeakerDetector,
    pub events: mpsc::Sender<SfuEvent>,
    pub control_tx: mpsc::UnboundedSender<Control>,
    pub media_tx: mpsc::Sender<MediaIn>,
    pub track_ids: Arc<AtomicU64>,
    pub ports: Arc<PortCursor>,
}

/// Capacity of the media channel from the track readers.
const MEDIA_QUEUE: usize = 4096;

impl Engine {
    /// Spawns the owner task; it ends when every command sender is dropped.
    pub fn spawn(
        config: SfuConfig,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<SfuEvent>,
    ) {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (media_tx, media_rx) = mpsc::channel(MEDIA_QUEUE);
        let engine = Self {
            config: Arc::new(config),
            peers: HashMap::new(),
            tracks: HashMap::new(),
            speaker: SpeakerDetector::new(SpeakerConfig::default()),
            events,
            control_tx,
            media_tx,
            track_ids: Arc::new(AtomicU64::new(1)),
            ports: Arc::new(PortCursor::default()),
        };
        tokio::spawn(engine.run(commands, control_rx, media_rx));
    }

    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut media: mpsc::Receiver<MediaIn>,
    ) {
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stats = tokio::time::interval(self.config.stats_interval);
        stats.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                Some(message) = control.recv() => self.handle_control(message),
                _ = tick.tick() => self.handle_timeout(Instant::now()),
                _ = stats.tick() => self.publish_stats(Instant::now()),
                command = commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => break,
                },
                Some(message) = media.recv() => self.handle_media(message),
            }
        }
        for (_, peer) in self.peers.drain() {
            close(peer.pc);
        }
    }

    /// Sends an event; lifecycle events are kept even when statistics are being dropped.
    pub fn emit(&self, event: SfuEvent) {
        if let Err(e) = self.events.try_send(event) {
            tracing::warn!(event = ?e.into_inner(), "SFU event queue full or closed; dropped");
        }
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::AddPeer(peer, offer, reply) => self.add_peer(peer, offer, reply),
            Command::Renegotiate(peer, offer, reply) => self.renegotiate(peer, offer, reply),
            Command::AddIceCandidate(peer, candidate, reply) => {
                match self.peers.get(&peer).map(|p| p.pc.clone()) {
                    None => drop(reply.send(Err(SfuError::UnknownPeer(peer)))),
                    Some(None) => drop(reply.send(Err(SfuError::NotReady(peer)))),
                    Some(Some(pc)) => {
                        tokio::spawn(async move {
                            let result = pc.add_ice_candidate(candidate).await;
                            let result =
                                result.map_err(|e| SfuError::InvalidCandidate(e.to_string()));
                            let _ = reply.send(result);
                        });
                    }
                }
            }
            Command::Subscribe {
                peer,
                slot,
                track,
                max_layer,
                reply,
            } => drop(reply.send(self.subscribe(now, peer, slot, track, max_layer))),
            Command::Unsubscribe(peer, slot, reply) => {
                drop(reply.send(self.unsubscribe(peer, slot)))
            }
            Command::SetLayer(peer, slot, layer, reply) => {
                drop(reply.send(self.set_layer(now, peer, slot, layer)))
            }
            Command::Apply(changes, reply) => {
                let results = changes
                    .into_iter()
                    .map(|change| self.apply(now, change))
                    .collect();
                drop(reply.send(Ok(results)))
            }
            Command::RequestKeyframe(track, layer, reply) => {
                drop(reply.send(self.request_keyframe(now, track, layer)))
            }
            Command::ClosePeer(peer, reply) => {
                let result = match self.remove_peer(peer) {
                    true => {
                        self.emit(SfuEvent::PeerDisconnected(
                            peer,
                            DisconnectReason::ClosedByServer,
                        ));
                        Ok(())
                    }
                    false => Err(SfuError::UnknownPeer(peer)),
                };
                drop(reply.send(result));
            }
        }
    }

    fn add_peer(&mut self, peer: PeerId, offer: String, reply: Reply<PeerAnswer>) {
        if self.peers.contains_key(&peer) {
            drop(reply.send(Err(SfuError::DuplicatePeer(peer))));
            return;
        }
        self.peers.insert(
            peer,
            Peer {
                phase: Phase::Negotiating,
                pc: None,
                slots: Vec::new(),
                tracks: Vec::new(),
                audio_level_id: None,
                out_rate: RateEstimator::default(),
                packets_out: 0,
                dropped_out: 0,
                link: LinkQuality::default(),
                offered: OfferedTracks::default(),
                renegotiating: false,
            },
        );
        let context = negotiate::Context {
            peer,
            config: Arc::clone(&self.config),
            ports: Arc::clone(&self.ports),
            control: self.control_tx.clone(),
            media: self.media_tx.clone(),
            track_ids: Arc::clone(&self.track_ids),
        };
        let control = self.control_tx.clone();
        tokio::spawn(async move {
            let result = negotiate::negotiate(context, offer).await;
            let _ = control.send(Control::Negotiated(peer, Box::new(result), reply));
        });
    }

    fn handle_control(&mut self, message: Control) {
        match message {
            Control::Negotiated(peer, result, reply) => self.negotiated(peer, *result, reply),
            Control::Renegotiated(peer, result, reply) => self.renegotiated(peer, *result, reply),
            Control::LocalCandidate(peer, candidate) => {
                if self.peers.contains_key(&peer) {
                    self.emit(SfuEvent::LocalCandidate { peer, candidate });
                }
            }
            Control::State(peer, state) => self.state_changed(peer, state),
            Control::TrackAdded {
                peer,
                id,
                kind,
                codec,
                rids,
                remote,
            } => self.track_added(peer, id, (kind, codec), rids, remote),
            Control::SlotKeyframeRequest(peer, slot) => {
                self.slot_keyframe_request(Instant::now(), peer, slot)
            }
            Control::LinkReports(peer, reports) => self.link_reports(Instant::now(), peer, reports),
        }
    }

    fn negotiated(
        &mut self,
        peer: PeerId,
        result: Result<Negotiation, SfuError>,
        reply: Reply<PeerAnswer>,
    ) {
        let waiting = self
            .peers
            .get_mut(&peer)
            .filter(|p| p.phase == Phase::Negotiating);
        match (result, waiting) {
            (Ok(n), Some(p)) => {
                let queue = self.config.slot_queue;
                p.slots = n
                    .slots
                    .into_iter()
                    .map(|s| Slot::start(peer, s, queue, self.control_tx.clone()))
                    .collect();
                p.pc = Some(n.pc);
                p.audio_level_id = n.audio_level_id;
                p.offered = n.offered;
                p.phase = Phase::Connecting;
                drop(reply.send(Ok(n.answer)));
            }
            (Ok(n), None) => {
                close(Some(n.pc)); // closed while negotiating
                drop(reply.send(Err(SfuError::UnknownPeer(peer))));
            }
            (Err(e), _) => {
                self.peers.remove(&peer);
                drop(reply.send(Err(e)));
            }
        }
    }

    fn state_changed(&mut self, peer: PeerId, state: RTCPeerConnectionState) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return; // already removed (closed by us)
        };
        tracing::debug!(?peer, %state, "peer connection state");
        match state {
            RTCPeerConnectionState::Connected if p.phase != Phase::Connected => {
                p.phase = Phase::Connected;
                self.emit(SfuEvent::PeerConnected(peer));
            }
            RTCPeerConnectionState::Disconnected if p.phase == Phase::Connected => {
                p.phase = Phase::Interrupted;
                self.emit(SfuEvent::PeerDisconnected(
                    peer,
                    DisconnectReason::ConnectionLost,
                ));
            }
            RTCPeerConnectionState::Failed => {
                self.remove_peer(peer);
                self.emit(SfuEvent::PeerFailed(peer));
            }
            RTCPeerConnectionState::Closed => {
                self.remove_peer(peer);
                self.emit(SfuEvent::PeerDisconnected(peer, DisconnectReason::Closed));
            }
            _ => {}
        }
    }

    /// Removes a peer, its published tracks (their slots elsewhere go dark) and its
    /// slots; closes its connection. `false` if there was no such peer.
    pub fn remove_peer(&mut self, peer: PeerId) -> bool {
        let Some(p) = self.peers.remove(&peer) else {
            return false;
        };
        for track in &p.tracks {
            self.unpublish(*track);
        }
        for slot in &p.slots {
            if let Some(source) = slot.source() {
                if let Some(t) = self.tracks.get_mut(&source) {
                    t.subscribers
                        .retain(|&(q, s)| (q, s) != (peer, slot.info.id));
                }
            }
        }
        close(p.pc);
        true
    }
}

/// Closes a connection in the background (the `webrtc` close waits for its driver).
fn close(pc: Option<Arc<dyn PeerConnection>>) {
    if let Some(pc) = pc {
        tokio::spawn(async move {
            if let Err(e) = pc.close().await {
                tracing::debug!(error = %e, "closing a peer connection");
            }
        });
    }
}
