//! The driver's commands carried out: a new hall's connection answered and registered,
//! a connected hall's new offer or trickled candidate, a receive slot shown, capped or
//! cleared, a speaker group, a hall closed.
//!
//! [`Commands`] borrows, for one command, just the parts of the [`Driver`](super::Driver)
//! that commands change (the [`Table`], the [`Demux`], the [`Router`], the connections
//! to remove and the events for the caller) and answers on the command's reply channel;
//! the state machine's own turn (datagrams, timeouts, sending) never goes through it.

use super::renegotiate;
use crate::driver::command::Command;
use crate::driver::conn::{self, Local};
use crate::driver::demux::{ConnIndex, Demux};
use crate::driver::router::Router;
use crate::driver::table::Table;
use crate::event::{DisconnectReason, IceCandidate, PeerAnswer, PeerId, SfuEvent, SlotChange};
use crate::SfuError;
use std::collections::VecDeque;
use std::time::Instant;

/// The parts of the driver one command may change.
pub(super) struct Commands<'a> {
    /// What a new hall's connection is answered with.
    pub local: Local<'a>,
    pub table: &'a mut Table,
    pub demux: &'a mut Demux,
    pub router: &'a mut Router,
    /// Connections to remove at the end of the turn.
    pub doomed: &'a mut Vec<ConnIndex>,
    /// Events for the caller.
    pub events: &'a mut VecDeque<SfuEvent>,
}

impl Commands<'_> {
    /// Carries out `command` at `now` and answers on its reply channel. The counters
    /// (`Command::Stats`) are the state machine's to read, not a change: it answers
    /// them itself.
    pub fn handle(mut self, now: Instant, command: Command) {
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
                let result = self.router.request_keyframe(now, track, layer, self.table);
                let _ = reply.send(result);
            }
            Command::Slot { change, reply } => {
                let _ = reply.send(self.change_slot(now, change));
            }
            Command::Apply { changes, reply } => {
                let results = changes.into_iter().map(|c| self.change_slot(now, c));
                let _ = reply.send(results.collect());
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
                    self.events
                        .push_back(SfuEvent::PeerDisconnected(peer, reason));
                }
                let _ = reply.send(result);
            }
            Command::OpenTap {
                peer,
                audio_slots,
                sink,
                reply,
            } => {
                let result = if self.table.contains(peer) {
                    Err(SfuError::DuplicatePeer(peer))
                } else {
                    let opened = self.router.taps.open(peer, audio_slots, sink);
                    opened.map(|(_, slots)| slots)
                };
                let _ = reply.send(result);
            }
            Command::CloseTap { peer, reply } => {
                let result = match self.router.taps.close(peer) {
                    Some(index) => {
                        self.router.remove_conn(index);
                        // Commands name it no more; its id may be used again.
                        self.router.shared.forget(peer, self.router.worker);
                        Ok(())
                    }
                    None => Err(SfuError::UnknownPeer(peer)),
                };
                let _ = reply.send(result);
            }
            Command::LinkNode { addr, keys, reply } => {
                let _ = reply.send(self.router.link_node(addr, &keys));
            }
            Command::Export {
                stream,
                to,
                layers,
                reply,
            } => {
                let _ = reply.send(self.router.export(stream, to, layers));
            }
            Command::WatchRemote {
                from,
                remote,
                reply,
            } => {
                let _ = reply.send(self.router.watch_remote(from, remote));
            }
            Command::UnlinkNode { addr, reply } => {
                let _ = reply.send(self.router.unlink_node(addr));
            }
            Command::UnwatchRemote { stream, reply } => {
                let _ = reply.send(self.router.unwatch_remote(stream));
            }
            Command::Stats { reply } => {
                // Answered by the state machine before it lends its parts; not reached.
                drop(reply);
            }
        }
    }

    /// A new hall: its connection, answered and registered; when the configuration
    /// trickles candidates, their events follow the answer.
    fn add_peer(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer: String,
    ) -> Result<PeerAnswer, SfuError> {
        let table = &mut *self.table;
        let demux = &mut *self.demux;
        let (answer, trickled) = add_peer(now, (peer, offer), &self.local, table, demux)?;
        self.events.extend(trickled);
        Ok(answer)
    }

    /// A connected hall's new offer ([`renegotiate::renegotiate`]); answers with every
    /// slot, old first.
    fn renegotiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer: String,
    ) -> Result<PeerAnswer, SfuError> {
        let index = self.live_index(peer)?;
        let conn = self
            .table
            .get_mut(index)
            .ok_or(SfuError::UnknownPeer(peer))?;
        let done = renegotiate::renegotiate(conn, self.local.config, now, offer)?;
        if let Some(ufrag) = done.restart {
            tracing::debug!(peer = peer.0, "sfu: ICE restart");
            if !self.demux.add(&ufrag, index) {
                return Err(SfuError::Webrtc("ICE ufrag collision; offer again".into()));
            }
            conn.ufrag = ufrag;
        }
        for stream in done.removed {
            self.router.unpublish(stream);
        }
        flush_router_events(self.router, self.events);
        self.table.touch(index);
        Ok(done.answer)
    }

    /// A remote candidate the hall trickled; an empty one ends its candidates.
    fn add_ice_candidate(&mut self, peer: PeerId, candidate: IceCandidate) -> Result<(), SfuError> {
        let index = self.live_index(peer)?;
        let conn = self
            .table
            .get_mut(index)
            .ok_or(SfuError::UnknownPeer(peer))?;
        if renegotiate::add_ice_candidate(conn, candidate)? {
            self.table.touch(index);
        }
        Ok(())
    }

    /// One slot change ([`change_slot`]) of a live hall.
    fn change_slot(&mut self, now: Instant, change: SlotChange) -> Result<(), SfuError> {
        let index = self.live_index(target(&change))?;
        change_slot(now, index, change, self.table, self.router)
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
        doom(index, self.table, self.router, self.doomed, self.events);
        Ok(())
    }

    /// The table index of `peer`, unless it is absent or going; or its tap's index.
    fn live_index(&self, peer: PeerId) -> Result<ConnIndex, SfuError> {
        self.table
            .index_of(peer)
            .filter(|i| !self.doomed.contains(i))
            .or_else(|| self.router.taps.index_of(peer))
            .ok_or(SfuError::UnknownPeer(peer))
    }
}

