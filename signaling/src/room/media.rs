//! The room's media decisions: peers from offers, SFU events, and filling receive slots.

use super::{error, Command, Room, SlotState};
use crate::protocol::{Candidate, ErrorCode, ServerMessage, Slot};
use sfu::{DisconnectReason, PeerAnswer, PeerId, SfuError, SfuEvent, SpeakerGroup, MAX_LAYER};

/// The room's halls are one speaker group in the SFU: the meeting's active speaker is
/// found among them only. Room ids start at 1, never the SFU's default group 0.
pub(super) fn speaker_group(room: u64) -> SpeakerGroup {
    SpeakerGroup(room)
}

impl Room {
    fn speaker_group(&self) -> SpeakerGroup {
        speaker_group(self.id)
    }

    /// A new offer: the hall's previous connection (if any) is closed and a new peer is
    /// created — an ICE restart by reconnection.
    pub(super) async fn offer(&mut self, session: &str, sdp: String) {
        let Some(i) = self.linked_index(session) else {
            return;
        };
        self.drop_media(i).await;
        let group = self.speaker_group();
        let peer = self.shared.new_peer(self.me.clone(), group);
        let chooser = self.chooser(i);
        let m = &mut self.members[i];
        m.peer = Some(peer);
        m.ready = false;
        let (hall_id, me) = (m.hall.id, self.me.clone());
        tokio::spawn(async move {
            // Placed (`nodes`); its node is the member's once it answered.
            let node = chooser.choose().await;
            let media = chooser.media(node.as_deref());
            // In its meeting's speaker group before the answer lets media flow.
            let result = media.add_peer(peer, sdp, group).await;
            match me.upgrade() {
                Some(room) => {
                    let _ = room
                        .send(Command::PeerReady {
                            hall_id,
                            peer,
                            node,
                            result,
                        })
                        .await;
                }
                None if result.is_ok() => {
                    let _ = media.close_peer(peer).await;
                }
                None => {}
            }
        });
    }

