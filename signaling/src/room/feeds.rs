//! WHIP sources and WHEP viewers in the room (`crate::feeds` says what they are).
//!
//! Both are members without a socket: their offer came over HTTP and their answer goes
//! back on the command's reply. A source is announced to the pages like a hall (marked
//! `source`) and may hold the floor; a viewer is never announced, never shown and never
//! counted as a participant. Neither is written into attendance.

use super::{Member, Room};
use crate::feeds::{FeedOffer, FeedRefusal, FeedRole, ViewerInfo};
use crate::protocol::{HallInfo, Reason, ServerMessage};
use sfu::{PeerAnswer, SfuError};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A feed member's own state.
#[derive(Debug)]
pub(crate) struct Feed {
    pub feed_id: i64,
    pub role: FeedRole,
    /// When it joined (UTC Unix seconds).
    pub since: i64,
    /// Where its answer goes, until `add_peer` answers.
    pub reply: Option<oneshot::Sender<Result<String, FeedRefusal>>>,
    /// The meeting's recording (a viewer through an SFU tap, `room::recording`): not
    /// listed among the viewers.
    pub recorder: bool,
}

/// The answer channel of a feed's offer.
pub(crate) type FeedReply = oneshot::Sender<Result<String, FeedRefusal>>;

impl Member {
    /// A WHEP viewer (or the meeting's recording, which receives as one): not a
    /// participant.
    pub(crate) fn is_viewer(&self) -> bool {
        matches!(&self.feed, Some(f) if f.role == FeedRole::Viewer)
    }

    /// A WHIP source.
    pub(crate) fn is_source(&self) -> bool {
        matches!(&self.feed, Some(f) if matches!(f.role, FeedRole::Source { .. }))
    }
}

