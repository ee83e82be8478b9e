//! The room's media decisions: peers from offers, SFU events, and filling receive slots.

use super::{error, Command, Member, Room, SlotState};
use crate::policy::{self, Fill, Placement, Source, Stage, Viewer};
use crate::protocol::{Candidate, ErrorCode, Kind, ServerMessage, Slot};
use sfu::{DisconnectReason, IceCandidate, PeerAnswer, PeerId, SfuError, SfuEvent, MAX_LAYER};

impl Room {
    /// A new offer: the hall's previous connection (if any) is closed and a new peer is
    /// created — an ICE restart by reconnection.
    pub(super) async fn offer(&mut self, session: &str, sdp: String) {
        let Some(i) = self
            .index_of(session)
            .filter(|&i| self.members[i].link.is_some())
        else {
            return;
        };
        self.drop_media(i).await;
        let peer = self.shared.new_peer(self.me.clone());
        let m = &mut self.members[i];
        m.peer = Some(peer);
        m.ready = false;
        let (hall_id, sfu, me) = (m.hall.id, self.shared.sfu.clone(), self.me.clone());
        tokio::spawn(async move {
            let result = sfu.add_peer(peer, sdp).await;
            match me.upgrade() {
                Some(room) => {
                    let _ = room
                        .send(Command::PeerReady {
                            hall_id,
                            peer,
                            result,
                        })
                        .await;
                }
                None if result.is_ok() => {
                    let _ = sfu.close_peer(peer).await;
                }
                None => {}
            }
        });
    }

