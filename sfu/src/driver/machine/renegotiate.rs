//! A connected hall's new offer on its connection: tracks added or removed,
//! receive slots added, an ICE restart — without a new connection or DTLS handshake.
//!
//! `rtc` treats a second `set_remote_description` as a renegotiation (m-lines found by
//! `mid`, new ones bound to unbound transceivers of their kind, the transports kept).
//! As for a first offer, the new slots' `sendonly` transceivers are planned first; the
//! slots that continue keep their SSRCs and subscriptions. Tracks the offer no longer
//! sends are unpublished (their slots go dark). New remote ICE credentials restart ICE
//! in the answer, with new local ones, which the demultiplexer learns; the port's host
//! candidates are kept.

use super::Driver;
use crate::driver::conn::{create_answer, ice_ufrag};
use crate::driver::negotiate::{extmap_id, parse_offer, receive_lines};
use crate::driver::peer::{self, AUDIO_LEVEL_URI};
use crate::driver::plan;
use crate::event::IceCandidate;
use crate::event::{MediaKind, PeerAnswer, PeerId};
use crate::{SfuError, StreamId};
use std::time::Instant;

impl Driver {
    /// Applies `offer` to `peer`'s connection and answers with every slot, old first.
    pub(super) fn renegotiate(
        &mut self,
        now: Instant,
        peer: PeerId,
        offer: String,
    ) -> Result<PeerAnswer, SfuError> {
        let index = self.live_index(peer)?;
        let (description, parsed) = parse_offer(offer)?;
        let conn = self
            .table
            .get_mut(index)
            .ok_or(SfuError::UnknownPeer(peer))?;
        let count = |kind| conn.slots.iter().filter(|s| s.info.kind == kind).count();
        let existing = (count(MediaKind::Video), count(MediaKind::Audio));
        let taken: Vec<u32> = conn.slots.iter().map(|s| s.info.ssrc).collect();
        let wanted = receive_lines(&parsed);
        let planned = plan::plan(&mut conn.pc, &self.config, wanted, existing, &taken)?;
        conn.pc
            .set_remote_description(now, description)
            .map_err(|e| SfuError::InvalidSdp(e.to_string()))?;
        let (sdp, ufrag) = create_answer(&mut conn.pc, now)?;
        let added = plan::negotiated(&mut conn.pc, planned, conn.slots.len());
        conn.slots.extend(added);
        if let Some(id) = extmap_id(&parsed, AUDIO_LEVEL_URI) {
            conn.audio_level_id = Some(id);
        }
        conn.offered = peer::offered_tracks(&parsed);
        let offered = &conn.offered;
        let removed: Vec<StreamId> = conn
            .track_ids
            .iter()
            .filter(|(_, id)| !offered.iter().any(|t| t.track_id.as_deref() == Some(id)))
            .map(|&(stream, _)| stream)
            .collect();
        conn.tracks.retain(|t| !removed.contains(&t.stream));
        conn.track_ids.retain(|(s, _)| !removed.contains(s));
        let answer = PeerAnswer {
            sdp,
            slots: conn.slots.iter().map(|s| s.info.clone()).collect(),
        };
        if ufrag != conn.ufrag {
            tracing::debug!(peer = peer.0, "sfu: ICE restart");
            if !self.demux.add(&ufrag, index) {
                return Err(SfuError::Webrtc("ICE ufrag collision; offer again".into()));
            }
            conn.ufrag = ufrag;
        }
        for stream in removed {
            self.router.unpublish(stream);
        }
        self.flush_router_events();
        self.table.writes.mark(index);
        Ok(answer)
    }

    /// Adds a remote candidate the hall trickled; an empty one ends its candidates.
    pub(super) fn add_ice_candidate(
        &mut self,
        peer: PeerId,
        candidate: IceCandidate,
    ) -> Result<(), SfuError> {
        let index = self.live_index(peer)?;
        let conn = self
            .table
            .get_mut(index)
            .ok_or(SfuError::UnknownPeer(peer))?;
        if let Some(frag) = candidate.username_fragment.as_deref() {
            let remote = conn.pc.remote_description().map(|d| d.sdp.clone());
            if remote
                .as_deref()
                .and_then(ice_ufrag)
                .is_some_and(|u| u != frag)
            {
                return Ok(()); // of an earlier ICE generation: nothing to check
            }
        }
        conn.pc
            .add_remote_candidate(candidate.into())
            .map_err(|e| SfuError::InvalidCandidate(e.to_string()))?;
        self.table.writes.mark(index);
        Ok(())
    }

    /// The table index of `peer`, unless it is absent or going.
    pub(super) fn live_index(&self, peer: PeerId) -> Result<usize, SfuError> {
        self.table
            .index_of(peer)
            .filter(|i| !self.doomed.contains(i))
            .ok_or(SfuError::UnknownPeer(peer))
    }
}