impl Room {
    /// A feed's offer: the member is added (a source replacing its earlier session) and
    /// its peer made; the answer goes on `reply` when the SFU gives it.
    pub(super) async fn feed_join(
        &mut self,
        participant_id: i64,
        offer: FeedOffer,
        reply: FeedReply,
    ) {
        if self.chair.phase == crate::protocol::Phase::Ended
            || self.shared.is_ended(self.meeting.id)
        {
            let _ = reply.send(Err(FeedRefusal::Ended));
            return;
        }
        if let Some(message) = self.shared.load.refusal(&self.shared.config.capacity) {
            let _ = reply.send(Err(FeedRefusal::Capacity(message)));
            return;
        }
        if let Some(i) = self
            .members
            .iter()
            .position(|m| m.hall.id == participant_id)
        {
            self.remove_feed(i).await;
        }
        self.empty_since = None;
        let source = matches!(offer.role, FeedRole::Source { .. });
        tracing::info!(
            meeting = self.meeting.id,
            feed = offer.feed_id,
            source,
            "feed joined"
        );
        let group = super::media::speaker_group(self.id);
        let peer = self.shared.new_peer(self.me.clone(), group);
        let hall = HallInfo {
            id: participant_id,
            name: offer.name.clone(),
        };
        let mut member = Member::new(
            hall,
            "".into(),
            None,
            crate::load::Seat::take(&self.shared.load),
        );
        member.peer = Some(peer);
        member.feed = Some(Feed {
            feed_id: offer.feed_id,
            role: offer.role,
            since: scheduler::time::now(),
            reply: Some(reply),
            recorder: false,
        });
        // A source is muted on arrival as a hall is (the floor opens it), unless it is
        // the meeting's main picture by default.
        let main_by_default = matches!(
            offer.role,
            FeedRole::Source {
                main_by_default: true
            }
        );
        if source
            && !main_by_default
            && self.shared.config.halls_join_muted
            && self.seen.insert(participant_id)
        {
            self.chair.muted.insert(participant_id);
        }
        if source {
            self.broadcast(ServerMessage::ParticipantJoined {
                hall_id: participant_id,
                name: offer.name.clone(),
                reason: Reason::Joined,
                muted: self.chair.muted.contains(&participant_id),
                guest: false,
                source: true,
            });
        }
        self.members.push(member);
        let (sfu, me, sdp) = (self.shared.sfu.clone(), self.me.clone(), offer.sdp);
        tokio::spawn(async move {
            let result = match sfu.add_peer(peer, sdp).await {
                Ok(answer) => sfu.set_speaker_group(peer, group).await.map(|()| answer),
                Err(e) => Err(e),
            };
            match me.upgrade() {
                Some(room) => {
                    let _ = room
                        .send(super::Command::PeerReady {
                            hall_id: participant_id,
                            peer,
                            node: None,
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

    /// `add_peer` answered a feed's offer (called by `peer_ready` for feed members):
    /// the answer goes back over HTTP, or the member goes if the offer was refused.
    /// Returns whether the member stays.
    pub(super) async fn feed_ready(
        &mut self,
        i: usize,
        result: &Result<PeerAnswer, SfuError>,
    ) -> bool {
        let reply = self.members[i].feed.as_mut().and_then(|f| f.reply.take());
        let answered = match result {
            Ok(answer) => Ok(answer.sdp.clone()),
            Err(SfuError::InvalidSdp(e)) => Err(FeedRefusal::InvalidSdp(e.clone())),
            Err(e) => {
                tracing::error!(error = %e, "a feed's add_peer failed");
                Err(FeedRefusal::Internal(e.to_string()))
            }
        };
        let ok = answered.is_ok();
        // The HTTP caller gave up: nobody will ever use this connection.
        let taken = reply.is_some_and(|r| r.send(answered).is_ok());
        if !(ok && taken) {
            self.remove_feed(i).await;
            return false;
        }
        true
    }

    /// A feed session ended (`DELETE`, a revoked token).
    pub(super) async fn feed_leave(&mut self, participant_id: i64) {
        if let Some(i) = self
            .members
            .iter()
            .position(|m| m.hall.id == participant_id && m.feed.is_some())
        {
            self.remove_feed(i).await;
        }
    }

    /// Removes feed member `i`: a source's floor, spotlight and tracks go, its leaving is
    /// announced; nothing is written into attendance.
    pub(super) async fn remove_feed(&mut self, i: usize) {
        let m = self.members.remove(i);
        let id = m.hall.id;
        tracing::info!(meeting = self.meeting.id, participant = id, "feed left");
        self.shared.feeds.forget_participant(id);
        if m.is_source() {
            self.broadcast(ServerMessage::ParticipantLeft {
                hall_id: id,
                name: m.hall.name.clone(),
                reason: Reason::Left,
            });
            if self.chair.forget(id) {
                if self.chair.floor.is_none() {
                    self.broadcast(ServerMessage::Floor {
                        hall_id: None,
                        until: None,
                    });
                }
                self.broadcast_meeting_state();
            }
        }
        if let Some(peer) = m.peer {
            if let Err(e) = self.shared.sfu.close_peer(peer).await {
                tracing::debug!(?peer, error = %e, "closing a feed's peer that is already gone");
            }
        }
        self.refill_all().await;
        if self.only_recording_left() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// The WHEP viewers now, in join order.
    pub(super) fn viewers(&self) -> Vec<ViewerInfo> {
        self.members
            .iter()
            .filter_map(|m| {
                let f = m
                    .feed
                    .as_ref()
                    .filter(|f| f.role == FeedRole::Viewer && !f.recorder)?;
                Some(ViewerInfo {
                    feed_id: f.feed_id,
                    name: m.hall.name.clone(),
                    since: f.since,
                    connected: m.ready && m.stats.is_some(),
                })
            })
            .collect()
    }

    /// The source shown as the main picture while nobody holds the floor or the
    /// spotlight: the first present source with video, in a meeting that wants one.
    pub(super) fn default_main(&self) -> Option<i64> {
        self.members
            .iter()
            .find(|m| {
                m.video.is_some()
                    && matches!(&m.feed, Some(f) if f.role == FeedRole::Source { main_by_default: true })
            })
            .map(|m| m.hall.id)
    }
}
