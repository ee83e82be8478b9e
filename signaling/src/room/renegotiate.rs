//! Renegotiation on a hall's existing connection (`offer` with `renegotiate: true`),
//! the SFU's trickled candidates, and which of a hall's tracks it shows.
//!
//! A page whose tracks change (a shared screen added or dropped, more receive slots)
//! keeps its connection: the others see no one leave and its slots keep what they
//! show. Without a ready connection such an offer is treated as an ordinary one.

use super::media::{answer_message, refusal};
use super::{Command, Member, Room, SlotState};
use crate::protocol::{Candidate, ServerMessage};
use sfu::{IceCandidate, MediaKind, PeerAnswer, PeerId, SfuError, StreamId, MAX_LAYER};

impl Room {
    /// An offer for the hall's existing connection; a new connection if it has none.
    pub(super) async fn renegotiate(&mut self, session: &str, sdp: String) {
        let Some(i) = self.linked_index(session) else {
            return;
        };
        let m = &self.members[i];
        let Some(peer) = m.peer.filter(|_| m.ready) else {
            self.offer(session, sdp).await;
            return;
        };
        let (hall_id, me) = (m.hall.id, self.me.clone());
        let media = self.media_of(m.node.as_deref());
        tokio::spawn(async move {
            let result = media.renegotiate(peer, sdp).await;
            if let Some(room) = me.upgrade() {
                let done = Command::PeerRenegotiated {
                    hall_id,
                    peer,
                    result,
                };
                let _ = room.send(done).await;
            }
        });
    }

    /// The SFU answered a renegotiation: the page gets the answer with all its slots;
    /// the slots it had keep their state, new ones are filled.
    pub(super) async fn peer_renegotiated(
        &mut self,
        hall_id: i64,
        peer: PeerId,
        result: Result<PeerAnswer, SfuError>,
    ) {
        let Some(i) = self.peer_index(hall_id, peer) else {
            return; // replaced or gone meanwhile; that closed the peer
        };
        let m = &mut self.members[i];
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                m.tell(refusal(hall_id, e, "renegotiate failed"));
                return;
            }
        };
        let old = std::mem::take(&mut m.slots);
        m.slots = answer
            .slots
            .iter()
            .map(|info| {
                old.iter()
                    .find(|s| s.info == *info)
                    .cloned()
                    .unwrap_or_else(|| SlotState {
                        info: info.clone(),
                        fill: None,
                        asked: None,
                        max_layer: MAX_LAYER,
                    })
            })
            .collect();
        m.tell(answer_message(answer));
        self.refill(i).await;
    }

    /// One of our candidates for member `i`'s connection: to its page once the page
    /// has the answer it belongs to.
    pub(super) fn local_candidate(&mut self, i: usize, c: IceCandidate) {
        let candidate = Candidate::from(c);
        let m = &mut self.members[i];
        match m.ready {
            true => m.tell(ServerMessage::Candidate(candidate)),
            false => m.early_local.push(candidate),
        }
    }
}

impl Member {
    /// A track of the hall ended: the latest remaining track of its kind is shown.
    pub(super) fn track_ended(&mut self, track: StreamId) {
        self.published.retain(|&(_, t)| t != track);
        let latest = |kind| {
            self.published
                .iter()
                .rev()
                .find(|&&(k, _)| k == kind)
                .map(|&(_, t)| t)
        };
        self.video = latest(MediaKind::Video);
        self.audio = latest(MediaKind::Audio);
    }
}
