//! The public async handle: [`Sfu::start`] binds the media port and spawns its
//! workers, methods send them commands. The caller never names a worker: a hall's
//! commands go to the worker carrying it, a stream's keyframe request to its home,
//! a batch of slot changes is split by worker and its answers put back in order.

mod nodes;

use crate::config::{ConfigError, SfuConfig, WorkerAssignment};
use crate::driver::shared::{Shared, WorkerIndex};
use crate::driver::tap::RtpTap;
use crate::driver::{self, Command, PortStats};
use crate::error::SfuError;
use crate::event::{
    IceCandidate, PeerAnswer, PeerId, SfuEvent, SlotChange, SlotId, SlotInfo, SpeakerGroup,
};
use crate::StreamId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A handle to one SFU instance; cheap to clone. The instance stops (closing every
/// peer connection) when the last handle is dropped.
#[derive(Clone)]
pub struct Sfu {
    /// Each worker's command channel.
    workers: Arc<[mpsc::Sender<Command>]>,
    shared: Arc<Shared>,
    assignment: WorkerAssignment,
    local: SocketAddr,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sfu({}, {} workers)", self.local, self.workers.len())
    }
}

impl Sfu {
    /// Binds the media port (`udp_port` on `bind_ip`; a port in use is a
    /// `ConfigError::Bind`) and starts the instance on the current tokio runtime; events
    /// arrive on the receiver, which the caller must keep draining.
    pub fn start(config: SfuConfig) -> Result<(Self, mpsc::Receiver<SfuEvent>), ConfigError> {
        config.validate()?;
        let port = config.udp_port;
        let assignment = config.worker_assignment;
        let spawned = driver::spawn(config, port).map_err(ConfigError::Bind)?;
        let workers = spawned.commands.len();
        tracing::info!(addr = %spawned.local, workers, "sfu: every hall's media on one UDP port");
        let sfu = Self {
            workers: spawned.commands.into(),
            shared: spawned.shared,
            assignment,
            local: spawned.local,
        };
        Ok((sfu, spawned.events))
    }

    /// The UDP port every hall's media uses.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Adds a hall from its SDP offer (its sending tracks and `recvonly` m-lines for the
    /// slots it wants); returns the answer and the negotiated slots. Its connection
    /// comes up when the hall applies the answer.
    pub async fn add_peer(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        let (n, assignment) = (self.workers.len(), self.assignment);
        let w = self
            .shared
            .place(peer, |placed| choose(assignment, n, peer, placed))
            .ok_or(SfuError::DuplicatePeer(peer))?;
        let answer = self
            .call_on(w, |reply| Command::AddPeer { peer, offer, reply })
            .await
            .and_then(|r| r);
        if answer.is_err() {
            self.shared.forget(peer, w);
        }
        answer
    }

    /// Applies a new offer from a connected hall to its existing connection (tracks
    /// added or removed, receive slots added, an ICE restart): no new DTLS handshake, its
    /// slots keep what they show. The answer lists all its slots, old ones first.
    pub async fn renegotiate(&self, peer: PeerId, offer: String) -> Result<PeerAnswer, SfuError> {
        self.call_on(self.of(peer), |reply| Command::Renegotiate {
            peer,
            offer,
            reply,
        })
        .await?
    }

    /// Adds a candidate the hall trickled (the end-of-candidates marker is accepted).
    pub async fn add_ice_candidate(
        &self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        self.call_on(self.of(peer), |reply| Command::AddIceCandidate {
            peer,
            candidate,
            reply,
        })
        .await?
    }

    /// Shows `track` in `slot` of `peer` from the track's next keyframe, on the best of
    /// its simulcast layers up to `max_layer` (0 lowest) that arrives and the link
    /// carries. Switching a slot to another track keeps its SSRC and numbering: no
    /// renegotiation.
    pub async fn subscribe(
        &self,
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        let change = SlotChange::Show {
            peer,
            slot,
            track,
            max_layer,
        };
        self.call_on(self.of(peer), |reply| Command::Slot { change, reply })
            .await?
    }

    /// Empties a slot: nothing more is sent on it (its numbering is kept for its next
    /// subscription).
    pub async fn unsubscribe(&self, peer: PeerId, slot: SlotId) -> Result<(), SfuError> {
        let change = SlotChange::Clear { peer, slot };
        self.call_on(self.of(peer), |reply| Command::Slot { change, reply })
            .await?
    }

    /// Changes the highest layer a slot may show (the hall's role changed); the slot
    /// keeps its source and moves on the new layer's next keyframe.
    pub async fn set_layer(
        &self,
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
    ) -> Result<(), SfuError> {
        let change = SlotChange::Layer {
            peer,
            slot,
            max_layer,
        };
        self.call_on(self.of(peer), |reply| Command::Slot { change, reply })
            .await?
    }