/// Builds `peer`'s connection from `offer` and registers it; returns the answer and,
/// when `local.config` trickles candidates, the candidate events to send after it.
fn add_peer(
    now: Instant,
    (peer, offer): (PeerId, String),
    local: &Local<'_>,
    table: &mut Table,
    demux: &mut Demux,
) -> Result<(PeerAnswer, Vec<SfuEvent>), SfuError> {
    if table.contains(peer) {
        return Err(SfuError::DuplicatePeer(peer));
    }
    let (conn, answer) = conn::answer(peer, offer, local, now)?;
    let ufrag = conn.ufrag.clone();
    tracing::debug!(peer = peer.0, %ufrag, "sfu: peer answered");
    let candidates = conn.candidates.clone();
    let index = table.insert(conn).ok_or(SfuError::DuplicatePeer(peer))?;
    if !demux.add(&ufrag, index) {
        table.remove(index);
        return Err(SfuError::Webrtc("ICE ufrag collision; offer again".into()));
    }
    table.touch(index);
    let trickled = if local.config.trickle_candidates {
        trickle(peer, &ufrag, candidates)
    } else {
        Vec::new()
    };
    Ok((answer, trickled))
}

/// A new hall's candidates as events too, then the end marker. The answer carries
/// them; this is for a caller that expects them trickled (docs/protocol.md, "Trickle
/// ICE both ways").
fn trickle(peer: PeerId, ufrag: &str, candidates: Vec<String>) -> Vec<SfuEvent> {
    candidates
        .into_iter()
        .chain([String::new()])
        .map(|candidate| {
            let candidate = IceCandidate {
                candidate,
                sdp_mid: None, // one bundled transport: the first m-line
                sdp_mline_index: Some(0),
                username_fragment: Some(ufrag.to_owned()),
            };
            SfuEvent::LocalCandidate { peer, candidate }
        })
        .collect()
}

/// The hall whose slot `change` changes.
fn target(change: &SlotChange) -> PeerId {
    match *change {
        SlotChange::Show { peer, .. }
        | SlotChange::Layer { peer, .. }
        | SlotChange::Clear { peer, .. } => peer,
    }
}

/// One slot change (`Sfu::apply`'s semantics) on connection `index`, which must have
/// the slot.
fn change_slot(
    now: Instant,
    index: ConnIndex,
    change: SlotChange,
    table: &mut Table,
    router: &mut Router,
) -> Result<(), SfuError> {
    let (peer, slot) = match change {
        SlotChange::Show { peer, slot, .. }
        | SlotChange::Layer { peer, slot, .. }
        | SlotChange::Clear { peer, slot } => (peer, slot),
    };
    let slots = match table.get(index) {
        Some(conn) => &conn.slots,
        None => {
            &router
                .taps
                .get(index)
                .ok_or(SfuError::UnknownPeer(peer))?
                .slots
        }
    };
    let out = slots
        .get(usize::from(slot.0))
        .ok_or(SfuError::UnknownSlot(peer, slot))?
        .clone();
    match change {
        SlotChange::Show {
            track, max_layer, ..
        } => {
            let result = router.subscribe(now, (index, peer), &out, (track, max_layer));
            // Sends the first keyframe request now rather than at the next timeout.
            router.handle_timeout(now, table);
            result
        }
        SlotChange::Layer { max_layer, .. } => {
            router.set_layer(now, index, slot, max_layer);
            router.handle_timeout(now, table);
            Ok(())
        }
        SlotChange::Clear { .. } => {
            router.unsubscribe(index, slot);
            Ok(())
        }
    }
}

/// Hands the router's events (unpublished tracks, speaker changes) to the caller.
pub(super) fn flush_router_events(router: &mut Router, events: &mut VecDeque<SfuEvent>) {
    while let Some(event) = router.poll_event() {
        events.push_back(event);
    }
}

/// Removes connection `index` at the end of the turn (it joins `doomed`); its tracks
/// are unpublished (their slots go dark) and its subscriptions end now.
pub(super) fn doom(
    index: ConnIndex,
    table: &Table,
    router: &mut Router,
    doomed: &mut Vec<ConnIndex>,
    events: &mut VecDeque<SfuEvent>,
) {
    if !doomed.contains(&index) {
        doomed.push(index);
    }
    if let Some(conn) = table.get(index) {
        // Commands name it no more; a new hall may take its id (on any worker).
        router.shared.forget(conn.id, router.worker);
    }
    router.unpublish_conn(index);
    flush_router_events(router, events);
}
