//! Renegotiation on a hall's existing connection (`offer` with `renegotiate: true`),
//! the SFU's trickled candidates, and which of a hall's tracks it shows.
//!
//! A page whose tracks change (a shared screen added or dropped, more receive slots)
//! keeps its connection: the others see no one leave and its slots keep what they
//! show. Without a ready connection such an offer is treated as an ordinary one.

use super::{error, Command, Member, Room, SlotState};
use crate::protocol::{Candidate, ErrorCode, ServerMessage, Slot};
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
        let (hall_id, sfu, me) = (m.hall.id, self.shared.sfu.clone(), self.me.clone());
        tokio::spawn(async move {
            let result = sfu.renegotiate(peer, sdp).await;
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
        let Some(i) = self
            .members
            .iter()
            .position(|m| m.hall.id == hall_id && m.peer == Some(peer))
        else {
            return; // replaced or gone meanwhile; that closed the peer
        };
        let m = &mut self.members[i];
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                let code = match e {
                    SfuError::InvalidSdp(_) => ErrorCode::InvalidSdp,
                    ref other => {
                        tracing::error!(hall = hall_id, error = %other, "renegotiate failed");
                        ErrorCode::Internal
                    }
                };
                m.tell(error(code, e.to_string()));
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
        let candidate = Candidate {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
        };
        let m = &mut self.members[i];
        match m.ready {
            true => m.tell(ServerMessage::Candidate(candidate)),
            false => m.early_local.push(candidate),
        }
    }
}

/// The `answer` message for an SFU answer.
fn answer_message(answer: PeerAnswer) -> ServerMessage {
    let slots = answer
        .slots
        .iter()
        .map(|s| Slot {
            id: s.id.0,
            kind: s.kind.into(),
            mid: s.mid.clone(),
        })
        .collect();
    ServerMessage::Answer {
        sdp: answer.sdp,
        slots,
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
