//! The driver's commands: answering a hall's offer, closing a hall, changing what a
//! receive slot shows, keyframe requests from the caller.

use super::Driver;
use crate::driver::command::Command;
use crate::driver::conn;
use crate::event::{DisconnectReason, IceCandidate, PeerId, SfuEvent, SlotChange};
use crate::SfuError;
use std::time::Instant;

impl Driver {
    /// Carries out one command at `now`; its answer goes back on its reply channel.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
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
            Command::SetSpeakerGroup { peer, group, reply } => {
                let index = self.live_index(peer);
                let result = index.map(|i| self.router.set_speaker_group(i, group));
                let _ = reply.send(result);
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
                let _ = reply.send(self.stats());
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