    pub(super) async fn peer_ready(
        &mut self,
        hall_id: i64,
        peer: PeerId,
        result: Result<PeerAnswer, SfuError>,
    ) {
        let current = self
            .members
            .iter()
            .position(|m| m.hall.id == hall_id && m.peer == Some(peer));
        let Some(i) = current else {
            // Replaced or gone meanwhile.
            if result.is_ok() {
                let _ = self.shared.sfu.close_peer(peer).await;
            }
            return;
        };
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                let m = &mut self.members[i];
                m.peer = None;
                let code = match e {
                    SfuError::InvalidSdp(_) => ErrorCode::InvalidSdp,
                    ref other => {
                        tracing::error!(hall = hall_id, error = %other, "add_peer failed");
                        ErrorCode::Internal
                    }
                };
                m.tell(error(code, e.to_string()));
                return;
            }
        };
        let m = &mut self.members[i];
        m.ready = true;
        m.slots = answer
            .slots
            .iter()
            .map(|info| SlotState {
                info: info.clone(),
                fill: None,
                max_layer: MAX_LAYER,
            })
            .collect();
        m.tell(ServerMessage::Answer {
            sdp: answer.sdp,
            slots: answer
                .slots
                .iter()
                .map(|s| Slot {
                    id: s.id.0,
                    kind: s.kind.into(),
                    mid: s.mid.clone(),
                })
                .collect(),
        });
        for candidate in std::mem::take(&mut m.early_candidates) {
            self.candidate_now(i, peer, candidate).await;
        }
        self.refill(i).await;
    }

    pub(super) async fn candidate(&mut self, session: &str, candidate: Candidate) {
        let Some(i) = self
            .index_of(session)
            .filter(|&i| self.members[i].link.is_some())
        else {
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
        let candidate = IceCandidate {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
        };
        if let Err(e) = self.shared.sfu.add_ice_candidate(peer, candidate).await {
            self.members[i].tell(error(ErrorCode::InvalidCandidate, e.to_string()));
        }
    }

    pub(super) async fn set_layer(&mut self, session: &str, slot: u16, layer: u8) {
        let Some(i) = self
            .index_of(session)
            .filter(|&i| self.members[i].link.is_some())
        else {
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
        let had_tracks = m.video.take().is_some() | m.audio.take().is_some();
        if let Some(peer) = m.peer.take() {
            if let Err(e) = self.shared.sfu.close_peer(peer).await {
                tracing::debug!(?peer, error = %e, "closing a peer that is already gone");
            }
        }
        if had_tracks {
            self.refill_all().await;
        }
    }

    pub(super) async fn sfu_event(&mut self, event: SfuEvent) {
        let owner =
            |room: &Room, peer: PeerId| room.members.iter().position(|m| m.peer == Some(peer));
        match event {
            SfuEvent::TrackPublished {
                peer, track, kind, ..
            } => {
                if let Some(i) = owner(self, peer) {
                    let m = &mut self.members[i];
                    match kind {
                        sfu::MediaKind::Video => m.video = Some(track),
                        sfu::MediaKind::Audio => m.audio = Some(track),
                    }
                    self.refill_all().await;
                }
            }
            SfuEvent::TrackUnpublished { peer, track } => {
                if let Some(i) = owner(self, peer) {
                    let m = &mut self.members[i];
                    for t in [&mut m.video, &mut m.audio] {
                        if *t == Some(track) {
                            *t = None;
                        }
                    }
                    self.refill_all().await;
                }
            }
            SfuEvent::PeerFailed(peer)
            | SfuEvent::PeerDisconnected(peer, DisconnectReason::Closed) => {
                if let Some(i) = owner(self, peer) {
                    tracing::info!(hall = self.members[i].hall.id, "media connection ended");
                    self.drop_media(i).await;
                    self.members[i].tell(error(
                        ErrorCode::MediaFailed,
                        "the media connection ended; send a new offer to reconnect",
                    ));
                }
            }
            SfuEvent::ActiveSpeakerChanged { peer, .. } => {
                // The SFU still receives a muted hall's audio: it never counts as speaking.
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
            SfuEvent::Stats(stats) => {
                if let Some(i) = owner(self, stats.peer) {
                    self.members[i].stats = Some(stats);
                }
            }
            other => tracing::debug!(?other, "SFU event"),
        }
    }

    pub(super) async fn refill_all(&mut self) {
        for i in 0..self.members.len() {
            self.refill(i).await;
        }
    }

    /// Applies the policy to member `i`'s slots: subscribes what changed and tells the page.
    pub(super) async fn refill(&mut self, i: usize) {
        let m: &Member = &self.members[i];
        let Some(peer) = m.peer.filter(|_| m.ready) else {
            return;
        };
        let sources: Vec<Source> = self
            .members
            .iter()
            .map(|m| Source {
                hall_id: m.hall.id,
                video: m.video,
                audio: m.audio,
                muted: self.chair.muted.contains(&m.hall.id),
            })
            .collect();
        let stage = Stage {
            host: self.meeting.host_hall_id,
            floor: self.chair.floor.map(|f| f.hall_id),
            spotlight: self.chair.spotlight,
            speakers: &self.speakers,
        };
        let of_kind = |k: sfu::MediaKind| m.slots.iter().filter(|s| s.info.kind == k).count();
        let viewer = Viewer {
            hall_id: m.hall.id,
            video_slots: of_kind(sfu::MediaKind::Video),
            audio_slots: of_kind(sfu::MediaKind::Audio),
            grid_page: m.grid_page,
        };
        let wanted = policy::assign(&stage, &sources, &viewer);
        let current_audio: Vec<Fill> = m
            .slots
            .iter()
            .filter(|s| s.info.kind == sfu::MediaKind::Audio)
            .map(|s| s.fill)
            .collect();
        let audio = policy::keep_places(&current_audio, wanted.audio);
        let (mut video, mut audio) = (wanted.video.into_iter(), audio.into_iter());
        let sfu = self.shared.sfu.clone();
        let m = &mut self.members[i];
        if let Some((page, pages)) = wanted.grid.filter(|g| m.grid_told != Some(*g)) {
            m.grid_told = Some((page, pages));
            m.tell(ServerMessage::Grid {
                page: u32::try_from(page).unwrap_or(u32::MAX),
                pages: u32::try_from(pages).unwrap_or(u32::MAX),
            });
        }
        for slot in &mut m.slots {
            let want: Fill = match slot.info.kind {
                sfu::MediaKind::Video => video.next().flatten(),
                sfu::MediaKind::Audio => audio.next().flatten(),
            }
            .map(|p| Placement {
                layer: p.layer.min(slot.max_layer),
                ..p
            });
            if want == slot.fill {
                continue;
            }
            let before = slot.fill;
            let same_source = matches!((want, before), (Some(w), Some(b)) if w.track == b.track && w.hall_id == b.hall_id);
            let result = match want {
                Some(p) if same_source => sfu.set_layer(peer, slot.info.id, p.layer).await,
                Some(p) => sfu.subscribe(peer, slot.info.id, p.track, p.layer).await,
                None => sfu.unsubscribe(peer, slot.info.id).await,
            };
            slot.fill = match result {
                Ok(()) => want,
                Err(e) => {
                    tracing::debug!(?peer, slot = slot.info.id.0, error = %e, "slot not filled");
                    None
                }
            };
            let hall = |f: Fill| f.map(|p| p.hall_id);
            if hall(slot.fill) == hall(before) {
                continue;
            }
            if let Some(link) = &m.link {
                link.send(ServerMessage::Subscription {
                    slot: slot.info.id.0,
                    source_hall_id: hall(slot.fill),
                    kind: Kind::from(slot.info.kind),
                });
            }
        }
    }
}
