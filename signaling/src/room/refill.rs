//! Filling receive slots: the policy's wish for each member, applied as one batch.
//!
//! A floor change touches every hall's slots. Asking the SFU one slot at a time would
//! cost a round trip to its owner task per slot — hundreds in a province meeting, each
//! waiting behind the packets being forwarded — so the room first plans every change
//! (a pure walk over its own state), then sends them in one [`sfu::Sfu::apply`], then
//! records the results and tells the pages which hall each slot now shows. A remote
//! media node's changes are queued (`queue`): the room plans from what it asked them.

use super::directory::Outcome;
use super::{Member, Room};
use crate::policy::{self, Fill, Placement, Source, Stage, Viewer};
use crate::protocol::{Kind, ServerMessage};
use sfu::{MediaKind, SlotChange};

/// A slot whose fill is to change.
struct Planned {
    member: usize,
    slot: usize,
    want: Fill,
    change: SlotChange,
}

impl Room {
    /// Applies the policy to every member's slots.
    pub(super) async fn refill_all(&mut self) {
        let mut planned = Vec::new();
        for i in 0..self.members.len() {
            self.plan_slots(i, &mut planned);
        }
        self.commit(planned).await;
        self.unwatch_unused();
        self.tell_send_layers();
    }

    /// Applies the policy to member `i`'s slots.
    pub(super) async fn refill(&mut self, i: usize) {
        let mut planned = Vec::new();
        self.plan_slots(i, &mut planned);
        self.commit(planned).await;
        self.unwatch_unused();
        self.tell_send_layers();
    }

    fn sources(&self) -> Vec<Source> {
        // A WHEP viewer is never shown nor heard.
        self.members
            .iter()
            .filter(|m| !m.is_viewer())
            .map(|m| Source {
                hall_id: m.hall.id,
                video: m.video,
                audio: m.audio,
                muted: self.chair.muted.contains(&m.hall.id),
            })
            .collect()
    }

    /// What member `i`'s slots should show; pushes the changes, tells the host its grid.
    fn plan_slots(&mut self, i: usize, out: &mut Vec<Planned>) {
        let m: &Member = &self.members[i];
        let Some(peer) = m.peer.filter(|_| m.ready) else {
            return;
        };
        let sources = self.sources();
        let stage = Stage {
            host: self.meeting.host_hall_id,
            floor: self.chair.floor.map(|f| f.hall_id),
            spotlight: self.chair.spotlight,
            speakers: &self.speakers,
            default_main: self.default_main(),
        };
        let of_kind = |k: MediaKind| m.slots.iter().filter(|s| s.info.kind == k).count();
        let viewer = Viewer {
            hall_id: m.hall.id,
            video_slots: of_kind(MediaKind::Video),
            audio_slots: of_kind(MediaKind::Audio),
            grid_page: m.grid_page,
            egress: m.is_viewer(),
        };
        let wanted = policy::assign(&stage, &sources, &viewer);
        let current_audio: Vec<Fill> = m
            .slots
            .iter()
            .filter(|s| s.info.kind == MediaKind::Audio)
            .map(|s| s.planned())
            .collect();
        let audio = policy::keep_places(&current_audio, wanted.audio);
        let (mut video, mut audio) = (wanted.video.into_iter(), audio.into_iter());
        let m = &mut self.members[i];
        if let Some((page, pages)) = wanted.grid.filter(|g| m.grid_told != Some(*g)) {
            m.grid_told = Some((page, pages));
            m.tell(ServerMessage::Grid {
                page: u32::try_from(page).unwrap_or(u32::MAX),
                pages: u32::try_from(pages).unwrap_or(u32::MAX),
            });
        }
        for (index, slot) in m.slots.iter().enumerate() {
            let want: Fill = match slot.info.kind {
                MediaKind::Video => video.next().flatten(),
                MediaKind::Audio => audio.next().flatten(),
            }
            .map(|p| Placement {
                layer: p.layer.min(slot.max_layer),
                ..p
            });
            if want == slot.planned() {
                continue;
            }
            let id = slot.info.id;
            let same_source = matches!((want, slot.planned()), (Some(w), Some(b)) if w.track == b.track && w.hall_id == b.hall_id);
            let change = match want {
                Some(p) if same_source => SlotChange::Layer {
                    peer,
                    slot: id,
                    max_layer: p.layer,
                },
                Some(p) => SlotChange::Show {
                    peer,
                    slot: id,
                    track: p.track,
                    max_layer: p.layer,
                },
                None => SlotChange::Clear { peer, slot: id },
            };
            out.push(Planned {
                member: i,
                slot: index,
                want,
                change,
            });
        }
    }

    /// Sends the planned changes to the SFU at once; records what took and tells pages.
    async fn commit(&mut self, planned: Vec<Planned>) {
        if planned.is_empty() {
            return;
        }
        let changes = planned
            .iter()
            .map(|p| super::nodes::Placed {
                member: p.member,
                slot: self.members[p.member].slots[p.slot].info.id,
                want: p.want,
                shown: p.want.map(|w| (w.hall_id, w.track, w.layer)),
                video: self.members[p.member].slots[p.slot].info.kind == MediaKind::Video,
                change: p.change,
            })
            .collect();
        let results = match self.apply_placed(changes).await {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!(error = %e, "slot changes not applied");
                return;
            }
        };
        for (p, result) in planned.into_iter().zip(results) {
            let Some(m) = self.members.get_mut(p.member) else {
                continue;
            };
            let Some(slot) = m.slots.get_mut(p.slot) else {
                continue;
            };
            let before = slot.fill;
            slot.fill = match result {
                Outcome::Done(Ok(())) => p.want,
                Outcome::Queued => {
                    // Recorded when its node answers (`queue`).
                    slot.asked = Some(p.want);
                    continue;
                }
                Outcome::Deferred => continue,
                Outcome::Done(Err(e)) => {
                    tracing::debug!(slot = slot.info.id.0, error = %e, "slot not filled");
                    None
                }
            };
            let hall = |f: Fill| f.map(|p| p.hall_id);
            if hall(slot.fill) == hall(before) {
                continue;
            }
            let message = ServerMessage::Subscription {
                slot: slot.info.id.0,
                source_hall_id: hall(slot.fill),
                kind: Kind::from(slot.info.kind),
            };
            m.tell(message);
        }
    }
}
