//! What the driver's commands do to the connections and the routes: a new hall's
//! connection answered and registered, a receive slot shown, capped or cleared.
//!
//! Free functions over the parts they change (the [`Table`], the [`Demux`], the
//! [`Router`]); the state machine picks the parts and carries out the rest (events,
//! removal at the end of the turn).

use crate::driver::conn::{self, Local};
use crate::driver::demux::{ConnIndex, Demux};
use crate::driver::router::Router;
use crate::driver::table::Table;
use crate::event::{IceCandidate, PeerAnswer, PeerId, SfuEvent, SlotChange};
use crate::SfuError;
use std::time::Instant;

/// Builds `peer`'s connection from `offer` and registers it; returns the answer and,
/// when `local.config` trickles candidates, the candidate events to send after it.
pub(super) fn add_peer(
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
pub(super) fn target(change: &SlotChange) -> PeerId {
    match *change {
        SlotChange::Show { peer, .. }
        | SlotChange::Layer { peer, .. }
        | SlotChange::Clear { peer, .. } => peer,
    }
}

/// One slot change (`Sfu::apply`'s semantics) on connection `index`, which must have
/// the slot.
pub(super) fn change_slot(
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
    let conn = table.get(index).ok_or(SfuError::UnknownPeer(peer))?;
    let out = conn
        .slots
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