    pub(super) async fn peer_ready(
        &mut self,
        hall_id: i64,
        peer: PeerId,
        node: Option<String>,
        result: Result<PeerAnswer, SfuError>,
    ) {
        let Some(i) = self.peer_index(hall_id, peer) else {
            // Replaced or gone meanwhile.
            if result.is_ok() {
                self.close_on(node.as_deref(), peer).await;
            }
            return;
        };
        if self.members[i].feed.is_some() && !self.feed_ready(i, &result).await {
            return;
        }
        let m = &mut self.members[i];
        m.node = node;
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                m.peer = None;
                m.tell(refusal(hall_id, e, "add_peer failed"));
                return;
            }
        };
        m.ready = true;
        m.slots = answer
            .slots
            .iter()
            .map(|info| SlotState {
                info: info.clone(),
                fill: None,
                asked: None,
                max_layer: MAX_LAYER,
            })
            .collect();
        m.tell(answer_message(answer));
        for candidate in std::mem::take(&mut m.early_local) {
            m.tell(ServerMessage::Candidate(candidate));
        }
        for candidate in std::mem::take(&mut m.early_candidates) {
            self.candidate_now(i, peer, candidate).await;
        }
        self.refill(i).await;
    }

    /// The member whose connection `peer` is, if it is still `hall_id`'s.
    pub(super) fn peer_index(&self, hall_id: i64, peer: PeerId) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.hall.id == hall_id && m.peer == Some(peer))
    }

    pub(super) async fn candidate(&mut self, session: &str, candidate: Candidate) {
        let Some(i) = self.linked_index(session) else {
            return;
        };
        let m = &mut self.members[i];
        match (m.peer, m.ready) {
            (Some(peer), true) => self.candidate_now(i, peer, candidate).await,
            (Some(_), false) => m.early_candidates.push(candidate),
            (None, _) => m.tell(error(ErrorCode::OutOfOrder, "send an offer first")),
        }
    }

    async fn candidate_now(&mut self, i: usize, peer: PeerId, c: Candidate) {
        if c.candidate.is_empty() {
            return; // end of candidates
        }
        let (node, hall) = (self.members[i].node.clone(), self.members[i].hall.id);
        if let Some(node) = node {
            self.candidate_remote(&node, hall, peer, c.into());
            return;
        }
        if let Err(e) = self.media_of(None).add_ice_candidate(peer, c.into()).await {
            self.members[i].tell(error(ErrorCode::InvalidCandidate, e.to_string()));
        }
    }

    pub(super) async fn set_layer(&mut self, session: &str, slot: u16, layer: u8) {
        let Some(i) = self.linked_index(session) else {
            return;
        };
        let m = &mut self.members[i];
        let (Some(_), Some(s)) = (m.peer, m.slots.iter_mut().find(|s| s.info.id.0 == slot)) else {
            m.tell(error(
                ErrorCode::InvalidSlot,
                format!("no receive slot {slot}"),
            ));
            return;
        };
        s.max_layer = layer.min(MAX_LAYER);
        // The policy's layer, capped by the page's.
        self.refill(i).await;
    }

    /// Closes member `i`'s peer (if any) and takes its tracks off everyone's slots.
    pub(super) async fn drop_media(&mut self, i: usize) {
        let m = &mut self.members[i];
        m.ready = false;
        m.slots.clear();
        m.early_candidates.clear();
        m.early_local.clear();
        m.published.clear();
        let had_tracks = m.video.take().is_some() | m.audio.take().is_some();
        let node = m.node.take();
        if let Some(peer) = m.peer.take() {
            self.close_on(node.as_deref(), peer).await;
        }
        if had_tracks {
            self.refill_all().await;
        } else {
            // What it watched may no longer be watched by anyone.
            self.tell_send_layers();
        }
    }

    /// An event of media node `node` (`None`: this node's SFU).
    pub(super) async fn sfu_event(&mut self, node: Option<String>, event: SfuEvent) {
        let owner =
            |room: &Room, peer: PeerId| room.members.iter().position(|m| m.peer == Some(peer));
        match event {
            SfuEvent::TrackPublished {
                peer, track, kind, ..
            } => {
                if let Some(i) = owner(self, peer) {
                    let hall_id = self.members[i].hall.id;
                    self.forget_send_layers(hall_id);
                    let m = &mut self.members[i];
                    m.published.push((kind, track));
                    match kind {
                        sfu::MediaKind::Video => m.video = Some(track),
                        sfu::MediaKind::Audio => m.audio = Some(track),
                    }
                    self.refill_all().await;
                }
            }
            SfuEvent::TrackUnpublished { peer, track } => {
                if let Some(i) = owner(self, peer) {
                    self.members[i].track_ended(track);
                    self.refill_all().await;
                }
            }
            SfuEvent::PeerFailed(peer)
            | SfuEvent::PeerDisconnected(peer, DisconnectReason::Closed) => {
                if let Some(i) = owner(self, peer) {
                    tracing::info!(hall = self.members[i].hall.id, "media connection ended");
                    if self.members[i].feed.is_some() {
                        // A feed has no page to send a new offer: it is gone.
                        self.remove_feed(i).await;
                        return;
                    }
                    self.drop_media(i).await;
                    self.members[i].tell(error(
                        ErrorCode::MediaFailed,
                        "the media connection ended; send a new offer to reconnect",
                    ));
                }
            }
            SfuEvent::ActiveSpeakerChanged { peer, .. } => {
                // The SFU still receives a muted hall's audio: it never counts as speaking.
                let peer = match self.shared.bridge() {
                    Some(_) => self.nodes.speaker(node, peer),
                    None => peer,
                };
                let hall = peer
                    .and_then(|p| owner(self, p))
                    .map(|i| self.members[i].hall.id)
                    .filter(|h| !self.chair.muted.contains(h));
                if hall != self.speaker {
                    self.speaker = hall;
                    self.broadcast(ServerMessage::ActiveSpeaker { hall_id: hall });
                    if let Some(h) = hall {
                        self.spoke(h);
                        self.refill_all().await;
                    }
                }
            }
            SfuEvent::LocalCandidate { peer, candidate } => {
                if let Some(i) = owner(self, peer) {
                    self.local_candidate(i, candidate);
                }
            }
            SfuEvent::Stats(stats) => {
                if let Some(i) = owner(self, stats.peer) {
                    self.members[i].stats = Some(stats);
                }
            }
            other => tracing::debug!(?other, "SFU event"),
        }
    }
}

/// The `error` for an offer the SFU did not take: the page's SDP, or our fault (logged
/// with what failed).
pub(super) fn refusal(hall_id: i64, e: SfuError, failed: &str) -> ServerMessage {
    let code = match e {
        SfuError::InvalidSdp(_) => ErrorCode::InvalidSdp,
        ref other => {
            tracing::error!(hall = hall_id, error = %other, "{failed}");
            ErrorCode::Internal
        }
    };
    error(code, e.to_string())
}

/// The `answer` message for an SFU answer.
pub(super) fn answer_message(answer: PeerAnswer) -> ServerMessage {
    ServerMessage::Answer {
        slots: answer.slots.iter().map(Slot::from).collect(),
        sdp: answer.sdp,
    }
}
