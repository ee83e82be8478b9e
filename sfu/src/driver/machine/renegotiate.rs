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
//!
//! These functions change the one connection and say what else must change (the
//! demultiplexer, the routes); the state machine does that.

use crate::config::SfuConfig;
use crate::driver::conn::{create_answer, ice_ufrag, Conn};
use crate::driver::negotiate::{extmap_id, parse_offer, receive_lines};
use crate::driver::peer::{self, AUDIO_LEVEL_URI};
use crate::driver::plan;
use crate::event::IceCandidate;
use crate::event::{MediaKind, PeerAnswer};
use crate::{SfuError, StreamId};
use std::time::Instant;

/// A renegotiation applied to a connection.
pub(super) struct Renegotiated {
    /// The answer, with every slot, old first.
    pub answer: PeerAnswer,
    /// Our new ICE username fragment, if the offer restarted ICE (not yet in
    /// `conn.ufrag`: the demultiplexer must take it first).
    pub restart: Option<String>,
    /// Published streams the offer no longer sends.
    pub removed: Vec<StreamId>,
}

/// Applies `offer` to `conn` at `now`.
pub(super) fn renegotiate(
    conn: &mut Conn,
    config: &SfuConfig,
    now: Instant,
    offer: String,
) -> Result<Renegotiated, SfuError> {
    let (description, parsed) = parse_offer(offer)?;
    let count = |kind| conn.slots.iter().filter(|s| s.info.kind == kind).count();
    let existing = (count(MediaKind::Video), count(MediaKind::Audio));
    let taken: Vec<u32> = conn.slots.iter().map(|s| s.info.ssrc).collect();
    let wanted = receive_lines(&parsed);
    let planned = plan::plan(&mut conn.pc, config, wanted, existing, &taken)?;
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
    let restart = (ufrag != conn.ufrag).then_some(ufrag);
    Ok(Renegotiated {
        answer,
        restart,
        removed,
    })
}

/// Adds a remote candidate the hall trickled to `conn`; an empty one ends its
/// candidates. `Ok(false)`: it was of an earlier ICE generation, nothing to do.
pub(super) fn add_ice_candidate(
    conn: &mut Conn,
    candidate: IceCandidate,
) -> Result<bool, SfuError> {
    if let Some(frag) = candidate.username_fragment.as_deref() {
        let remote = conn.pc.remote_description().map(|d| d.sdp.clone());
        if remote
            .as_deref()
            .and_then(ice_ufrag)
            .is_some_and(|u| u != frag)
        {
            return Ok(false);
        }
    }
    conn.pc
        .add_remote_candidate(candidate.into())
        .map_err(|e| SfuError::InvalidCandidate(e.to_string()))?;
    Ok(true)
}