    /// Applies many slot changes in one round trip to the media task, in order; one
    /// result per change. A floor change in a meeting of 200 halls is one call, so
    /// every hall's slot switches within the same turn of the media loop.
    pub async fn apply(
        &self,
        changes: Vec<SlotChange>,
    ) -> Result<Vec<Result<(), SfuError>>, SfuError> {
        let of = |c: &SlotChange| self.of(change_peer(c));
        let first = changes.first().map_or(0, of);
        if changes.iter().all(|c| of(c) == first) {
            return self
                .call_on(first, |reply| Command::Apply { changes, reply })
                .await;
        }
        // Split by worker, every worker at once; answers back in the callers' order.
        let mut by_worker: HashMap<WorkerIndex, (Vec<usize>, Vec<SlotChange>)> = HashMap::new();
        for (i, change) in changes.into_iter().enumerate() {
            let entry = by_worker.entry(of(&change)).or_default();
            entry.0.push(i);
            entry.1.push(change);
        }
        let mut pending = Vec::new();
        let mut total = 0;
        for (w, (order, changes)) in by_worker {
            total += order.len();
            let (reply, answer) = oneshot::channel();
            self.send(w, Command::Apply { changes, reply }).await?;
            pending.push((order, answer));
        }
        let mut results: Vec<Option<Result<(), SfuError>>> = (0..total).map(|_| None).collect();
        for (order, answer) in pending {
            let answers = answer.await.map_err(|_| SfuError::Stopped)?;
            for (i, r) in order.into_iter().zip(answers) {
                results[i] = Some(r);
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(SfuError::Stopped)))
            .collect())
    }

    /// Asks the publisher of `track` for a keyframe on `layer` (throttled per layer).
    pub async fn request_keyframe(&self, track: StreamId, layer: u8) -> Result<(), SfuError> {
        let home = self.shared.stream(track).map_or(0, |p| p.worker);
        self.call_on(home, |reply| Command::RequestKeyframe {
            track,
            layer,
            reply,
        })
        .await?
    }

    /// Puts a hall in a speaker group, e.g. one per meeting: the SFU finds one active
    /// speaker per group and names the group in `ActiveSpeakerChanged`. A hall is in the
    /// default group until placed; moved while speaking, its old group announces
    /// nobody. Place it right after `add_peer`, before its media flows.
    pub async fn set_speaker_group(
        &self,
        peer: PeerId,
        group: SpeakerGroup,
    ) -> Result<(), SfuError> {
        self.call_on(self.of(peer), |reply| Command::SetSpeakerGroup {
            peer,
            group,
            reply,
        })
        .await?
    }

    /// Closes a hall's connection: its tracks are unpublished (`TrackUnpublished`, their
    /// slots go dark), then `PeerDisconnected(ClosedByServer)`; `UnknownPeer` if it is
    /// not there.
    pub async fn close_peer(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call_on(self.of(peer), |reply| Command::ClosePeer { peer, reply })
            .await?
    }

    /// Opens a tap named `peer`: a subscriber inside the node (a recorder) with a video
    /// slot (0, VP8) and `audio_slots` audio slots (1…, Opus), shown with
    /// [`subscribe`](Self::subscribe) and [`apply`](Self::apply) as a hall's slots are;
    /// what they carry reaches `sink` as RTP (`sfu::driver::tap` says how). Returns the
    /// slots. `DuplicatePeer` if the id is taken.
    pub async fn open_tap(
        &self,
        peer: PeerId,
        audio_slots: u8,
        sink: std::sync::Arc<dyn RtpTap>,
    ) -> Result<Vec<SlotInfo>, SfuError> {
        let (n, assignment) = (self.workers.len(), self.assignment);
        let w = self
            .shared
            .place(peer, |placed| choose(assignment, n, peer, placed))
            .ok_or(SfuError::DuplicatePeer(peer))?;
        let opened = self
            .call_on(w, |reply| Command::OpenTap {
                peer,
                audio_slots,
                sink,
                reply,
            })
            .await
            .and_then(|r| r);
        if opened.is_err() {
            self.shared.forget(peer, w);
        }
        opened
    }

    /// Closes a tap: its slots go dark and its sink gets nothing more (it is dropped).
    pub async fn close_tap(&self, peer: PeerId) -> Result<(), SfuError> {
        self.call_on(self.of(peer), |reply| Command::CloseTap { peer, reply })
            .await?
    }

    /// The media port's counters (datagrams, drops, forwarded packets), summed over
    /// the workers.
    pub async fn port_stats(&self) -> Result<PortStats, SfuError> {
        let mut total = PortStats::default();
        for w in 0..self.workers.len() {
            let stats = self.call_on(w, |reply| Command::Stats { reply }).await?;
            total.add(&stats);
        }
        total.workers = self.workers.len();
        total.unrouted += self.shared.front_unrouted.load(Ordering::Relaxed);
        total.relay_dropped = self.shared.relay_dropped.load(Ordering::Relaxed);
        Ok(total)
    }

    /// The worker carrying `peer` (the first if none: it answers `UnknownPeer`).
    fn of(&self, peer: PeerId) -> WorkerIndex {
        self.shared.worker_of(peer).unwrap_or(0)
    }

    async fn send(&self, w: WorkerIndex, command: Command) -> Result<(), SfuError> {
        let worker = self.workers.get(w).ok_or(SfuError::Stopped)?;
        worker.send(command).await.map_err(|_| SfuError::Stopped)
    }

    async fn call_on<T>(
        &self,
        w: WorkerIndex,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SfuError> {
        let (reply, answer) = oneshot::channel();
        self.send(w, command(reply)).await?;
        answer.await.map_err(|_| SfuError::Stopped)
    }
}

/// The worker a new hall goes to.
fn choose(
    assignment: WorkerAssignment,
    workers: usize,
    peer: PeerId,
    placed: &HashMap<PeerId, WorkerIndex>,
) -> WorkerIndex {
    match assignment {
        WorkerAssignment::ByPeerId => (peer.0 % workers as u64) as WorkerIndex,
        WorkerAssignment::Balanced => {
            let mut load = vec![0usize; workers];
            for &w in placed.values() {
                if let Some(l) = load.get_mut(w) {
                    *l += 1;
                }
            }
            (0..workers).min_by_key(|&w| (load[w], w)).unwrap_or(0)
        }
    }
}

/// The hall a slot change is about.
fn change_peer(change: &SlotChange) -> PeerId {
    match *change {
        SlotChange::Show { peer, .. }
        | SlotChange::Layer { peer, .. }
        | SlotChange::Clear { peer, .. } => peer,
    }
}
