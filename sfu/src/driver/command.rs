//! What the handle asks of the driver task, how the driver answers, and its counters.

use super::conn;
use super::port::Driver;
use super::router::RouterStats;
use crate::event::{DisconnectReason, PeerAnswer, PeerId, SfuEvent, SlotId};
use crate::{IceCandidate, SfuError, SlotChange, StreamId};
use std::time::Instant;
use tokio::sync::oneshot;

/// A request to the driver task; each carries its reply channel.
pub enum Command {
    /// Answer a hall's offer on the media port.
    AddPeer {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// Apply a connected hall's new offer to its connection.
    Renegotiate {
        peer: PeerId,
        offer: String,
        reply: oneshot::Sender<Result<PeerAnswer, SfuError>>,
    },
    /// A remote candidate the hall trickled.
    AddIceCandidate {
        peer: PeerId,
        candidate: IceCandidate,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Ask a publisher for a keyframe of one layer of its stream (throttled).
    RequestKeyframe {
        track: StreamId,
        layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Show a published stream in a receive slot (from its next keyframe).
    Subscribe {
        peer: PeerId,
        slot: SlotId,
        track: StreamId,
        /// The highest simulcast layer the slot may carry.
        max_layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Empty a receive slot.
    Unsubscribe {
        peer: PeerId,
        slot: SlotId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Change the highest layer a slot may carry (same source, no keyframe restart).
    SetLayer {
        peer: PeerId,
        slot: SlotId,
        max_layer: u8,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Several slot changes at once, each with its result, in order.
    Apply {
        changes: Vec<SlotChange>,
        reply: oneshot::Sender<Vec<Result<(), SfuError>>>,
    },
    /// Close a hall's connection: its tracks are unpublished, `PeerDisconnected` follows.
    ClosePeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    /// Read the counters.
    Stats { reply: oneshot::Sender<PortStats> },
}

/// Counters of the media port since start.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortStats {
    /// Connections on the port.
    pub connections: usize,
    /// Remote addresses bound to connections.
    pub addresses: usize,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams dropped because no connection claimed them.
    pub unrouted: u64,
    /// Datagrams dropped on the way out (send queue full, or refused by the kernel).
    pub send_dropped: u64,
    /// Events dropped because the caller's event queue was full.
    pub events_dropped: u64,
    /// The media path's counters.
    pub router: RouterStats,
}

impl Driver {
    /// Carries out one command at `now`.
    pub(super) fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::AddPeer { peer, offer, reply } => {
                let _ = reply.send(self.add_peer(now, peer, offer));
            }
            Command::Renegotiate { peer, offer, reply } => {
                let _ = reply.send(self.renegotiate(now, peer, offer));
            }
            Command::AddIceCandidate {
                peer,
                candidate,
                reply,
            } => {
                let _ = reply.send(self.add_ice_candidate(peer, candidate));
            }
            Command::RequestKeyframe {
                track,
                layer,
                reply,
            } => {
                let result = self
                    .router
                    .request_keyframe(now, track, layer, &mut self.table);
                let _ = reply.send(result);
            }
            Command::Subscribe {
                peer,
                slot,
                track,
                max_layer,
                reply,
            } => {
                let change = SlotChange::Show {
                    peer,
                    slot,
                    track,
                    max_layer,
                };
                let _ = reply.send(self.apply_one(now, change));
            }
            Command::Unsubscribe { peer, slot, reply } => {
                let _ = reply.send(self.apply_one(now, SlotChange::Clear { peer, slot }));
            }
            Command::SetLayer {
                peer,
                slot,
                max_layer,
                reply,
            } => {
                let change = SlotChange::Layer {
                    peer,
                    slot,
                    max_layer,
                };
                let _ = reply.send(self.apply_one(now, change));
            }
            Command::Apply { changes, reply } => {
                let results = changes.into_iter().map(|c| self.apply_one(now, c));
                let results = results.collect();
                let _ = reply.send(results);
            }
            Command::ClosePeer { peer, reply } => {
                let result = self.close_peer(peer);
                if result.is_ok() {
                    let reason = DisconnectReason::ClosedByServer;
                    self.emit(SfuEvent::PeerDisconnected(peer, reason));
                }
                let _ = reply.send(result);
            }
            Command::Stats { reply } => {
                let mut stats = self.stats;
                stats.connections = self.table.len();
                stats.addresses = self.demux.addresses();
                stats.router = self.router.stats;
                stats.send_dropped = self.send_dropped();
                let _ = reply.send(stats);
            }
        }
    }

    /// Removes a hall at the end of the turn; its tracks are unpublished now.
    fn close_peer(&mut self, peer: PeerId) -> Result<(), SfuError> {
        let index = self
            .table
            .index_of(peer)
            .ok_or(SfuError::UnknownPeer(peer))?;
        if self.doomed.contains(&index) {
            return Err(SfuError::UnknownPeer(peer)); // already going
        }
        self.doom(index);
        Ok(())
    }

    /// One slot change (`Sfu::apply`'s semantics): the slot must exist.
    fn apply_one(&mut self, now: Instant, change: SlotChange) -> Result<(), SfuError> {
        let (peer, slot) = match change {
            SlotChange::Show { peer, slot, .. }
            | SlotChange::Layer { peer, slot, .. }
            | SlotChange::Clear { peer, slot } => (peer, slot),
        };
        let index = self.live_index(peer)?;
        let conn = self.table.get(index).ok_or(SfuError::UnknownPeer(peer))?;
        let out = conn
            .slots
            .get(usize::from(slot.0))
            .ok_or(SfuError::UnknownSlot(peer, slot))?
            .clone();
        match change {
            SlotChange::Show {
                track, max_layer, ..
            } => {
                let result = self
                    .router
                    .subscribe(now, (index, peer), &out, (track, max_layer));
                // Sends the first keyframe request now rather than at the next timeout.
                self.router.handle_timeout(now, &mut self.table);
                result
            }
            SlotChange::Layer { max_layer, .. } => {
                self.router.set_layer(now, index, slot, max_layer);
                self.router.handle_timeout(now, &mut self.table);
                Ok(())
            }
            SlotChange::Clear { .. } => {
                self.router.unsubscribe(index, slot);
                Ok(())
            }
        }
    }

    fn add_peer(
        &mut self,
        now: Instant,
        peer: crate::PeerId,
        offer: String,
    ) -> Result<crate::PeerAnswer, SfuError> {
        if self.table.contains(peer) {
            return Err(SfuError::DuplicatePeer(peer));
        }
        let local = conn::Local {
            config: &self.config,
            advertised: &self.advertised,
            certificate: &self.certificate,
        };
        let (conn, answer) = conn::answer(peer, offer, &local, now)?;
        let ufrag = conn.ufrag.clone();
        tracing::debug!(peer = peer.0, %ufrag, "sfu: peer answered");
        let candidates = conn.candidates.clone();
        let index = self
            .table
            .insert(conn)
            .ok_or(SfuError::DuplicatePeer(peer))?;
        if !self.demux.add(&ufrag, index) {
            self.table.remove(index);
            return Err(SfuError::Webrtc("ICE ufrag collision; offer again".into()));
        }
        self.table.writes.mark(index);
        if self.config.trickle_candidates {
            self.trickle(peer, &ufrag, candidates);
        }
        Ok(answer)
    }

    /// Sends a new hall's candidates as events too, then the end marker. The answer
    /// carries them; this is for a caller that expects them trickled (docs/protocol.md,
    /// "Trickle ICE both ways").
    fn trickle(&mut self, peer: PeerId, ufrag: &str, candidates: Vec<String>) {
        for candidate in candidates.into_iter().chain([String::new()]) {
            let candidate = IceCandidate {
                candidate,
                sdp_mid: None, // one bundled transport: the first m-line
                sdp_mline_index: Some(0),
                username_fragment: Some(ufrag.to_owned()),
            };
            self.emit(SfuEvent::LocalCandidate { peer, candidate });
        }
    }
}
